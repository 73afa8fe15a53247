// node --test: the session export menu (plugins/webui/static/sessions.js).
import assert from "node:assert/strict";
import test from "node:test";

import { exportFormatOptions, probeImportFormat, untilQuiet } from "../../../plugins/webui/static/sessions.js";

test("the menu holds every registered exporter, the built-in ones first under their titles", () => {
  const options = exportFormatOptions(["report", "har", "ndjson", "json", "csv", "postman", "har"]);
  assert.deepEqual(options.map(([name]) => name), ["har", "json", "csv", "postman", "report", "ndjson"]);
  assert.deepEqual(options[0], ["har", "HAR"]);
  assert.deepEqual(options.at(-1), ["ndjson", "ndjson"]);
});

test("a built-in exporter that is not registered is not offered; unknown names fall back", () => {
  assert.deepEqual(exportFormatOptions(["har", "csv"]).map(([name]) => name), ["har", "csv"]);
  assert.equal(exportFormatOptions([]).length, 5);
  assert.equal(exportFormatOptions(undefined).length, 5);
});

test("untilQuiet waits for a count to stop moving, and no longer than its limit", async () => {
  let n = 0;
  const ticker = setInterval(() => { n += 1; }, 10);
  setTimeout(() => clearInterval(ticker), 150);
  const started = Date.now();
  await untilQuiet(() => n, 100, 5000, 20);
  assert.ok(Date.now() - started >= 240, "waited for the count to stop, then for quiet");
  const stoppedAt = n;
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(n, stoppedAt);
  let m = 0;
  const forever = setInterval(() => { m += 1; }, 5);
  const limited = Date.now();
  await untilQuiet(() => m, 100, 300, 20);
  clearInterval(forever);
  assert.ok(Date.now() - limited < 1000);
});

test("a dropped file's first KB decides its format, whatever its name", () => {
  assert.deepEqual(probeImportFormat('\uFEFF  [\n {"id": "x"}'), { format: "json" });
  assert.deepEqual(probeImportFormat('{\n  "log": {"version": "1.2", "entries": ['), { format: "har" });
  assert.deepEqual(probeImportFormat('{"log" : {"pages": [' + " ".repeat(2000)), { format: "har" });
  for (const head of ['{"flows": []}', "<html>", "", "not json"]) {
    assert.equal(probeImportFormat(head).error, "Invalid file format — expected JSON array or HAR object", head);
  }
});
