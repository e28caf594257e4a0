// The portal's shared state: the session, what its token may do, and the endpoint and
// destination whose pages were last open. Modules read and write it here rather than pass it
// along; what only one module uses stays in that module. Also what the token's capabilities
// allow on the page (`data-needs`), since that reads the state and nothing else.
import { enc } from "./dom.js";

export const state = {
  session: null, // {token, app, theme}, from the link (main.js)
  appName: "",
  capabilities: [], // what the token may do (Svix's names), from /api/v1/auth/token
  selected: null, // the endpoint whose page was last open
  destination: null, // the destination whose page was last open
  shownPage: null, // the page in view (router.js)
  lastAttempts: "", // the endpoint's attempts as last drawn: redrawn only when they change
  lastMessage: "", // the message's deliveries and attempts as last drawn
  subscribeTarget: "add-endpoint", // the endpoint form the catalog's "Subscribe" fills
  examples: new Map(), // each catalogued event type's first example, for the filter test
  endpointEditor: null, // the two transformation editors (transformation.js)
  destinationEditor: null,
};

// Whether the token holds any of `needs` (space-separated capability names).
export function allowed(needs) {
  return needs.split(" ").some((name) => state.capabilities.includes(name));
}

// Hides every control the token may not use (a read-only token shows no write control).
export function hideForbidden(root) {
  for (const node of root.querySelectorAll("[data-needs]")) {
    node.classList.toggle("hidden", !allowed(node.getAttribute("data-needs")));
  }
}

// A form of the endpoint's settings is shown to every token, and editable only with
// ManageEndpoint.
export function lockForm(form) {
  const writable = allowed("ManageEndpoint");
  for (const input of form.querySelectorAll("input, textarea")) input.readOnly = !writable;
  for (const select of form.querySelectorAll("select")) select.disabled = !writable;
}

// The API path of the endpoint whose page is open.
export function endpointPath() {
  return "/endpoint/" + enc(state.selected.id);
}

// The API path of the destination whose page is open.
export function destinationPath() {
  return "/destination/" + enc(state.destination.id);
}
