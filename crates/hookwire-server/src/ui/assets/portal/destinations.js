// Destinations: the list (the nav shows it once there is one) and a destination's page —
// status, lag, next retry, failure, pause or enable, and for a FIFO endpoint skip, force-retry,
// its transformation and its batches.
import { api, ATTEMPTS_SHOWN } from "./api.js";
import { $, act, el, enc, say } from "./dom.js";
import { answerText, badge, REASON_CHARS, typesText, when } from "./format.js";
import { every } from "./router.js";
import { allowed, destinationPath, hideForbidden, state } from "./state.js";

const LAG_COUNT_MAX = 100000; // the API counts a destination's lag up to this
let lastDestinationAttempts = "";

// Whether a destination is stopped (its toggle enables it).
function stopped(d) {
  return d.status === "paused" || d.status === "disabled";
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

export async function showDestinations(_query, current) {
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

export async function showDestination(id, _query, current) {
  await refreshDestination(id);
  if (current()) every(() => refreshDestination(id));
}

// The destination's state and batches, as they change (the editor is loaded once per
// destination and then left alone).
async function refreshDestination(id) {
  const opening = !state.destination || state.destination.id !== id;
  state.destination = await api("GET", "/destination/" + enc(id));
  const destination = state.destination;
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
    if (fifo && allowed("ManageTransformations")) await state.destinationEditor.load();
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
    await refreshDestination(state.destination.id);
  });
}

export function wireDestinations() {
  $("destination-toggle").addEventListener("click", () => {
    const enabling = stopped(state.destination);
    steer("PATCH", "", { status: enabling ? "enabled" : "paused" }, enabling ? "Destination enabled." : "Destination paused.");
  });
  $("destination-skip").addEventListener("click", () => {
    if (!confirm("Skip the backlog? The messages waiting now are never sent to this destination.")) return;
    steer("POST", "/skip", {}, "Backlog skipped: sending continues from the end of the log.");
  });
  $("destination-retry").addEventListener("click", () => steer("POST", "/force-retry", {}, "Retry forced: the current batch goes again now."));
}
