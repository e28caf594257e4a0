// Logs: every message of the application, filtered, a page at a time (#/logs?…), found by
// id or eventId, and one message's page (#/logs/{msg}): its facts, its payload and its
// deliveries.
import { api } from "./api.js";
import { loadMessageDeliveries } from "./deliveries.js";
import { $, el, enc, formAct } from "./dom.js";
import { isoTime, splitTypes, when } from "./format.js";
import { every, go } from "./router.js";
import { state } from "./state.js";

const MESSAGES_PER_PAGE = 25;
const LOG_FILTERS = ["event_types", "status", "tag", "channel", "after", "before"];
let lastLogs = "#/logs"; // the logs page last shown, filters and all: a message's way back

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

export async function showLogs(query, current) {
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
export async function showMessage(id, _query, current) {
  $("message-back").setAttribute("href", lastLogs);
  const message = await api("GET", "/msg/" + enc(id));
  state.lastMessage = "";
  $("message-title").textContent = message.eventType + " · " + message.id;
  document.title = message.eventType + " · " + state.appName;
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

export function wireLogs() {
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
}
