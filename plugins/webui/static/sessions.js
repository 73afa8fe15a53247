// Sessions in the top bar: pick (and so activate) one, create, rename, delete, export, and
// import a .har or Ghost .json by file picker or by dropping it anywhere on the page.
import { del, get, post, put } from "./api.js";
import { askText, clear, h, modal, toast } from "./dom.js";
import { download, TransferProgress, upload } from "./transfers.js";

const EXPORT_FORMATS = [["har", "HAR"], ["json", "Ghost JSON"], ["csv", "CSV"], ["postman", "Postman"], ["report", "HTML report"]];

export function exportFormatOptions(registered, known = EXPORT_FORMATS) {
  // The menu: every exporter Ghost has registered (a plugin's too), the built-in ones first
  // under their titles; the built-in list alone when the registered names are not known.
  if (!registered || !registered.length) return known;
  const titles = new Map(known);
  const builtIn = known.filter(([name]) => registered.includes(name));
  const others = [...new Set(registered)].filter((name) => !titles.has(name)).sort().map((name) => [name, name]);
  return [...builtIn, ...others];
}

export function importFormat(fileName) {
  const lower = fileName.toLowerCase();
  if (lower.endsWith(".har")) return "har";
  if (lower.endsWith(".json")) return "json";
  return "";
}

export const PROBE_BYTES = 1024;

export function probeImportFormat(head) {
  // What the file's first KB says it is, as the spec probes a dropped file: a JSON array is
  // Ghost JSON; an object with a "log" member is a HAR ("entries" may come after a long
  // "pages" list, past the first KB; Ghost's importer checks the rest).
  const text = String(head || "").replace(/^\uFEFF/, "").trimStart();
  if (text.startsWith("[")) return { format: "json" };
  if (text.startsWith("{") && /"log"\s*:/.test(text)) return { format: "har" };
  return { error: "Invalid file format — expected JSON array or HAR object" };
}

export async function untilQuiet(count, quietMs = 1000, limitMs = 10000, stepMs = 200) {
  // Resolves once count() has not changed for quietMs (or after limitMs in all).
  const start = Date.now();
  let last = count(), since = Date.now();
  while (Date.now() - start < limitMs) {
    await new Promise((resolve) => setTimeout(resolve, stepMs));
    const now = count();
    if (now !== last) { last = now; since = Date.now(); } else if (Date.now() - since >= quietMs) return;
  }
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
    this.importing = new Map();  // session id -> the import's progress, counting its flow.created
    events.on("flow.created", (flow) => {
      const running = flow && this.importing.get(flow.session_id);
      if (running) running.onFlow();
    });
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
    if (!this.exportFormats) {
      try {
        const loaded = await get("/plugins");
        this.exportFormats = exportFormatOptions([...((loaded.core || {}).exporters || []),
          ...loaded.plugins.flatMap((plugin) => (plugin.registered || {}).exporters || [])]);
      } catch (error) { this.exportFormats = EXPORT_FORMATS; this.app.error(error); }
    }
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
    } } }, h("option", { value: "" }, "Export…"), this.exportFormats.map(([value, label]) => h("option", { value }, label)));
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
    try {
      await download(`/sessions/${encodeURIComponent(session.id)}/export/${format}`, `${session.name}.${format}`,
        `Exporting ${session.name} (${format})`);
    } catch (error) { this.app.error(error); }
  }

  installDrop() {
    let depth = 0;
    const zone = h("div", { id: "drop-zone", hidden: true }, h("p", {}, h("strong", {}, "Drop to import session"), h("br"), "Supports .har and .json files"));
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
    // A new session "{file} (imported)"; the upload's progress, then the flows counted as
    // they arrive (flow.created); Cancel aborts the upload, Ghost stops the import, and the
    // new session goes again, as after a failure.
    if (!importFormat(file.name)) { toast(`${file.name}: only .har and Ghost .json files can be imported`, [], { error: true }); return; }
    const probed = probeImportFormat(await file.slice(0, PROBE_BYTES).text());
    if (probed.error) { toast(`${file.name}: ${probed.error}`, [], { error: true }); return; }
    const format = probed.format;
    const baseline = this.activeId;
    const transfer = new TransferProgress(`Importing ${file.name}`);
    transfer.node.classList.add("import-progress");
    let session;
    let flows = 0;
    try {
      session = await post("/sessions", { name: `${file.name} (imported)`, description: `Imported from ${file.name}` });
      this.importing.set(session.id, { onFlow: () => {
        flows += 1;
        transfer.node.dataset.flows = String(flows);
        transfer.setPhase(`${flows.toLocaleString()} flows stored`);
      } });
      const form = new FormData();
      form.append("file", file);
      transfer.setPhase("uploading");
      const result = await upload(`/sessions/${encodeURIComponent(session.id)}/import/${format}`, form, {
        signal: transfer.signal,
        onUploadProgress: (loaded, total) => {
          transfer.progress(loaded, total);
          if (total && loaded >= total) transfer.setPhase(flows ? `${flows.toLocaleString()} flows stored` : "reading the file");
        },
      });
      const summary = `${result.imported.toLocaleString()} flows imported${result.skipped ? `, ${result.skipped} skipped` : ""}`;
      transfer.finish("done", summary);
      await this.load();
      toast(`Imported ${result.imported} flows from ${file.name}${result.skipped ? ` (${result.skipped} skipped)` : ""}`,
        [["Compare", () => this.app.compare(baseline, session.id)], ["Open", () => this.activate(session.id)]], { timeout: 15000 });
    } catch (error) {
      const cancelled = transfer.signal.aborted;
      transfer.finish(cancelled ? "cancelled" : "failed", cancelled ? "cancelled" : error.message);
      // Ghost stops a cancelled import at its next check: the session goes once its flows
      // have stopped arriving, not while the import may still be writing into it.
      if (cancelled) await untilQuiet(() => flows);
      if (session) { try { await del(`/sessions/${encodeURIComponent(session.id)}`); } catch { /* shown below */ } }
      await this.load();
      if (!cancelled) this.app.error(new Error(`Import of ${file.name} failed: ${error.message}`));
      else toast(`Import of ${file.name} cancelled; its session was removed`);
    } finally {
      if (session) this.importing.delete(session.id);
    }
  }

  async activate(id) {
    try { await post(`/sessions/${encodeURIComponent(id)}/activate`); await this.load(); } catch (error) { this.app.error(error); }
  }
}
