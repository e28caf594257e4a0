// The endpoints: the list with the form that adds one, and an endpoint's page — its facts,
// enable or disable, delete, a test event, and saving its settings. Opening an endpoint fills
// the forms the other endpoint modules own (settings, signature, retries, headers, the
// transformation) and draws its attempts and activity.
import { drawActivity, PERIODS } from "./activity.js";
import { api, ENDPOINTS_SHOWN, patchEndpoint } from "./api.js";
import { loadAttempts } from "./deliveries.js";
import { $, act, clearErrors, el, enc, formAct, say } from "./dom.js";
import { badge, splitTypes, typesText } from "./format.js";
import { loadHeaders } from "./headers.js";
import { fillRetries } from "./retries.js";
import { every, go } from "./router.js";
import { fillSettings, settingsPatch } from "./settings.js";
import { fillSignature, hideSecret } from "./signature.js";
import { allowed, endpointPath, hideForbidden, state } from "./state.js";

export async function showEndpoints() {
  state.subscribeTarget = "add-endpoint";
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

// An endpoint's page. Coming back to the endpoint last open keeps what was typed in its
// forms (an event type added from the catalog, say); another endpoint fills them afresh.
export async function showEndpoint(id, _query, current) {
  const opening = !state.selected || state.selected.id !== id;
  state.selected = await api("GET", "/endpoint/" + enc(id));
  state.subscribeTarget = "endpoint-settings";
  showEndpointFacts();
  if (opening) {
    state.lastAttempts = "";
    hideSecret();
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
    if (allowed("ManageTransformations")) await state.endpointEditor.load();
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
  const selected = state.selected;
  $("endpoint-url").textContent = selected.url;
  $("endpoint-meta").textContent = selected.id + " · " + selected.status + (selected.description ? " · " + selected.description : "");
  $("toggle").textContent = selected.disabled ? "Enable endpoint" : "Disable endpoint";
  $("toggle").classList.toggle("secondary", selected.disabled);
  $("toggle").classList.toggle("danger", !selected.disabled);
  document.title = selected.url + " · " + state.appName;
}

// A test event the endpoint is subscribed to: one of its types, or one a wildcard covers.
function fillTestType() {
  const types = state.selected.filterTypes || state.selected.eventTypes || [];
  const pattern = types.find((t) => t.endsWith(".*"));
  $("send-test").elements.eventType.value =
    types.find((t) => !t.includes("*")) || (pattern ? pattern.slice(0, -1) + "test" : "test.event");
}

export function wireEndpoints() {
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
  // Saving the settings redraws the page's facts and the test event's type, so it is wired
  // here rather than in settings.js.
  $("endpoint-settings").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    formAct(form, "settings-errors", async () => {
      const patch = settingsPatch(form, state.selected);
      if (!(await patchEndpoint(patch))) return;
      fillSettings();
      if (patch.eventTypes !== undefined) fillTestType();
      showEndpointFacts();
      say("Settings saved.");
    });
  });
  $("delete-endpoint").addEventListener("click", () => act(async () => {
    if (!confirm("Delete the endpoint " + state.selected.url + "? It receives nothing more, and this cannot be undone.")) return;
    await api("DELETE", endpointPath());
    state.selected = null;
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
  $("toggle").addEventListener("click", () => act(async () => {
    state.selected = await api("PATCH", endpointPath(), { disabled: !state.selected.disabled });
    showEndpointFacts();
    say(state.selected.disabled ? "Endpoint disabled." : "Endpoint enabled.");
  }));
}
