// An endpoint's retries and timeout: its `retryPolicy` and `timeoutMs`, the form for them,
// and what they come to spelled out (the default schedule when it sets none).
import { patchEndpoint } from "./api.js";
import { $, fieldError, formAct, say, showWhen } from "./dom.js";
import { splitTypes } from "./format.js";
import { lockForm, state } from "./state.js";

// What an endpoint without its own retryPolicy or timeoutMs gets: hookwire-core's
// retry::DEFAULT_SCHEDULE_SECONDS, JITTER_FRACTION and limits::DELIVERY_TIMEOUT_MS_DEFAULT
// (tests/ui.rs checks that they agree).
const DEFAULT_RETRY_SCHEDULE_SECONDS = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];
const DEFAULT_RETRY_JITTER_PERCENT = 20;
const DEFAULT_TIMEOUT_MS = 15000;
const DURATION_UNITS = [["d", 86400, "d"], ["h", 3600, "h"], ["m", 60, "min"], ["s", 1, "s"]];

export function fillRetries() {
  const form = $("endpoint-retries");
  const policy = state.selected.retryPolicy;
  const fixed = policy && !policy.schedule;
  form.elements.retryMode.value = !policy ? "default" : (fixed ? "fixed" : "schedule");
  form.elements.schedule.value = policy && policy.schedule ? policy.schedule.map(durationInput).join(", ") : "";
  form.elements.maxRetries.value = fixed ? String(policy.maxRetries) : "";
  form.elements.intervalMs.value = fixed ? String(policy.intervalMs) : "";
  form.elements.timeoutMs.value = numberText(state.selected.timeoutMs);
  showWhen(form, "data-modes", form.elements.retryMode.value);
  $("retries-current").textContent = retryText(policy) + " " + timeoutText(state.selected.timeoutMs);
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
  if (!(await patchEndpoint(retriesPatch(form, state.selected)))) return;
  fillRetries();
  say("Retries saved. " + $("retries-current").textContent);
}

export function wireRetries() {
  $("endpoint-retries").addEventListener("submit", (event) => {
    event.preventDefault();
    formAct(event.target, "retries-errors", () => saveRetries(event.target));
  });
  $("endpoint-retries").elements.retryMode.addEventListener("change", showRetryMode);
}
