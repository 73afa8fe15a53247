// Breakpoints: the rules panel, the strip of held flows, and the full-screen editor with its
// countdown (amber from 10 s, red from 5 s) and a dot per held flow.
import { del, get, post } from "./api.js";
import { append, clear, h, methodClass } from "./dom.js";

const AMBER_SECS = 10;
const RED_SECS = 5;

export function headersToText(headers) {
  return (headers || []).map((header) => `${header.name}: ${header.value}`).join("\n");
}

export function textToHeaders(text) {
  // One "Name: value" per line; a line without a colon is a mistake the user must see.
  const headers = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const colon = line.indexOf(":", line.startsWith(":") ? 1 : 0);
    if (colon <= 0) throw new Error(`header line ${i + 1} has no "name: value": ${line}`);
    headers.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  });
  return headers;
}

export function countdownClass(remaining) {
  if (remaining <= RED_SECS) return "countdown red";
  if (remaining <= AMBER_SECS) return "countdown amber";
  return "countdown";
}

export class Breakpoints {
  constructor(panelRoot, stripRoot, events, app) {
    this.app = app;
    this.panel = panelRoot;
    this.strip = stripRoot;
    this.rules = [];
    this.held = new Map();  // flow id -> {data, deadline (performance.now ms)}
    this.editing = "";
    this.overlay = null;
    events.on("flow.breakpoint", (held) => this.onHeld(held));
    events.on("flow.resumed", (data) => this.onResumed(data.flow_id || data.id));
    setInterval(() => this.tick(), 250);
  }

  async load() {
    try {
      this.rules = await get("/breakpoints");
      const pending = await get("/breakpoints/pending");
      this.held.clear();
      pending.forEach((held) => this.onHeld(held, false));
    } catch (error) { this.app.error(error); }
    this.renderPanel();
    this.renderStrip();
  }

  onHeld(held, render = true) {
    const remaining = held.remaining_secs ?? held.timeout_secs ?? 30;
    this.held.set(held.flow_id, { data: held, deadline: performance.now() + remaining * 1000 });
    if (render) this.renderStrip();
    if (!render) return;
    if (this.overlay) this.renderDots();
    else this.open(held.flow_id);  // a hit opens the editor, as a debugger stops at a breakpoint
  }

  onResumed(flowId) {
    if (!this.held.delete(flowId)) return;
    this.renderStrip();
    if (this.editing === flowId) {
      const next = this.held.keys().next().value;
      if (next) this.open(next); else this.close();
    } else if (this.overlay) this.renderDots();
  }

  remaining(flowId) {
    const entry = this.held.get(flowId);
    return entry ? Math.max(0, (entry.deadline - performance.now()) / 1000) : 0;
  }

  tick() {
    for (const node of document.querySelectorAll("[data-countdown]")) {
      const seconds = this.remaining(node.dataset.countdown);
      node.textContent = `${Math.ceil(seconds)} s`;
      node.className = countdownClass(seconds);
    }
  }

  // --- the rules panel -------------------------------------------------------------------

  renderPanel() {
    const phase = h("select", { "aria-label": "Phase", name: "phase" }, h("option", { value: "request" }, "Request"), h("option", { value: "response" }, "Response"));
    const host = h("input", { type: "text", name: "host_pattern", placeholder: "host, e.g. *.example.com", "aria-label": "Host pattern" });
    const path = h("input", { type: "text", name: "path_pattern", placeholder: "path, e.g. /api/*", "aria-label": "Path pattern" });
    const method = h("select", { name: "method", "aria-label": "Method" }, h("option", { value: "" }, "Any method"),
      ["GET", "POST", "PUT", "PATCH", "DELETE"].map((name) => h("option", { value: name }, name)));
    const form = h("form", { class: "rule-form", on: { submit: async (e) => {
      e.preventDefault();
      try {
        await post("/breakpoints", { phase: phase.value, host_pattern: host.value.trim(), path_pattern: path.value.trim(), method: method.value });
        this.load();
      } catch (error) { this.app.error(error); }
    } } }, phase, host, path, method, h("button", { type: "submit", class: "primary" }, "Add breakpoint"));
    const list = this.rules.length
      ? h("table", { class: "rules" }, h("thead", {}, h("tr", {}, ["On", "Phase", "Host", "Path", "Method", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, this.rules.map((rule) => h("tr", {},
          h("td", {}, h("input", { type: "checkbox", checked: rule.enabled, "aria-label": "Enabled", on: { change: () => this.act(() => post(`/breakpoints/${encodeURIComponent(rule.id)}/toggle`)) } })),
          h("td", {}, rule.phase), h("td", {}, rule.host_pattern || "*"), h("td", {}, rule.path_pattern || "*"), h("td", {}, rule.method || "any"),
          h("td", {}, h("button", { title: "Delete rule", on: { click: () => this.act(() => del(`/breakpoints/${encodeURIComponent(rule.id)}`)) } }, "Delete"))))))
      : h("p", { class: "empty" }, "No breakpoints. A matching request (or response) will wait here for you.");
    clear(this.panel).append(
      h("div", { class: "panel" },
        h("h2", {}, "Breakpoints"), form, list,
        this.rules.length ? h("button", { on: { click: () => this.act(() => del("/breakpoints")) } }, "Clear all") : null,
        h("h3", {}, "Held now"), this.heldList()));
  }

  async act(call) {
    try { await call(); } catch (error) { this.app.error(error); }
    this.load();
  }

  heldList() {
    if (!this.held.size) return h("p", { class: "empty" }, "Nothing is held.");
    return h("ul", { class: "held" }, [...this.held.values()].map(({ data }) => h("li", {},
      h("span", { class: `method ${methodClass(data.method)}` }, data.method), " ", h("span", { class: "url" }, data.url), " ",
      h("span", { class: "phase" }, data.phase), " ", h("span", { dataset: { countdown: data.flow_id } }),
      this.actions(data.flow_id))));
  }

  actions(flowId) {
    return h("span", { class: "held-actions" },
      h("button", { on: { click: () => this.open(flowId) } }, "Edit"),
      h("button", { on: { click: () => this.resume(flowId, { action: "continue" }) } }, "Continue"),
      h("button", { class: "danger", on: { click: () => this.resume(flowId, { action: "drop" }) } }, "Drop"));
  }

  renderStrip() {
    this.strip.hidden = this.held.size === 0;
    clear(this.strip);
    if (this.held.size) {
      append(this.strip, [h("strong", {}, `${this.held.size} held`),
        [...this.held.values()].slice(0, 5).map(({ data }) => h("span", { class: "strip-item" },
          h("span", { class: `method ${methodClass(data.method)}` }, data.method), " ", h("span", { class: "url" }, data.path || data.url), " ",
          h("span", { dataset: { countdown: data.flow_id } }), this.actions(data.flow_id)))]);
    }
    if (!this.panel.hidden) this.renderPanel();
    this.tick();
  }

  async resume(flowId, body) {
    try { await post(`/breakpoints/resume/${encodeURIComponent(flowId)}`, body); this.onResumed(flowId); } catch (error) { this.app.error(error); }
  }

  // --- the editor ------------------------------------------------------------------------

  open(flowId) {
    const entry = this.held.get(flowId);
    if (!entry) return;
    this.editing = flowId;
    const held = entry.data;
    const response = held.phase === "response";
    const fields = {};
    const input = (name, value, attrs = {}) => (fields[name] = h("input", { type: "text", name, value: value ?? "", ...attrs }));
    const area = (name, value, rows) => (fields[name] = h("textarea", { name, rows: String(rows), spellcheck: "false", value: value ?? "" }));
    const error = h("div", { class: "editor-error", role: "alert", hidden: true });
    const request = [
      h("label", { class: "field short" }, "Method", input("method", held.method, { "aria-label": "Method", size: "8" })),
      h("label", { class: "field grow" }, "URL", input("url", held.url, { "aria-label": "URL" })),
      h("label", { class: "field" }, "Request headers", area("headers", headersToText(held.headers), 8)),
      h("label", { class: "field" }, `Request body${held.body_encoding === "base64" ? " (base64)" : ""}`, area("body", held.body, 10)),
    ];
    const responseFields = response ? [
      h("label", { class: "field short" }, "Status", input("status_code", String(held.status_code), { "aria-label": "Status", size: "5" })),
      h("label", { class: "field" }, "Response headers", area("response_headers", headersToText(held.response_headers), 8)),
      h("label", { class: "field" }, `Response body${held.response_body_encoding === "base64" ? " (base64)" : ""}`, area("response_body", held.response_body, 12)),
    ] : [];
    if (response) request.forEach((node) => node.querySelectorAll("input, textarea").forEach((el) => { el.readOnly = true; }));
    const modified = () => {
      if (!response) {
        return { action: "modify", method: fields.method.value.trim(), url: fields.url.value.trim(),
          headers: textToHeaders(fields.headers.value), body: fields.body.value, body_encoding: held.body_encoding || "utf8" };
      }
      const status = Number(fields.status_code.value);
      if (!Number.isInteger(status) || status < 100 || status > 999) throw new Error(`status must be a number from 100 to 999, not ${fields.status_code.value}`);
      return { action: "modify", status_code: status, response_headers: textToHeaders(fields.response_headers.value),
        response_body: fields.response_body.value, response_body_encoding: held.response_body_encoding || "utf8" };
    };
    const send = async (body) => {
      try {
        const payload = typeof body === "function" ? body() : body;
        await post(`/breakpoints/resume/${encodeURIComponent(flowId)}`, payload);
        this.onResumed(flowId);
      } catch (e) { error.textContent = e.message; error.hidden = false; }
    };
    this.dots = h("div", { class: "dots", role: "tablist", "aria-label": "Held flows" });
    const editor = h("div", { class: "editor", role: "dialog", "aria-label": "Held flow editor" },
      h("div", { class: "editor-head" },
        h("span", { class: `phase-badge ${held.phase}` }, response ? "Response held" : "Request held"),
        h("span", { class: `method ${methodClass(held.method)}` }, held.method), h("span", { class: "url" }, held.url),
        h("span", { class: "countdown", dataset: { countdown: flowId }, title: "Continues unchanged when this reaches 0" }),
        this.dots,
        h("button", { class: "close", title: "Close the editor (Esc); the flow stays held", on: { click: () => this.close() } }, "×")),
      error,
      h("div", { class: response ? "editor-body two" : "editor-body" },
        h("section", { class: "editor-section" }, h("h3", {}, "Request"), request),
        response ? h("section", { class: "editor-section" }, h("h3", {}, "Response"), responseFields) : null),
      h("div", { class: "editor-buttons" },
        h("button", { class: "danger", id: "bp-drop", on: { click: () => send({ action: "drop" }) } }, "Drop"),
        h("button", { id: "bp-continue", on: { click: () => send({ action: "continue" }) } }, "Continue"),
        h("button", { class: "primary", id: "bp-modify", title: "Ctrl+Enter", on: { click: () => send(modified) } }, "Continue Modified")));
    editor.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.close();
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) send(modified);
    });
    if (!this.overlay) {
      this.overlay = h("div", { class: "editor-backdrop" });
      document.getElementById("overlay-root").append(this.overlay);
    }
    clear(this.overlay).append(editor);
    this.renderDots();
    this.tick();
    (response ? fields.status_code : fields.url).focus();
  }

  renderDots() {
    if (!this.dots) return;
    append(clear(this.dots), [...this.held.keys()].map((id, i) => h("button", {
      class: id === this.editing ? "dot-button current" : "dot-button", role: "tab", title: `Held flow ${i + 1}`,
      "aria-label": `Held flow ${i + 1}`, "aria-selected": id === this.editing ? "true" : "false",
      on: { click: () => this.open(id) },
    })));
  }

  close() {
    if (this.overlay) this.overlay.remove();
    this.overlay = null;
    this.dots = null;
    this.editing = "";
  }
}
