// Rules: map rules, injection rules and JavaScript addons, each a list with toggles and
// priorities and an editor beside it; the addon editor shows addon.log output live and the
// addon's last error.
import { del, get, post, put } from "./api.js";
import { append, clear, h } from "./dom.js";
import { headersToText, textToHeaders } from "./breakpoints.js";

const LOG_LINES = 200;

function field(label, input) { return h("label", { class: "field" }, label, input); }
function text(name, value, attrs = {}) { return h("input", { type: "text", name, value: value ?? "", "aria-label": name, ...attrs }); }
function area(name, value, rows = 6) { return h("textarea", { name, rows: String(rows), spellcheck: "false", "aria-label": name, value: value ?? "" }); }
function select(name, options, value) { return h("select", { name, "aria-label": name }, options.map((o) => h("option", { value: o, selected: o === value }, o))); }
function check(name, value) { return h("input", { type: "checkbox", name, checked: Boolean(value), "aria-label": name }); }

// The fields of each kind, as [name, label, make(value)]; values are read back by `read`.
const MAP_COMMON = [["name", "Name", (v) => text("name", v)], ["priority", "Priority (lower runs first)", (v) => text("priority", v ?? 0, { size: "4" })],
  ["host_pattern", "Host", (v) => text("host_pattern", v, { placeholder: "*.example.com" })], ["path_pattern", "Path", (v) => text("path_pattern", v, { placeholder: "/api/*" })],
  ["method", "Method", (v) => text("method", v, { placeholder: "any", size: "8" })]];
const MAP_BY_TYPE = {
  local: [["status_code", "Status", (v) => text("status_code", v ?? 200, { size: "4" })], ["content_type", "Content-Type", (v) => text("content_type", v)],
    ["file_path", "File under ~/.ghost (or empty)", (v) => text("file_path", v)], ["body", "Body", (v) => area("body", v)],
    ["headers", "Headers (Name: value per line)", (v) => area("headers", headersToText(Object.entries(v || {}).map(([name, value]) => ({ name, value }))), 3)]],
  remote: [["remote_url", "Send to", (v) => text("remote_url", v, { placeholder: "https://staging.example.com" })],
    ["preserve_path", "Keep the path", (v) => check("preserve_path", v ?? true)], ["preserve_query", "Keep the query", (v) => check("preserve_query", v ?? true)]],
  rewrite: [["target", "Where", (v) => select("target", ["url", "request_header", "response_header", "request_body", "response_body"], v || "response_body")],
    ["header_name", "Header (for header targets)", (v) => text("header_name", v)], ["match", "Regex", (v) => text("match", v)], ["replace", "Replace with", (v) => text("replace", v)]],
};

export function read(form) {
  const out = {};
  for (const input of form.querySelectorAll("input, textarea, select")) {
    if (!input.name) continue;
    if (input.type === "checkbox") out[input.name] = input.checked;
    else if (["priority", "status_code"].includes(input.name)) out[input.name] = input.value.trim() === "" ? undefined : Number(input.value);
    else if (input.name === "headers") out.headers = Object.fromEntries(textToHeaders(input.value).map((x) => [x.name, x.value]));
    else out[input.name] = input.value;
  }
  return out;
}

export class Rules {
  constructor(root, events, app) {
    this.root = root;
    this.app = app;
    this.logs = new Map();  // addon id -> recent addon.log lines
    for (const type of ["rule.created", "rule.updated", "rule.deleted", "injection_rule.created", "injection_rule.updated",
      "injection_rule.deleted", "addon.created", "addon.updated", "addon.deleted"]) events.on(type, () => this.refreshLists());
    events.on("addon.log", (entry) => this.onLog(entry));
    this.editing = null;  // {kind, item}
  }

  async load() {
    try {
      [this.mapRules, this.injectionRules, this.addons] = await Promise.all([get("/rules"), get("/injection-rules"), get("/addons")]);
    } catch (error) { this.app.error(error); return; }
    this.render();
  }

  refreshLists() { if (!this.root.hidden && !this.editing) this.load(); else if (!this.root.hidden) this.quietReload(); }

  async quietReload() {
    try { [this.mapRules, this.injectionRules, this.addons] = await Promise.all([get("/rules"), get("/injection-rules"), get("/addons")]); } catch { return; }
    this.renderLists();
  }

  render() {
    this.listsRoot = h("div", { class: "rules-lists" });
    this.editorRoot = h("div", { class: "rules-editor" });
    clear(this.root).append(h("div", { class: "panel rules-view" }, this.listsRoot, this.editorRoot));
    this.renderLists();
    this.renderEditor();
  }

  renderLists() {
    const list = (title, kind, items, columns, toggle, newLabel) => h("section", { class: "settings-section", dataset: { kind } },
      h("div", { class: "journey-head" }, h("h3", {}, title), h("button", { class: "primary", on: { click: () => this.edit(kind, null) } }, newLabel)),
      items.length ? h("table", { class: "rules" }, h("tbody", {}, items.map((item) => h("tr", { dataset: { id: item.id } },
        h("td", {}, h("input", { type: "checkbox", checked: item.enabled, "aria-label": `Enable ${item.name}`, on: { change: () => this.act(() => toggle(item)) } })),
        columns.map((c) => h("td", {}, c(item))),
        h("td", {}, h("button", { on: { click: () => this.edit(kind, item) } }, "Edit"), " ",
          h("button", { class: "danger", on: { click: () => this.act(() => del(`${PATHS[kind]}/${encodeURIComponent(item.id)}`)) } }, "Delete"))))))
        : h("p", { class: "empty" }, "None yet."));
    clear(this.listsRoot).append(
      list("Map rules", "map", this.mapRules, [(r) => String(r.priority), (r) => r.name || "(unnamed)", (r) => r.type,
        (r) => `${r.method || "any"} ${r.host_pattern || "*"}${r.path_pattern || ""}`, (r) => h("span", { class: "s-err" }, r.disabled_reason || r.last_error || "")],
        (r) => post(`/rules/${encodeURIComponent(r.id)}/toggle`), "New map rule"),
      list("Injection rules (active session)", "injection", this.injectionRules, [(r) => r.name || "(unnamed)", (r) => r.url_pattern],
        (r) => post(`/injection-rules/${encodeURIComponent(r.id)}/toggle`), "New injection rule"),
      list("JavaScript addons", "addon", this.addons, [(a) => String(a.priority), (a) => a.name, (a) => h("span", { class: "s-err" }, a.disabled_reason || a.last_error || "")],
        (a) => put(`/addons/${encodeURIComponent(a.id)}`, { enabled: !a.enabled }), "New addon"));
  }

  async act(call) {
    try { await call(); } catch (error) { this.app.error(error); }
    await this.quietReload();
  }

  edit(kind, item) {
    this.editing = { kind, item };
    this.renderEditor();
  }

  renderEditor() {
    clear(this.editorRoot);
    if (!this.editing) { this.editorRoot.append(h("p", { class: "empty" }, "Pick a rule or addon to edit, or make a new one.")); return; }
    const { kind, item } = this.editing;
    const error = h("div", { class: "editor-error", role: "alert", hidden: true });
    const form = h("form", { class: "rule-editor", on: { submit: (e) => { e.preventDefault(); this.save(kind, item, form, error); } } });
    if (kind === "map") {
      const type = select("type", ["local", "remote", "rewrite"], item ? item.type : "local");
      const typed = h("div", { class: "typed" });
      const fill = () => append(clear(typed), MAP_BY_TYPE[type.value].map(([name, label, make]) => field(label, make(item && item.type === type.value ? item[name] : undefined))));
      type.addEventListener("change", fill);
      append(form, [field("Type", type), MAP_COMMON.map(([name, label, make]) => field(label, make(item ? item[name] : undefined))), typed]);
      if (item) type.disabled = true;  // a rule keeps its type; make another for another kind
      fill();
    } else if (kind === "injection") {
      append(form, [field("Name", text("name", item && item.name)), field("URL pattern", text("url_pattern", item && item.url_pattern, { placeholder: "*://shop.example/*" })),
        field("Script (runs in matching pages)", area("script", item && item.script, 12))]);
    } else {
      append(form, [field("Name", text("name", item && item.name)), field("Priority", text("priority", item ? item.priority : 0, { size: "4" })),
        field("Code", area("code", item ? item.code : "ghost.onResponse(function (flow) {\n  if (flow.response.status_code >= 400) flow.tag(\"error\");\n});", 14))]);
    }
    append(form, [error, h("div", { class: "modal-buttons" },
      h("button", { type: "button", on: { click: () => { this.editing = null; this.renderEditor(); } } }, "Close"),
      h("button", { type: "submit", class: "primary" }, item ? "Save" : "Create"))]);
    const title = `${item ? "Edit" : "New"} ${kind === "map" ? "map rule" : kind === "injection" ? "injection rule" : "addon"}`;
    this.editorRoot.append(h("h3", {}, title), form);
    if (kind === "addon" && item) {
      this.logRoot = h("pre", { class: "code addon-log", "aria-label": "Addon log" });
      append(this.editorRoot, [h("h3", {}, "Log (live)"), this.logRoot,
        item.last_error ? h("p", {}, h("strong", {}, "Last error: "), h("span", { class: "s-err addon-error" }, item.last_error)) : null]);
      this.renderLog(item.id);
    } else this.logRoot = null;
  }

  async save(kind, item, form, error) {
    error.hidden = true;
    const body = read(form);
    if (kind === "map" && item) delete body.type;
    try {
      const path = PATHS[kind];
      const saved = item ? await put(`${path}/${encodeURIComponent(item.id)}`, body) : await post(path, body);
      this.editing = { kind, item: saved };
      await this.quietReload();
      this.renderEditor();
    } catch (e) { error.textContent = e.message; error.hidden = false; }
  }

  onLog(entry) {
    const lines = this.logs.get(entry.id) || [];
    lines.push(`${new Date(entry.timestamp || Date.now()).toLocaleTimeString([], { hour12: false })} ${entry.level} ${entry.message}`);
    if (lines.length > LOG_LINES) lines.splice(0, lines.length - LOG_LINES);
    this.logs.set(entry.id, lines);
    if (this.editing && this.editing.kind === "addon" && this.editing.item && this.editing.item.id === entry.id) this.renderLog(entry.id);
  }

  renderLog(id) {
    if (!this.logRoot) return;
    this.logRoot.textContent = (this.logs.get(id) || []).join("\n") || "(nothing logged yet: ghost.log(...) lines appear here)";
  }
}

const PATHS = { map: "/rules", injection: "/injection-rules", addon: "/addons" };
