// An endpoint's settings form (url, description, event types, channels, rate limit, filter):
// filled from the endpoint and turned into the patch it asks for (endpoints.js saves it), and
// the filter's test: the filter typed in the settings, saved or not, run on a message.
import { api } from "./api.js";
import { $, el, fieldError, formAct } from "./dom.js";
import { sameList, splitTypes } from "./format.js";
import { lockForm, state } from "./state.js";

export function fillSettings() {
  const selected = state.selected;
  const form = $("endpoint-settings");
  form.elements.url.value = selected.url;
  form.elements.description.value = selected.description || "";
  form.elements.eventTypes.value = (selected.filterTypes || selected.eventTypes || []).join(", ");
  form.elements.channels.value = (selected.channels || []).join(", ");
  form.elements.rateLimit.value = selected.throttleRate === null || selected.throttleRate === undefined ? "" : String(selected.throttleRate);
  form.elements.filter.value = selected.filter || "";
  lockForm(form);
}

// What the settings form changes, in the names EndpointPatch reads. A rate limit that is not
// a whole number is sent as typed, for the API to refuse and name.
export function settingsPatch(form, endpoint) {
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

// The filter's test: the filter typed in the settings (saved or not) on a message.
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
    : state.examples.has(input.eventType) ? "the catalog's example of " + input.eventType
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

export function wireFilterTest() {
  $("filter-test").addEventListener("submit", (event) => {
    event.preventDefault();
    testFilter(event.target);
  });
}
