// Journeys: the record button and the pulsing recording pill in the top bar, and the
// Journeys view: list, detail timeline coloured by step type, export, Mark Complete, replay.
import { del, get, post, put, request } from "./api.js";
import { askText, append, clear, formatDuration, h, methodClass, statusClass, toast } from "./dom.js";
import { download } from "./transfers.js";

// Every journey export format Ghost ships (plugins/journeys/export); the UI tests need the
// recorded interactions, the others the flows (the API's 422 says which is missing).
const EXPORT_FORMATS = [["curl", "cURL script"], ["har", "HAR"], ["postman", "Postman"], ["k6", "k6 script"],
  ["playwright-api", "Playwright API test"], ["cypress-api", "Cypress API test"],
  ["playwright-ui", "Playwright UI test"], ["cypress-ui", "Cypress UI test"]];

export function elapsed(startedAt, now = Date.now()) {
  const seconds = Math.max(0, Math.floor((now - new Date(startedAt).getTime()) / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

export function parseSse(buffer) {
  // Complete "event:/data:" messages in `buffer`, and what is left of it.
  const messages = [];
  let rest = buffer;
  let end;
  while ((end = rest.indexOf("\n\n")) >= 0) {
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trim());
    }
    try { messages.push({ event, data: JSON.parse(data.join("\n")) }); } catch { /* a comment or keep-alive */ }
  }
  return { messages, rest };
}

export class Journeys {
  constructor(barRoot, viewRoot, events, app) {
    this.bar = barRoot;
    this.view = viewRoot;
    this.app = app;
    this.extensionConnected = false;
    this.recording = null;  // {journey_id, name, started_at, steps}
    this.journeys = [];
    this.detail = null;     // the journey shown in detail
    this.replayAbort = null;
    events.on("extension.connected", () => { this.extensionConnected = true; this.renderBar(); });
    events.on("extension.disconnected", (data) => { this.extensionConnected = Boolean(data && data.connected); this.renderBar(); });
    events.on("journey:started", () => this.load());
    events.on("journey:completed", () => this.load());
    events.on("journey:updated", () => this.load());
    events.on("journey:deleted", (data) => { if (this.detail && this.detail.id === data.journey_id) this.detail = null; this.load(); });
    events.on("journey:step_added", (step) => this.onStep(step));
    setInterval(() => this.tick(), 1000);
  }

  get sessionId() { return this.app.sessions.activeId; }

  async load() {
    if (!this.sessionId) return;
    try {
      const [status, active, journeys] = await Promise.all([
        get("/extension/status").catch(() => ({ connected: false })),
        get(`/journeys/active?session_id=${encodeURIComponent(this.sessionId)}`),
        get(`/journeys?session_id=${encodeURIComponent(this.sessionId)}`),
      ]);
      this.extensionConnected = Boolean(status.connected);
      this.journeys = Array.isArray(journeys) ? journeys : journeys.journeys || [];
      const current = active.is_recording ? this.journeys.find((j) => j.id === active.journey_id) : null;
      this.recording = current ? { journey_id: current.id, name: current.name, started_at: current.started_at,
        steps: this.recording && this.recording.journey_id === current.id ? this.recording.steps : current.flow_count + current.interaction_count } : null;
      if (this.detail) this.detail = this.journeys.find((j) => j.id === this.detail.id) || null;
    } catch (error) { this.app.error(error); }
    this.renderBar();
    if (!this.view.hidden) this.render();
  }

  onStep(step) {
    if (this.recording && step.journey_id === this.recording.journey_id) {
      this.recording.steps += 1;
      this.renderBar();
    }
    if (this.detail && this.detail.id === step.journey_id && !this.view.hidden) this.render();
  }

  tick() {
    const clock = this.bar.querySelector(".pill-time");
    if (clock && this.recording) clock.textContent = elapsed(this.recording.started_at);
  }

  renderBar() {
    clear(this.bar);
    if (this.recording) {
      this.bar.append(h("span", { class: "recording-pill", role: "status", title: `Recording ${this.recording.name}` },
        h("span", { class: "pulse" }), h("span", { class: "pill-name" }, this.recording.name),
        h("span", { class: "pill-time" }, elapsed(this.recording.started_at)),
        h("span", { class: "pill-steps" }, `${this.recording.steps} steps`),
        h("button", { class: "pill-stop", title: "Stop recording", on: { click: () => this.stop() } }, "■ Stop")));
      return;
    }
    const why = !this.sessionId ? "Start a session first" : this.extensionConnected ? "Record a journey" : "Connect browser extension to record journeys";
    this.bar.append(h("button", { id: "record", class: "record", title: why, "aria-label": why,
      disabled: !this.sessionId || !this.extensionConnected, on: { click: () => this.start() } }, "● Record"));
  }

  async start() {
    const name = await askText("Record a journey", "Name", `Journey ${new Date().toLocaleTimeString([], { hour12: false })}`);
    if (!name) return;
    try {
      const journey = await post("/journeys/start", { session_id: this.sessionId, name });
      this.recording = { journey_id: journey.id, name: journey.name, started_at: journey.started_at, steps: 0 };
      this.renderBar();
    } catch (error) { this.app.error(error); }
  }

  async stop() {
    try { await post("/journeys/stop", { session_id: this.sessionId }); this.recording = null; await this.load(); } catch (error) { this.app.error(error); }
  }

  // --- the view ----------------------------------------------------------------------------

  render() {
    if (this.detail) { this.renderDetail(this.detail); return; }
    clear(this.view).append(h("div", { class: "panel" }, h("h2", {}, "Journeys"),
      this.journeys.length
        ? h("table", { class: "rules journeys" }, h("thead", {}, h("tr", {}, ["", "Name", "Duration", "Flows", "Interactions", ""].map((t) => h("th", {}, t)))),
          h("tbody", {}, this.journeys.map((j) => h("tr", { class: "journey-row", dataset: { id: j.id } },
            h("td", {}, h("span", { class: `status-dot j-${j.status}`, title: j.status })),
            h("td", {}, h("button", { class: "link", on: { click: () => { this.detail = j; this.render(); } } }, j.name)),
            h("td", {}, journeyDuration(j)), h("td", {}, String(j.flow_count)), h("td", {}, String(j.interaction_count)),
            h("td", {}, j.status === "recording" ? null : this.exportSelect(j), h("button", { on: { click: () => this.remove(j) } }, "Delete"))))))
        : h("p", { class: "empty" }, "No journeys in this session. Connect Ghost's browser extension and press ● Record.")));
  }

  exportSelect(journey) {
    const select = h("select", { "aria-label": `Export ${journey.name}`, on: { change: async () => {
      const format = select.value;
      select.value = "";
      if (!format) return;
      try { await download(`/journeys/${encodeURIComponent(journey.id)}/export?format=${format}`, `journey.${format}`, `Exporting ${journey.name} (${format})`); } catch (error) { this.app.error(error); }
    } } }, h("option", { value: "" }, "Export…"), EXPORT_FORMATS.map(([value, label]) => h("option", { value }, label)));
    return select;
  }

  async remove(journey) {
    try { await del(`/journeys/${encodeURIComponent(journey.id)}`); if (this.detail && this.detail.id === journey.id) this.detail = null; await this.load(); } catch (error) { this.app.error(error); }
  }

  async renderDetail(journey) {
    let steps = [];
    try { steps = await get(`/journeys/${encodeURIComponent(journey.id)}/steps`); } catch (error) { this.app.error(error); }
    const recording = journey.status === "recording";
    this.replayRoot = this.replayRoot && this.replayRoot.dataset.journey === journey.id ? this.replayRoot : h("div", { class: "replay", dataset: { journey: journey.id } });
    clear(this.view).append(h("div", { class: "panel journey-detail" },
      h("div", { class: "journey-head" },
        h("button", { on: { click: () => { this.detail = null; this.render(); } } }, "← Journeys"),
        h("h2", {}, journey.name),
        h("button", { id: "journey-rename", title: "Rename this journey", on: { click: () => this.rename(journey) } }, "Rename"),
        h("span", { class: `badge j-${journey.status}` }, journey.status),
        h("span", { class: "meta" }, `${journeyDuration(journey)} · ${journey.flow_count} flows · ${journey.interaction_count} interactions`),
        recording ? null : h("span", { class: "journey-actions" },
          journey.status === "failed" ? h("button", { on: { click: () => this.complete(journey) } }, "Mark Complete") : null,
          journey.status === "failed" ? null : h("button", { id: "journey-replay", on: { click: () => this.replay(journey) } }, "Replay"),
          journey.status === "failed" ? null : this.exportSelect(journey))),
      this.replayRoot,
      h("ol", { class: "timeline" }, steps.map((step) => h("li", { class: `step t-${step.type}` },
        h("span", { class: "step-dot" }), h("span", { class: "badge" }, step.type), h("span", { class: "meta" }, `#${step.step_order}`),
        h("span", { class: "meta" }, new Date(step.timestamp).toLocaleTimeString([], { hour12: false })),
        stepSummary(step),
        step.flow_id ? h("button", { class: "link", title: "Show this flow in Traffic", on: { click: () => this.app.showFlow(step.flow_id) } }, `flow ${step.flow_id.slice(-8)}`) : null,
        step.interaction_id ? h("span", { class: "meta" }, `interaction ${step.interaction_id.slice(-8)}`) : null)))));
  }

  async rename(journey) {
    const name = await askText("Rename journey", "Name", journey.name);
    if (name === null || name === journey.name) return;
    try {
      this.detail = await put(`/journeys/${encodeURIComponent(journey.id)}`, { name });
      if (this.recording && this.recording.journey_id === journey.id) this.recording.name = this.detail.name;
      await this.load();
    } catch (error) { this.app.error(error); }
  }

  async complete(journey) {
    try { this.detail = await post(`/journeys/${encodeURIComponent(journey.id)}/complete`); await this.load(); } catch (error) { this.app.error(error); }
  }

  async replay(journey) {
    if (this.replayAbort) this.replayAbort.abort();
    const abort = new AbortController();
    this.replayAbort = abort;
    const rows = h("tbody", {});
    const state = h("span", { class: "meta" }, "replaying…");
    const stop = h("button", { on: { click: () => abort.abort() } }, "Stop Replay");
    append(clear(this.replayRoot), [h("div", { class: "replay-head" }, h("h3", {}, "Replay"), state, stop),
      h("table", { class: "rules replay-results" }, h("thead", {}, h("tr", {}, ["Step", "Method", "URL", "Status", "Duration"].map((t) => h("th", {}, t)))), rows)]);
    try {
      const response = await request("GET", `/journeys/${encodeURIComponent(journey.id)}/replay?delay_ms=0`, { raw: true, signal: abort.signal });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parsed = parseSse(buffer + decoder.decode(value, { stream: true }));
        buffer = parsed.rest;
        for (const { event, data } of parsed.messages) {
          if (event === "step_complete" || event === "step_error") rows.append(replayRow(data));
          if (event === "done") state.textContent = `done: ${data.total} steps`;
        }
      }
    } catch (error) {
      state.textContent = abort.signal.aborted ? "stopped" : `failed: ${error.message}`;
    } finally {
      stop.disabled = true;  // nothing left to stop
      if (this.replayAbort === abort) this.replayAbort = null;
    }
  }
}

function journeyDuration(journey) {
  const end = journey.completed_at ? new Date(journey.completed_at).getTime() : Date.now();
  return formatDuration(end - new Date(journey.started_at).getTime());
}

function stepSummary(step) {
  let data = step.data || {};
  if (typeof data === "string") { try { data = JSON.parse(data); } catch { data = {}; } }
  const did = data.interaction_type ? `${data.interaction_type} ${data.element_text || data.selector || ""} ` : "";
  if (data.method || data.url) return h("span", { class: "step-what" }, did, h("span", { class: methodClass(data.method || "") }, data.method || ""), " ", data.url || data.path || "",
    data.status_code ? h("span", { class: statusClass(data.status_code) }, ` ${data.status_code}`) : null);
  return did ? h("span", { class: "step-what" }, did) : null;
}

export function durationDelta(originalMs, replayedMs) {
  // The spec's replay colours: slower by more than 500 ms (amber), faster by more (green),
  // else grey; null when either duration is unknown.
  if (typeof originalMs !== "number" || typeof replayedMs !== "number") return null;
  const delta = Math.round(replayedMs - originalMs);
  const kind = delta > 500 ? "slower" : delta < -500 ? "faster" : "same";
  return { text: `${delta >= 0 ? "+" : ""}${delta} ms`, kind };
}

function replayRow(data) {
  const before = data.original ? data.original.status_code : null;
  const after = data.replayed ? data.replayed.status_code : null;
  const same = data.type === "step_complete" && before === after;
  const delta = durationDelta(data.original && data.original.duration_ms, data.replayed && data.replayed.duration_ms);
  return h("tr", { class: same ? "match" : "changed" },
    h("td", {}, `${data.step}/${data.total}`), h("td", {}, h("span", { class: methodClass(data.method) }, data.method)),
    h("td", { class: "url" }, data.url),
    h("td", {}, data.type === "step_error" ? `error: ${data.error}` : `${before ?? "—"} → ${after ?? "—"}`),
    h("td", {}, data.duration_ms !== undefined ? formatDuration(data.duration_ms) : "",
      delta ? h("span", { class: `delta delta-${delta.kind}` }, ` (${delta.text})`) : null));
}
