// The inspector: one flow's request and response (headers, bodies shown by kind), timings as
// a waterfall, a WebSocket flow's messages (live while it is open), tags and annotation,
// copy as code, replay. Everything is Text nodes.
import { del, get, patch, post } from "./api.js";
import { append, clear, formatDuration, formatSize, h, methodClass, statusClass, toast } from "./dom.js";

const HEX_LIMIT = 64 * 1024;
const TEXT_LIMIT = 2 * 1024 * 1024;
const CODE_FORMATS = [["curl", "cURL"], ["fetch", "fetch"], ["python", "Python"], ["httpie", "HTTPie"], ["markdown", "Share (Markdown)"]];
const PHASES = ["dns", "connect", "tls", "send", "wait", "receive"];

export class Inspector {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.flowId = "";
    this.tab = "request";
    this.messages = null;  // the Messages tab's view while it shows
    if (app && app.events) app.events.on("flow.websocket_messages", (data) => {
      if (this.messages && data && data.id === this.messages.flowId) this.messages.more();
    });
    this.show(null);
  }

  async show(id) {
    this.flowId = id || "";
    if (!id) {
      clear(this.root).append(h("p", { class: "empty" }, "Select a flow to inspect it (↑/↓ move through the list)."));
      return;
    }
    try {
      const flow = await get(`/flows/${encodeURIComponent(id)}`);
      if (this.flowId === id) this.render(flow);
    } catch (error) {
      if (this.flowId === id) clear(this.root).append(h("p", { class: "empty" }, `Cannot show this flow: ${error.message}`));
    }
  }

  refresh() { return this.show(this.flowId); }

  render(flow) {
    const req = flow.request;
    const resp = flow.response;
    const websocket = isWebSocket(flow);
    const tabs = [["request", "Request"], ["response", "Response"], ...(websocket ? [["messages", "Messages"]] : []),
      ["timings", "Timings"], ["notes", "Tags & notes"]];
    if (!tabs.some(([key]) => key === this.tab)) this.tab = "request";
    this.messages = null;
    const panes = {
      messages: () => { this.messages = new MessagesView(flow.id, this.app); return this.messages.root; },
      request: () => [headersTable(req.headers), bodyView(req.body, req.body_encoding, contentType(req.headers), req.body_truncated)],
      response: () => resp
        ? [h("p", { class: "status-line" }, `${resp.http_version} `, h("span", { class: statusClass(resp.status_code) }, String(resp.status_code)), ` ${resp.status_text}`),
          headersTable(resp.headers), bodyView(resp.body, resp.body_encoding, resp.content_type, resp.body_truncated)]
        : [h("p", { class: "empty" }, flow.error ? `No response: ${flow.error}` : "No response.")],
      timings: () => waterfall(flow),
      notes: () => this.notes(flow),
    };
    const body = h("div", { class: "pane" });
    const tabBar = h("div", { class: "subtabs", role: "tablist" }, tabs.map(([key, label]) => h("button", {
      class: key === this.tab ? "subtab active" : "subtab", role: "tab", dataset: { tab: key },
      on: { click: () => { this.tab = key; this.render(flow); } },
    }, label)));
    append(body, [panes[this.tab]()]);
    const codeSelect = h("select", { "aria-label": "Copy as", on: { change: () => { this.copyAs(flow.id, codeSelect.value); codeSelect.value = ""; } } },
      h("option", { value: "" }, "Copy as…"), CODE_FORMATS.map(([value, label]) => h("option", { value }, label)));
    clear(this.root).append(
      h("div", { class: "inspector-head" },
        h("span", { class: `method ${methodClass(req.method)}` }, req.method), " ",
        h("span", { class: "url", title: req.url }, req.url),
        h("div", { class: "inspector-actions" },
          codeSelect,
          h("button", { on: { click: () => this.replay(flow.id) }, title: "Send this request again (r)", id: "replay" }, "Replay"),
          h("button", { on: { click: () => this.app.composeFrom(flow) }, title: "Edit this request in the composer and send it", id: "compose-from-flow" }, "Compose"),
          h("button", { on: { click: () => this.remove(flow.id) }, title: "Delete this flow" }, "Delete")),
        h("div", { class: "meta" }, `${flow.source} · ${formatDuration(flow.duration_ms)} · ${formatSize(resp ? resp.body_size : 0)}`,
          flow.error ? h("span", { class: "s-err" }, ` · ${flow.error}`) : null)),
      tabBar, body);
  }

  notes(flow) {
    const tagInput = h("input", { type: "text", placeholder: "add a tag, Enter", "aria-label": "New tag" });
    tagInput.addEventListener("keydown", async (e) => {
      if (e.key !== "Enter" || !tagInput.value.trim()) return;
      try { await post(`/flows/${encodeURIComponent(flow.id)}/tags`, { tag: tagInput.value.trim() }); this.refresh(); } catch (error) { this.app.error(error); }
    });
    const annotation = h("textarea", { rows: "4", "aria-label": "Annotation", value: flow.annotation || "" });
    return [
      h("h3", {}, "Tags"),
      h("div", { class: "tags" }, (flow.tags || []).map((tag) => h("span", { class: "tag" }, tag,
        h("button", { title: `Remove tag ${tag}`, on: { click: async () => {
          try { await del(`/flows/${encodeURIComponent(flow.id)}/tags/${encodeURIComponent(tag)}`); this.refresh(); } catch (error) { this.app.error(error); }
        } } }, "×"))), tagInput),
      h("h3", {}, "Annotation"), annotation,
      h("button", { on: { click: async () => {
        try { await patch(`/flows/${encodeURIComponent(flow.id)}`, { annotation: annotation.value }); toast("Annotation saved"); } catch (error) { this.app.error(error); }
      } } }, "Save annotation"),
    ];
  }

  async copyAs(id, format) {
    if (!format) return;
    try {
      const code = await get(`/flows/${encodeURIComponent(id)}/export/${format}`);
      try { await navigator.clipboard.writeText(code); toast(`Copied as ${format}`); } catch { toast("Clipboard not available: select the text below"); }
      this.app.showText(`${format}`, code);
    } catch (error) { this.app.error(error); }
  }

  async replay(id) {
    try {
      const replayed = await post(`/flows/${encodeURIComponent(id)}/replay`);
      toast(`Replayed: ${replayed.response ? replayed.response.status_code : replayed.error || "sent"}`);
    } catch (error) { this.app.error(error); }
  }

  async remove(id) {
    try { await del(`/flows/${encodeURIComponent(id)}`); this.show(null); } catch (error) { this.app.error(error); }
  }
}

function isWebSocket(flow) {
  const resp = flow.response;
  return Boolean(resp && resp.status_code === 101 && (resp.headers || []).some((header) =>
    header.name.toLowerCase() === "upgrade" && header.value.toLowerCase() === "websocket"));
}

const MESSAGE_PAGE = 500;  // asked of the API at a time
const MESSAGES_LOADED_MAX = 20000;  // held in the page; beyond, the API is the place
const MESSAGE_ROWS = 300;  // rows drawn at a time ("Show more" draws the next)
const PREVIEW_CHARS = 160;

// A WebSocket flow's messages: loaded page by page (keyset, `after`), more as the socket
// talks (flow.websocket_messages events), filtered by text and direction, one shown in full.
export class MessagesView {
  constructor(flowId, app) {
    this.flowId = flowId;
    this.app = app;
    this.loaded = [];
    this.after = -1;
    this.stored = 0;
    this.dropped = 0;
    this.rowsShown = MESSAGE_ROWS;
    this.selected = null;
    this.loading = null;
    this.again = false;
    this.filter = h("input", { type: "search", class: "ws-filter", placeholder: "filter messages", "aria-label": "Filter messages",
      on: { input: () => { this.rowsShown = MESSAGE_ROWS; this.draw(); } } });
    this.direction = h("select", { class: "ws-direction", "aria-label": "Direction", on: { change: () => { this.rowsShown = MESSAGE_ROWS; this.draw(); } } },
      h("option", { value: "" }, "both ways"), h("option", { value: "client_to_server" }, "↑ sent"),
      h("option", { value: "server_to_client" }, "↓ received"));
    this.summary = h("p", { class: "meta ws-summary" }, "Loading messages…");
    this.list = h("div", { class: "ws-list", role: "list" });
    this.detail = h("div", { class: "ws-detail" });
    this.root = h("div", { class: "ws-messages" }, h("div", { class: "ws-tools" }, this.filter, this.direction), this.summary, this.list, this.detail);
    this.more();
  }

  // Load what is new since the last message loaded; one load at a time (events coming
  // during a load ask for one more round after it).
  more() {
    if (this.loading) { this.again = true; return this.loading; }
    this.loading = this.load().finally(() => {
      this.loading = null;
      if (this.again) { this.again = false; this.more(); }
    });
    return this.loading;
  }

  async load() {
    try {
      while (this.loaded.length < MESSAGES_LOADED_MAX) {
        const page = await get(`/flows/${encodeURIComponent(this.flowId)}/websocket?after=${this.after}&limit=${MESSAGE_PAGE}`);
        this.loaded.push(...page.messages);
        if (page.messages.length) this.after = page.messages[page.messages.length - 1].seq;
        this.stored = page.stored;
        this.dropped = page.dropped;
        if (page.next_after === null) break;
      }
    } catch (error) {
      this.summary.textContent = `Cannot load the messages: ${error.message}`;
      return;
    }
    this.draw();
  }

  matches(message) {
    const direction = this.direction.value;
    const needle = this.filter.value.trim().toLowerCase();
    if (direction && message.direction !== direction) return false;
    return !needle || (message.encoding === "utf8" && message.content.toLowerCase().includes(needle));
  }

  draw() {
    const shown = this.loaded.filter((message) => this.matches(message));
    const dropped = this.dropped ? ` · ${this.dropped} not stored (over store.websocket_max_messages or store.websocket_max_bytes)` : "";
    const beyond = this.loaded.length < this.stored ? ` · the first ${this.loaded.length} loaded` : "";
    this.summary.textContent = `${this.stored} messages stored${dropped}${beyond}` +
      (shown.length !== this.loaded.length ? ` · ${shown.length} match` : "");
    clear(this.list).append(...shown.slice(0, this.rowsShown).map((message) => this.row(message)));
    if (shown.length > this.rowsShown) {
      this.list.append(h("button", { class: "ws-more", on: { click: () => { this.rowsShown += MESSAGE_ROWS; this.draw(); } } },
        `Show ${Math.min(MESSAGE_ROWS, shown.length - this.rowsShown)} more of ${shown.length - this.rowsShown}`));
    }
    if (!this.loaded.length) this.list.append(h("p", { class: "empty" }, "No messages stored (yet)."));
  }

  row(message) {
    const sent = message.direction === "client_to_server";
    const preview = message.encoding === "utf8" ? message.content.slice(0, PREVIEW_CHARS) : `binary, ${formatSize(message.size)}`;
    return h("div", {
      class: `ws-row ${sent ? "ws-sent" : "ws-received"}${this.selected === message.seq ? " active" : ""}`, role: "listitem",
      dataset: { seq: String(message.seq) }, tabindex: "0",
      on: { click: () => { this.selected = message.seq; this.draw(); this.show(message); } },
    }, h("span", { class: "ws-arrow", title: sent ? "client → server" : "server → client" }, sent ? "↑" : "↓"),
    h("span", { class: "ws-time" }, clock(message.timestamp)),
    h("span", { class: "ws-size" }, formatSize(message.size)),
    h("span", { class: "ws-preview" }, preview));
  }

  show(message) {
    clear(this.detail).append(h("p", { class: "meta" }, `#${message.seq} · ${message.direction === "client_to_server" ? "client → server" : "server → client"} · ${message.type} · ${formatSize(message.size)} · ${new Date(message.timestamp * 1000).toISOString()}`),
      bodyView(message.content, message.encoding, message.encoding === "utf8" ? "" : "application/octet-stream", false));
  }
}

function clock(seconds) {
  const date = new Date(seconds * 1000);
  return `${date.toTimeString().slice(0, 8)}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

function contentType(headers) {
  const found = (headers || []).find((header) => header.name.toLowerCase() === "content-type");
  return found ? found.value : "";
}

export function headersTable(headers) {
  if (!headers || !headers.length) return h("p", { class: "empty" }, "No headers.");
  return h("table", { class: "headers" }, h("tbody", {}, headers.map((header) =>
    h("tr", {}, h("th", {}, header.name), h("td", {}, header.value)))));
}

export function bodyView(body, encoding, type, truncated) {
  if (!body) return h("p", { class: "empty" }, "No body.");
  const note = truncated ? h("p", { class: "note" }, "The stored body was cut at store.max_flow_body_size.") : null;
  const kind = (type || "").split(";")[0].trim().toLowerCase();
  if (encoding === "base64") {
    if (/^image\/(png|jpeg|gif|webp|bmp|x-icon|vnd\.microsoft\.icon|avif)$/.test(kind)) {
      // An <img> never runs script; SVG is left out anyway and shown as text or hex.
      return h("div", { class: "body" }, note, h("img", { class: "body-image", alt: "response image", src: `data:${kind};base64,${body}` }));
    }
    return h("div", { class: "body" }, note, h("pre", { class: "hex" }, hexDump(base64Bytes(body))));
  }
  let text = body.length > TEXT_LIMIT ? `${body.slice(0, TEXT_LIMIT)}\n… (${body.length - TEXT_LIMIT} more characters)` : body;
  if (kind.includes("json") || /^\s*[[{]/.test(text)) {
    try { text = JSON.stringify(JSON.parse(body), null, 2); } catch { /* shown as it came */ }
  }
  return h("div", { class: "body" }, note, h("pre", { class: "text" }, text));
}

function base64Bytes(text) {
  const binary = atob(text.slice(0, Math.ceil((HEX_LIMIT * 4) / 3) + 4).replace(/=+$/, "").slice(0, Math.floor((HEX_LIMIT * 4) / 3)));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function hexDump(bytes) {
  const lines = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const chunk = bytes.subarray(offset, offset + 16);
    const hex = Array.from(chunk, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = Array.from(chunk, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${offset.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}

function waterfall(flow) {
  const timings = flow.timings;
  if (!timings) return [h("p", { class: "empty" }, "No timings were measured for this flow.")];
  const phases = PHASES.map((phase) => [phase, timings[`${phase}_ms`]]);
  const total = Math.max(1, phases.reduce((sum, [, ms]) => sum + (ms > 0 ? ms : 0), 0));
  let start = 0;
  return [h("div", { class: "waterfall" }, phases.map(([phase, ms]) => {
    const measured = ms !== undefined && ms >= 0;
    const bar = h("div", { class: `bar t-${phase}` });
    bar.style.marginLeft = `${(start / total) * 100}%`;
    bar.style.width = measured ? `${Math.max(0.5, (ms / total) * 100)}%` : "0";
    if (measured) start += ms;
    return h("div", { class: "wf-row" }, h("span", { class: "wf-label" }, phase),
      h("div", { class: "wf-track" }, bar), h("span", { class: "wf-ms" }, measured ? formatDuration(ms) : "not measured"));
  })), h("p", { class: "meta" }, `Total ${formatDuration(flow.duration_ms)}`)];
}
