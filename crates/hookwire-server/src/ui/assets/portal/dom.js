// The page's building blocks: finding and making elements (text only ever as text nodes or
// textContent, never HTML), the status line, and a form's errors shown beside it. Knows
// nothing of the API or the session.

// The API's names for a form's fields, where they differ from the form's (PATCH aliases).
// (`headers`: the header form's name field, for an error about one header.)
const FIELD_ALIASES = { throttleRate: "rateLimit", filterTypes: "eventTypes", headers: "name" };

export const $ = (id) => document.getElementById(id);
export const enc = encodeURIComponent;

export function el(tag, props, ...children) {
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

export function say(text, isError) {
  const status = $("status");
  status.textContent = text;
  status.className = isError ? "error" : (text ? "notice" : "");
}

// Runs an action, reporting its failure in the status line instead of throwing.
export async function act(action) {
  try { await action(); } catch (error) { say(error.message, true); }
}

export function showNoToken() {
  $("portal").classList.add("hidden");
  $("nav").classList.add("hidden");
  $("no-token").classList.remove("hidden");
}

// Where a validation error points, without the "body"/"query" part: `rateLimit`.
export function locText(loc) {
  return (loc || []).filter((part, index) => index > 0 || (part !== "body" && part !== "query")).join(".");
}

// Runs a form's action; a failure is shown next to the form, each field the API (or the
// check before it) names marked invalid and named in the message.
export async function formAct(form, box, action) {
  clearErrors(form, box);
  try { await action(); } catch (error) { showErrors(form, box, error); }
}

export function clearErrors(form, box) {
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
  }
  $(box).replaceChildren();
  $(box).classList.add("hidden");
}

function showErrors(form, box, error) {
  const details = error.body && Array.isArray(error.body.detail) ? error.body.detail : [];
  const lines = details.length ? details.map((detail) => {
    const loc = detail.loc || [];
    const input = fieldOf(form, loc);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", box);
    }
    // The form's name for the field when the error is about the field itself; the API's
    // path when it is about a part of it (`headers.Host`).
    const last = String(loc[loc.length - 1]);
    const where = input && (FIELD_ALIASES[last] || last) === input.name ? input.name : locText(loc);
    const msg = String(detail.msg);
    return !where || msg.startsWith(where + ":") || msg.startsWith(last + ":") ? msg : where + ": " + msg;
  }) : [error.message];
  $(box).replaceChildren(...lines.map((line) => el("p", {}, line)));
  $(box).classList.remove("hidden");
}

// The form field an error's `loc` names (its last part that is one of the form's fields).
function fieldOf(form, loc) {
  for (const part of [...loc].reverse()) {
    const name = FIELD_ALIASES[part] || String(part);
    const input = form.elements.namedItem(name);
    if (input && input.name === name) return input;
  }
  return null;
}

// An error a check in this script finds in a field, shaped like the API's 422.
export function fieldError(loc, msg) {
  const error = new Error(loc + ": " + msg);
  error.body = { detail: [{ loc: ["query", loc], msg }] };
  return error;
}

// Shows the parts of `form` whose `attribute` (a space-separated list) names `value`.
export function showWhen(form, attribute, value) {
  for (const node of form.querySelectorAll("[" + attribute + "]")) {
    node.classList.toggle("hidden", !node.getAttribute(attribute).split(" ").includes(value));
  }
}
