// The event catalog (#/catalog): every event type, grouped, with its description, newest
// schema and first example (kept for the filter test), and a button that adds it to the
// endpoint form last in view.
import { request } from "./api.js";
import { $, el, enc, say } from "./dom.js";
import { splitTypes } from "./format.js";
import { hideForbidden, state } from "./state.js";

export async function showCatalog() {
  await loadCatalog();
}

// The event-type catalog, grouped by the part of each name before its first dot; each type
// with its description, newest schema and first example, and a button that subscribes to it.
export async function loadCatalog() {
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
        if (example) state.examples.set(type.name, example);
        else state.examples.delete(type.name);
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
  const selected = state.selected;
  const settings = state.subscribeTarget === "endpoint-settings" && selected;
  const form = settings ? $("endpoint-settings") : $("add-endpoint");
  const input = form.elements.eventTypes;
  const current = splitTypes(input.value);
  if (!current.includes(name)) input.value = [...current, name].join(", ");
  say(settings
    ? "Added " + name + " to the event types of " + selected.url + ": save its settings to subscribe."
    : "Added " + name + " to the new endpoint's event types.");
}
