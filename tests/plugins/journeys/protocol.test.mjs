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

// --- replay_step ----------------------------------------------------------------------------

import {
  FIND_TIMEOUT_MS, performStepInPage, replayTarget, samePage, settled,
} from "../../../extension/lib/protocol.js";

test("a step's page is the tab's page whatever its fragment", () => {
  assert.equal(samePage("http://a.test/x#top", "http://a.test/x"), true);
  assert.equal(samePage("http://a.test/x?q=1", "http://a.test/x"), false);
  assert.equal(samePage("about:blank", "http://a.test/"), false);
});

test("a page has settled when loaded, quiet and idle for the quiet time", () => {
  assert.equal(settled("complete", 0, 1000, 1300), true);
  assert.equal(settled("complete", 0, 1000, 1299), false);
  assert.equal(settled("complete", 1, 0, 99999), false);
  assert.equal(settled("loading", 0, 0, 99999), false);
});

test("replay_step requests are checked", () => {
  assert.throws(() => replayTarget({}), /needs a step/);
  assert.throws(() => replayTarget({ step: { action: "hover", selectors: ["#a"] } }), /cannot replay a hover/);
  assert.throws(() => replayTarget({ step: { action: "click" } }), /no selector and no text/);
  const target = replayTarget({ step: { action: "click", selectors: ["#a", 3, ""], text: "Go", tag: "button" } });
  assert.deepEqual(target, { action: "click", selectors: ["#a"], text: "Go", tag: "button", value: "",
                             find_timeout_ms: FIND_TIMEOUT_MS });
  assert.equal(replayTarget({ step: { action: "navigation" } }).selectors.length, 0);
});

// A document of a few elements: enough for the lookup, which only uses querySelector(All).
function fakeDocument(elements) {
  return {
    querySelector(selector) {
      if (selector.startsWith("!")) throw new Error("SyntaxError");
      return elements.find((e) => e.matches.includes(selector)) || null;
    },
    querySelectorAll(tag) {
      return elements.filter((e) => tag === "*" || e.tagName.toLowerCase() === tag);
    },
  };
}

function fakeElement(tagName, matches, text = "") {
  const element = { tagName, matches, textContent: text, clicks: 0, click() { this.clicks += 1; } };
  element.dispatchEvent = () => true;
  return element;
}

const now = (fn) => fn();

test("the selector chain is tried in order, an unparsable selector skipped, text last", async () => {
  const save = fakeElement("BUTTON", ["button[data-testid=\"save\"]", "#save"], "Save");
  const other = fakeElement("BUTTON", ["#other"], "Cancel");
  const doc = fakeDocument([other, save]);
  const base = { action: "click", text: "", tag: "", value: "", find_timeout_ms: 0 };
  globalThis.MouseEvent ??= Event; // node has no MouseEvent
  let result = await performStepInPage({ ...base, selectors: ["!bad", "#gone", "#save"] }, doc, now);
  assert.deepEqual(result, { ok: true, selector: "#save" });
  assert.equal(save.clicks, 1);
  result = await performStepInPage({ ...base, selectors: ["#gone"], text: " Save ", tag: "button" }, doc, now);
  assert.deepEqual(result, { ok: true, selector: "text=Save" });
  result = await performStepInPage({ ...base, selectors: ["#gone"], text: "Delete", tag: "button" }, doc, now);
  assert.deepEqual(result, { ok: false, error: "element not found: #gone | text=Delete" });
});

test("what cannot be done is said before anything is done", async () => {
  const select = fakeElement("SELECT", ["#country"]);
  select.options = [{ value: "de", textContent: "Germany" }];
  const doc = fakeDocument([select, fakeElement("INPUT", ["#lonely"])]);
  const base = { text: "", tag: "", find_timeout_ms: 0 };
  let result = await performStepInPage({ ...base, action: "change", selectors: ["#country"], value: "France" }, doc, now);
  assert.deepEqual(result, { ok: false, error: "the select has no option \"France\" (#country)" });
  result = await performStepInPage({ ...base, action: "submit", selectors: ["#lonely"], value: "" }, doc, now);
  assert.deepEqual(result, { ok: false, error: "the element is in no form (#lonely)" });
  result = await performStepInPage({ ...base, action: "change", selectors: ["#country"], value: "Germany" }, doc, now);
  assert.equal(result.ok, true);
  assert.equal(select.value, "de");
});
