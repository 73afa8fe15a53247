// node --test: the web UI's chart arithmetic (plugins/webui/static/charts.js).
import assert from "node:assert/strict";
import test from "node:test";

import { binWidthLabel, histogram, pathTemplate, slowestEndpoints, statusClassName, TIMELINE_BINS, timelineBins } from "../../../plugins/webui/static/charts.js";

test("ids collapse into one endpoint", () => {
  assert.equal(pathTemplate("/v1/items/17/reviews"), "/v1/items/{id}/reviews");
  assert.equal(pathTemplate("/u/0b7e1d2a-52c4-4a8e-9d55-0f1b2c3d4e5f"), "/u/{id}");
  assert.equal(pathTemplate("/j/01JEXP0R2ZQ3V4W5X6Y7Z8A9BC"), "/j/{id}");
  assert.equal(pathTemplate("/api/v2/login"), "/api/v2/login");
  assert.equal(pathTemplate("/items/17?page=2"), "/items/{id}");  // as the HTML report
});

test("durations fall in their buckets", () => {
  const buckets = histogram([1, 9.9, 10, 49, 700, 6000]);
  assert.deepEqual(buckets.map((b) => b.count), [2, 2, 0, 0, 0, 1, 0, 0, 1]);
  assert.equal(buckets[0].label, "< 10 ms");
  assert.equal(buckets.at(-1).label, "≥ 5 s");
  assert.equal(buckets.reduce((sum, b) => sum + b.count, 0), 6);
});

test("slowest endpoints rank by p95 over collapsed paths", () => {
  const flow = (path, ms) => ({ method: "GET", host: "shop.test", path, duration_ms: ms });
  const ranked = slowestEndpoints([flow("/items/1", 10), flow("/items/2", 900), flow("/cart", 300), flow("/cart", 310)]);
  assert.equal(ranked[0].endpoint, "GET shop.test/items/{id}");
  assert.equal(ranked[0].count, 2);
  assert.equal(ranked[0].max, 900);
  assert.equal(ranked[1].endpoint, "GET shop.test/cart");
});

test("the timeline counts every flow by status class in 60 columns, as the HTML report", () => {
  const at = (second, status_code) => ({ started_at: new Date(Date.UTC(2026, 2, 8, 14, 30, second)).toISOString(), status_code });
  const flows = [at(0, 200), at(0, 0), at(30, 503), at(59, 404), at(60, 999), { started_at: "not a time", status_code: 200 }];
  const timeline = timelineBins(flows);
  assert.equal(timeline.bins.length, TIMELINE_BINS);
  assert.deepEqual(timeline.bins[0], { "2xx": 1, err: 1 });
  assert.deepEqual(timeline.bins[30], { "5xx": 1 });
  assert.deepEqual(timeline.bins[59], { "4xx": 1, err: 1 });
  assert.equal(timeline.end - timeline.start, 60_000);
  assert.deepEqual(timelineBins([]).bins, []);
  assert.deepEqual(timelineBins([at(5, 301), at(5, 101)]).bins[0], { "3xx": 1, "1xx": 1 });
  assert.equal(statusClassName(0), "err");
  assert.equal(statusClassName(204), "2xx");
});

test("a column's width reads in seconds or milliseconds", () => {
  assert.equal(binWidthLabel(14.9), "14.9 s");
  assert.equal(binWidthLabel(2), "2 s");
  assert.equal(binWidthLabel(0.0166), "17 ms");
});
