// The traffic view: a GQL search box, a virtualised list of flow summaries (only the rows in
// sight exist in the DOM; pages of summaries are fetched by offset as they scroll into view),
// live additions from the WebSocket, and the inspector beside it.
import { ApiError, get } from "./api.js";
import { formatDuration, formatSize, h, methodClass, statusClass } from "./dom.js";
import { Inspector } from "./inspector.js";

const ROW_HEIGHT = 24;
const PAGE = 200;
const OVERSCAN = 10;
const COLUMNS = [
  ["time", "Time"], ["method", "Method"], ["status", "Status"], ["host", "Host"], ["path", "Path"],
  ["type", "Type"], ["size", "Size"], ["duration", "Duration"], ["tags", "Tags"],
];

export class TrafficView {
  constructor(root, events, app) {
    this.app = app;
    this.sessionId = "";
    this.query = "";
    this.total = 0;
    this.rows = [];           // summaries by position, newest first; holes not fetched yet
    this.pages = new Map();   // page number -> promise, for pages asked for
    this.shift = 0;           // rows added at the top since the list was loaded
    this.generation = 0;      // bumps on every reload; answers of older loads are ignored
    this.incoming = [];       // live summaries waiting for the next frame
    this.selectedId = "";
    this.pool = [];

    this.search = h("input", { type: "search", id: "search", placeholder: 'GQL: method:POST status:>=400 host:*.example.com "text"  ( / )', spellcheck: "false", "aria-label": "Search flows" });
    this.searchError = h("div", { class: "search-error", role: "alert", hidden: true });
    this.count = h("span", { class: "count" });
    this.header = h("div", { class: "row head" }, COLUMNS.map(([key, label]) => h("span", { class: `c-${key}` }, label)));
    this.spacer = h("div", { class: "spacer-rows" });
    this.viewport = h("div", { class: "rows", tabindex: "0", role: "grid", "aria-label": "Flows" }, this.spacer);
    this.inspectorRoot = h("div", { class: "inspector" });
    this.inspector = new Inspector(this.inspectorRoot, app);
    root.append(
      h("div", { class: "traffic" },
        h("div", { class: "list-pane" },
          h("div", { class: "searchbar" }, this.search, this.count), this.searchError, this.header, this.viewport),
        this.inspectorRoot));

    let debounce;
    this.search.addEventListener("input", () => { clearTimeout(debounce); debounce = setTimeout(() => this.setQuery(this.search.value), 300); });
    this.search.addEventListener("keydown", (e) => { if (e.key === "Enter") { clearTimeout(debounce); this.setQuery(this.search.value, true); } });
    this.viewport.addEventListener("scroll", () => this.render());
    this.viewport.addEventListener("keydown", (e) => this.onKey(e));
    new ResizeObserver(() => this.render()).observe(this.viewport);

    events.on("flow.created", (flow) => this.onCreated(flow));
    events.on("flow.updated", (flow) => this.onUpdated(flow));
    events.on("flow.deleted", () => this.scheduleRefresh());
  }

  setSession(sessionId) {
    this.sessionId = sessionId;
    this.selectedId = "";
    this.inspector.show(null);
    return this.reload();
  }

  async setQuery(query, force = false) {
    if (query === this.query && !force) return;
    this.query = query;
    await this.reload();
  }

  params(offset, limit) {
    const p = new URLSearchParams({ session_id: this.sessionId || "", limit: String(limit), offset: String(offset) });
    if (this.query.trim()) p.set("q", this.query.trim());
    return p.toString();
  }

  async reload() {
    const generation = ++this.generation;
    this.pages.clear();
    this.shift = 0;
    this.incoming = [];
    const started = performance.now();
    let answer;
    try {
      answer = await get(`/flows?${this.params(0, PAGE)}`);
    } catch (error) {
      if (generation !== this.generation) return;
      if (error instanceof ApiError && error.status === 400) {
        this.showSearchError(error.message);
        return;
      }
      throw error;
    }
    if (generation !== this.generation) return;
    this.showSearchError("");
    this.total = answer.total;
    this.totalExact = answer.total_exact !== false;
    this.rows = new Array(answer.total);
    answer.flows.forEach((flow, i) => { this.rows[i] = flow; });
    this.pages.set("0:0", Promise.resolve());
    this.viewport.scrollTop = 0;
    this.render();
    if (answer.total_exact === false) this.countExactly(generation);
    // How long this load took in the page, from asking to rows on screen (scripts/bench ui reads it).
    document.body.dataset.trafficLoadMs = String(Math.round(performance.now() - started));
    document.body.dataset.trafficLoaded = String(generation);
  }

  countExactly(generation) {
    // The first answer stops counting at a cap so rows show at once; the exact count (a scan
    // of every match) follows, and the list grows to it.
    const shiftAtAsk = this.shift;
    get(`/flows?${this.params(0, 1)}&count=exact`).then((answer) => {
      if (generation !== this.generation) return;
      this.total = answer.total + (this.shift - shiftAtAsk);
      this.totalExact = true;
      this.rows.length = this.total;
      this.render();
    }).catch((error) => this.app.error(error));
  }

  showSearchError(message) {
    this.searchError.textContent = message;
    this.searchError.hidden = !message;
    this.search.classList.toggle("invalid", Boolean(message));
    this.search.setAttribute("aria-invalid", message ? "true" : "false");
  }

  ensurePage(page) {
    // Row index i is server offset i: live flows are added at the top of both. Rows that
    // arrive after more live flows came in move down by that many.
    const key = `${page}:${this.shift}`;
    if (this.pages.has(key)) return;
    const generation = this.generation;
    const shiftAtAsk = this.shift;
    const promise = get(`/flows?${this.params(page * PAGE, PAGE)}`).then((answer) => {
      if (generation !== this.generation) return;
      const moved = this.shift - shiftAtAsk;
      answer.flows.forEach((flow, i) => {
        const index = page * PAGE + moved + i;
        if (index < this.rows.length && this.rows[index] === undefined) this.rows[index] = flow;
      });
      this.render();
    }).catch((error) => { this.pages.delete(key); this.app.error(error); });
    this.pages.set(key, promise);
  }

  onCreated(flow) {
    if (flow.session_id !== this.sessionId) return;
    if (this.query.trim()) { this.scheduleRefresh(); return; }
    this.incoming.push(flow);
    if (this.incoming.length === 1) requestAnimationFrame(() => this.flushIncoming());
  }

  flushIncoming() {
    const batch = this.incoming.reverse();  // events come oldest first; the list is newest first
    this.incoming = [];
    if (!batch.length) return;
    const keepView = this.viewport.scrollTop > 0;
    this.rows.unshift(...batch);
    this.total += batch.length;
    this.shift += batch.length;
    if (keepView) this.viewport.scrollTop += batch.length * ROW_HEIGHT;  // what you read stays put
    this.render();
  }

  onUpdated(flow) {
    const index = this.rows.findIndex((row) => row && row.id === flow.id);
    if (index >= 0) { this.rows[index] = flow; this.render(); }
    if (flow.id === this.selectedId) this.inspector.refresh();
  }

  scheduleRefresh() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(async () => {
      this.refreshTimer = null;
      const top = this.viewport.scrollTop;
      await this.reload();
      this.viewport.scrollTop = top;
      this.render();
    }, 1000);
  }

  render() {
    this.count.textContent = `${this.total.toLocaleString()}${this.totalExact === false ? "+" : ""} flows`;
    this.spacer.style.height = `${this.total * ROW_HEIGHT}px`;
    const height = this.viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.total, Math.ceil((this.viewport.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    const needed = last - first;
    while (this.pool.length < needed) {
      const row = h("div", { class: "row", role: "row" }, COLUMNS.map(([key]) => h("span", { class: `c-${key}` })));
      row.addEventListener("click", () => this.select(row.dataset.id));
      this.pool.push(row);
      this.viewport.append(row);
    }
    for (let i = 0; i < this.pool.length; i++) {
      const row = this.pool[i];
      const index = first + i;
      if (index >= last) { row.hidden = true; continue; }
      row.hidden = false;
      row.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
      const flow = this.rows[index];
      if (!flow) {
        this.ensurePage(Math.floor((index) / PAGE));
        fillRow(row, null);
        continue;
      }
      fillRow(row, flow);
      row.classList.toggle("selected", flow.id === this.selectedId);
    }
  }

  select(id) {
    if (!id) return;
    this.selectedId = id;
    this.render();
    this.inspector.show(id);
  }

  onKey(event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    event.preventDefault();
    let index = this.rows.findIndex((row) => row && row.id === this.selectedId);
    index = Math.max(0, Math.min(this.total - 1, index + (event.key === "ArrowDown" ? 1 : -1)));
    const flow = this.rows[index];
    if (!flow) return;
    const top = index * ROW_HEIGHT;
    if (top < this.viewport.scrollTop) this.viewport.scrollTop = top;
    else if (top + ROW_HEIGHT > this.viewport.scrollTop + this.viewport.clientHeight) this.viewport.scrollTop = top + ROW_HEIGHT - this.viewport.clientHeight;
    this.select(flow.id);
  }
}

function fillRow(row, flow) {
  const cells = row.children;
  if (!flow) {
    row.dataset.id = "";
    row.className = "row loading";
    for (const cell of cells) cell.textContent = "";
    return;
  }
  row.dataset.id = flow.id;
  row.className = `row ${flow.error ? "has-error" : ""}`;
  const time = new Date(flow.started_at);
  cells[0].textContent = Number.isNaN(time.getTime()) ? "" : time.toLocaleTimeString([], { hour12: false });
  cells[1].textContent = flow.method;
  cells[1].className = `c-method ${methodClass(flow.method)}`;
  cells[2].textContent = flow.error && !flow.status_code ? "ERR" : String(flow.status_code || "");
  cells[2].className = `c-status ${statusClass(flow.status_code, flow.error && !flow.status_code)}`;
  cells[2].title = flow.error || "";
  cells[3].textContent = flow.host;
  cells[4].textContent = flow.path;
  cells[4].title = flow.url;
  cells[5].textContent = (flow.content_type || "").split(";")[0];
  cells[6].textContent = formatSize(flow.response_size);
  cells[7].textContent = formatDuration(flow.duration_ms);
  cells[8].textContent = (flow.tags || []).join(", ");
}

