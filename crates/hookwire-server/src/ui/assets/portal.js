// Hookwire customer portal. Reads the application-scoped token from the URL fragment
// (#token=hwp_…&app=app_…), keeps it in sessionStorage, removes it from the address bar, and
// drives the JSON API with it. All text goes into the page through textContent, never as HTML.
"use strict";

(function () {
  const STORAGE_KEY = "hookwire-portal";
  const REFRESH_MS = 2000;
  const ATTEMPTS_SHOWN = 50;
  const REASON_CHARS = 120;
  const LAG_COUNT_MAX = 100000; // the API counts a destination's lag up to this
  const TRANSFORMATION_TEMPLATE =
    "function handler(webhook) {\n  // webhook: {method, url, eventType, payload, variables, cancel}\n  return webhook;\n}\n";
  const DESTINATION_TEMPLATE =
    "function handler(input) {\n  // input: {url, variables, events: [{eventType, payload}]}\n  return input.events;\n}\n";

  const $ = (id) => document.getElementById(id);
  let session = null;
  let capabilities = []; // what the token may do (Svix's names), from /api/v1/auth/token
  let selected = null; // the endpoint whose panel is open
  let lastAttempts = "";
  let refreshTimer = null;
  let destination = null; // the destination whose panel is open
  let lastDestinationAttempts = "";
  let destinationTimer = null;
  let endpointEditor = null;
  let destinationEditor = null;

  function readSession() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    if (params.get("token")) {
      const fresh = { token: params.get("token"), app: params.get("app") };
      try { sessionStorage.setItem(STORAGE_KEY, JSON.stringify(fresh)); } catch (_) { /* storage may be blocked in frames */ }
      history.replaceState(null, "", location.pathname + location.search);
      return fresh;
    }
    try { return JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null"); } catch (_) { return null; }
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

  function errorText(body, status) {
    if (body && Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
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
    return request(method, "/api/v1/app/" + encodeURIComponent(session.app) + path, body);
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
    if (!response.ok) throw new Error(errorText(data, response.status));
    return data;
  }

  function showNoToken() {
    $("portal").classList.add("hidden");
    $("no-token").classList.remove("hidden");
  }

  function badge(text) {
    const kind = {
      success: "ok", active: "ok", fail: "bad", pending: "wait", sending: "wait", unverified: "wait",
      enabled: "ok", retrying: "wait", succeeded: "ok", failed: "bad",
    }[text] || "muted";
    return el("span", { class: "badge " + kind }, text);
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

  // Times in UTC, as the dashboard shows them (the local time is in the tooltip).
  function when(iso) {
    const date = new Date(iso);
    const utc = date.toISOString().slice(0, 19).replace("T", " ") + " UTC";
    return el("time", { datetime: iso, title: date.toLocaleString() }, utc);
  }

  async function loadEndpoints() {
    const list = await api("GET", "/endpoint?limit=250");
    const body = $("endpoints").querySelector("tbody");
    body.replaceChildren(...list.data.map((endpoint) => {
      const link = el("a", { href: "#", onclick: (event) => { event.preventDefault(); openEndpoint(endpoint.id); } }, endpoint.url);
      const row = el("tr", { "data-id": endpoint.id },
        el("td", {}, link), el("td", {}, badge(endpoint.status)), el("td", {}, typesText(endpoint.filterTypes || endpoint.eventTypes)),
        el("td", { class: "muted" }, endpoint.description || ""));
      if (selected && selected.id === endpoint.id) row.className = "selected";
      return row;
    }));
    $("endpoints").classList.toggle("hidden", list.data.length === 0);
    $("endpoints-empty").classList.toggle("hidden", list.data.length !== 0);
    return list.data;
  }

  async function openEndpoint(id) {
    selected = await api("GET", "/endpoint/" + encodeURIComponent(id));
    lastAttempts = "";
    $("endpoint").classList.remove("hidden");
    $("endpoint-url").textContent = selected.url;
    $("endpoint-meta").textContent = selected.id + " · " + selected.status + (selected.description ? " · " + selected.description : "");
    $("secret").textContent = "••••••••••••••••";
    $("reveal").textContent = "Reveal";
    const types = selected.filterTypes || selected.eventTypes || [];
    $("edit-types").elements.eventTypes.value = types.join(", ");
    const testType = $("send-test").elements.eventType;
    const pattern = types.find((t) => t.endsWith(".*"));
    testType.value = types.find((t) => !t.includes("*")) || (pattern ? pattern.slice(0, -1) + "test" : "test.event");
    $("toggle").textContent = selected.disabled ? "Enable endpoint" : "Disable endpoint";
    $("toggle").className = selected.disabled ? "secondary" : "danger";
    hideForbidden($("endpoint"));
    $("transformation-event-type").value = testType.value;
    if (allowed("ManageTransformations")) await endpointEditor.load();
    await loadEndpoints();
    await loadAttempts();
    clearInterval(refreshTimer);
    refreshTimer = setInterval(() => loadAttempts().catch(() => {}), REFRESH_MS);
  }

  async function loadAttempts() {
    if (!selected) return;
    const list = await api("GET", "/attempt/endpoint/" + encodeURIComponent(selected.id) + "?with_msg=true&limit=" + ATTEMPTS_SHOWN);
    // Each message's delivery to this endpoint: a failed attempt whose delivery is still pending
    // is "retrying", with when it goes next, not a final failure.
    const log = await api("GET", "/endpoint/" + encodeURIComponent(selected.id) + "/msg?limit=" + ATTEMPTS_SHOWN);
    const deliveries = new Map(log.data.map((m) => [m.id, m]));
    const snapshot = JSON.stringify([list.data, log.data]);
    if (snapshot === lastAttempts) return;
    lastAttempts = snapshot;
    const body = $("attempts").querySelector("tbody");
    body.replaceChildren(...list.data.map((attempt) => {
      const msg = attempt.msg || {};
      const payload = el("details", {}, el("summary", {}, msg.eventType || attempt.msgId),
        el("pre", {}, JSON.stringify(msg.payload || {}, null, 2)),
        el("p", { class: "muted" }, "Response: " + (attempt.response || "(empty)")));
      const again = el("button", { type: "button", class: "secondary small", "data-needs": "CreateAttempts", onclick: () => resend(attempt.msgId) }, "Resend");
      const delivery = deliveries.get(attempt.msgId);
      const retrying = attempt.statusText === "fail" && delivery && delivery.statusText === "pending" && delivery.nextAttempt;
      const status = retrying
        ? el("span", {}, el("span", { class: "badge wait" }, "retrying"), " next at ", when(delivery.nextAttempt))
        : badge(attempt.statusText);
      return el("tr", { "data-attempt": attempt.id },
        el("td", {}, when(attempt.timestamp)), el("td", {}, status),
        el("td", {}, answerText(attempt)),
        el("td", {}, payload), el("td", {}, again));
    }));
    $("attempts").classList.toggle("hidden", list.data.length === 0);
    $("attempts-empty").classList.toggle("hidden", list.data.length !== 0);
    hideForbidden($("attempts"));
  }

  function transformationPath() {
    return "/endpoint/" + encodeURIComponent(selected.id) + "/transformation";
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
    return "/destination/" + encodeURIComponent(destination.id);
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

  async function loadDestinations() {
    const list = await api("GET", "/destination?limit=250");
    const body = $("destinations").querySelector("tbody");
    body.replaceChildren(...list.data.map((d) => {
      const link = el("a", { href: "#", onclick: (event) => { event.preventDefault(); act(() => openDestination(d.id)); } }, d.uid || d.id);
      const columns = destinationColumns(d);
      const row = el("tr", { "data-id": d.id }, el("td", { class: "name" }, link),
        ...Object.entries(columns).map(([name, value]) => el("td", { class: ["Lag", "Batch size"].includes(name) ? "num" : "" }, value)));
      if (destination && destination.id === d.id) row.className = "selected";
      return row;
    }));
    $("destinations-section").classList.toggle("hidden", list.data.length === 0);
    return list.data;
  }

  async function openDestination(id) {
    const opening = !destination || destination.id !== id;
    destination = await api("GET", "/destination/" + encodeURIComponent(id));
    const fifo = destination.type === "fifoEndpoint";
    $("destination").classList.remove("hidden");
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
      clearInterval(destinationTimer);
      destinationTimer = setInterval(() => refreshDestination().catch(() => {}), REFRESH_MS);
    }
    await loadDestinations();
    if (fifo) await loadDestinationAttempts();
  }

  // The open destination's state and batches, as they change (the editor is left alone).
  async function refreshDestination() {
    if (destination) await openDestination(destination.id);
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
      await openDestination(destination.id);
    });
  }

  // The event-type catalog, grouped by the part of each name before its first dot; each type
  // with its description, newest schema and first example, and a button that subscribes to it.
  async function loadCatalog() {
    const types = [];
    let iterator = null;
    do {
      const page = await request("GET", "/api/v1/event-type?limit=250" + (iterator ? "&iterator=" + encodeURIComponent(iterator) : ""));
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
          const subscribe = el("button", { type: "button", class: "secondary small", "data-needs": "ManageEndpoint",
            onclick: () => subscribeTo(type.name) }, "Subscribe");
          return el("details", { class: "event-type", "data-name": type.name },
            el("summary", {}, el("code", {}, type.name), type.deprecated ? el("span", { class: "badge wait" }, "deprecated") : null,
              el("span", { class: "muted" }, " " + (type.description || "")), " ", subscribe),
            schema ? el("div", {}, el("p", { class: "muted" }, "Schema (version " + versions[versions.length - 1] + ")"),
              el("pre", {}, JSON.stringify(schema, null, 2))) : el("p", { class: "muted" }, "No schema published."),
            example ? el("div", {}, el("p", { class: "muted" }, "Example"), el("pre", {}, JSON.stringify(example, null, 2))) : null);
        }))));
    $("catalog").classList.toggle("hidden", types.length === 0);
    hideForbidden($("catalog"));
  }

  // Adds an event type to the endpoint form in view: the open endpoint's, or the new one's.
  function subscribeTo(name) {
    const form = selected && !$("endpoint").classList.contains("hidden") ? $("edit-types") : $("add-endpoint");
    const input = form.elements.eventTypes;
    const current = splitTypes(input.value);
    if (!current.includes(name)) input.value = [...current, name].join(", ");
    input.focus();
    say("Added " + name + (form.id === "edit-types" ? ": save the event types to subscribe." : " to the new endpoint's event types."));
  }

  async function resend(msgId) {
    await act(async () => {
      await api("POST", "/msg/" + encodeURIComponent(msgId) + "/endpoint/" + encodeURIComponent(selected.id) + "/resend");
      say("Resend queued.");
      await loadAttempts();
    });
  }

  // Runs an action, reporting its failure in the status line instead of throwing.
  async function act(action) {
    try { await action(); } catch (error) { say(error.message, true); }
  }

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
        say("Endpoint added.");
        await openEndpoint(created.id);
      });
    });
    $("edit-types").addEventListener("submit", (event) => {
      event.preventDefault();
      act(async () => {
        const types = splitTypes(event.target.elements.eventTypes.value);
        await api("PATCH", "/endpoint/" + encodeURIComponent(selected.id), { eventTypes: types.length ? types : null });
        say("Event types saved.");
        await openEndpoint(selected.id);
      });
    });
    $("send-test").addEventListener("submit", (event) => {
      event.preventDefault();
      act(async () => {
        const eventType = event.target.elements.eventType.value.trim();
        await api("POST", "/endpoint/" + encodeURIComponent(selected.id) + "/send-example", { eventType });
        say("Test event sent.");
        await loadAttempts();
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
        $("secret").textContent = "••••••••••••••••";
        $("reveal").textContent = "Reveal";
        return;
      }
      const secret = await api("GET", "/endpoint/" + encodeURIComponent(selected.id) + "/secret");
      $("secret").textContent = secret.key;
      $("reveal").textContent = "Hide";
    }));
    $("rotate").addEventListener("click", () => act(async () => {
      if (!confirm("Rotate the signing secret? The old one keeps signing for 24 hours.")) return;
      const secret = await api("POST", "/endpoint/" + encodeURIComponent(selected.id) + "/secret/rotate", {});
      $("secret").textContent = secret.key;
      $("reveal").textContent = "Hide";
      say("Secret rotated; the previous one stays valid for 24 hours.");
    }));
    $("toggle").addEventListener("click", () => act(async () => {
      await api("PATCH", "/endpoint/" + encodeURIComponent(selected.id), { disabled: !selected.disabled });
      say(selected.disabled ? "Endpoint enabled." : "Endpoint disabled.");
      await openEndpoint(selected.id);
    }));
  }

  async function start() {
    session = readSession();
    if (!session || !session.token || !session.app) {
      showNoToken();
      return;
    }
    wire();
    await act(async () => {
      capabilities = (await request("GET", "/api/v1/auth/token")).capabilities;
      hideForbidden(document);
      const app = await api("GET", "");
      $("app-name").textContent = app.name;
      document.title = "Webhooks · " + app.name;
      $("portal").classList.remove("hidden");
      await loadEndpoints();
      await loadDestinations();
      await loadCatalog();
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
