// An endpoint's custom headers: the table (sensitive ones write-only), the form that sets
// one, and each row's Remove.
import { api } from "./api.js";
import { $, el, formAct, say } from "./dom.js";
import { endpointPath, hideForbidden } from "./state.js";

export async function loadHeaders() {
  const out = await api("GET", endpointPath() + "/headers");
  const remove = (name) => el("button", { type: "button", class: "secondary small", "data-needs": "ManageEndpoint",
    "aria-label": "Remove header " + name, onclick: () => removeHeader(name) }, "Remove");
  const rows = [
    ...Object.entries(out.headers).map(([name, value]) => el("tr", { "data-header": name },
      el("td", {}, el("code", {}, name)), el("td", {}, el("code", {}, value)), el("td", {}, remove(name)))),
    ...out.sensitive.map((name) => el("tr", { "data-header": name },
      el("td", {}, el("code", {}, name)), el("td", { class: "muted" }, "•••• (write-only)"), el("td", {}, remove(name)))),
  ];
  $("headers").querySelector("tbody").replaceChildren(...rows);
  $("headers").classList.toggle("hidden", rows.length === 0);
  $("headers-empty").classList.toggle("hidden", rows.length !== 0);
  hideForbidden($("headers"));
}

async function removeHeader(name) {
  await formAct($("add-header"), "headers-errors", async () => {
    await api("PATCH", endpointPath() + "/headers", { headers: {}, deleteHeaders: [name] });
    say("Header " + name + " removed.");
    await loadHeaders();
  });
}

export function wireHeaders() {
  $("add-header").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    formAct(form, "headers-errors", async () => {
      const name = form.elements.name.value.trim();
      await api("PATCH", endpointPath() + "/headers", { headers: { [name]: form.elements.value.value } });
      form.reset();
      say("Header " + name + " set.");
      await loadHeaders();
    });
  });
}
