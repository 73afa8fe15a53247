// node --test: the web UI's chart arithmetic (plugins/webui/static/charts.js).
import assert from "node:assert/strict";
import test from "node:test";

import { histogram, pathTemplate, slowestEndpoints } from "../../../plugins/webui/static/charts.js";

test("ids collapse into one endpoint", () => {
  assert.equal(pathTemplate("/v1/items/17/reviews"), "/v1/items/{id}/reviews");
  assert.equal(pathTemplate("/u/0b7e1d2a-52c4-4a8e-9d55-0f1b2c3d4e5f"), "/u/{id}");
  assert.equal(pathTemplate("/j/01JEXP0R2ZQ3V4W5X6Y7Z8A9BC"), "/j/{id}");
  assert.equal(pathTemplate("/api/v2/login"), "/api/v2/login");
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
