// Pictures of a session: requests over time coloured by status, the distribution of
// durations, and the slowest endpoints. The numbers come from pure functions (tested with
// node --test); the drawing is SVG made with createElementNS, data only in text nodes.
import { get } from "./api.js";
import { clear, formatDuration, h, statusClass } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const SAMPLE = 10_000;
export const BUCKETS = [10, 50, 100, 250, 500, 1000, 2000, 5000, Infinity];  // upper bounds, ms

export function pathTemplate(path) {
  // Ids collapse so /items/17 and /items/18 are one endpoint: numbers, UUIDs, long hex, ULIDs.
  return (path || "/").split("/").map((part) =>
    /^\d+$/.test(part) || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(part) ||
    /^[0-9a-f]{16,}$/i.test(part) || /^[0-9A-HJKMNP-TV-Z]{26}$/.test(part) ? "{id}" : part).join("/");
}

export function histogram(durations, bounds = BUCKETS) {
  const counts = bounds.map(() => 0);
  for (const ms of durations) counts[bounds.findIndex((bound) => ms < bound)] += 1;
  return bounds.map((bound, i) => ({ label: bucketLabel(bounds, i), count: counts[i] }));
}

function bucketLabel(bounds, i) {
  const show = (ms) => (ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`);
  if (i === 0) return `< ${show(bounds[0])}`;
  if (bounds[i] === Infinity) return `≥ ${show(bounds[i - 1])}`;
  return `${show(bounds[i - 1])}–${show(bounds[i])}`;
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
}

export function slowestEndpoints(flows, limit = 10) {
  const groups = new Map();
  for (const flow of flows) {
    const key = `${flow.method} ${flow.host}${pathTemplate(flow.path)}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(flow.duration_ms || 0);
  }
  return [...groups].map(([endpoint, durations]) => {
    durations.sort((a, b) => a - b);
    return { endpoint, count: durations.length, p50: percentile(durations, 50), p95: percentile(durations, 95), max: durations[durations.length - 1] };
  }).sort((a, b) => b.p95 - a.p95 || b.max - a.max).slice(0, limit);
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function timeline(flows) {
  const width = 900, height = 180, pad = 30;
  const times = flows.map((f) => new Date(f.started_at).getTime()).filter((t) => !Number.isNaN(t));
  const start = Math.min(...times), end = Math.max(...times), span = Math.max(1, end - start);
  const maxMs = Math.max(1, ...flows.map((f) => f.duration_ms || 0));
  const y = (ms) => height - pad - (Math.log10(1 + ms) / Math.log10(1 + maxMs)) * (height - 2 * pad);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart timeline-chart", role: "img", "aria-label": "Requests over time, by duration, coloured by status" },
    svg("line", { x1: pad, y1: height - pad, x2: width - 10, y2: height - pad, class: "axis" }),
    svg("text", { x: pad, y: height - 8, class: "axis-label" }, new Date(start).toLocaleTimeString([], { hour12: false })),
    svg("text", { x: width - 10, y: height - 8, class: "axis-label", "text-anchor": "end" }, new Date(end).toLocaleTimeString([], { hour12: false })),
    svg("text", { x: pad, y: 14, class: "axis-label" }, `duration (log), max ${formatDuration(maxMs)}`));
  for (const flow of flows) {
    const t = new Date(flow.started_at).getTime();
    if (Number.isNaN(t)) continue;
    chart.append(svg("circle", { cx: pad + ((t - start) / span) * (width - pad - 10), cy: y(flow.duration_ms || 0), r: 2.5,
      class: `point ${statusClass(flow.status_code, flow.error && !flow.status_code)}` },
    svg("title", {}, `${flow.method} ${flow.url} → ${flow.status_code || flow.error} in ${formatDuration(flow.duration_ms)}`)));
  }
  return chart;
}

function bars(buckets) {
  const width = 900, height = 160, pad = 24, gap = 6;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const barWidth = (width - 2 * pad) / buckets.length - gap;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart histogram", role: "img", "aria-label": "Duration distribution" });
  buckets.forEach((bucket, i) => {
    const barHeight = (bucket.count / max) * (height - 2 * pad - 10);
    const x = pad + i * (barWidth + gap);
    chart.append(svg("rect", { x, y: height - pad - barHeight, width: barWidth, height: barHeight, class: "bar-fill" }, svg("title", {}, `${bucket.label}: ${bucket.count}`)),
      svg("text", { x: x + barWidth / 2, y: height - 8, "text-anchor": "middle", class: "axis-label" }, bucket.label),
      svg("text", { x: x + barWidth / 2, y: height - pad - barHeight - 4, "text-anchor": "middle", class: "axis-label" }, String(bucket.count)));
  });
  return chart;
}

export class Overview {
  constructor(root, app) {
    this.root = root;
    this.app = app;
  }

  async load() {
    const sessionId = this.app.sessions.activeId;
    let answer;
    try { answer = await get(`/flows?session_id=${encodeURIComponent(sessionId)}&limit=${SAMPLE}`); } catch (error) { this.app.error(error); return; }
    const flows = answer.flows;
    const note = answer.total > flows.length ? ` (the newest ${flows.length.toLocaleString()} of ${answer.total.toLocaleString()})` : "";
    if (!flows.length) { clear(this.root).append(h("div", { class: "panel" }, h("h2", {}, "Overview"), h("p", { class: "empty" }, "No flows in this session yet."))); return; }
    clear(this.root).append(h("div", { class: "panel overview" },
      h("h2", {}, `Overview: ${flows.length.toLocaleString()} flows${note}`),
      h("h3", {}, "Requests over time"), timeline(flows),
      h("h3", {}, "Duration distribution"), bars(histogram(flows.map((f) => f.duration_ms || 0))),
      h("h3", {}, "Slowest endpoints (by p95)"),
      h("table", { class: "rules slowest" }, h("thead", {}, h("tr", {}, ["Endpoint", "Requests", "p50", "p95", "Max"].map((t) => h("th", {}, t)))),
        h("tbody", {}, slowestEndpoints(flows).map((e) => h("tr", {}, h("td", { class: "url" }, e.endpoint), h("td", {}, String(e.count)),
          h("td", {}, formatDuration(e.p50)), h("td", {}, formatDuration(e.p95)), h("td", {}, formatDuration(e.max))))))));
  }
}
