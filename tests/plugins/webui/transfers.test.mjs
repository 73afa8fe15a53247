// node --test: the figures of the web UI's progress bars (plugins/webui/static/transfers.js).
import assert from "node:assert/strict";
import test from "node:test";

import { fileNameOf, progressText, readWithProgress } from "../../../plugins/webui/static/transfers.js";

test("progress reads as bytes of the whole, or bytes alone when the size is unknown", () => {
  assert.equal(progressText(0, 0), "0 B");
  assert.equal(progressText(1536, 0), "1.5 KB");
  assert.equal(progressText(512 * 1024, 2 * 1024 * 1024), "512.0 KB of 2.0 MB (25%)");
  assert.equal(progressText(3 * 1024 * 1024, 3 * 1024 * 1024), "3.0 MB of 3.0 MB (100%)");
  assert.equal(progressText(5, 4), "5 B of 4 B (100%)");  // never past 100
});

test("the file name comes from Content-Disposition", () => {
  assert.equal(fileNameOf('attachment; filename="API_Tests_2025.har"', "x.har"), "API_Tests_2025.har");
  assert.equal(fileNameOf("attachment; filename=plain.csv", "x"), "plain.csv");
  assert.equal(fileNameOf("", "fallback.json"), "fallback.json");
  assert.equal(fileNameOf(null, "fallback.json"), "fallback.json");
});

test("a streamed body is counted chunk by chunk against Content-Length", async () => {
  const body = new Uint8Array(100_000).fill(7);
  const seen = [];
  const blob = await readWithProgress(new Response(body, { headers: { "Content-Length": "100000", "Content-Type": "text/csv" } }),
    (loaded, total) => seen.push([loaded, total]));
  assert.equal(blob.size, 100_000);
  assert.equal(blob.type, "text/csv");
  assert.deepEqual(seen[0], [0, 100_000]);
  assert.deepEqual(seen.at(-1), [100_000, 100_000]);
  const streamed = [];
  await readWithProgress(new Response(new Blob(["abc"]).stream()), (loaded, total) => streamed.push([loaded, total]));
  assert.deepEqual(streamed.at(-1), [3, 0]);  // no Content-Length: bytes alone
});
