// Sessions in the top bar: pick (and so activate) one, create, rename, delete, export, and
// import a .har or Ghost .json by file picker or by dropping it anywhere on the page.
import { del, download, get, post, put, request } from "./api.js";
import { askText, clear, h, modal, toast } from "./dom.js";

const EXPORT_FORMATS = [["har", "HAR"], ["json", "Ghost JSON"], ["csv", "CSV"], ["postman", "Postman"], ["report", "HTML report"]];

export function importFormat(fileName) {
  const lower = fileName.toLowerCase();
  if (lower.endsWith(".har")) return "har";
  if (lower.endsWith(".json")) return "json";
  return "";
}

export class Sessions {
  constructor(root, events, app) {
    this.root = root;
    this.app = app;
    this.sessions = [];
    this.activeId = "";
    for (const type of ["session.created", "session.updated", "session.deleted", "session.activated"]) {
      events.on(type, () => this.load());
    }
    // Flow counts in the picker follow the traffic, a reload every few seconds at most.
    events.on("flow.created", () => { if (!this.countTimer) this.countTimer = setTimeout(() => { this.countTimer = null; this.load(); }, 3000); });
    this.fileInput = h("input", { type: "file", accept: ".har,.json", hidden: true, on: { change: () => {
      const file = this.fileInput.files[0];
      this.fileInput.value = "";
      if (file) this.importFile(file);
    } } });
    document.body.append(this.fileInput);
    this.installDrop();
  }

  async load() {
    this.sessions = await get("/sessions");
    const active = this.sessions.find((s) => s.active) || this.sessions[0];
    const previous = this.activeId;
    this.activeId = active ? active.id : "";
    this.render();
    if (this.activeId !== previous) {
      await this.app.traffic.setSession(this.activeId);
      this.app.journeys.load();
    }
  }

  render() {
    const select = h("select", { id: "session-select", "aria-label": "Session (new flows land in the one chosen)", on: { change: async () => {
      try { await post(`/sessions/${encodeURIComponent(select.value)}/activate`); await this.load(); } catch (error) { this.app.error(error); }
    } } }, this.sessions.map((s) => h("option", { value: s.id, selected: s.id === this.activeId }, `${s.name} (${s.flow_count ?? 0})`)));
    select.value = this.activeId;
    const exportSelect = h("select", { "aria-label": "Export session", on: { change: () => {
      const format = exportSelect.value;
      exportSelect.value = "";
      if (format) this.exportAs(format);
    } } }, h("option", { value: "" }, "Export…"), EXPORT_FORMATS.map(([value, label]) => h("option", { value }, label)));
    clear(this.root).append(select,
      h("button", { title: "New session", on: { click: () => this.create() } }, "New"),
      h("button", { title: "Rename this session", on: { click: () => this.rename() } }, "Rename"),
      h("button", { title: "Delete a session", on: { click: () => this.remove() } }, "Delete"),
      exportSelect,
      h("button", { title: "Import a .har or Ghost .json file (or drop it anywhere)", on: { click: () => this.fileInput.click() } }, "Import"));
  }

  current() { return this.sessions.find((s) => s.id === this.activeId); }

  async create() {
    const name = await askText("New session", "Name");
    if (!name) return;
    try {
      const session = await post("/sessions", { name });
      await post(`/sessions/${encodeURIComponent(session.id)}/activate`);
      await this.load();
    } catch (error) { this.app.error(error); }
  }

  async rename() {
    const session = this.current();
    if (!session) return;
    const name = await askText("Rename session", "Name", session.name);
    if (!name) return;
    try { await put(`/sessions/${encodeURIComponent(session.id)}`, { name }); await this.load(); } catch (error) { this.app.error(error); }
  }

  async remove() {
    const others = this.sessions.filter((s) => s.id !== this.activeId);
    if (!others.length) { toast("The active session cannot be deleted; make another one first."); return; }
    const choice = h("select", { "aria-label": "Session to delete" }, others.map((s) => h("option", { value: s.id }, `${s.name} (${s.flow_count ?? 0} flows)`)));
    const id = await modal("Delete a session", h("label", { class: "field" }, "Delete this session and its flows (the active one cannot be deleted):", choice),
      [["Cancel", null], ["Delete", () => choice.value, "danger"]]);
    if (!id) return;
    try { await del(`/sessions/${encodeURIComponent(id)}`); await this.load(); } catch (error) { this.app.error(error); }
  }

  async exportAs(format) {
    const session = this.current();
    if (!session) return;
    const note = toast(`Exporting ${session.name} as ${format}…`, [], { timeout: 0 });
    try { await download(`/sessions/${encodeURIComponent(session.id)}/export/${format}`, `${session.name}.${format}`); } catch (error) { this.app.error(error); } finally { note.remove(); }
  }

  installDrop() {
    let depth = 0;
    const zone = h("div", { id: "drop-zone", hidden: true }, h("p", {}, "Drop a .har or Ghost .json file to import it as a new session"));
    document.body.append(zone);
    const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
    document.addEventListener("dragenter", (e) => { if (hasFiles(e)) { depth++; zone.hidden = false; } });
    document.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) zone.hidden = true; });
    document.addEventListener("dragover", (e) => { if (hasFiles(e)) e.preventDefault(); });
    document.addEventListener("drop", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      zone.hidden = true;
      const file = e.dataTransfer.files[0];
      if (file) this.importFile(file);
    });
  }

  async importFile(file) {
    const format = importFormat(file.name);
    if (!format) { toast(`${file.name}: only .har and Ghost .json files can be imported`, [], { error: true }); return; }
    const baseline = this.activeId;
    const progress = toast(`Importing ${file.name}…`, [], { timeout: 0 });
    let session;
    try {
      session = await post("/sessions", { name: `${file.name} (imported)` });
      const form = new FormData();
      form.append("file", file);
      const result = await request("POST", `/sessions/${encodeURIComponent(session.id)}/import/${format}`, { body: form });
      progress.remove();
      await this.load();
      toast(`Imported ${result.imported} flows from ${file.name}${result.skipped ? ` (${result.skipped} skipped)` : ""}`,
        [["Compare", () => this.app.compare(baseline, session.id)], ["Open", () => this.activate(session.id)]], { timeout: 15000 });
    } catch (error) {
      progress.remove();
      if (session) { try { await del(`/sessions/${encodeURIComponent(session.id)}`); } catch { /* shown below */ } }
      await this.load();
      this.app.error(new Error(`Import of ${file.name} failed: ${error.message}`));
    }
  }

  async activate(id) {
    try { await post(`/sessions/${encodeURIComponent(id)}/activate`); await this.load(); } catch (error) { this.app.error(error); }
  }
}
