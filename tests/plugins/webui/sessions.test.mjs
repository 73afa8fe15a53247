// node --test: the session export menu (plugins/webui/static/sessions.js).
import assert from "node:assert/strict";
import test from "node:test";

import { exportFormatOptions } from "../../../plugins/webui/static/sessions.js";

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
