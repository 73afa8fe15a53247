// Pictures of a session: requests over time stacked by status class, the distribution of
// durations, and the slowest endpoints. The numbers come from pure functions (tested with
// node --test); the drawing is SVG made with createElementNS, data only in text nodes.
// The HTML report draws the same three (plugins/exporters/report_charts.py): same buckets,
// columns, ranking, geometry and colours by status class; keep the two alike.
import { get } from "./api.js";
import { clear, formatDuration, h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const SAMPLE = 10_000;
const WIDTH = 900;
export const TIMELINE_BINS = 60;
export const SLOWEST_LIMIT = 10;
// Drawn bottom to top in each timeline column; "err" is a flow with no (valid) response.
export const STATUS_CLASSES = ["2xx", "3xx", "1xx", "4xx", "5xx", "err"];
export const BUCKETS = [10, 50, 100, 250, 500, 1000, 2000, 5000, Infinity];  // upper bounds, ms

export function pathTemplate(path) {
  // Ids collapse so /items/17 and /items/18 are one endpoint: numbers, UUIDs, long hex, ULIDs.
  return ((path || "/").split("?")[0] || "/").split("/").map((part) =>
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

export function statusClassName(status) {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : "err";
}

export function timelineBins(flows, bins = TIMELINE_BINS) {
  // Requests per time column, by status class, over the span of the flows.
  const timed = flows.map((flow) => [new Date(flow.started_at).getTime(), flow]).filter(([t]) => !Number.isNaN(t));
  if (!timed.length) return { start: 0, end: 0, bins: [] };
  let start = Infinity, end = -Infinity;
  for (const [t] of timed) { start = Math.min(start, t); end = Math.max(end, t); }
  const span = end - start;
  const columns = Array.from({ length: bins }, () => ({}));
  for (const [t, flow] of timed) {
    const column = columns[span > 0 ? Math.min(bins - 1, Math.floor(((t - start) / span) * bins)) : 0];
    const name = statusClassName(flow.status_code || 0);
    column[name] = (column[name] || 0) + 1;
  }
  return { start, end, bins: columns };
}

export function slowestEndpoints(flows, limit = SLOWEST_LIMIT) {
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

export function binWidthLabel(seconds) {
  // A column's width in time: "2.5 s", or "17 ms" below a second (as the HTML report).
  return seconds >= 1 ? `${Number(seconds.toFixed(1))} s` : `${Math.round(seconds * 1000)} ms`;
}

const clock = (ms) => new Date(ms).toISOString().slice(11, 19);

function timeline(flows) {
  const height = 180, pad = 30, top = 20, plotHeight = height - pad - top;
  const data = timelineBins(flows);
  const tallest = Math.max(0, ...data.bins.map((column) => Object.values(column).reduce((a, b) => a + b, 0)));
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: "chart timeline-chart", role: "img", "aria-label": "Requests over time, coloured by status class" },
    svg("line", { x1: pad, y1: height - pad, x2: WIDTH - 10, y2: height - pad, class: "axis" }));
  const columnWidth = (WIDTH - pad - 10) / Math.max(1, data.bins.length);
  const span = data.end - data.start;
  data.bins.forEach((column, i) => {
    let y = height - pad;
    for (const name of STATUS_CLASSES) {
      const count = column[name] || 0;
      if (!count) continue;
      const box = (count / tallest) * plotHeight;
      y -= box;
      chart.append(svg("rect", { x: pad + i * columnWidth, y, width: Math.max(columnWidth - 1, 1), height: box, class: `st-${name}` },
        svg("title", {}, `${clock(data.start + (span * i) / data.bins.length)}: ${count} × ${name}`)));
    }
  });
  if (data.bins.length) {
    chart.append(svg("text", { x: pad, y: height - 10, class: "axis-label" }, `${clock(data.start)} UTC`),
      svg("text", { x: WIDTH - 10, y: height - 10, class: "axis-label", "text-anchor": "end" }, `${clock(data.end)} UTC`));
  }
  const seconds = data.bins.length ? span / 1000 / data.bins.length : 0;
  chart.append(svg("text", { x: pad, y: 14, class: "axis-label" }, `requests per ${binWidthLabel(seconds)}, at most ${tallest}`));
  const legendX = WIDTH - 10 - 60 * STATUS_CLASSES.length;
  STATUS_CLASSES.forEach((name, i) => chart.append(
    svg("rect", { x: legendX + 60 * i, y: 5, width: 10, height: 10, class: `st-${name}` }),
    svg("text", { x: legendX + 60 * i + 14, y: 14, class: "axis-label" }, name)));
  return chart;
}

function slowestBars(endpoints) {
  const row = 22, top = 8, labelWidth = 380, valueWidth = 240;
  const height = top * 2 + row * Math.max(endpoints.length, 1);
  const longest = Math.max(1, ...endpoints.map((e) => e.p95));
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: "chart slowest-chart", role: "img", "aria-label": "Slowest endpoints by p95 duration" });
  endpoints.forEach((endpoint, i) => {
    const y = top + i * row;
    const bar = Math.max((endpoint.p95 / longest) * (WIDTH - labelWidth - valueWidth), 1);
    const label = endpoint.endpoint.length <= 70 ? endpoint.endpoint : `${endpoint.endpoint.slice(0, 69)}…`;
    chart.append(
      svg("text", { x: labelWidth - 8, y: y + 15, "text-anchor": "end", class: "endpoint-label" }, svg("title", {}, endpoint.endpoint), label),
      svg("rect", { x: labelWidth, y: y + 4, width: bar, height: row - 8, class: "bar-fill" },
        svg("title", {}, `${endpoint.endpoint}: p95 ${formatDuration(endpoint.p95)}, max ${formatDuration(endpoint.max)}`)),
      svg("text", { x: labelWidth + bar + 6, y: y + 15, class: "axis-label" },
        `p95 ${formatDuration(endpoint.p95)} · p50 ${formatDuration(endpoint.p50)} · ${endpoint.count}×`));
  });
  return chart;
}

function bars(buckets) {
  const width = WIDTH, height = 160, pad = 24, gap = 6;
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
      h("h3", {}, "Slowest endpoints (by p95)"), slowestBars(slowestEndpoints(flows))));
  }
}
