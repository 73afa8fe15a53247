// The request composer: build a request (or start from a flow or a pasted "Copy as cURL"),
// send it through POST /api/v1/compose, and read the answer. Nothing is stored.
import { post } from "./api.js";
import { append, clear, formatDuration, h, statusClass } from "./dom.js";
import { headersToText, textToHeaders } from "./breakpoints.js";
import { bodyView, headersTable } from "./inspector.js";

export class Composer {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.method = h("input", { type: "text", name: "method", value: "GET", size: "8", "aria-label": "Method" });
    this.url = h("input", { type: "text", name: "url", placeholder: "https://api.example.com/users", "aria-label": "URL" });
    this.headers = h("textarea", { name: "headers", rows: "6", spellcheck: "false", placeholder: "Name: value (one per line)", "aria-label": "Headers" });
    this.body = h("textarea", { name: "body", rows: "8", spellcheck: "false", "aria-label": "Body" });
    this.curl = h("textarea", { name: "curl", rows: "3", spellcheck: "false", placeholder: "paste a browser's \"Copy as cURL\" here", "aria-label": "cURL command" });
    this.error = h("div", { class: "editor-error", role: "alert", hidden: true });
    this.answer = h("div", { class: "compose-answer" });
    this.root.append(h("div", { class: "panel compose" },
      h("h2", {}, "Compose"),
      h("div", { class: "journey-head" }, this.curl, h("button", { on: { click: () => this.importCurl() } }, "Import cURL")),
      h("div", { class: "rule-form" }, this.method, this.url, h("button", { class: "primary", id: "compose-send", on: { click: () => this.send() } }, "Send")),
      h("label", { class: "field" }, "Headers", this.headers), h("label", { class: "field" }, "Body", this.body),
      this.error, this.answer));
    this.url.addEventListener("keydown", (e) => { if (e.key === "Enter") this.send(); });
  }

  fill({ method, url, headers, body }) {
    this.method.value = method || "GET";
    this.url.value = url || "";
    const list = Array.isArray(headers) ? headers : Object.entries(headers || {}).map(([name, value]) => ({ name, value }));
    this.headers.value = headersToText(list);
    this.body.value = body || "";
  }

  fromFlow(flow) {
    const req = flow.request;
    // Hop-by-hop and length headers are the client's business: the composer sends its own.
    const headers = (req.headers || []).filter((x) => !/^(content-length|host|connection|proxy-connection|transfer-encoding)$/i.test(x.name));
    this.fill({ method: req.method, url: req.url, headers, body: req.body_encoding === "base64" ? "" : req.body });
  }

  fail(message) { this.error.textContent = message; this.error.hidden = !message; }

  async importCurl() {
    this.fail("");
    let imported;
    try { imported = await post("/compose/import/curl", { curl: this.curl.value }); } catch (error) { this.fail(error.message); return; }
    this.fill(imported);
    // What curl would have done that the composer does not (a file to supply, a proxy): said, not hidden.
    const warnings = imported.warnings || [];
    if (warnings.length) this.fail(`Imported; not reproduced: ${warnings.join("; ")}`);
  }

  async send() {
    this.fail("");
    let headers;
    try { headers = Object.fromEntries(textToHeaders(this.headers.value).map((x) => [x.name, x.value])); } catch (error) { this.fail(error.message); return; }
    clear(this.answer).append(h("p", { class: "meta" }, "sending…"));
    try {
      const answer = await post("/compose", { method: this.method.value.trim(), url: this.url.value.trim(), headers, body: this.body.value });
      const list = Object.entries(answer.headers || {}).map(([name, value]) => ({ name, value: Array.isArray(value) ? value.join(", ") : String(value) }));
      append(clear(this.answer), [
        h("p", { class: "status-line" }, h("span", { class: statusClass(answer.status_code) }, String(answer.status_code)), ` ${answer.status_text || ""} · ${formatDuration(answer.duration_ms)}`),
        headersTable(list),
        bodyView(answer.body, answer.body_encoding, (list.find((x) => x.name.toLowerCase() === "content-type") || {}).value, answer.body_truncated)]);
    } catch (error) { clear(this.answer); this.fail(error.message); }
  }
}
