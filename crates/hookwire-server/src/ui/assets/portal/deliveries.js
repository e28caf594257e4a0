// Deliveries and their attempts: an endpoint's attempts (each with its message) and a
// message's delivery to each endpoint with every attempt, their statuses (a failed attempt
// still due again is "retrying"), and resending a message to an endpoint from either page.
import { api, ATTEMPTS_SHOWN, ENDPOINTS_SHOWN } from "./api.js";
import { $, act, el, enc, say } from "./dom.js";
import { answerText, badge, when } from "./format.js";
import { endpointPath, hideForbidden, state } from "./state.js";

export async function loadAttempts() {
  if (!state.selected) return;
  const list = await api("GET", "/attempt/endpoint/" + enc(state.selected.id) + "?with_msg=true&limit=" + ATTEMPTS_SHOWN);
  const log = await api("GET", endpointPath() + "/msg?limit=" + ATTEMPTS_SHOWN);
  const deliveries = new Map(log.data.map((m) => [m.id, m]));
  const snapshot = JSON.stringify([list.data, log.data]);
  if (snapshot === state.lastAttempts) return;
  state.lastAttempts = snapshot;
  const body = $("attempts").querySelector("tbody");
  body.replaceChildren(...list.data.map((attempt) => {
    const msg = attempt.msg || {};
    const payload = el("details", {}, el("summary", {}, msg.eventType || attempt.msgId),
      el("pre", {}, JSON.stringify(msg.payload || {}, null, 2)),
      el("p", { class: "muted" }, "Response: " + (attempt.response || "(empty)")),
      el("p", {}, el("a", { href: "#/logs/" + enc(attempt.msgId) }, "Open message " + attempt.msgId)));
    const again = el("button", { type: "button", class: "secondary small", "data-needs": "CreateAttempts", onclick: () => resend(attempt.msgId, state.selected.id) }, "Resend");
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
    if (state.shownPage === "message") await loadMessageDeliveries(msgId);
    else await loadAttempts();
  });
}

export async function loadMessageDeliveries(msgId) {
  const deliveries = await api("GET", "/msg/" + enc(msgId) + "/endpoint?limit=" + ENDPOINTS_SHOWN);
  const attempts = await api("GET", "/attempt/msg/" + enc(msgId) + "?limit=" + ATTEMPTS_SHOWN);
  const snapshot = JSON.stringify([deliveries.data, attempts.data]);
  if (snapshot === state.lastMessage) return;
  state.lastMessage = snapshot;
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
