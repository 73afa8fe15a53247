// Ghost's service worker: the WebSocket to Ghost, journey header injection, browser actions.
//
// Ghost -> extension: journey.recording_start / journey.recording_stop, action, inject.
// Actions: tabs, navigate, screenshot, read_page, replay_step (one recorded journey step).
// Extension -> Ghost: hello, interaction, action.result, ping.
// The content script reports interactions with chrome.runtime.sendMessage.

import {
  CORRELATING_TYPES,
  WINDOW_MS,
  ambientId,
  backoff,
  SETTLE_QUIET_MS,
  SETTLE_TIMEOUT_MS,
  connectionProblem,
  effectiveConfig,
  interactionId,
  performStepInPage,
  proxyWithApiBypass,
  replayTarget,
  ruleUpdate,
  samePage,
  settled,
  socketUrl,
} from "./lib/protocol.js";

const KEEPALIVE_MS = 20000;
const NAVIGATE_TIMEOUT_MS = 30000;
const MAX_QUEUED = 500;

const state = {
  socket: null,
  connected: false,
  attempt: 0,
  reconnectTimer: null,
  keepaliveTimer: null,
  config: null,
  lastError: "",
  proxyNote: "",
  // {journeyId, sessionId, name, counter, currentId, resetTimer}
  recording: null,
  // messages made while the socket was down, sent on reconnect
  queue: [],
};

// Rule updates run one after the other, so a late "reset to ambient" never overwrites
// the id of a newer interaction.
let ruleChain = Promise.resolve();

function setRule(value) {
  ruleChain = ruleChain
    .then(() => chrome.declarativeNetRequest.updateDynamicRules(ruleUpdate(value)))
    .catch((e) => console.error("Ghost: updating the header rule failed", e));
  return ruleChain;
}

// Called unconditionally at start-up: a rule left by a crash or an old session must never
// put phantom X-Ghost-Interaction headers on ordinary browsing.
function disableJourneyHeaderInjection() {
  return setRule(null);
}

// --- configuration -----------------------------------------------------------------------

async function loadConfig() {
  let defaults = {};
  try {
    const response = await fetch(chrome.runtime.getURL("config.json"));
    defaults = await response.json();
  } catch (e) {
    console.warn("Ghost: no config.json in the extension", e);
  }
  const overrides = await chrome.storage.local.get(["api_url", "token"]);
  return effectiveConfig(defaults, overrides);
}

// --- the WebSocket -------------------------------------------------------------------------

function send(message) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify(message));
    return true;
  }
  return false;
}

function sendOrQueue(message) {
  if (!send(message)) {
    state.queue.push(message);
    if (state.queue.length > MAX_QUEUED) state.queue.shift();
  }
}

// Extension proxy settings override the command line's: keep Ghost's API out of whatever
// fixed proxy Chromium was started with, so the WebSocket below reaches Ghost directly.
async function keepApiDirect(apiUrl) {
  if (!chrome.proxy) return;
  try {
    const current = await chrome.proxy.settings.get({ incognito: false });
    const value = proxyWithApiBypass(current.value, apiUrl);
    if (value === null) return;
    if (!["controllable_by_this_extension", "controlled_by_this_extension"].includes(current.levelOfControl)) {
      state.proxyNote = `the proxy settings are ${current.levelOfControl}: cannot keep Ghost's API direct`;
      return;
    }
    await chrome.proxy.settings.set({ value, scope: "regular" });
  } catch (e) {
    state.proxyNote = `cannot keep Ghost's API direct: ${e.message || e}`;
  }
}

// Why the WebSocket failed: the browser does not tell, a plain request to the API does.
async function diagnose(apiUrl) {
  const probe = {};
  try {
    const response = await fetch(new URL("/api/v1/health", apiUrl), { cache: "no-store" });
    probe.status = response.status;
    if (!response.ok) probe.error = (await response.json().catch(() => ({}))).error || "";
  } catch (e) {
    probe.error = String(e.message || e);
  }
  return connectionProblem(apiUrl, probe) + (state.proxyNote ? ` (${state.proxyNote})` : "");
}

async function connect() {
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = null;
  if (state.socket) return;
  state.config = await loadConfig();
  if (!state.config.token) {
    state.lastError = "no API token: set it in the options page or use `scripts/ghost extension DIR`";
    return;
  }
  await keepApiDirect(state.config.api_url);
  if (state.socket) return;
  let url;
  try {
    url = socketUrl(state.config.api_url, state.config.token);
  } catch (e) {
    state.lastError = String(e.message || e);
    return;
  }
  const socket = new WebSocket(url);
  state.socket = socket;
  socket.onopen = () => {
    state.connected = true;
    state.attempt = 0;
    state.lastError = "";
    send({
      type: "hello",
      data: {
        version: chrome.runtime.getManifest().version,
        extension_id: chrome.runtime.id,
        user_agent: navigator.userAgent,
        browser: "chromium",
      },
    });
    for (const message of state.queue.splice(0)) send(message);
    clearInterval(state.keepaliveTimer);
    // WebSocket traffic keeps an MV3 service worker alive (Chrome 116+).
    state.keepaliveTimer = setInterval(() => send({ type: "ping" }), KEEPALIVE_MS);
  };
  socket.onmessage = (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (e) {
      console.warn("Ghost sent something that is not JSON", e);
      return;
    }
    handleMessage(message).catch((e) => console.error("Ghost: handling a message failed", e));
  };
  socket.onerror = () => {
    const apiUrl = state.config.api_url;
    state.lastError = `cannot reach Ghost at ${apiUrl}`;
    diagnose(apiUrl).then((problem) => {
      if (!state.connected) state.lastError = problem;
    });
  };
  socket.onclose = () => {
    if (state.socket !== socket) return;
    state.socket = null;
    state.connected = false;
    clearInterval(state.keepaliveTimer);
    // Without Ghost nobody strips the header: stop setting it. Ghost resends
    // journey.recording_start when the extension connects again.
    stopRecording();
    scheduleReconnect();
  };
}

function scheduleReconnect() {
  if (state.reconnectTimer) return;
  const delay = backoff(state.attempt);
  state.attempt += 1;
  state.reconnectTimer = setTimeout(() => {
    state.reconnectTimer = null;
    connect();
  }, delay);
}

function reconnect() {
  const old = state.socket;
  state.socket = null;
  state.connected = false;
  state.attempt = 0;
  if (old) old.close();
  stopRecording();
  return connect();
}

// --- journey recording ----------------------------------------------------------------------

function startRecording(data) {
  if (!data || typeof data.journey_id !== "string" || !data.journey_id) return;
  stopRecording();
  state.recording = {
    journeyId: data.journey_id,
    sessionId: data.session_id || "",
    name: data.name || "",
    counter: 0,
    currentId: "",
    resetTimer: null,
  };
  setRule(ambientId(data.journey_id, Date.now()));
}

function stopRecording(data) {
  const recording = state.recording;
  if (recording && data && data.journey_id && data.journey_id !== recording.journeyId) return;
  if (recording) clearTimeout(recording.resetTimer);
  state.recording = null;
  disableJourneyHeaderInjection();
}

function handleInteraction(data, sender) {
  const recording = state.recording;
  if (!recording || !data || typeof data.type !== "string") return;
  const timestamp = typeof data.timestamp === "number" ? data.timestamp : Date.now();
  recording.counter += 1;
  const id = interactionId(recording.journeyId, recording.counter, timestamp);
  if (CORRELATING_TYPES.has(data.type)) {
    recording.currentId = id;
    setRule(id);
    clearTimeout(recording.resetTimer);
    recording.resetTimer = setTimeout(() => {
      if (state.recording === recording && recording.currentId === id) {
        recording.currentId = "";
        setRule(ambientId(recording.journeyId, Date.now()));
      }
    }, WINDOW_MS);
  }
  sendOrQueue({
    type: "interaction",
    data: {
      ...data,
      id,
      journey_id: recording.journeyId,
      session_id: recording.sessionId,
      timestamp,
      tab_id: sender && sender.tab ? sender.tab.id : undefined,
      frame_id: sender ? sender.frameId : undefined,
    },
  });
}

// --- the requests each tab has in flight (a replayed step waits until its page settles) -----

const network = new Map(); // tabId -> {inflight: Set of request ids, lastActivity: ms}

function tabNetwork(tabId) {
  let entry = network.get(tabId);
  if (!entry) {
    entry = { inflight: new Set(), lastActivity: 0 };
    network.set(tabId, entry);
  }
  return entry;
}

function requestStarted(details) {
  if (details.tabId < 0) return;
  const entry = tabNetwork(details.tabId);
  entry.inflight.add(details.requestId);
  entry.lastActivity = Date.now();
}

function requestEnded(details) {
  if (details.tabId < 0) return;
  const entry = tabNetwork(details.tabId);
  entry.inflight.delete(details.requestId);
  entry.lastActivity = Date.now();
}

if (chrome.webRequest) {
  chrome.webRequest.onBeforeRequest.addListener(requestStarted, { urls: ["<all_urls>"] });
  chrome.webRequest.onCompleted.addListener(requestEnded, { urls: ["<all_urls>"] });
  chrome.webRequest.onErrorOccurred.addListener(requestEnded, { urls: ["<all_urls>"] });
}
chrome.tabs.onRemoved.addListener((tabId) => network.delete(tabId));

// Resolves true once the tab has loaded and no request was pending for quietMs, false when
// timeoutMs passed first (a page that polls or streams). A tab replaced by a navigation to
// another process keeps its id, so the same entry is watched throughout.
async function settle(tabId, quietMs, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tab = await chrome.tabs.get(tabId);
    const entry = tabNetwork(tabId);
    if (settled(tab.status, entry.inflight.size, entry.lastActivity, Date.now(), quietMs)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// --- actions --------------------------------------------------------------------------------

async function targetTab(tabId) {
  if (typeof tabId === "number") return chrome.tabs.get(tabId);
  const candidates = [
    ...(await chrome.tabs.query({ active: true, lastFocusedWindow: true })),
    ...(await chrome.tabs.query({ active: true })),
    ...(await chrome.tabs.query({})),
  ];
  const web = candidates.find((t) => /^https?:/.test(t.url || ""));
  if (web) return web;
  if (candidates.length) return candidates[0];
  throw new Error("there is no browser tab");
}

function waitForLoad(tabId, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      chrome.tabs.onUpdated.removeListener(listener);
      reject(new Error(`the page did not finish loading within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    function listener(id, changeInfo, tab) {
      if (id === tabId && changeInfo.status === "complete") {
        clearTimeout(timer);
        chrome.tabs.onUpdated.removeListener(listener);
        resolve(tab);
      }
    }
    chrome.tabs.onUpdated.addListener(listener);
  });
}

const actions = {
  async tabs() {
    const tabs = await chrome.tabs.query({});
    return {
      tabs: tabs.map((t) => ({ tab_id: t.id, window_id: t.windowId, url: t.url, title: t.title, active: t.active })),
    };
  },

  async navigate(data) {
    const tab = await targetTab(data.tab_id);
    const loaded = waitForLoad(tab.id, NAVIGATE_TIMEOUT_MS);
    await chrome.tabs.update(tab.id, { url: data.url });
    const done = await loaded;
    return { tab_id: done.id, url: done.url, title: done.title };
  },

  async screenshot(data) {
    let tab = await targetTab(data.tab_id);
    if (!tab.active) tab = await chrome.tabs.update(tab.id, { active: true });
    const format = data.format === "jpeg" ? "jpeg" : "png";
    let dataUrl;
    try {
      dataUrl = await chrome.tabs.captureVisibleTab(tab.windowId, { format });
    } catch (e) {
      // Chromium allows two captures a second; a replay takes one per step.
      if (!/MAX_CAPTURE_VISIBLE_TAB_CALLS_PER_SECOND/.test(String(e.message || e))) throw e;
      await new Promise((resolve) => setTimeout(resolve, 600));
      dataUrl = await chrome.tabs.captureVisibleTab(tab.windowId, { format });
    }
    return {
      tab_id: tab.id,
      url: tab.url,
      title: tab.title,
      format,
      data: dataUrl.slice(dataUrl.indexOf(",") + 1),
    };
  },

  // One recorded journey step: go to its page when the tab is elsewhere (or when Ghost asks
  // for a fresh load), find its element by the recorded selector chain, act, wait until the
  // page settles. Answers {tab_id, url, title, selector, navigated, settled}; an error says
  // why ("element not found: ...").
  async replay_step(data) {
    const target = replayTarget(data);
    const pageUrl = data.step.page_url;
    let tab = await targetTab(data.tab_id);
    const quietMs = Number(data.settle_ms) > 0 ? Math.min(Number(data.settle_ms), 10000) : SETTLE_QUIET_MS;
    const settleTimeoutMs = Number(data.settle_timeout_ms) > 0
      ? Math.min(Number(data.settle_timeout_ms), 60000) : SETTLE_TIMEOUT_MS;
    let navigated = false;
    if (pageUrl && (data.reload || !samePage(tab.url, pageUrl))) {
      if (!/^https?:/.test(pageUrl)) throw new Error(`the step's page ${pageUrl} is not an http(s) page`);
      const loaded = waitForLoad(tab.id, NAVIGATE_TIMEOUT_MS);
      await chrome.tabs.update(tab.id, { url: pageUrl, active: true });
      tab = await loaded;
      navigated = true;
    }
    let selector = "";
    if (target.action !== "navigation") {
      const [result] = await chrome.scripting.executeScript({
        target: { tabId: tab.id },
        func: performStepInPage,
        args: [target],
      });
      const outcome = result && result.result;
      if (!outcome) throw new Error("the step did not run (a page the extension may not script?)");
      if (!outcome.ok) throw new Error(outcome.error);
      selector = outcome.selector;
      tabNetwork(tab.id).lastActivity = Date.now(); // the requests the action starts come after this
    }
    const quiet = await settle(tab.id, quietMs, settleTimeoutMs);
    tab = await chrome.tabs.get(tab.id);
    return { tab_id: tab.id, url: tab.url, title: tab.title, selector, navigated, settled: quiet };
  },

  async read_page(data) {
    const tab = await targetTab(data.tab_id);
    const [result] = await chrome.scripting.executeScript({
      target: { tabId: tab.id },
      func: (maxChars, includeHtml) => {
        const text = document.body ? document.body.innerText : "";
        const out = {
          url: location.href,
          title: document.title,
          text: text.slice(0, maxChars),
          text_truncated: text.length > maxChars,
          links: Array.from(document.links)
            .slice(0, 500)
            .map((a) => ({ href: a.href, text: (a.innerText || "").trim().slice(0, 200) })),
        };
        if (includeHtml) out.html = document.documentElement.outerHTML.slice(0, maxChars);
        return out;
      },
      args: [data.max_chars || 100000, Boolean(data.include_html)],
    });
    return { tab_id: tab.id, ...result.result };
  },
};

async function inject(data) {
  const tab = await targetTab(data.tab_id);
  const [result] = await chrome.scripting.executeScript({
    target: { tabId: tab.id },
    world: "MAIN",
    // Runs in the page, under the page's own Content Security Policy.
    func: async (code) => {
      try {
        const value = await (0, eval)(code);
        if (value === undefined) return { ok: true, value: null };
        try {
          return { ok: true, value: JSON.parse(JSON.stringify(value)) };
        } catch (e) {
          return { ok: true, value: String(value) };
        }
      } catch (e) {
        return { ok: false, error: `${e && e.name ? e.name : "Error"}: ${e && e.message ? e.message : e}` };
      }
    },
    args: [data.code],
  });
  const outcome = result && result.result;
  if (!outcome) throw new Error("the script did not run (a page the extension may not script?)");
  if (!outcome.ok) throw new Error(outcome.error);
  return { tab_id: tab.id, value: outcome.value };
}

async function answer(id, work) {
  try {
    send({ type: "action.result", id, ok: true, data: await work() });
  } catch (e) {
    send({ type: "action.result", id, ok: false, error: String((e && e.message) || e) });
  }
}

async function handleMessage(message) {
  const data = message.data || {};
  switch (message.type) {
    case "journey.recording_start":
      startRecording(data);
      break;
    case "journey.recording_stop":
      stopRecording(data);
      break;
    case "action": {
      const action = actions[data.action];
      await answer(message.id, () => {
        if (!action) throw new Error(`unknown action ${data.action}`);
        return action(data);
      });
      break;
    }
    case "inject":
      await answer(message.id, () => inject(data));
      break;
    case "pong":
      break;
    case "error":
      console.warn("Ghost refused a message:", message.error);
      break;
    default:
      console.warn("Ghost sent an unknown message type", message.type);
  }
}

// --- wiring ----------------------------------------------------------------------------------

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (!message || typeof message.kind !== "string") return false;
  if (message.kind === "ghost.interaction") {
    handleInteraction(message.data, sender);
    return false;
  }
  if (message.kind === "ghost.status") {
    sendResponse({
      connected: state.connected,
      api_url: state.config ? state.config.api_url : "",
      recording: state.recording ? state.recording.journeyId : null,
      error: state.lastError,
    });
    return false;
  }
  if (message.kind === "ghost.reconnect") {
    reconnect().then(() => sendResponse({ ok: true }));
    return true;
  }
  return false;
});

chrome.action.onClicked.addListener(() => chrome.runtime.openOptionsPage());

// A restarted service worker reconnects; the alarm wakes one that was stopped.
chrome.alarms.create("ghost-reconnect", { periodInMinutes: 0.5 });
chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === "ghost-reconnect" && !state.socket) connect();
});

disableJourneyHeaderInjection();
connect();
