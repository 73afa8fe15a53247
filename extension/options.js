// The options page: the Ghost API address and token, and the connection status.
import { effectiveConfig, socketUrl } from "./lib/protocol.js";

const form = document.getElementById("form");
const apiUrl = document.getElementById("api_url");
const token = document.getElementById("token");
const statusBox = document.getElementById("status");

async function builtIn() {
  try {
    return await (await fetch(chrome.runtime.getURL("config.json"))).json();
  } catch (e) {
    return {};
  }
}

async function load() {
  const overrides = await chrome.storage.local.get(["api_url", "token"]);
  const config = effectiveConfig(await builtIn(), overrides);
  apiUrl.value = config.api_url;
  token.value = config.token;
}

async function refreshStatus() {
  let status;
  try {
    status = await chrome.runtime.sendMessage({ kind: "ghost.status" });
  } catch (e) {
    status = { connected: false, error: String(e) };
  }
  statusBox.className = status && status.connected ? "connected" : "disconnected";
  if (status && status.connected) {
    statusBox.textContent = `Connected to ${status.api_url}` +
      (status.recording ? ` — recording journey ${status.recording}` : "");
  } else {
    statusBox.textContent = `Not connected${status && status.error ? `: ${status.error}` : ""}`;
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    socketUrl(apiUrl.value.trim(), token.value.trim());
  } catch (e) {
    statusBox.className = "disconnected";
    statusBox.textContent = String(e.message || e);
    return;
  }
  await chrome.storage.local.set({ api_url: apiUrl.value.trim(), token: token.value.trim() });
  await chrome.runtime.sendMessage({ kind: "ghost.reconnect" });
  setTimeout(refreshStatus, 500);
});

document.getElementById("reset").addEventListener("click", async () => {
  await chrome.storage.local.remove(["api_url", "token"]);
  await load();
  await chrome.runtime.sendMessage({ kind: "ghost.reconnect" });
  setTimeout(refreshStatus, 500);
});

load();
refreshStatus();
setInterval(refreshStatus, 2000);
