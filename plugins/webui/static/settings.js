// Settings: a form per section built from GET /api/v1/settings/schema (the plugins'
// declarations), secrets shown masked as the API returns them, only changed keys sent,
// the API's 400 shown beside the form; integration checks; token rotation.
import { get, post, put } from "./api.js";
import { append, clear, h, modal, toast } from "./dom.js";

const VALIDATE = { llm: "/settings/llm/validate", testrail: "/settings/testrail/validate" };

export function readField(setting, input) {
  if (setting.type === "boolean") return input.checked;
  if (setting.type === "integer") {
    const value = Number(input.value);
    if (!Number.isInteger(value)) throw new Error(`${setting.name} must be a whole number, not ${JSON.stringify(input.value)}`);
    return value;
  }
  if (setting.type === "list") return input.value.split("\n").map((line) => line.trim()).filter(Boolean);
  return input.value;
}

function sameValue(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

const PROXY_METHODS = [
  ["manual", "Manual", "Point each client at the proxy yourself (e.g. chromium --proxy-server=127.0.0.1:4545)."],
  ["system_proxy", "System proxy", "Use the PAC file as the system's automatic proxy configuration (Ghost does not change the OS settings on Linux)."],
  ["device", "Another device", "Phones and other machines: start Ghost with --set listen_host=0.0.0.0 and set the device's Wi-Fi proxy."],
];

export async function setupWizard(app) {
  // First run: how traffic will reach Ghost, and the CA to trust.
  const status = await get("/setup/status");
  if (status.completed) return;
  const choices = PROXY_METHODS.map(([value, label, help], i) => h("label", { class: "choice" },
    h("input", { type: "radio", name: "proxy_method", value, checked: i === 0 }), h("strong", {}, label), h("span", { class: "meta" }, help)));
  const body = h("div", { class: "wizard" }, h("p", {}, "How will traffic reach Ghost?"), choices,
    h("p", {}, "Then trust Ghost's CA certificate in the browser or device: ", h("a", { href: "/api/v1/proxy/ca", download: "ghost-ca.pem" }, "download it"), "."));
  const method = await modal("Welcome to Ghost", body, [["Later", null], ["Done", () => body.querySelector("input:checked").value, "primary"]]);
  if (!method) return;
  try { await post("/setup/complete", { proxy_method: method }); toast("Setup complete"); } catch (error) { app.error(error); }
}

export class Settings {
  constructor(root, events, app) {
    this.root = root;
    this.app = app;
    events.on("settings.updated", () => { if (!this.root.hidden) this.load(); });
  }

  async load() {
    try {
      const [schema, values] = await Promise.all([get("/settings/schema"), get("/settings")]);
      this.render(schema, values);
    } catch (error) { this.app.error(error); }
  }

  render(schema, values) {
    const sections = new Map();
    for (const setting of schema) {
      const section = setting.name.split(".")[0];
      if (!sections.has(section)) sections.set(section, []);
      sections.get(section).push(setting);
    }
    this.monitorRoot = h("table", { class: "headers monitor" });
    const panel = h("div", { class: "panel settings" }, h("h2", {}, "Settings"),
      h("section", { class: "settings-section" }, h("h3", {}, "Ghost now"), this.monitorRoot,
        h("p", {}, h("a", { href: "/api/v1/proxy/ca", download: "ghost-ca.pem" }, "Download the CA certificate"),
          " · PAC file: ", h("code", {}, `${location.origin}/proxy.pac`))),
      h("section", { class: "settings-section" }, h("h3", {}, "API token"),
        h("p", { class: "meta" }, "Rotating makes a new token at once: scripts using the old one get 401, and every browser is logged out (this one logs in again by itself)."),
        h("button", { class: "danger", id: "rotate-token", on: { click: () => this.rotate() } }, "Rotate token")));
    for (const [section, settings] of sections) panel.append(this.sectionForm(section, settings, values[section] || {}));
    clear(this.root).append(panel);
    this.watchMonitor();
  }

  watchMonitor() {
    // The resource monitor, refreshed while the settings are on screen.
    clearTimeout(this.monitorTimer);
    if (this.root.hidden || !this.monitorRoot) return;
    get("/monitor").then((m) => {
      const rows = [["Uptime", m.uptime_human], ["Memory", m.mem_alloc_human], ["Database", m.db_size_human],
        ["Flows stored", (m.total_flows ?? 0).toLocaleString()], ["Write queue", `${m.flow_queue_depth} of ${m.flow_queue_capacity}`],
        ["Flows not stored", `${m.flows_not_stored}${m.flows_not_stored_last_reason ? ` (last: ${m.flows_not_stored_last_reason})` : ""}`],
        ["Tasks", String(m.goroutines)]];
      clear(this.monitorRoot).append(h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", { dataset: { figure: k } }, v ?? "")))));
    }).catch((error) => this.app.error(error)).finally(() => { this.monitorTimer = setTimeout(() => this.watchMonitor(), 3000); });
  }

  sectionForm(section, settings, current) {
    const inputs = new Map();
    const error = h("div", { class: "editor-error", role: "alert", hidden: true });
    const rows = settings.map((setting) => {
      const key = setting.name.split(".").slice(1).join(".");
      const value = current[key];
      let input;
      if (setting.type === "boolean") input = h("input", { type: "checkbox", checked: Boolean(value) });
      else if (setting.choices) input = h("select", {}, setting.choices.map((choice) => h("option", { value: choice, selected: choice === value }, choice || "(none)")));
      else if (setting.type === "list") input = h("textarea", { rows: "2", placeholder: "one per line", value: (value || []).join("\n") });
      else input = h("input", { type: setting.secret ? "password" : setting.type === "integer" ? "number" : "text", value: value ?? "", autocomplete: "off" });
      input.name = setting.name;
      input.setAttribute("aria-label", setting.name);
      inputs.set(key, [setting, input]);
      const notes = [setting.restart ? "applies after a restart" : "", setting.secret ? "secret: shown masked; leave as is to keep it" : ""].filter(Boolean).join("; ");
      return h("label", { class: "setting" }, h("code", {}, setting.name), input,
        h("span", { class: "meta" }, setting.help, notes ? ` (${notes})` : "", ` · ${setting.owner}`));
    });
    const save = async () => {
      error.hidden = true;
      const changed = {};
      try {
        for (const [key, [setting, input]] of inputs) {
          const value = readField(setting, input);
          if (!sameValue(value, current[key])) changed[key] = value;
        }
        if (!Object.keys(changed).length) { toast(`${section}: nothing changed`); return; }
        await put("/settings", { [section]: changed });
        toast(`${section}: saved`);
        await this.load();
      } catch (e) { error.textContent = e.message; error.hidden = false; }
    };
    const validate = VALIDATE[section] ? h("button", { on: { click: async () => {
      const body = {};
      for (const [key, [setting, input]] of inputs) body[key] = readField(setting, input);
      try {
        const verdict = await post(VALIDATE[section], body);
        toast(verdict.valid ? `${section}: valid` : `${section}: not valid: ${verdict.error}`, [], { error: !verdict.valid });
      } catch (e) { error.textContent = e.message; error.hidden = false; }
    } } }, "Check") : null;
    return h("section", { class: "settings-section", dataset: { section } }, h("h3", {}, section), rows, error,
      h("div", { class: "modal-buttons" }, validate, h("button", { class: "primary", on: { click: save } }, `Save ${section}`)));
  }

  async rotate() {
    const sure = await modal("Rotate the API token?", h("p", {}, "Scripts and tools using the current token stop working until they use the new one."),
      [["Cancel", false], ["Rotate", true, "danger"]]);
    if (!sure) return;
    try {
      const { token } = await post("/settings/rotate-token");
      // Every UI session ended with the old token; this page logs in again with the new one,
      // which it keeps nowhere: it asks for a one-time link and follows it.
      const response = await fetch("/api/v1/webui/login-url", { method: "POST", headers: { Authorization: `Bearer ${token}` } });
      const { url } = await response.json();
      await modal("New API token", append(h("div", {}), [h("p", {}, "Shown once: copy it now."), h("pre", { class: "code", id: "new-token" }, token)]),
        [["Done", true, "primary"]]);
      location.replace(url);
    } catch (error) { this.app.error(error); }
  }
}

