// The transformation editor, one for an endpoint and one for a FIFO destination: the code
// saved, removed or kept disabled, and a test that simulates it on a typed event (or, for a
// destination, on the next batch waiting) and shows what would be sent and the console.
import { api } from "./api.js";
import { $, act, say } from "./dom.js";
import { destinationPath, endpointPath, state } from "./state.js";

const TRANSFORMATION_TEMPLATE =
  "function handler(webhook) {\n  // webhook: {method, url, eventType, payload, variables, cancel}\n  return webhook;\n}\n";
const DESTINATION_TEMPLATE =
  "function handler(input) {\n  // input: {url, variables, events: [{eventType, payload}]}\n  return input.events;\n}\n";

// Makes both editors (once the page is there); the endpoint's and destination's pages load
// them when they open.
export function wireTransformations() {
  state.endpointEditor = endpointTransformation();
  state.destinationEditor = destinationTransformation();
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
    verdict: (out) => ["Would send POST " + ((state.destination.config && state.destination.config.url) || ""),
      typeof out.payload === "string" ? out.payload : JSON.stringify(out.payload, null, 2)],
  });
}
