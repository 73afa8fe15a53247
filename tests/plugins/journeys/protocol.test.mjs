// node --test: the service worker's pure helpers (extension/lib/protocol.js).
import assert from "node:assert/strict";
import test from "node:test";

import {
  CORRELATING_TYPES, HEADER, RULE_ID, WINDOW_MS, ambientId, backoff, effectiveConfig, interactionId,
  journeyRule, ruleUpdate, socketUrl, proxyWithApiBypass, connectionProblem,
} from "../../../extension/lib/protocol.js";

test("ids follow {journey}-{counter}-{ms} and {journey}-ambient-{ms}", () => {
  assert.equal(interactionId("01J", 3, 1763000000123.7), "01J-3-1763000000123");
  assert.equal(ambientId("01J", 1763000000999), "01J-ambient-1763000000999");
});

test("the rule is the spec's rule 9999", () => {
  assert.equal(RULE_ID, 9999);
  assert.equal(WINDOW_MS, 600);
  assert.deepEqual([...CORRELATING_TYPES].sort(), ["change", "click", "submit"]);
  assert.deepEqual(journeyRule("v"), {
    id: 9999,
    priority: 1,
    action: { type: "modifyHeaders", requestHeaders: [{ header: HEADER, operation: "set", value: "v" }] },
    condition: { urlFilter: "*", resourceTypes: ["xmlhttprequest", "main_frame", "sub_frame"] },
  });
  assert.equal(HEADER, "X-Ghost-Interaction");
  assert.deepEqual(ruleUpdate(null), { removeRuleIds: [9999] });
  assert.deepEqual(ruleUpdate("x").removeRuleIds, [9999]);
  assert.equal(ruleUpdate("x").addRules[0].action.requestHeaders[0].value, "x");
});

test("socket address from the API address", () => {
  assert.equal(socketUrl("http://127.0.0.1:5565", "a b"), "ws://127.0.0.1:5565/api/v1/extension/ws?token=a+b");
  assert.equal(socketUrl("https://ghost.test/", "t"), "wss://ghost.test/api/v1/extension/ws?token=t");
  assert.throws(() => socketUrl("ftp://x", "t"), /http:\/\/ or https:\/\//);
  assert.throws(() => socketUrl("not a url", "t"));
});

test("options override config.json, blanks do not", () => {
  assert.deepEqual(effectiveConfig({ api_url: "http://a:1", token: "t1" }, {}), { api_url: "http://a:1", token: "t1" });
  assert.deepEqual(effectiveConfig({ api_url: "http://a:1", token: "t1" }, { token: " t2 ", api_url: "" }),
    { api_url: "http://a:1", token: "t2" });
  assert.deepEqual(effectiveConfig({}, undefined), { api_url: "http://127.0.0.1:5565", token: "" });
});

test("reconnect backoff doubles up to 30 s", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 10].map(backoff), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});

test("a fixed proxy gets Ghost's API added to its bypass list, once", () => {
  const value = { mode: "fixed_servers", rules: { singleProxy: { host: "127.0.0.1", port: 4545 }, bypassList: ["<-loopback>"] } };
  assert.deepEqual(proxyWithApiBypass(value, "http://127.0.0.1:5565"), {
    mode: "fixed_servers",
    rules: { singleProxy: { host: "127.0.0.1", port: 4545 }, bypassList: ["<-loopback>", "127.0.0.1:5565"] },
  });
  const fixed = proxyWithApiBypass(value, "http://127.0.0.1:5565");
  assert.equal(proxyWithApiBypass(fixed, "http://127.0.0.1:5565"), null);
  assert.equal(proxyWithApiBypass({ mode: "system" }, "http://127.0.0.1:5565"), null);
  assert.equal(proxyWithApiBypass({ mode: "pac_script", pacScript: { url: "x" } }, "http://127.0.0.1:5565"), null);
});

test("a failed connection is explained from a probe of the API", () => {
  const refused = connectionProblem("http://127.0.0.1:5565",
    { status: 403, error: "Ghost does not proxy requests to its own API" });
  assert.match(refused, /^Ghost refused: the browser sends its connection to Ghost through Ghost's proxy/);
  assert.match(refused, /127\.0\.0\.1:5565/);
  assert.match(connectionProblem("http://127.0.0.1:5565", { error: "Failed to fetch" }), /cannot reach Ghost.*Failed to fetch/);
});
