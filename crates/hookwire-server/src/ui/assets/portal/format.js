// How values are shown and read back: status badges, an attempt's answer, lists of names and
// times (in UTC, as the dashboard shows them).
import { el, fieldError } from "./dom.js";

// How much of a failure's text a table shows.
export const REASON_CHARS = 120;

export function badge(text) {
  const kind = {
    success: "ok", active: "ok", fail: "bad", pending: "wait", sending: "wait", unverified: "wait",
    enabled: "ok", retrying: "wait", succeeded: "ok", failed: "bad",
  }[text] || "muted";
  return el("span", { class: "badge " + kind }, text);
}

// An attempt's outcome (an endpoint's or a destination's batch): its status code, or why
// there was no answer.
export function answerText(attempt) {
  if (attempt.responseStatusCode) return "HTTP " + attempt.responseStatusCode;
  return attempt.errorKind ? attempt.errorKind + ": " + (attempt.response || "").slice(0, REASON_CHARS) : "no answer";
}

export function typesText(types) {
  return types && types.length ? types.join(", ") : "all";
}

export function splitTypes(text) {
  return text.split(",").map((t) => t.trim()).filter(Boolean);
}

export function sameList(a, b) {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

// Times in UTC, as the dashboard shows them (the local time is in the tooltip).
export function when(iso) {
  const date = new Date(iso);
  const utc = date.toISOString().slice(0, 19).replace("T", " ") + " UTC";
  return el("time", { datetime: iso, title: date.toLocaleString() }, utc);
}

// A typed time as RFC 3339: ISO with a zone, or without one (taken as UTC, as on screen),
// or a day (its UTC midnight).
export function isoTime(field, text) {
  const zoned = /(?:Z|[+-]\d\d:?\d\d)$/i.test(text);
  const day = /^\d{4}-\d\d-\d\d$/.test(text);
  const date = new Date(zoned ? text : text + (day ? "T00:00:00Z" : "Z"));
  if (!/^\d{4}-\d\d-\d\d/.test(text) || Number.isNaN(date.getTime())) {
    throw fieldError(field, JSON.stringify(text) + " is not a time: use 2026-01-31T12:00:00Z");
  }
  return date.toISOString();
}
