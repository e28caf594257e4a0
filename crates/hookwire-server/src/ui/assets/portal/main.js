// Hookwire customer portal: the entry module (served as is; there is no build). Reads the
// application-scoped token from the URL fragment (#token=hwp_…&app=app_…[&theme=…]), keeps it
// in sessionStorage, removes it from the address bar, and drives the JSON API with it. Pages
// have their own addresses, routes in the fragment that always start with a slash
// (#/endpoints, #/logs/msg_…), so a route is never read as a token. All text goes into the
// page through textContent, never as HTML; the theme goes in through CSS custom properties
// and a class, never a style attribute.
import { showActivity } from "./activity.js";
import { api, request } from "./api.js";
import { loadCatalog, showCatalog } from "./catalog.js";
import { showDestination, showDestinations, wireDestinations } from "./destinations.js";
import { $, act, showNoToken } from "./dom.js";
import { showEndpoint, showEndpoints, wireEndpoints } from "./endpoints.js";
import { wireHeaders } from "./headers.js";
import { showLogs, showMessage, wireLogs } from "./logs.js";
import { wireRetries } from "./retries.js";
import { DEFAULT_ROUTE, startRouter, watchHeight } from "./router.js";
import { wireFilterTest } from "./settings.js";
import { wireSignature } from "./signature.js";
import { hideForbidden, state } from "./state.js";
import { applyTheme, parseTheme } from "./theme.js";
import { wireTransformations } from "./transformation.js";

const STORAGE_KEY = "hookwire-portal";

// #/page[/id][?query]: each page's address, its section (`page-…`), its nav link and title.
const ROUTES = [
  { pattern: /^\/endpoints$/, page: "endpoints", nav: "endpoints", title: "Endpoints", show: showEndpoints },
  { pattern: /^\/endpoints\/([^/]+)$/, page: "endpoint", nav: "endpoints", title: "Endpoint", show: showEndpoint },
  { pattern: /^\/logs$/, page: "logs", nav: "logs", title: "Logs", show: showLogs },
  { pattern: /^\/logs\/([^/]+)$/, page: "message", nav: "logs", title: "Message", show: showMessage },
  { pattern: /^\/activity$/, page: "activity", nav: "activity", title: "Activity", show: showActivity },
  { pattern: /^\/catalog$/, page: "catalog", nav: "catalog", title: "Event catalog", show: showCatalog },
  { pattern: /^\/destinations$/, page: "destinations", nav: "destinations", title: "Destinations", show: showDestinations },
  { pattern: /^\/destinations\/([^/]+)$/, page: "destination", nav: "destinations", title: "Destination", show: showDestination },
];

// The fragment is either a link's `token=…&app=…[&theme=…]`, read once and then dropped, or a
// page's route, which starts with a slash: the two never mix.
function readSession() {
  const fragment = location.hash.replace(/^#/, "");
  if (!fragment.startsWith("/")) {
    const params = new URLSearchParams(fragment);
    if (params.get("token")) {
      const fresh = { token: params.get("token"), app: params.get("app"), theme: parseTheme(params.get("theme")) };
      try { sessionStorage.setItem(STORAGE_KEY, JSON.stringify(fresh)); } catch (_) { /* storage may be blocked in frames */ }
      history.replaceState(null, "", location.pathname + location.search + "#" + DEFAULT_ROUTE);
      return fresh;
    }
  }
  try { return JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null"); } catch (_) { return null; }
}

// Every form and button the pages share, wired once.
function wire() {
  wireEndpoints();
  wireSignature();
  wireRetries();
  wireFilterTest();
  wireHeaders();
  wireLogs();
  wireTransformations();
  wireDestinations();
}

async function start() {
  state.session = readSession();
  const session = state.session;
  if (!session || !session.token || !session.app) {
    showNoToken();
    return;
  }
  applyTheme(session.theme);
  watchHeight();
  wire();
  await act(async () => {
    state.capabilities = (await request("GET", "/api/v1/auth/token")).capabilities;
    hideForbidden(document);
    const app = await api("GET", "");
    state.appName = app.name;
    await loadCatalog();
    const destinations = await api("GET", "/destination?limit=1");
    $("nav-destinations").classList.toggle("hidden", destinations.data.length === 0);
    // Shown only once the router follows the address (it listens before its first page has
    // loaded): a link followed before that would change the page with nobody listening, and
    // focus would not move to the new page's heading.
    const routing = startRouter(ROUTES);
    $("app-name").textContent = app.name;
    $("portal").classList.remove("hidden");
    $("nav").classList.remove("hidden");
    await routing;
  });
}

document.addEventListener("DOMContentLoaded", start);
