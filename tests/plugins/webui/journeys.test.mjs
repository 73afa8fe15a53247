// node --test: the journey view's pure parts (plugins/webui/static/journeys.js).
import assert from "node:assert/strict";
import test from "node:test";

import { durationDelta, elapsed, parseSse } from "../../../plugins/webui/static/journeys.js";

test("a replay's duration delta is coloured as the spec says", () => {
  assert.deepEqual(durationDelta(100, 700), { text: "+600 ms", kind: "slower" });
  assert.deepEqual(durationDelta(900, 300), { text: "-600 ms", kind: "faster" });
  assert.deepEqual(durationDelta(100, 600), { text: "+500 ms", kind: "same" });  // within ±500 ms
  assert.deepEqual(durationDelta(600, 100), { text: "-500 ms", kind: "same" });
  assert.equal(durationDelta(undefined, 100), null);
});

test("the recording pill's clock and the replay stream's messages", () => {
  assert.equal(elapsed("2026-01-01T00:00:00Z", Date.parse("2026-01-01T00:01:05Z")), "1:05");
  const { messages, rest } = parseSse('event: step_complete\ndata: {"step": 1}\n\nevent: done\ndata: {"tot');
  assert.deepEqual(messages, [{ event: "step_complete", data: { step: 1 } }]);
  assert.equal(rest, 'event: done\ndata: {"tot');
});
