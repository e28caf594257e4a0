// The router: #/page[/id][?query]; Back and Forward are the browser's own. It shows the page
// the address names, refreshes that page while it is in view, and, in a frame, tells the
// parent page its height. It knows no page itself: main.js hands it the route table, so the
// pages can call go() and every() without a cycle of imports.
import { $, act, say } from "./dom.js";
import { state } from "./state.js";

export const DEFAULT_ROUTE = "/endpoints";
const REFRESH_MS = 2000;
const RESIZE_MESSAGE = "hookwire-portal-resize";

let routes = [];
let pageTimer = null; // refreshes the page in view; stopped on every page change
let renderCount = 0;
let notice = null; // said once the next page is shown
let lastHeight = 0;

// Starts following the address with `table` ({pattern, page, nav, title, show}), showing the
// page it names now.
export async function startRouter(table) {
  routes = table;
  window.addEventListener("hashchange", render);
  await render();
}

function currentRoute() {
  const fragment = location.hash.replace(/^#/, "");
  const mark = fragment.indexOf("?");
  const path = mark < 0 ? fragment : fragment.slice(0, mark);
  return { path, query: new URLSearchParams(mark < 0 ? "" : fragment.slice(mark + 1)) };
}

// Shows the page the address names (an unknown one: the endpoints).
async function render() {
  const { path, query } = currentRoute();
  const route = routes.find((r) => r.pattern.test(path));
  if (!route) {
    history.replaceState(null, "", location.pathname + location.search + "#" + DEFAULT_ROUTE);
    return render();
  }
  const turn = ++renderCount;
  clearInterval(pageTimer);
  say(notice || "");
  notice = null;
  const changed = state.shownPage !== null && state.shownPage !== route.page;
  state.shownPage = route.page;
  for (const page of document.querySelectorAll(".page")) page.classList.toggle("hidden", page.id !== "page-" + route.page);
  for (const link of $("nav").querySelectorAll("a")) {
    const current = link.getAttribute("data-page") === route.nav;
    link.classList.toggle("current", current);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  $("page-title").textContent = route.title;
  document.title = route.title + " · " + state.appName;
  const shown = $("page-" + route.page);
  shown.setAttribute("aria-busy", "true"); // until its data is in (screen readers wait)
  await act(async () => {
    const args = path.match(route.pattern).slice(1).map(decodeURIComponent);
    await route.show(...args, query, () => turn === renderCount);
  });
  if (turn !== renderCount) return; // a later page change owns the page now
  if (changed && !shown.contains(document.activeElement)) {
    // Keyboard and screen-reader users land on the new page's heading, unless they already
    // moved into the page while it loaded (a field being typed in keeps its focus).
    const heading = shown.querySelector("h2");
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
  shown.removeAttribute("aria-busy");
  postHeight(true);
}

// Goes to a page (a new history entry), saying `text` once it shows.
export function go(hash, text) {
  notice = text || null;
  if (location.hash === hash) render();
  else location.hash = hash;
}

// Refreshes the page in view every REFRESH_MS, until the page changes.
export function every(refresh) {
  clearInterval(pageTimer);
  pageTimer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
}

// In a frame, the page tells its parent how tall it is, on load and whenever that changes
// (a page change, new rows, a resize), so the parent can size the iframe to fit.
function postHeight(always) {
  if (window.parent === window) return;
  const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
  if (height === lastHeight && !always) return;
  lastHeight = height;
  window.parent.postMessage({ type: RESIZE_MESSAGE, height }, "*");
}

export function watchHeight() {
  if (window.parent === window) return;
  new ResizeObserver(() => postHeight(false)).observe(document.body);
  window.addEventListener("resize", () => postHeight(false));
  postHeight(true);
}
