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
