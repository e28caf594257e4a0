// Activity: the application's page (#/activity) and the charts it and an endpoint's page
// draw from the counts Hookwire keeps (GET …/activity), in the same markup and classes as the
// dashboard's (ui/chart.rs), built with DOM calls.
import { api } from "./api.js";
import { $, el, enc } from "./dom.js";
import { every } from "./router.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const CHART = { width: 380, height: 180, left: 48, right: 8, top: 8, bottom: 22 }; // as ui/chart.rs
// The periods offered: the hash's `period`, its label, its length.
export const PERIODS = [["1d", "Last day", 86400000], ["7d", "Last week", 7 * 86400000]];

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// The smallest 1, 2 or 5 times a power of ten at or above `value`.
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const m of [1, 2, 5, 10]) if (m * power >= value) return m * power;
  return 10 * power;
}

function chartNumber(value) {
  return Number.isInteger(value) || Math.abs(value) >= 100 ? String(Math.round(value)) : value.toFixed(1);
}

// A bucket's start as an axis label, in UTC like every time here: `14:05`, `11-23 14h`.
function bucketLabel(resolution, iso) {
  const d = new Date(iso);
  const two = (n) => String(n).padStart(2, "0");
  return resolution === "minute"
    ? two(d.getUTCHours()) + ":" + two(d.getUTCMinutes())
    : two(d.getUTCMonth() + 1) + "-" + two(d.getUTCDate()) + " " + two(d.getUTCHours()) + "h";
}

// One chart: stacked `bars` and `lines` ({cls, label, values: [number|null]}) over `starts`.
function chart({ title, unit, resolution, starts, bars, lines, floorMax }) {
  const c = CHART;
  const n = Math.max(starts.length, 1);
  const stacked = (i) => bars.reduce((sum, b) => sum + (b.values[i] || 0), 0);
  let top = floorMax;
  for (let i = 0; i < starts.length; i++) top = Math.max(top, stacked(i));
  for (const line of lines) for (const v of line.values) if (v !== null) top = Math.max(top, v);
  const max = niceMax(top);
  const plotW = c.width - c.left - c.right;
  const plotH = c.height - c.top - c.bottom;
  const step = plotW / n;
  const y = (v) => c.top + plotH - (v / max) * plotH;
  const summary = [title + ", " + starts.length + " buckets, by the " + resolution];
  for (const b of bars) summary.push(b.label + " " + chartNumber(b.values.reduce((s, v) => s + (v || 0), 0)) + " in all");
  for (const l of lines) {
    const shown = l.values.filter((v) => v !== null);
    summary.push(shown.length ? l.label + " at most " + chartNumber(Math.max(...shown)) + unit : l.label + " none");
  }
  const root = svg("svg", { viewBox: "0 0 " + c.width + " " + c.height, role: "img", "aria-label": summary.join("; ") });
  for (const fraction of [0, 0.5, 1]) {
    const value = max * fraction;
    root.append(svg("line", { class: "chart-grid", x1: c.left, x2: c.width - c.right, y1: y(value).toFixed(1), y2: y(value).toFixed(1) }));
    root.append(svg("text", { class: "chart-axis", x: c.left - 6, y: (y(value) + 4).toFixed(1), "text-anchor": "end" }, chartNumber(value) + unit));
  }
  for (const i of [...new Set([0, Math.floor(n / 2), n - 1])]) {
    if (i >= starts.length) continue;
    const anchor = i === 0 ? "start" : i + 1 === n ? "end" : "middle";
    const x = i === 0 ? c.left : i + 1 === n ? c.width - c.right : c.left + step * (i + 0.5);
    root.append(svg("text", { class: "chart-axis", x: x.toFixed(1), y: c.height - 6, "text-anchor": anchor }, bucketLabel(resolution, starts[i])));
  }
  starts.forEach((_, i) => {
    let base = 0;
    for (const layer of bars) {
      const value = layer.values[i] || 0;
      if (value > 0) {
        root.append(svg("rect", {
          class: layer.cls, x: (c.left + step * i + step * 0.1).toFixed(2), y: y(base + value).toFixed(2),
          width: Math.max(step * 0.8, 0.5).toFixed(2), height: (y(base) - y(base + value)).toFixed(2),
        }));
      }
      base += value;
    }
  });
  for (const layer of lines) {
    let run = [];
    const flush = () => {
      if (run.length === 1) root.append(svg("circle", { class: layer.cls, r: 2, cx: run[0][0].toFixed(2), cy: run[0][1].toFixed(2) }));
      else if (run.length > 1) root.append(svg("polyline", { class: layer.cls, points: run.map(([x, yy]) => x.toFixed(2) + "," + yy.toFixed(2)).join(" ") }));
      run = [];
    };
    layer.values.forEach((v, i) => (v === null ? flush() : run.push([c.left + step * (i + 0.5), y(v)])));
    flush();
  }
  starts.forEach((start, i) => {
    const parts = [bucketLabel(resolution, start)];
    for (const layer of bars.concat(lines)) {
      const v = layer.values[i];
      parts.push(layer.label + ": " + (v === null || v === undefined ? "—" : chartNumber(v) + unit));
    }
    const hover = svg("rect", { class: "chart-hover", x: (c.left + step * i).toFixed(2), y: c.top, width: step.toFixed(2), height: plotH });
    hover.append(svg("title", {}, parts.join(" · ")));
    root.append(hover);
  });
  const legend = el("div", { class: "chart-legend" },
    ...bars.concat(lines).map((l) => el("span", { class: "legend" }, el("span", { class: "swatch " + l.cls }), l.label)));
  return el("figure", { class: "chart" }, el("figcaption", {}, title), root, legend);
}

// The charts of an activity answer: attempts (stacked), success rate, latency p50/p99.
function activityCharts(activity) {
  const starts = activity.data.map((b) => b.start);
  const values = (pick) => activity.data.map(pick);
  const common = { resolution: activity.resolution, starts };
  return el("div", { class: "charts" },
    chart({ ...common, title: "Attempts", unit: "", floorMax: 1, lines: [], bars: [
      { cls: "chart-ok", label: "Succeeded", values: values((b) => b.succeeded) },
      { cls: "chart-bad", label: "Failed", values: values((b) => b.failed) },
    ] }),
    chart({ ...common, title: "Success rate", unit: "%", floorMax: 100, bars: [], lines: [
      { cls: "chart-line-ok", label: "Success rate", values: values((b) => (b.successRate === null ? null : b.successRate * 100)) },
    ] }),
    chart({ ...common, title: "Latency", unit: " ms", floorMax: 10, bars: [], lines: [
      { cls: "chart-line", label: "p50", values: values((b) => b.p50Ms) },
      { cls: "chart-line-alt", label: "p99", values: values((b) => b.p99Ms) },
    ] }));
}

// The headline figures of an activity answer's totals.
function activityTiles(total) {
  const tile = (figure, label) => el("div", { class: "tile" }, el("span", { class: "figure" }, figure), el("span", { class: "label" }, label));
  const ms = (v) => (v === null ? "—" : v + " ms");
  return el("div", { class: "tiles" },
    tile(String(total.succeeded + total.failed), "attempts"),
    tile(total.successRate === null ? "—" : (total.successRate * 100).toFixed(1) + "%", "succeeded"),
    tile(ms(total.p50Ms) + " · " + ms(total.p99Ms), "latency p50 · p99"),
    tile(String(total.exhausted), "failed for good"));
}

// Reads `path`'s activity over the period and draws it into `target`.
export async function drawActivity(target, path, periodLength) {
  const until = new Date();
  const since = new Date(until.getTime() - periodLength);
  const query = "?resolution=hour&since=" + enc(since.toISOString()) + "&until=" + enc(until.toISOString());
  const activity = await api("GET", path + query);
  target.replaceChildren(activityTiles(activity.total), activityCharts(activity));
}

function periodOf(query) {
  return PERIODS.find((p) => p[0] === query.get("period")) || PERIODS[0];
}

// #/activity[?period=7d]: the application's deliveries over the last day or week.
export async function showActivity(query, current) {
  const [value, label, length] = periodOf(query);
  const links = $("activity-periods");
  links.replaceChildren(...PERIODS.map(([v, l]) => {
    const link = el("a", { href: "#/activity?period=" + v }, l);
    if (v === value) {
      link.className = "current";
      link.setAttribute("aria-current", "page");
    }
    return link;
  }));
  $("activity-caption").textContent = label + ", every endpoint of this application, by the hour (UTC).";
  const refresh = () => drawActivity($("activity-charts"), "/activity", length);
  await refresh();
  if (current()) every(refresh);
}
