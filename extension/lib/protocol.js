// Pure helpers of the service worker: header values, the declarativeNetRequest rule, the
// Ghost WebSocket address. No chrome.* here, so node can test them.

export const RULE_ID = 9999;
export const HEADER = "X-Ghost-Interaction";
// Longer than Ghost's 500 ms correlation window on purpose: the extension cannot know when
// Ghost sees the flow, the extra 100 ms is margin.
export const WINDOW_MS = 600;
// Only these move the correlation header; hover, focus, input and navigation do not.
export const CORRELATING_TYPES = new Set(["click", "change", "submit"]);
export const RESOURCE_TYPES = ["xmlhttprequest", "main_frame", "sub_frame"];

export function interactionId(journeyId, counter, timestampMs) {
  return `${journeyId}-${counter}-${Math.floor(timestampMs)}`;
}

export function ambientId(journeyId, timestampMs) {
  return `${journeyId}-ambient-${Math.floor(timestampMs)}`;
}

// The one dynamic rule: updated in place (remove + add in a single updateDynamicRules call).
export function journeyRule(value) {
  return {
    id: RULE_ID,
    priority: 1,
    action: {
      type: "modifyHeaders",
      requestHeaders: [{ header: HEADER, operation: "set", value }],
    },
    condition: { urlFilter: "*", resourceTypes: RESOURCE_TYPES },
  };
}

export function ruleUpdate(value) {
  return value === null
    ? { removeRuleIds: [RULE_ID] }
    : { removeRuleIds: [RULE_ID], addRules: [journeyRule(value)] };
}

// ws(s)://host:port/api/v1/extension/ws?token=... from the API address; throws on a bad one.
export function socketUrl(apiUrl, token) {
  const url = new URL("/api/v1/extension/ws", apiUrl);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`the API address must be http:// or https://, got ${apiUrl}`);
  }
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("token", token);
  return url.toString();
}

// Settings from the options page win over the config.json `scripts/ghost extension` wrote.
export function effectiveConfig(defaults, overrides) {
  const pick = (key) => {
    const value = overrides && typeof overrides[key] === "string" ? overrides[key].trim() : "";
    return value || (defaults && typeof defaults[key] === "string" ? defaults[key].trim() : "");
  };
  return { api_url: pick("api_url") || "http://127.0.0.1:5565", token: pick("token") };
}

// Reconnect delays: 1 s, 2 s, 4 s ... at most 30 s.
export function backoff(attempt) {
  return Math.min(30000, 1000 * 2 ** Math.max(0, attempt));
}

// The fixed-servers proxy value with Ghost's API (host:port of `apiUrl`) added to its bypass
// list, or null when nothing needs to change (no fixed proxy, or the API is bypassed already).
// Chromium started with --proxy-bypass-list=<-loopback> sends loopback through the proxy, and
// so the extension's own connection to Ghost's API through Ghost, which refuses it.
export function proxyWithApiBypass(value, apiUrl) {
  if (!value || value.mode !== "fixed_servers" || !value.rules) return null;
  const apiHost = new URL(apiUrl).host;
  const bypassList = Array.isArray(value.rules.bypassList) ? value.rules.bypassList : [];
  if (bypassList.includes(apiHost)) return null;
  return { mode: "fixed_servers", rules: { ...value.rules, bypassList: [...bypassList, apiHost] } };
}

// What to tell the user when the WebSocket failed, from a probe of GET /api/v1/health
// (status and JSON body, or the fetch error).
export function connectionProblem(apiUrl, probe) {
  if (probe.status === 403 && /does not proxy requests to its own API/.test(probe.error || "")) {
    return "Ghost refused: the browser sends its connection to Ghost through Ghost's proxy. " +
      `Keep ${new URL(apiUrl).host} direct (add it to --proxy-bypass-list) or use \`scripts/ghost browser\``;
  }
  if (probe.status === 200) return `Ghost at ${apiUrl} answers but refused the extension's connection (token?)`;
  if (probe.status) return `Ghost at ${apiUrl} answered ${probe.status}: ${probe.error || "no reason given"}`;
  return `cannot reach Ghost at ${apiUrl}: ${probe.error || "no answer"}`;
}

// --- replaying a journey step (the `replay_step` action) -----------------------------------

// Interaction types the extension can replay; Ghost sends one step at a time.
export const REPLAY_TYPES = new Set(["navigation", "click", "input", "change", "submit", "keypress"]);
// The page has settled when no request of the tab is pending for this long...
export const SETTLE_QUIET_MS = 300;
// ...or, at the latest, after this (a page that polls or streams never goes quiet).
export const SETTLE_TIMEOUT_MS = 10000;
// How long the element may take to appear (pages render after their data arrives).
export const FIND_TIMEOUT_MS = 5000;

// Whether the tab shows the page a step was recorded on (the fragment does not count).
export function samePage(tabUrl, pageUrl) {
  const strip = (u) => String(u || "").split("#", 1)[0];
  return strip(tabUrl) === strip(pageUrl);
}

// Whether a tab has settled: loaded, no request in flight, and none finished for quietMs.
export function settled(status, inflight, lastActivityMs, nowMs, quietMs = SETTLE_QUIET_MS) {
  return status === "complete" && inflight === 0 && nowMs - lastActivityMs >= quietMs;
}

// A replay_step request checked: what the page-side function gets, or an Error saying what is wrong.
export function replayTarget(data) {
  const step = data && data.step;
  if (!step || typeof step !== "object") throw new Error("replay_step needs a step object");
  if (!REPLAY_TYPES.has(step.action)) {
    throw new Error(`cannot replay a ${step.action} step; replayable: ${[...REPLAY_TYPES].join(", ")}`);
  }
  const selectors = Array.isArray(step.selectors) ? step.selectors.filter((s) => typeof s === "string" && s) : [];
  if (step.action !== "navigation" && !selectors.length && !step.text) {
    throw new Error(`the ${step.action} step has no selector and no text to find its element by`);
  }
  return {
    action: step.action,
    selectors,
    text: typeof step.text === "string" ? step.text : "",
    tag: typeof step.tag === "string" ? step.tag : "",
    value: typeof step.value === "string" ? step.value : "",
    find_timeout_ms: Math.min(Math.max(Number(data.find_timeout_ms) || FIND_TIMEOUT_MS, 0), 60000),
  };
}

// Runs IN THE PAGE (chrome.scripting.executeScript serialises it): nothing from this module
// is in scope there, so everything it needs is inside. Finds the element (each selector of
// the recorded chain in order, then an element of the recorded tag whose text is the
// recorded text), waits for it up to find_timeout_ms, and schedules the action right after
// answering, so a navigation the action causes cannot swallow the answer.
// Answers {ok: true, selector} or {ok: false, error}.
export async function performStepInPage(target, doc = globalThis.document, schedule = globalThis.setTimeout) {
  const squash = (text) => String(text || "").split("\n").map((l) => l.replace(/\s+/g, " ").trim())
    .filter(Boolean).join("\n");
  function locate() {
    for (const selector of target.selectors) {
      let found = null;
      try {
        found = doc.querySelector(selector);
      } catch (e) {
        continue; // a selector this browser does not parse: try the next one
      }
      if (found) return { element: found, selector };
    }
    if (target.text) {
      const tag = target.tag || "*";
      const wanted = squash(target.text);
      for (const candidate of doc.querySelectorAll(tag)) {
        if (squash(candidate.innerText || candidate.textContent) === wanted) {
          return { element: candidate, selector: `text=${wanted}` };
        }
      }
    }
    return null;
  }
  function fire(el, type, Kind = Event, extra = {}) {
    el.dispatchEvent(new Kind(type, { bubbles: true, cancelable: true, composed: true, ...extra }));
  }
  function setValue(el, value) {
    if (el.isContentEditable) el.textContent = value;
    else el.value = value;
    fire(el, "input", typeof InputEvent === "function" ? InputEvent : Event);
    fire(el, "change");
  }
  function formOf(el) {
    return el.tagName === "FORM" ? el : el.form || (el.closest && el.closest("form"));
  }
  // Checks what can fail now (so the answer says it) and returns the action to run.
  function plan(el) {
    const tag = el.tagName;
    const into = () => el.scrollIntoView && el.scrollIntoView({ block: "center", inline: "center" });
    const focus = () => el.focus && el.focus();
    switch (target.action) {
      case "click":
        return () => {
          into();
          focus();
          fire(el, "mousedown", MouseEvent);
          fire(el, "mouseup", MouseEvent);
          el.click();
        };
      case "input":
        return () => {
          into();
          focus();
          setValue(el, target.value);
        };
      case "change": {
        if (el.type === "file") throw new Error("a file input cannot be replayed (the browser asks the user for the file)");
        if (tag === "SELECT") {
          const wanted = squash(target.value);
          const option = Array.from(el.options).find((o) => squash(o.textContent) === wanted || o.value === target.value);
          if (!option) throw new Error(`the select has no option ${JSON.stringify(target.value)}`);
          return () => {
            el.value = option.value;
            fire(el, "input");
            fire(el, "change");
          };
        }
        if (el.type === "checkbox" || el.type === "radio") {
          return () => {
            if (el.checked !== (target.value === "checked")) el.click();
          };
        }
        return () => setValue(el, target.value);
      }
      case "submit": {
        const form = formOf(el);
        if (!form) throw new Error("the element is in no form");
        return () => form.requestSubmit();
      }
      case "keypress": {
        const key = target.value || "Enter";
        const form = formOf(el);
        return () => {
          focus();
          for (const type of ["keydown", "keypress", "keyup"]) fire(el, type, KeyboardEvent, { key, code: key });
          if (key === "Enter" && form && tag === "INPUT") form.requestSubmit();
        };
      }
      default:
        throw new Error(`cannot replay a ${target.action} step`);
    }
  }
  const deadline = Date.now() + target.find_timeout_ms;
  let hit = locate();
  while (!hit && Date.now() < deadline) {
    await new Promise((resolve) => schedule(resolve, 100));
    hit = locate();
  }
  if (!hit) {
    const tried = [...target.selectors, ...(target.text ? [`text=${squash(target.text)}`] : [])];
    return { ok: false, error: `element not found: ${tried.join(" | ") || "(no selector)"}` };
  }
  let run;
  try {
    run = plan(hit.element);
  } catch (e) {
    return { ok: false, error: `${e.message} (${hit.selector})` };
  }
  schedule(() => {
    try {
      run();
    } catch (e) {
      console.warn("Ghost: replaying the step failed", e);
    }
  }, 0);
  return { ok: true, selector: hit.selector };
}
