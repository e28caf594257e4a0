// Hookwire customer portal. Reads the application-scoped token from the URL fragment
// (#token=hwp_…&app=app_…[&theme=…]), keeps it in sessionStorage, removes it from the address
// bar, and drives the JSON API with it. Pages have their own addresses, routes in the fragment
// that always start with a slash (#/endpoints, #/logs/msg_…), so a route is never read as a
// token. All text goes into the page through textContent, never as HTML; the theme goes in
// through CSS custom properties and a class, never a style attribute.
"use strict";

(function () {
  const STORAGE_KEY = "hookwire-portal";
  const REFRESH_MS = 2000;
  const ATTEMPTS_SHOWN = 50;
  const ENDPOINTS_SHOWN = 250;
  const MESSAGES_PER_PAGE = 25;
  const REASON_CHARS = 120;
  const LAG_COUNT_MAX = 100000; // the API counts a destination's lag up to this
  const FONT_FAMILY_CHARS_MAX = 100; // as the server checks theme.fontFamily
  const HIDDEN_SECRET = "••••••••••••••••";
  const RESIZE_MESSAGE = "hookwire-portal-resize";
  const DEFAULT_ROUTE = "/endpoints";
  const HEX_COLOR = /^#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;
  const FONT_FAMILY = /^[A-Za-z0-9 ,"'-]+$/;
  // The API's names for a form's fields, where they differ from the form's (PATCH aliases).
  // (`headers`: the header form's name field, for an error about one header.)
  const FIELD_ALIASES = { throttleRate: "rateLimit", filterTypes: "eventTypes", headers: "name" };
  const LOG_FILTERS = ["event_types", "status", "tag", "channel", "after", "before"];
  const TRANSFORMATION_TEMPLATE =
    "function handler(webhook) {\n  // webhook: {method, url, eventType, payload, variables, cancel}\n  return webhook;\n}\n";
  const DESTINATION_TEMPLATE =
    "function handler(input) {\n  // input: {url, variables, events: [{eventType, payload}]}\n  return input.events;\n}\n";
  // What an endpoint without its own retryPolicy or timeoutMs gets: hookwire-core's
  // retry::DEFAULT_SCHEDULE_SECONDS, JITTER_FRACTION and limits::DELIVERY_TIMEOUT_MS_DEFAULT
  // (tests/ui.rs checks that they agree).
  const DEFAULT_RETRY_SCHEDULE_SECONDS = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];
  const DEFAULT_RETRY_JITTER_PERCENT = 20;
  const DEFAULT_TIMEOUT_MS = 15000;
  const DURATION_UNITS = [["d", 86400, "d"], ["h", 3600, "h"], ["m", 60, "min"], ["s", 1, "s"]];
  // Each signature scheme: its name in sentences, and what a receiver gets.
  const SCHEMES = {
    standard: ["as Standard Webhooks",
      "webhook-id, webhook-timestamp and webhook-signature (v1: HMAC-SHA256 keyed with the whsec_ secret): any Standard Webhooks or Svix library verifies them."],
    ed25519: ["as Standard Webhooks with ed25519",
      "webhook-signature carries v1a, an ed25519 signature: receivers verify it with the public key (whpk_…) that Reveal shows above, and hold no secret."],
    hmac: ["with an HMAC in a header you name",
      "The HMAC of the signed content, keyed with the secret's text, encoded and prefixed as chosen, in the header you name."],
    "secret-header": ["with the secret in a header you name",
      "The secret itself, unsigned, in the header you name: only the endpoint's HTTPS keeps it private."],
  };

  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;
  let session = null;
  let appName = "";
  let capabilities = []; // what the token may do (Svix's names), from /api/v1/auth/token
  let selected = null; // the endpoint whose page was last open
  let lastAttempts = "";
  let destination = null; // the destination whose page was last open
  let lastDestinationAttempts = "";
  let lastMessage = "";
  let lastLogs = "#/logs"; // the logs page last shown, filters and all: a message's way back
  let pageTimer = null; // refreshes the page in view; stopped on every page change
  let endpointEditor = null;
  let destinationEditor = null;
  let subscribeTarget = "add-endpoint"; // the endpoint form the catalog's "Subscribe" fills
  const examples = new Map(); // each catalogued event type's first example, for the filter test
  let renderCount = 0;
  let shownPage = null;
  let notice = null; // said once the next page is shown
  let lastHeight = 0;

  // The fragment is either a link's `token=…&app=…[&theme=…]`, read once and then dropped, or a
  // page's route, which starts with a slash: the two never mix.
  function readSession() {
    const fragment = location.hash.replace(/^#/, "");
    if (!fragment.startsWith("/")) {
      const params = new URLSearchParams(fragment);
      if (params.get("token")) {
        const fresh = { token: params.get("token"), app: params.get("app"), theme: parseTheme(params.get("theme")) };
        try { sessionStorage.setItem(STORAGE_KEY, JSON.stringify(fresh)); } catch (_) { /* storage may be blocked in frames */ }
        history.replaceState(null, "", location.pathname + location.search + "#" + DEFAULT_ROUTE);
        return fresh;
      }
    }
    try { return JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null"); } catch (_) { return null; }
  }

  function parseTheme(text) {
    if (!text) return null;
    try {
      const theme = JSON.parse(text);
      return theme && typeof theme === "object" ? theme : null;
    } catch (_) { return null; }
  }

  // The link's theme, each value checked again as the server checked it (a fragment can be
  // edited by hand): custom properties on the root element and a class, which the stylesheet
  // reads; the CSP allows no style attribute, and the CSSOM calls below write none.
  function applyTheme(theme) {
    if (!theme) return;
    const root = document.documentElement;
    if (typeof theme.primaryColor === "string" && HEX_COLOR.test(theme.primaryColor)) {
      root.style.setProperty("--portal-accent", theme.primaryColor);
    }
    const font = theme.fontFamily;
    if (typeof font === "string" && font.trim() && font.length <= FONT_FAMILY_CHARS_MAX && FONT_FAMILY.test(font)) {
      root.style.setProperty("--portal-font", font);
    }
    if (typeof theme.logoUrl === "string" && isHttpsUrl(theme.logoUrl)) {
      $("logo").src = theme.logoUrl;
      $("logo").classList.remove("hidden");
    }
    document.body.classList.toggle("dark", theme.darkMode === true);
  }

  function isHttpsUrl(text) {
    try { return new URL(text).protocol === "https:"; } catch (_) { return false; }
  }

  // In a frame, the page tells its parent how tall it is, on load and whenever that changes
  // (a page change, new rows, a resize), so the parent can size the iframe to fit.
  function postHeight(always) {
    if (window.parent === window) return;
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === lastHeight && !always) return;
    lastHeight = height;
    window.parent.postMessage({ type: RESIZE_MESSAGE, height }, "*");
  }

  function watchHeight() {
    if (window.parent === window) return;
    new ResizeObserver(() => postHeight(false)).observe(document.body);
    window.addEventListener("resize", () => postHeight(false));
    postHeight(true);
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function say(text, isError) {
    const status = $("status");
    status.textContent = text;
    status.className = isError ? "error" : (text ? "notice" : "");
  }

  // Where a validation error points, without the "body"/"query" part: `rateLimit`.
  function locText(loc) {
    return (loc || []).filter((part, index) => index > 0 || (part !== "body" && part !== "query")).join(".");
  }

  function errorText(body, status) {
    if (body && Array.isArray(body.detail)) {
      return body.detail.map((d) => (locText(d.loc) ? locText(d.loc) + ": " : "") + d.msg).join("; ");
    }
    if (body && body.detail) return String(body.detail);
    return "request failed (HTTP " + status + ")";
  }

  // Whether the token holds any of `needs` (space-separated capability names).
  function allowed(needs) {
    return needs.split(" ").some((name) => capabilities.includes(name));
  }

  // Hides every control the token may not use (a read-only token shows no write control).
  function hideForbidden(root) {
    for (const node of root.querySelectorAll("[data-needs]")) {
      node.classList.toggle("hidden", !allowed(node.getAttribute("data-needs")));
    }
  }

  async function api(method, path, body) {
    return request(method, "/api/v1/app/" + enc(session.app) + path, body);
  }

  async function request(method, url, body) {
    const headers = { Authorization: "Bearer " + session.token };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit",
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (response.status === 401) {
      showNoToken();
      throw new Error("access expired");
    }
    if (!response.ok) {
      const error = new Error(errorText(data, response.status));
      error.status = response.status;
      error.body = data;
      throw error;
    }
    return data;
  }

  function showNoToken() {
    $("portal").classList.add("hidden");
    $("nav").classList.add("hidden");
    $("no-token").classList.remove("hidden");
  }

  // Runs an action, reporting its failure in the status line instead of throwing.
  async function act(action) {
    try { await action(); } catch (error) { say(error.message, true); }
  }

  // Runs a form's action; a failure is shown next to the form, each field the API (or the
  // check before it) names marked invalid and named in the message.
  async function formAct(form, box, action) {
    clearErrors(form, box);
    try { await action(); } catch (error) { showErrors(form, box, error); }
  }

  function clearErrors(form, box) {
    for (const input of form.querySelectorAll("[aria-invalid]")) {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    }
    $(box).replaceChildren();
    $(box).classList.add("hidden");
  }

  function showErrors(form, box, error) {
    const details = error.body && Array.isArray(error.body.detail) ? error.body.detail : [];
    const lines = details.length ? details.map((detail) => {
      const loc = detail.loc || [];
      const input = fieldOf(form, loc);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", box);
      }
      // The form's name for the field when the error is about the field itself; the API's
      // path when it is about a part of it (`headers.Host`).
      const last = String(loc[loc.length - 1]);
      const where = input && (FIELD_ALIASES[last] || last) === input.name ? input.name : locText(loc);
      const msg = String(detail.msg);
      return !where || msg.startsWith(where + ":") || msg.startsWith(last + ":") ? msg : where + ": " + msg;
    }) : [error.message];
    $(box).replaceChildren(...lines.map((line) => el("p", {}, line)));
    $(box).classList.remove("hidden");
  }

  // The form field an error's `loc` names (its last part that is one of the form's fields).
  function fieldOf(form, loc) {
    for (const part of [...loc].reverse()) {
      const name = FIELD_ALIASES[part] || String(part);
      const input = form.elements.namedItem(name);
      if (input && input.name === name) return input;
    }
    return null;
  }

  // An error a check in this script finds in a field, shaped like the API's 422.
  function fieldError(loc, msg) {
    const error = new Error(loc + ": " + msg);
    error.body = { detail: [{ loc: ["query", loc], msg }] };
    return error;
  }

  function badge(text) {
    const kind = {
      success: "ok", active: "ok", fail: "bad", pending: "wait", sending: "wait", unverified: "wait",
      enabled: "ok", retrying: "wait", succeeded: "ok", failed: "bad",
    }[text] || "muted";
    return el("span", { class: "badge " + kind }, text);
  }

  function retrying(nextAttempt) {
    return el("span", {}, el("span", { class: "badge wait" }, "retrying"), " next at ", when(nextAttempt));
  }

  // An attempt's status. A failed attempt whose delivery is still pending is "retrying", with
  // when it goes next, not a final failure; `delivery` is the message's delivery to the
  // attempt's endpoint (`statusText`, `nextAttempt`) from either delivery list: an endpoint's
  // messages or a message's endpoints.
  function attemptStatus(attempt, delivery) {
    const again = attempt.statusText === "fail" && delivery && delivery.statusText === "pending" && delivery.nextAttempt;
    return again ? retrying(delivery.nextAttempt) : badge(attempt.statusText);
  }

  // A delivery's status: retrying (tried, and due again) or as the API names it.
  function deliveryStatus(delivery) {
    const again = delivery.statusText === "pending" && delivery.attempts > 0 && delivery.nextAttempt;
    return again ? retrying(delivery.nextAttempt) : badge(delivery.statusText);
  }

  // An attempt's outcome (an endpoint's or a destination's batch): its status code, or why
  // there was no answer.
  function answerText(attempt) {
    if (attempt.responseStatusCode) return "HTTP " + attempt.responseStatusCode;
    return attempt.errorKind ? attempt.errorKind + ": " + (attempt.response || "").slice(0, REASON_CHARS) : "no answer";
  }

  // Whether a destination is stopped (its toggle enables it).
  function stopped(d) {
    return d.status === "paused" || d.status === "disabled";
  }

  function typesText(types) {
    return types && types.length ? types.join(", ") : "all";
  }

  function splitTypes(text) {
    return text.split(",").map((t) => t.trim()).filter(Boolean);
  }

  function sameList(a, b) {
    return a.length === b.length && a.every((item, index) => item === b[index]);
  }

  // Times in UTC, as the dashboard shows them (the local time is in the tooltip).
  function when(iso) {
    const date = new Date(iso);
    const utc = date.toISOString().slice(0, 19).replace("T", " ") + " UTC";
    return el("time", { datetime: iso, title: date.toLocaleString() }, utc);
  }

  // A typed time as RFC 3339: ISO with a zone, or without one (taken as UTC, as on screen),
  // or a day (its UTC midnight).
  function isoTime(field, text) {
    const zoned = /(?:Z|[+-]\d\d:?\d\d)$/i.test(text);
    const day = /^\d{4}-\d\d-\d\d$/.test(text);
    const date = new Date(zoned ? text : text + (day ? "T00:00:00Z" : "Z"));
    if (!/^\d{4}-\d\d-\d\d/.test(text) || Number.isNaN(date.getTime())) {
      throw fieldError(field, JSON.stringify(text) + " is not a time: use 2026-01-31T12:00:00Z");
    }
    return date.toISOString();
  }

  function every(refresh) {
    clearInterval(pageTimer);
    pageTimer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  }

  // ---- Activity: charts drawn from the counts Hookwire keeps (GET …/activity), in the same
  // markup and classes as the dashboard's (ui/chart.rs), built with DOM calls.

  const SVG_NS = "http://www.w3.org/2000/svg";
  const CHART = { width: 380, height: 180, left: 48, right: 8, top: 8, bottom: 22 }; // as ui/chart.rs
  // The periods offered: the hash's `period`, its label, its length.
  const PERIODS = [["1d", "Last day", 86400000], ["7d", "Last week", 7 * 86400000]];

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
  async function drawActivity(target, path, periodLength) {
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
  async function showActivity(query, current) {
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

  // ---- The router: #/page[/id][?query]; Back and Forward are the browser's own.

  const ROUTES = [
    { pattern: /^\/endpoints$/, page: "endpoints", nav: "endpoints", title: "Endpoints", show: showEndpoints },
    { pattern: /^\/endpoints\/([^/]+)$/, page: "endpoint", nav: "endpoints", title: "Endpoint", show: showEndpoint },
    { pattern: /^\/logs$/, page: "logs", nav: "logs", title: "Logs", show: showLogs },
    { pattern: /^\/logs\/([^/]+)$/, page: "message", nav: "logs", title: "Message", show: showMessage },
    { pattern: /^\/activity$/, page: "activity", nav: "activity", title: "Activity", show: showActivity },
    { pattern: /^\/catalog$/, page: "catalog", nav: "catalog", title: "Event catalog", show: showCatalog },
    { pattern: /^\/destinations$/, page: "destinations", nav: "destinations", title: "Destinations", show: showDestinations },
    { pattern: /^\/destinations\/([^/]+)$/, page: "destination", nav: "destinations", title: "Destination", show: showDestination },
  ];

  function currentRoute() {
    const fragment = location.hash.replace(/^#/, "");
    const mark = fragment.indexOf("?");
    const path = mark < 0 ? fragment : fragment.slice(0, mark);
    return { path, query: new URLSearchParams(mark < 0 ? "" : fragment.slice(mark + 1)) };
  }

  // Shows the page the address names (an unknown one: the endpoints).
  async function render() {
    const { path, query } = currentRoute();
    const route = ROUTES.find((r) => r.pattern.test(path));
    if (!route) {
      history.replaceState(null, "", location.pathname + location.search + "#" + DEFAULT_ROUTE);
      return render();
    }
    const turn = ++renderCount;
    clearInterval(pageTimer);
    say(notice || "");
    notice = null;
    const changed = shownPage !== null && shownPage !== route.page;
    shownPage = route.page;
    for (const page of document.querySelectorAll(".page")) page.classList.toggle("hidden", page.id !== "page-" + route.page);
    for (const link of $("nav").querySelectorAll("a")) {
      const current = link.getAttribute("data-page") === route.nav;
      link.classList.toggle("current", current);
      if (current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    $("page-title").textContent = route.title;
    document.title = route.title + " · " + appName;
    await act(async () => {
      const args = path.match(route.pattern).slice(1).map(decodeURIComponent);
      await route.show(...args, query, () => turn === renderCount);
    });
    if (changed && turn === renderCount) {
      // Keyboard and screen-reader users land on the new page's heading.
      const heading = $("page-" + route.page).querySelector("h2");
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
    postHeight(true);
  }

  // Goes to a page (a new history entry), saying `text` once it shows.
  function go(hash, text) {
    notice = text || null;
    if (location.hash === hash) render();
    else location.hash = hash;
  }

  // ---- Endpoints

  async function showEndpoints() {
    subscribeTarget = "add-endpoint";
    const list = await api("GET", "/endpoint?limit=" + ENDPOINTS_SHOWN);
    const body = $("endpoints").querySelector("tbody");
    body.replaceChildren(...list.data.map((endpoint) => {
      const link = el("a", { href: "#/endpoints/" + enc(endpoint.id) }, endpoint.url);
      return el("tr", { "data-id": endpoint.id },
        el("td", {}, link), el("td", {}, badge(endpoint.status)), el("td", {}, typesText(endpoint.filterTypes || endpoint.eventTypes)),
        el("td", { class: "muted" }, endpoint.description || ""));
    }));
    $("endpoints").classList.toggle("hidden", list.data.length === 0);
    $("endpoints-empty").classList.toggle("hidden", list.data.length !== 0);
  }

  function endpointPath() {
    return "/endpoint/" + enc(selected.id);
  }

  // An endpoint's page. Coming back to the endpoint last open keeps what was typed in its
  // forms (an event type added from the catalog, say); another endpoint fills them afresh.
  async function showEndpoint(id, _query, current) {
    const opening = !selected || selected.id !== id;
    selected = await api("GET", "/endpoint/" + enc(id));
    subscribeTarget = "endpoint-settings";
    showEndpointFacts();
    if (opening) {
      lastAttempts = "";
      $("secret").textContent = HIDDEN_SECRET;
      $("reveal").textContent = "Reveal";
      fillSettings();
      fillSignature();
      fillRetries();
      clearErrors($("endpoint-settings"), "settings-errors");
      clearErrors($("add-header"), "headers-errors");
      clearErrors($("endpoint-signature"), "signature-errors");
      clearErrors($("endpoint-retries"), "retries-errors");
      clearErrors($("filter-test"), "filter-test-errors");
      $("filter-test-result").classList.add("hidden");
      fillTestType();
      $("transformation-event-type").value = $("send-test").elements.eventType.value;
      $("filter-test").elements.eventType.value = $("send-test").elements.eventType.value;
      if (allowed("ManageTransformations")) await endpointEditor.load();
    }
    hideForbidden($("endpoint"));
    await loadHeaders();
    const refresh = async () => {
      await loadAttempts();
      await drawActivity($("endpoint-activity-charts"), "/endpoint/" + enc(id) + "/activity", PERIODS[0][2]);
    };
    await refresh();
    if (current()) every(refresh);
  }

  function showEndpointFacts() {
    $("endpoint-url").textContent = selected.url;
    $("endpoint-meta").textContent = selected.id + " · " + selected.status + (selected.description ? " · " + selected.description : "");
    $("toggle").textContent = selected.disabled ? "Enable endpoint" : "Disable endpoint";
    $("toggle").classList.toggle("secondary", selected.disabled);
    $("toggle").classList.toggle("danger", !selected.disabled);
    document.title = selected.url + " · " + appName;
  }

  // A test event the endpoint is subscribed to: one of its types, or one a wildcard covers.
  function fillTestType() {
    const types = selected.filterTypes || selected.eventTypes || [];
    const pattern = types.find((t) => t.endsWith(".*"));
    $("send-test").elements.eventType.value =
      types.find((t) => !t.includes("*")) || (pattern ? pattern.slice(0, -1) + "test" : "test.event");
  }

  function fillSettings() {
    const form = $("endpoint-settings");
    form.elements.url.value = selected.url;
    form.elements.description.value = selected.description || "";
    form.elements.eventTypes.value = (selected.filterTypes || selected.eventTypes || []).join(", ");
    form.elements.channels.value = (selected.channels || []).join(", ");
    form.elements.rateLimit.value = selected.throttleRate === null || selected.throttleRate === undefined ? "" : String(selected.throttleRate);
    form.elements.filter.value = selected.filter || "";
    lockForm(form);
  }

  // A form of the endpoint's settings is shown to every token, and editable only with
  // ManageEndpoint.
  function lockForm(form) {
    const writable = allowed("ManageEndpoint");
    for (const input of form.querySelectorAll("input, textarea")) input.readOnly = !writable;
    for (const select of form.querySelectorAll("select")) select.disabled = !writable;
  }

  // Shows the parts of `form` whose `attribute` (a space-separated list) names `value`.
  function showWhen(form, attribute, value) {
    for (const node of form.querySelectorAll("[" + attribute + "]")) {
      node.classList.toggle("hidden", !node.getAttribute(attribute).split(" ").includes(value));
    }
  }

  // What the settings form changes, in the names EndpointPatch reads. A rate limit that is not
  // a whole number is sent as typed, for the API to refuse and name.
  function settingsPatch(form, endpoint) {
    const patch = {};
    const url = form.elements.url.value.trim();
    if (url !== endpoint.url) patch.url = url;
    const description = form.elements.description.value.trim();
    if (description !== (endpoint.description || "")) patch.description = description;
    const types = splitTypes(form.elements.eventTypes.value);
    if (!sameList(types, endpoint.filterTypes || endpoint.eventTypes || [])) patch.eventTypes = types.length ? types : null;
    const channels = splitTypes(form.elements.channels.value);
    if (!sameList(channels, endpoint.channels || [])) patch.channels = channels.length ? channels : null;
    const rate = form.elements.rateLimit.value.trim();
    const currentRate = endpoint.throttleRate === null || endpoint.throttleRate === undefined ? "" : String(endpoint.throttleRate);
    if (rate !== currentRate) patch.rateLimit = rate === "" ? null : (/^\d+$/.test(rate) ? Number(rate) : rate);
    const filter = form.elements.filter.value.trim();
    if (filter !== (endpoint.filter || "")) patch.filter = filter || null;
    return patch;
  }

  // ---- Signature: the endpoint's `signature`, the fields its scheme takes shown.

  function fillSignature() {
    const form = $("endpoint-signature");
    const signature = selected.signature || { scheme: "standard" };
    form.elements.scheme.value = signature.scheme;
    form.elements.header.value = signature.header || "";
    form.elements.algorithm.value = signature.algorithm || "sha256";
    form.elements.encoding.value = signature.encoding || "hex";
    form.elements.content.value = signature.content || "body";
    form.elements.prefix.value = signature.prefix || "";
    showScheme();
    $("signature-current").textContent = "Currently: requests are signed " + signatureText(signature) + ".";
    $("secret-label").textContent = signature.scheme === "ed25519" ? "Public key" : "Signing secret";
    lockForm(form);
  }

  function showScheme() {
    const scheme = $("endpoint-signature").elements.scheme.value;
    showWhen($("endpoint-signature"), "data-schemes", scheme);
    $("signature-hint").textContent = SCHEMES[scheme][1];
  }

  function signatureText(signature) {
    const scheme = (signature && signature.scheme) || "standard";
    if (scheme === "secret-header") return "with the secret in " + signature.header;
    if (scheme !== "hmac") return SCHEMES[scheme][0];
    const s = normalSignature(signature);
    return "with an HMAC-" + s.algorithm.toUpperCase() + " of " + (s.content === "body" ? "the body" : "{id}.{timestamp}.{body}") +
      " in " + s.header + ", " + s.encoding + (s.prefix ? ", prefixed " + JSON.stringify(s.prefix) : "");
  }

  // A `signature` with its scheme's defaults filled in, so two can be compared.
  function normalSignature(signature) {
    const scheme = (signature && signature.scheme) || "standard";
    if (scheme !== "hmac") return { scheme, header: (signature && signature.header) || "" };
    return { scheme, header: signature.header || "", algorithm: signature.algorithm || "sha256",
      encoding: signature.encoding || "hex", content: signature.content || "body", prefix: signature.prefix || "" };
  }

  // The `signature` the form describes: only the fields its scheme takes; Standard Webhooks,
  // the default, is no setting at all.
  function signatureInput(form) {
    const scheme = form.elements.scheme.value;
    if (scheme === "standard") return null;
    if (scheme === "ed25519") return { scheme };
    const header = form.elements.header.value.trim();
    if (!header) throw fieldError("header", "the " + scheme + " scheme needs the name of the header it goes in");
    if (scheme === "secret-header") return { scheme, header };
    const signature = { scheme, header, algorithm: form.elements.algorithm.value, encoding: form.elements.encoding.value,
      content: form.elements.content.value };
    if (form.elements.prefix.value) signature.prefix = form.elements.prefix.value;
    return signature;
  }

  async function saveSignature(form) {
    const signature = signatureInput(form);
    if (JSON.stringify(normalSignature(signature)) === JSON.stringify(normalSignature(selected.signature))) {
      say("Nothing changed.");
      return;
    }
    const from = (selected.signature && selected.signature.scheme) || "standard";
    const to = (signature && signature.scheme) || "standard";
    if (to !== from && !confirm("Sign requests to " + selected.url + " " + SCHEMES[to][0] + "? Its receiver must verify them " +
      "that way from the next request on, and a secret that does not suit the new scheme is replaced at once.")) return;
    selected = await api("PATCH", endpointPath(), { signature });
    fillSignature();
    $("secret").textContent = HIDDEN_SECRET;
    $("reveal").textContent = "Reveal";
    say("Signature saved: requests are signed " + signatureText(selected.signature) + ".");
  }

  // ---- Retries and timeout: the endpoint's `retryPolicy` and `timeoutMs`, and what they come to.

  function fillRetries() {
    const form = $("endpoint-retries");
    const policy = selected.retryPolicy;
    const fixed = policy && !policy.schedule;
    form.elements.retryMode.value = !policy ? "default" : (fixed ? "fixed" : "schedule");
    form.elements.schedule.value = policy && policy.schedule ? policy.schedule.map(durationInput).join(", ") : "";
    form.elements.maxRetries.value = fixed ? String(policy.maxRetries) : "";
    form.elements.intervalMs.value = fixed ? String(policy.intervalMs) : "";
    form.elements.timeoutMs.value = numberText(selected.timeoutMs);
    showWhen(form, "data-modes", form.elements.retryMode.value);
    $("retries-current").textContent = retryText(policy) + " " + timeoutText(selected.timeoutMs);
    lockForm(form);
  }

  // A new mode's fields; a schedule of one's own starts from the default one.
  function showRetryMode() {
    const form = $("endpoint-retries");
    const mode = form.elements.retryMode.value;
    if (mode === "schedule" && !form.elements.schedule.value.trim()) {
      form.elements.schedule.value = DEFAULT_RETRY_SCHEDULE_SECONDS.map(durationInput).join(", ");
    }
    showWhen(form, "data-modes", mode);
  }

  function numberText(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  // Seconds as typed in a schedule (`30s`, `5m`, `2h`), and as read (`30 s`, `5 min`, `2 h`).
  function durationInput(seconds) {
    if (seconds === 0) return "0";
    const [unit, size] = DURATION_UNITS.find(([, size]) => seconds % size === 0);
    return seconds / size + unit;
  }

  function durationText(seconds) {
    if (seconds === 0) return "0 s";
    const [, size, name] = DURATION_UNITS.find(([, size]) => seconds % size === 0);
    return seconds / size + " " + name;
  }

  function msText(ms) {
    return ms % 1000 === 0 ? durationText(ms / 1000) : ms + " ms";
  }

  // "immediately, then after 5 s, 5 min and 2 h": the delay before each retry.
  function delaysText(seconds) {
    const first = seconds[0] === 0 ? "immediately" : null;
    const rest = (first ? seconds.slice(1) : seconds).map(durationText);
    const list = rest.length > 1 ? rest.slice(0, -1).join(", ") + " and " + rest[rest.length - 1] : rest.join("");
    if (!rest.length) return first;
    return (first ? first + ", then after " : "after ") + list;
  }

  function retryText(policy) {
    const attempts = (n) => " " + (n + 1) + " attempts at most.";
    if (!policy) {
      return "Default schedule: a failed delivery is retried " + delaysText(DEFAULT_RETRY_SCHEDULE_SECONDS) +
        " (each ±" + DEFAULT_RETRY_JITTER_PERCENT + " %, so retries spread out);" + attempts(DEFAULT_RETRY_SCHEDULE_SECONDS.length);
    }
    if (policy.schedule) {
      if (!policy.schedule.length) return "No retries: one attempt only.";
      return "Own schedule: a failed delivery is retried " + delaysText(policy.schedule) + ";" + attempts(policy.schedule.length);
    }
    if (!policy.maxRetries) return "No retries: one attempt only.";
    const every = policy.intervalMs === 0 ? "at once" : msText(policy.intervalMs) + " after the last";
    return "Fixed interval: a failed delivery is retried up to " + policy.maxRetries + " times, each " + every + ";" + attempts(policy.maxRetries);
  }

  function timeoutText(timeoutMs) {
    const ms = timeoutMs === null || timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : timeoutMs;
    return "Each request may take " + msText(ms) + (ms === timeoutMs ? "." : " (the default).");
  }

  // A schedule as typed: seconds, or a number with a unit, comma-separated.
  function parseSchedule(text) {
    return splitTypes(text).map((entry) => {
      const match = /^(\d+)\s*([smhd]?)$/i.exec(entry);
      if (!match) throw fieldError("schedule", JSON.stringify(entry) + " is not a delay: use seconds, or 30s, 5m, 2h, 1d");
      const unit = DURATION_UNITS.find(([name]) => name === (match[2] || "s").toLowerCase());
      return Number(match[1]) * unit[1];
    });
  }

  function wholeNumber(form, name) {
    const text = form.elements[name].value.trim();
    if (!/^\d+$/.test(text)) throw fieldError(name, text ? "must be a whole number" : "is needed for a fixed interval");
    return Number(text);
  }

  // What the retries form changes. A timeout that is not a whole number is sent as typed, for
  // the API to refuse and name.
  function retriesPatch(form, endpoint) {
    const patch = {};
    const mode = form.elements.retryMode.value;
    let policy = null;
    if (mode === "schedule") policy = { schedule: parseSchedule(form.elements.schedule.value) };
    if (mode === "fixed") policy = { maxRetries: wholeNumber(form, "maxRetries"), intervalMs: wholeNumber(form, "intervalMs") };
    if (JSON.stringify(policy) !== JSON.stringify(endpoint.retryPolicy || null)) patch.retryPolicy = policy;
    const timeout = form.elements.timeoutMs.value.trim();
    if (timeout !== numberText(endpoint.timeoutMs)) patch.timeoutMs = timeout === "" ? null : (/^\d+$/.test(timeout) ? Number(timeout) : timeout);
    return patch;
  }

  async function saveRetries(form) {
    const patch = retriesPatch(form, selected);
    if (Object.keys(patch).length === 0) {
      say("Nothing changed.");
      return;
    }
    selected = await api("PATCH", endpointPath(), patch);
    fillRetries();
    say("Retries saved. " + $("retries-current").textContent);
  }

  // ---- The filter's test: the filter typed in the settings (saved or not) on a message.

  async function testFilter(form) {
    const filterInput = $("endpoint-settings").elements.filter;
    filterInput.removeAttribute("aria-invalid");
    filterInput.removeAttribute("aria-describedby");
    $("filter-test-result").classList.add("hidden");
    await formAct(form, "filter-test-errors", async () => {
      try {
        const input = filterTestInput(form, filterInput.value.trim());
        showFilterVerdict(await api("POST", "/filter/test", input), input);
      } catch (error) {
        // A filter that does not compile is marked where it is typed.
        const details = error.body && Array.isArray(error.body.detail) ? error.body.detail : [];
        if (details.some((detail) => (detail.loc || []).includes("filter"))) {
          filterInput.setAttribute("aria-invalid", "true");
          filterInput.setAttribute("aria-describedby", "filter-test-errors");
        }
        throw error;
      }
    });
  }

  function filterTestInput(form, filter) {
    if (!filter) throw fieldError("filter", "type a filter in the settings above to test it");
    const input = { filter, eventType: form.elements.eventType.value.trim() };
    const channels = splitTypes(form.elements.channels.value);
    if (channels.length) input.channels = channels;
    const text = form.elements.payload.value.trim();
    if (text) {
      try { input.payload = JSON.parse(text); } catch (error) { throw fieldError("payload", "not JSON: " + error.message); }
    }
    return input;
  }

  function showFilterVerdict(out, input) {
    const on = input.payload !== undefined ? "the payload above"
      : examples.has(input.eventType) ? "the catalog's example of " + input.eventType
        : "an empty payload ({}: " + input.eventType + " has no example in the catalog)";
    const result = $("filter-test-result");
    if (out.error) {
      result.replaceChildren(el("span", { class: "badge bad" }, "no match"),
        " The filter could not be evaluated on " + on + ", so it matches nothing: " + out.error);
    } else {
      result.replaceChildren(el("span", { class: out.matches ? "badge ok" : "badge bad" }, out.matches ? "matches" : "no match"),
        " On " + on + ": this endpoint " + (out.matches ? "would receive" : "would not receive") + " the message.");
    }
    result.classList.remove("hidden");
  }

  async function loadHeaders() {
    const out = await api("GET", endpointPath() + "/headers");
    const remove = (name) => el("button", { type: "button", class: "secondary small", "data-needs": "ManageEndpoint",
      "aria-label": "Remove header " + name, onclick: () => removeHeader(name) }, "Remove");
    const rows = [
      ...Object.entries(out.headers).map(([name, value]) => el("tr", { "data-header": name },
        el("td", {}, el("code", {}, name)), el("td", {}, el("code", {}, value)), el("td", {}, remove(name)))),
      ...out.sensitive.map((name) => el("tr", { "data-header": name },
        el("td", {}, el("code", {}, name)), el("td", { class: "muted" }, "•••• (write-only)"), el("td", {}, remove(name)))),
    ];
    $("headers").querySelector("tbody").replaceChildren(...rows);
    $("headers").classList.toggle("hidden", rows.length === 0);
    $("headers-empty").classList.toggle("hidden", rows.length !== 0);
    hideForbidden($("headers"));
  }

  async function removeHeader(name) {
    await formAct($("add-header"), "headers-errors", async () => {
      await api("PATCH", endpointPath() + "/headers", { headers: {}, deleteHeaders: [name] });
      say("Header " + name + " removed.");
      await loadHeaders();
    });
  }

  async function loadAttempts() {
    if (!selected) return;
    const list = await api("GET", "/attempt/endpoint/" + enc(selected.id) + "?with_msg=true&limit=" + ATTEMPTS_SHOWN);
    const log = await api("GET", endpointPath() + "/msg?limit=" + ATTEMPTS_SHOWN);
    const deliveries = new Map(log.data.map((m) => [m.id, m]));
    const snapshot = JSON.stringify([list.data, log.data]);
    if (snapshot === lastAttempts) return;
    lastAttempts = snapshot;
    const body = $("attempts").querySelector("tbody");
    body.replaceChildren(...list.data.map((attempt) => {
      const msg = attempt.msg || {};
      const payload = el("details", {}, el("summary", {}, msg.eventType || attempt.msgId),
        el("pre", {}, JSON.stringify(msg.payload || {}, null, 2)),
        el("p", { class: "muted" }, "Response: " + (attempt.response || "(empty)")),
        el("p", {}, el("a", { href: "#/logs/" + enc(attempt.msgId) }, "Open message " + attempt.msgId)));
      const again = el("button", { type: "button", class: "secondary small", "data-needs": "CreateAttempts", onclick: () => resend(attempt.msgId, selected.id) }, "Resend");
      return el("tr", { "data-attempt": attempt.id },
        el("td", {}, when(attempt.timestamp)), el("td", {}, attemptStatus(attempt, deliveries.get(attempt.msgId))),
        el("td", {}, answerText(attempt)),
        el("td", {}, payload), el("td", {}, again));
    }));
    $("attempts").classList.toggle("hidden", list.data.length === 0);
    $("attempts-empty").classList.toggle("hidden", list.data.length !== 0);
    hideForbidden($("attempts"));
  }

  async function resend(msgId, endpointId) {
    await act(async () => {
      await api("POST", "/msg/" + enc(msgId) + "/endpoint/" + enc(endpointId) + "/resend");
      say("Resend queued.");
      if (shownPage === "message") await loadMessageDeliveries(msgId);
      else await loadAttempts();
    });
  }

  function transformationPath() {
    return endpointPath() + "/transformation";
  }

  // A test payload typed as JSON; empty is none.
  function testPayload(form) {
    const text = form.elements.payload.value.trim();
    if (!text) return undefined;
    try { return JSON.parse(text); } catch (error) { throw new Error("The test payload is not JSON: " + error.message); }
  }

  // The transformation editor of an endpoint or a FIFO destination: the elements whose ids
  // start with `prefix`, saved at options.path(); a test posts options.input(form) to
  // …/simulate and shows options.verdict(answer) ([verdict, output]) and the console.
  function transformationEditor(prefix, options) {
    const form = $(prefix + "-form");
    async function load() {
      const saved = await api("GET", options.path());
      form.elements.code.value = saved.code || options.template;
      form.elements.enabled.checked = saved.code ? saved.enabled : true;
      $(prefix + "-state").textContent = !saved.code ? "Currently: none."
        : "Currently: " + (saved.enabled ? "enabled" : "disabled (kept)") + ", saved " + new Date(saved.updatedAt).toISOString().slice(0, 19).replace("T", " ") + " UTC.";
      $(prefix + "-result").classList.add("hidden");
    }
    async function test() {
      const out = await api("POST", options.path() + "/simulate", options.input(form));
      let [verdict, output] = out.error ? ["Failed: nothing would be sent.", out.error] : options.verdict(out);
      if (out.console && out.console.length) output += "\n\nConsole:\n" + out.console.join("\n");
      $(prefix + "-verdict").textContent = verdict;
      $(prefix + "-output").textContent = output;
      $(prefix + "-result").classList.remove("hidden");
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(async () => {
        const code = form.elements.code.value;
        const body = code.trim() ? { code, enabled: form.elements.enabled.checked } : { code: null };
        await api("PATCH", options.path(), body);
        say(code.trim() ? "Transformation saved." : "Transformation removed.");
        await load();
      });
    });
    $(prefix + "-test").addEventListener("click", () => act(test));
    return { load };
  }

  function endpointTransformation() {
    return transformationEditor("transformation", {
      path: transformationPath,
      template: TRANSFORMATION_TEMPLATE,
      input: (form) => ({ code: form.elements.code.value, eventType: form.elements.eventType.value.trim() || "test.event", payload: testPayload(form) }),
      verdict: (out) => out.cancel ? ["Cancelled: nothing would be sent.", ""]
        : ["Would send " + out.method + " " + out.url, JSON.stringify(out.payload, null, 2)],
    });
  }

  // ---- Logs: every message of the application, filtered, a page at a time.

  // A logs address: the filters, and where the page starts: `iterator` (older than that
  // message) or `prev` (the page just newer than that message).
  function logsHash(filters, position) {
    const params = new URLSearchParams();
    for (const name of LOG_FILTERS) if (filters[name]) params.set(name, filters[name]);
    for (const [name, value] of Object.entries(position || {})) params.set(name, value);
    const text = params.toString();
    return "#/logs" + (text ? "?" + text : "");
  }

  function logFilters(query) {
    return Object.fromEntries(LOG_FILTERS.map((name) => [name, (query.get(name) || "").trim()]));
  }

  async function showLogs(query, current) {
    const form = $("logs-filters");
    const filters = logFilters(query);
    for (const name of LOG_FILTERS) form.elements[name].value = filters[name];
    lastLogs = location.hash;
    await formAct(form, "logs-errors", async () => {
      const params = new URLSearchParams({ limit: String(MESSAGES_PER_PAGE), with_content: "false" });
      if (filters.event_types) params.set("event_types", splitTypes(filters.event_types).join(","));
      if (filters.status) params.set("status", filters.status);
      if (filters.tag) params.set("tag", filters.tag);
      if (filters.channel) params.set("channel", filters.channel);
      if (filters.after) params.set("after", isoTime("after", filters.after));
      if (filters.before) params.set("before", isoTime("before", filters.before));
      const prev = query.get("prev");
      const iterator = query.get("iterator");
      // The page newer than a message: ascending from it, then turned newest first.
      if (prev) params.set("order", "ascending");
      if (prev || iterator) params.set("iterator", prev || iterator);
      const page = await api("GET", "/msg?" + params);
      if (!current()) return; // left, or filtered again, meanwhile
      const rows = prev ? page.data.slice().reverse() : page.data;
      showMessageRows(rows);
      const older = rows.length > 0 && (prev ? true : !page.done);
      const newer = rows.length > 0 && (prev ? !page.done : Boolean(iterator));
      wirePager("logs-next", older && logsHash(filters, { iterator: rows[rows.length - 1].id }));
      wirePager("logs-previous", newer && logsHash(filters, { prev: rows[0].id }));
    });
  }

  function wirePager(id, hash) {
    $(id).disabled = !hash;
    $(id).onclick = hash ? () => go(hash) : null;
  }

  function showMessageRows(messages) {
    $("messages").querySelector("tbody").replaceChildren(...messages.map((message) => el("tr", { "data-msg": message.id },
      el("td", {}, when(message.timestamp)), el("td", {}, el("code", {}, message.eventType)),
      el("td", { class: "id" }, el("a", { href: "#/logs/" + enc(message.id) }, message.id)),
      el("td", { class: "id" }, message.eventId || "—"),
      el("td", {}, (message.tags || []).join(", ") || "—"), el("td", {}, (message.channels || []).join(", ") || "—"))));
    $("messages").classList.toggle("hidden", messages.length === 0);
    $("messages-empty").classList.toggle("hidden", messages.length !== 0);
  }

  // One message: its facts, its payload, its delivery to each endpoint and every attempt.
  async function showMessage(id, _query, current) {
    $("message-back").setAttribute("href", lastLogs);
    const message = await api("GET", "/msg/" + enc(id));
    lastMessage = "";
    $("message-title").textContent = message.eventType + " · " + message.id;
    document.title = message.eventType + " · " + appName;
    const facts = {
      ID: el("code", {}, message.id), eventId: message.eventId || "—", "Event type": el("code", {}, message.eventType),
      Time: when(message.timestamp), "Deliver at": message.deliverAt ? when(message.deliverAt) : null,
      Tags: (message.tags || []).join(", ") || "—", Channels: (message.channels || []).join(", ") || "—",
    };
    $("message-facts").replaceChildren(...Object.entries(facts).filter(([, value]) => value !== null)
      .flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
    const payload = message.contentType
      ? (await api("GET", "/msg/" + enc(message.id) + "/raw")).payload
      : JSON.stringify(message.payload, null, 2);
    $("message-payload").textContent = payload;
    await loadMessageDeliveries(message.id);
    if (current()) every(() => loadMessageDeliveries(message.id));
  }

  async function loadMessageDeliveries(msgId) {
    const deliveries = await api("GET", "/msg/" + enc(msgId) + "/endpoint?limit=" + ENDPOINTS_SHOWN);
    const attempts = await api("GET", "/attempt/msg/" + enc(msgId) + "?limit=" + ATTEMPTS_SHOWN);
    const snapshot = JSON.stringify([deliveries.data, attempts.data]);
    if (snapshot === lastMessage) return;
    lastMessage = snapshot;
    const byEndpoint = new Map(deliveries.data.map((d) => [d.id, d]));
    $("message-deliveries").querySelector("tbody").replaceChildren(...deliveries.data.map((delivery) => el("tr", { "data-endpoint": delivery.id },
      el("td", {}, el("a", { href: "#/endpoints/" + enc(delivery.id) }, delivery.url)),
      el("td", {}, deliveryStatus(delivery)), el("td", { class: "num" }, String(delivery.attempts)),
      el("td", {}, el("button", { type: "button", class: "secondary small", "data-needs": "CreateAttempts",
        "aria-label": "Resend to " + delivery.url, onclick: () => resend(msgId, delivery.id) }, "Resend")))));
    $("message-deliveries").classList.toggle("hidden", deliveries.data.length === 0);
    $("message-deliveries-empty").classList.toggle("hidden", deliveries.data.length !== 0);
    $("message-attempts").querySelector("tbody").replaceChildren(...attempts.data.map((attempt) => {
      const endpoint = byEndpoint.get(attempt.endpointId);
      return el("tr", { "data-attempt": attempt.id },
        el("td", {}, when(attempt.timestamp)), el("td", {}, endpoint ? endpoint.url : attempt.url),
        el("td", {}, attemptStatus(attempt, endpoint)),
        el("td", {}, el("details", {}, el("summary", {}, answerText(attempt)), el("pre", {}, attempt.response || "(empty)"))));
    }));
    $("message-attempts").classList.toggle("hidden", attempts.data.length === 0);
    $("message-attempts-empty").classList.toggle("hidden", attempts.data.length !== 0);
    hideForbidden($("page-message"));
  }

  // ---- Destinations

  // A FIFO destination's editor: a test runs on one event (its example payload when the box is
  // empty) or, with neither an event type nor a payload, on the next batch waiting to be sent.
  function destinationTransformation() {
    return transformationEditor("destination-transformation", {
      path: () => destinationPath() + "/transformation",
      template: DESTINATION_TEMPLATE,
      input: (form) => {
        const input = { code: form.elements.code.value };
        const eventType = form.elements.eventType.value.trim();
        const payload = testPayload(form);
        if (!eventType && payload !== undefined) throw new Error("Name the test payload's event type.");
        if (eventType) input.events = [payload === undefined ? { eventType } : { eventType, payload }];
        return input;
      },
      verdict: (out) => ["Would send POST " + ((destination.config && destination.config.url) || ""),
        typeof out.payload === "string" ? out.payload : JSON.stringify(out.payload, null, 2)],
    });
  }

  function destinationPath() {
    return "/destination/" + enc(destination.id);
  }

  function lagText(d) {
    if (d.lag === null || d.lag === undefined) return "—";
    return d.lag >= LAG_COUNT_MAX ? LAG_COUNT_MAX + "+" : String(d.lag);
  }

  function failureText(d, chars) {
    return d.failureReason ? el("span", { class: "error-text" }, chars ? d.failureReason.slice(0, chars) : d.failureReason) : "—";
  }

  function destinationColumns(d) {
    return {
      Type: el("code", {}, d.type),
      URL: (d.config && d.config.url) || el("span", { class: "muted" }, "polled by its consumers"),
      Status: badge(d.status),
      Lag: lagText(d),
      "Next retry": d.nextRetryAt ? when(d.nextRetryAt) : "—",
      "Failure reason": failureText(d, REASON_CHARS),
      "Event types": typesText(d.eventTypes),
      "Batch size": String(d.batchSize),
    };
  }

  async function showDestinations(_query, current) {
    await loadDestinations();
    if (current()) every(loadDestinations);
  }

  async function loadDestinations() {
    const list = await api("GET", "/destination?limit=250");
    $("destinations").querySelector("tbody").replaceChildren(...list.data.map((d) => {
      const link = el("a", { href: "#/destinations/" + enc(d.id) }, d.uid || d.id);
      const columns = destinationColumns(d);
      return el("tr", { "data-id": d.id }, el("td", { class: "name" }, link),
        ...Object.entries(columns).map(([name, value]) => el("td", { class: ["Lag", "Batch size"].includes(name) ? "num" : "" }, value)));
    }));
    $("destinations").classList.toggle("hidden", list.data.length === 0);
    $("destinations-empty").classList.toggle("hidden", list.data.length !== 0);
    if (list.data.length) $("nav-destinations").classList.remove("hidden");
  }

  async function showDestination(id, _query, current) {
    await refreshDestination(id);
    if (current()) every(() => refreshDestination(id));
  }

  // The destination's state and batches, as they change (the editor is loaded once per
  // destination and then left alone).
  async function refreshDestination(id) {
    const opening = !destination || destination.id !== id;
    destination = await api("GET", "/destination/" + enc(id));
    const fifo = destination.type === "fifoEndpoint";
    $("destination-name").textContent = destination.uid || destination.id;
    const facts = { ID: el("code", {}, destination.id), ...destinationColumns(destination), "Failure reason": failureText(destination) };
    $("destination-facts").replaceChildren(...Object.entries(facts).flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
    $("destination-toggle").textContent = stopped(destination) ? "Enable" : "Pause";
    $("destination-skip").classList.toggle("hidden", !fifo);
    $("destination-retry").classList.toggle("hidden", !fifo);
    $("destination-fifo").classList.toggle("hidden", !fifo);
    hideForbidden($("destination"));
    if (opening) {
      lastDestinationAttempts = "";
      if (fifo && allowed("ManageTransformations")) await destinationEditor.load();
    }
    if (fifo) await loadDestinationAttempts();
  }

  async function loadDestinationAttempts() {
    const list = await api("GET", destinationPath() + "/attempt?limit=" + ATTEMPTS_SHOWN);
    const snapshot = JSON.stringify(list.data);
    if (snapshot === lastDestinationAttempts) return;
    lastDestinationAttempts = snapshot;
    $("destination-attempts").querySelector("tbody").replaceChildren(...list.data.map((attempt) => {
      return el("tr", { "data-attempt": attempt.id },
        el("td", {}, when(attempt.timestamp)), el("td", {}, badge(attempt.status)), el("td", {}, answerText(attempt)),
        el("td", { class: "id" }, el("code", {}, attempt.batchId)), el("td", { class: "num" }, String(attempt.messages)),
        el("td", { class: "num" }, attempt.durationMs + " ms"));
    }));
    $("destination-attempts").classList.toggle("hidden", list.data.length === 0);
    $("destination-attempts-empty").classList.toggle("hidden", list.data.length !== 0);
  }

  // Runs a destination action (its path under the destination, its body) and says so.
  async function steer(method, suffix, body, done) {
    await act(async () => {
      await api(method, destinationPath() + suffix, body);
      say(done);
      await refreshDestination(destination.id);
    });
  }

  // ---- The event catalog

  async function showCatalog() {
    await loadCatalog();
  }

  // The event-type catalog, grouped by the part of each name before its first dot; each type
  // with its description, newest schema and first example, and a button that subscribes to it.
  async function loadCatalog() {
    const types = [];
    let iterator = null;
    do {
      const page = await request("GET", "/api/v1/event-type?limit=250" + (iterator ? "&iterator=" + enc(iterator) : ""));
      types.push(...page.data);
      iterator = page.done ? null : page.iterator;
    } while (iterator);
    $("event-type-options").replaceChildren(...types.map((t) => el("option", { value: t.name })));
    const groups = new Map();
    for (const type of types) {
      const group = type.name.includes(".") ? type.name.split(".")[0] : "other";
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push(type);
    }
    $("catalog-groups").replaceChildren(...[...groups.entries()].map(([group, members]) =>
      el("div", { class: "catalog-group" }, el("h3", {}, group),
        ...members.map((type) => {
          const versions = type.schemas ? Object.keys(type.schemas).sort((a, b) => Number(a) - Number(b)) : [];
          const schema = versions.length ? type.schemas[versions[versions.length - 1]] : null;
          const example = schema && Array.isArray(schema.examples) ? schema.examples[0] : null;
          if (example) examples.set(type.name, example);
          else examples.delete(type.name);
          const subscribe = el("button", { type: "button", class: "secondary small", "data-needs": "ManageEndpoint",
            "aria-label": "Subscribe to " + type.name, onclick: () => subscribeTo(type.name) }, "Subscribe");
          return el("div", { class: "event-type", "data-name": type.name },
            el("details", {},
              el("summary", {}, el("code", {}, type.name), type.deprecated ? el("span", { class: "badge wait" }, "deprecated") : null,
                el("span", { class: "muted" }, " " + (type.description || ""))),
              schema ? el("div", {}, el("p", { class: "muted" }, "Schema (version " + versions[versions.length - 1] + ")"),
                el("pre", { tabindex: "0" }, JSON.stringify(schema, null, 2))) : el("p", { class: "muted" }, "No schema published."),
              example ? el("div", {}, el("p", { class: "muted" }, "Example"), el("pre", { tabindex: "0" }, JSON.stringify(example, null, 2))) : null),
            subscribe);
        }))));
    $("catalog-empty").classList.toggle("hidden", types.length !== 0);
    hideForbidden($("page-catalog"));
  }

  // Adds an event type to the endpoint form last in view: an endpoint's settings, or the new
  // endpoint's form.
  function subscribeTo(name) {
    const settings = subscribeTarget === "endpoint-settings" && selected;
    const form = settings ? $("endpoint-settings") : $("add-endpoint");
    const input = form.elements.eventTypes;
    const current = splitTypes(input.value);
    if (!current.includes(name)) input.value = [...current, name].join(", ");
    say(settings
      ? "Added " + name + " to the event types of " + selected.url + ": save its settings to subscribe."
      : "Added " + name + " to the new endpoint's event types.");
  }

  // ---- Wiring

  function wire() {
    $("add-endpoint").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target;
      act(async () => {
        const input = { url: form.elements.url.value.trim() };
        const types = splitTypes(form.elements.eventTypes.value);
        if (types.length) input.eventTypes = types;
        if (form.elements.description.value.trim()) input.description = form.elements.description.value.trim();
        const created = await api("POST", "/endpoint", input);
        form.reset();
        go("#/endpoints/" + enc(created.id), "Endpoint added.");
      });
    });
    $("endpoint-settings").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target;
      formAct(form, "settings-errors", async () => {
        const patch = settingsPatch(form, selected);
        if (Object.keys(patch).length === 0) {
          say("Nothing changed.");
          return;
        }
        selected = await api("PATCH", endpointPath(), patch);
        fillSettings();
        if (patch.eventTypes !== undefined) fillTestType();
        showEndpointFacts();
        say("Settings saved.");
      });
    });
    $("endpoint-signature").addEventListener("submit", (event) => {
      event.preventDefault();
      formAct(event.target, "signature-errors", () => saveSignature(event.target));
    });
    $("endpoint-signature").elements.scheme.addEventListener("change", showScheme);
    $("endpoint-retries").addEventListener("submit", (event) => {
      event.preventDefault();
      formAct(event.target, "retries-errors", () => saveRetries(event.target));
    });
    $("endpoint-retries").elements.retryMode.addEventListener("change", showRetryMode);
    $("filter-test").addEventListener("submit", (event) => {
      event.preventDefault();
      testFilter(event.target);
    });
    $("add-header").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target;
      formAct(form, "headers-errors", async () => {
        const name = form.elements.name.value.trim();
        await api("PATCH", endpointPath() + "/headers", { headers: { [name]: form.elements.value.value } });
        form.reset();
        say("Header " + name + " set.");
        await loadHeaders();
      });
    });
    $("delete-endpoint").addEventListener("click", () => act(async () => {
      if (!confirm("Delete the endpoint " + selected.url + "? It receives nothing more, and this cannot be undone.")) return;
      await api("DELETE", endpointPath());
      selected = null;
      go("#/endpoints", "Endpoint deleted.");
    }));
    $("send-test").addEventListener("submit", (event) => {
      event.preventDefault();
      act(async () => {
        const eventType = event.target.elements.eventType.value.trim();
        await api("POST", endpointPath() + "/send-example", { eventType });
        say("Test event sent.");
        await loadAttempts();
      });
    });
    $("logs-filters").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target;
      formAct(form, "logs-errors", async () => {
        const filters = Object.fromEntries(LOG_FILTERS.map((name) => [name, form.elements[name].value.trim()]));
        // Checked here too, so a mistyped time is named before the address changes.
        if (filters.after) isoTime("after", filters.after);
        if (filters.before) isoTime("before", filters.before);
        go(logsHash(filters));
      });
    });
    $("logs-clear").addEventListener("click", () => go("#/logs"));
    $("logs-find").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target;
      formAct(form, "logs-errors", async () => {
        const key = form.elements.id.value.trim();
        try {
          const message = await api("GET", "/msg/" + enc(key) + "?with_content=false");
          form.reset();
          go("#/logs/" + enc(message.id));
        } catch (error) {
          if (error.status !== 404) throw error;
          throw new Error("No message has the id or eventId " + JSON.stringify(key) + ".");
        }
      });
    });
    endpointEditor = endpointTransformation();
    destinationEditor = destinationTransformation();
    $("destination-toggle").addEventListener("click", () => {
      const enabling = stopped(destination);
      steer("PATCH", "", { status: enabling ? "enabled" : "paused" }, enabling ? "Destination enabled." : "Destination paused.");
    });
    $("destination-skip").addEventListener("click", () => {
      if (!confirm("Skip the backlog? The messages waiting now are never sent to this destination.")) return;
      steer("POST", "/skip", {}, "Backlog skipped: sending continues from the end of the log.");
    });
    $("destination-retry").addEventListener("click", () => steer("POST", "/force-retry", {}, "Retry forced: the current batch goes again now."));
    $("reveal").addEventListener("click", () => act(async () => {
      if ($("reveal").textContent === "Hide") {
        $("secret").textContent = HIDDEN_SECRET;
        $("reveal").textContent = "Reveal";
        return;
      }
      const secret = await api("GET", endpointPath() + "/secret");
      $("secret").textContent = secret.key;
      $("reveal").textContent = "Hide";
    }));
    $("rotate").addEventListener("click", () => act(async () => {
      if (!confirm("Rotate the signing secret? The old one keeps signing for 24 hours.")) return;
      const secret = await api("POST", endpointPath() + "/secret/rotate", {});
      $("secret").textContent = secret.key;
      $("reveal").textContent = "Hide";
      say("Secret rotated; the previous one stays valid for 24 hours.");
    }));
    $("toggle").addEventListener("click", () => act(async () => {
      selected = await api("PATCH", endpointPath(), { disabled: !selected.disabled });
      showEndpointFacts();
      say(selected.disabled ? "Endpoint disabled." : "Endpoint enabled.");
    }));
  }

  async function start() {
    session = readSession();
    if (!session || !session.token || !session.app) {
      showNoToken();
      return;
    }
    applyTheme(session.theme);
    watchHeight();
    wire();
    await act(async () => {
      capabilities = (await request("GET", "/api/v1/auth/token")).capabilities;
      hideForbidden(document);
      const app = await api("GET", "");
      appName = app.name;
      $("app-name").textContent = app.name;
      $("portal").classList.remove("hidden");
      $("nav").classList.remove("hidden");
      await loadCatalog();
      const destinations = await api("GET", "/destination?limit=1");
      $("nav-destinations").classList.toggle("hidden", destinations.data.length === 0);
      window.addEventListener("hashchange", render);
      await render();
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
