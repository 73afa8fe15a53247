// The web UI's entry: checks the login, wires the views to one events WebSocket, keyboard
// shortcuts, and the few dialogs every view shares (errors, text to copy, session compare).
import { ApiError, Events, get, onUnauthorized } from "./api.js";
import { Breakpoints } from "./breakpoints.js";
import { h, modal, toast } from "./dom.js";
import { Overview } from "./charts.js";
import { Composer } from "./compose.js";
import { Journeys } from "./journeys.js";
import { Rules } from "./rules.js";
import { Sessions } from "./sessions.js";
import { Settings, setupWizard } from "./settings.js";
import { TrafficView } from "./traffic.js";

class App {
  constructor() {
    this.events = new Events();
    this.traffic = new TrafficView(document.getElementById("view-traffic"), this.events, this);
    this.breakpoints = new Breakpoints(document.getElementById("view-breakpoints"), document.getElementById("pending-strip"), this.events, this);
    this.journeys = new Journeys(document.getElementById("recording"), document.getElementById("view-journeys"), this.events, this);
    this.composer = new Composer(document.getElementById("view-compose"), this);
    this.overview = new Overview(document.getElementById("view-overview"), this);
    this.rules = new Rules(document.getElementById("view-rules"), this.events, this);
    this.settings = new Settings(document.getElementById("view-settings"), this.events, this);
    this.sessions = new Sessions(document.getElementById("session-controls"), this.events, this);
    this.events.onStatus((up) => {
      const dot = document.getElementById("connection");
      dot.classList.toggle("up", up);
      dot.title = up ? "Live: receiving events" : "Not connected: reconnecting…";
      if (up) { this.breakpoints.load(); this.journeys.load(); }
    });
    this.events.on("api.token_rotated", () => this.loggedOut());
    onUnauthorized(() => this.loggedOut());
    for (const tab of document.querySelectorAll("#tabs .tab")) tab.addEventListener("click", () => this.showView(tab.dataset.view));
    this.installShortcuts();
  }

  async start() {
    try {
      await this.sessions.load();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      this.error(error);
    }
    this.events.connect();
    setupWizard(this).catch((error) => this.error(error));
  }

  loggedOut() {
    this.events.closed = true;
    if (this.events.socket) this.events.socket.close();
    document.getElementById("login").hidden = false;
    document.getElementById("views").hidden = true;
    document.getElementById("bar").hidden = true;
  }

  showView(name) {
    for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
    for (const tab of document.querySelectorAll("#tabs .tab")) tab.classList.toggle("active", tab.dataset.view === name);
    if (name === "breakpoints") this.breakpoints.renderPanel();
    if (name === "traffic") this.traffic.render();
    if (name === "journeys") this.journeys.render();
    if (name === "settings") this.settings.load();
    if (name === "rules") this.rules.load();
    if (name === "overview") this.overview.load();
  }

  composeFrom(flow) {
    this.composer.fromFlow(flow);
    this.showView("compose");
  }

  showFlow(flowId) {
    this.showView("traffic");
    this.traffic.select(flowId);
  }

  error(error) {
    console.error(error);
    toast(error.message || String(error), [], { error: true, timeout: 10000 });
  }

  showText(title, text) {
    modal(title, h("pre", { class: "code" }, text), [["Close", null, "primary"]]);
  }

  async compare(a, b) {
    try {
      const diff = await get(`/sessions/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
      const list = (title, items, line) => [h("h3", {}, `${title} (${items.length})`),
        items.length ? h("ul", { class: "compare-list" }, items.map((item) => h("li", {}, line(item)))) : h("p", { class: "empty" }, "None.")];
      const endpoint = (e) => `${e.method} ${e.host}${e.path}`;
      modal(`Compare: ${diff.a.name} → ${diff.b.name}`, h("div", { class: "compare" },
        h("p", {}, `${diff.a.endpoint_count} endpoints → ${diff.b.endpoint_count} endpoints; ${diff.unchanged} unchanged`),
        list("Added", diff.added, endpoint), list("Removed", diff.removed, endpoint),
        list("Changed", diff.changed, (c) => `${endpoint(c)}: ${(c.changes || []).map((x) => (typeof x === "string" ? x : x.kind || x.field || JSON.stringify(x))).join(", ")}`)),
      [["Close", null, "primary"]]);
    } catch (error) { this.error(error); }
  }

  installShortcuts() {
    let leader = false;
    document.addEventListener("keydown", (e) => {
      const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || "");
      if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
      if (leader) {
        leader = false;
        if (e.key === "t") this.showView("traffic");
        if (e.key === "b") this.showView("breakpoints");
        if (e.key === "j") this.showView("journeys");
        if (e.key === "s") this.showView("settings");
        if (e.key === "r") this.showView("rules");
        if (e.key === "o") this.showView("overview");
        if (e.key === "c") this.showView("compose");
        return;
      }
      if (e.key === "g") leader = true;
      else if (e.key === "/") { e.preventDefault(); this.showView("traffic"); document.getElementById("search").focus(); }
      else if (e.key === "r" && this.traffic.selectedId) this.traffic.inspector.replay(this.traffic.selectedId);
      else if (e.key === "e") { const first = this.breakpoints.held.keys().next().value; if (first) this.breakpoints.open(first); }
      else if (e.key === "?") modal("Keyboard shortcuts", h("table", { class: "headers" }, h("tbody", {},
        [["/", "search flows"], ["↑ ↓", "move through the list"], ["r", "replay the selected flow"], ["e", "edit the first held flow"],
         ["Ctrl+Enter", "continue the held flow modified"], ["Esc", "close a dialog or the editor"], ["g t / g o / g b / g c / g j / g r / g s", "go to Traffic / Overview / Breakpoints / Compose / Journeys / Rules / Settings"]]
          .map(([key, what]) => h("tr", {}, h("th", {}, key), h("td", {}, what))))), [["Close", null, "primary"]]);
    });
  }
}

const app = new App();
window.ghostUi = app;  // for people debugging in the console and for the browser tests
app.start();
