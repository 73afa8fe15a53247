// The inspector: one flow's request and response (headers, bodies shown by kind), timings as
// a waterfall, tags and annotation, copy as code, replay. Everything is Text nodes.
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
    const tabs = [["request", "Request"], ["response", "Response"], ["timings", "Timings"], ["notes", "Tags & notes"]];
    const panes = {
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
