// The public REST API and events WebSocket, authenticated by the session cookie. Every
// request carries X-Ghost-UI, the header Ghost asks of cookie-authenticated requests
// (a page of another origin cannot send it), so the cookie alone opens nothing.

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

const listeners = new Set();
export function onUnauthorized(fn) { listeners.add(fn); }
export function notifyUnauthorized() { listeners.forEach((fn) => fn()); }

export async function request(method, path, { body, json, raw = false, signal } = {}) {
  const headers = { "X-Ghost-UI": "1" };
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  const response = await fetch(`/api/v1${path}`, { method, headers, body, credentials: "same-origin", signal });
  if (response.status === 401) notifyUnauthorized();
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error || message; } catch { /* not JSON */ }
    throw new ApiError(response.status, message);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, json, options) => request("POST", path, { ...options, json });
export const put = (path, json) => request("PUT", path, { json });
export const patch = (path, json) => request("PATCH", path, { json });
export const del = (path) => request("DELETE", path);

// One WebSocket for every event, reconnecting with a back-off; handlers by event type.
export class Events {
  constructor() {
    this.handlers = new Map();
    this.statusHandlers = new Set();
    this.delay = 500;
    this.closed = false;
  }
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
  }
  onStatus(fn) { this.statusHandlers.add(fn); }
  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/ws`);
    this.socket = socket;
    socket.onopen = () => { this.delay = 500; this.statusHandlers.forEach((fn) => fn(true)); };
    socket.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch { return; }
      for (const key of [event.type, "*"]) (this.handlers.get(key) || []).forEach((fn) => fn(event.data, event.type));
    };
    socket.onclose = () => {
      this.statusHandlers.forEach((fn) => fn(false));
      if (this.closed) return;
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    };
  }
}
