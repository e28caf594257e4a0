// The JSON API, called as the link's token: `Authorization: Bearer hwp_…` and no cookie, so
// the API's scope check is the only gatekeeper. A 401 shows the no-token notice; any other
// failure throws an Error carrying the API's text, status and body.
import { enc, locText, say, showNoToken } from "./dom.js";
import { endpointPath, state } from "./state.js";

// How many rows a page asks the API for.
export const ATTEMPTS_SHOWN = 50;
export const ENDPOINTS_SHOWN = 250;

// A call under the application: `path` is relative to /api/v1/app/{app}.
export async function api(method, path, body) {
  return request(method, "/api/v1/app/" + enc(state.session.app) + path, body);
}

// Saves `patch` on the endpoint shown and keeps the answer as `state.selected`; an empty patch
// says "Nothing changed." and answers false instead.
export async function patchEndpoint(patch) {
  if (Object.keys(patch).length === 0) {
    say("Nothing changed.");
    return false;
  }
  state.selected = await api("PATCH", endpointPath(), patch);
  return true;
}

export async function request(method, url, body) {
  const headers = { Authorization: "Bearer " + state.session.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit",
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (response.status === 401) {
    showNoToken();
    throw new Error("access expired");
  }
  if (!response.ok) {
    const error = new Error(errorText(data, response.status));
    error.status = response.status;
    error.body = data;
    throw error;
  }
  return data;
}

function errorText(body, status) {
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => (locText(d.loc) ? locText(d.loc) + ": " : "") + d.msg).join("; ");
  }
  if (body && body.detail) return String(body.detail);
  return "request failed (HTTP " + status + ")";
}
