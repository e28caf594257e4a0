// The link's theme: read from the fragment, each value checked again as the server checked
// it (a fragment can be edited by hand), and applied as CSS custom properties on the root
// element and a class, which the stylesheet reads. The CSP allows no style attribute, and the
// CSSOM calls below write none.
import { $ } from "./dom.js";

const FONT_FAMILY_CHARS_MAX = 100; // as the server checks theme.fontFamily
const HEX_COLOR = /^#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;
const FONT_FAMILY = /^[A-Za-z0-9 ,"'-]+$/;

export function parseTheme(text) {
  if (!text) return null;
  try {
    const theme = JSON.parse(text);
    return theme && typeof theme === "object" ? theme : null;
  } catch (_) { return null; }
}

export function applyTheme(theme) {
  if (!theme) return;
  const root = document.documentElement;
  if (typeof theme.primaryColor === "string" && HEX_COLOR.test(theme.primaryColor)) {
    root.style.setProperty("--portal-accent", theme.primaryColor);
  }
  const font = theme.fontFamily;
  if (typeof font === "string" && font.trim() && font.length <= FONT_FAMILY_CHARS_MAX && FONT_FAMILY.test(font)) {
    root.style.setProperty("--portal-font", font);
  }
  if (typeof theme.logoUrl === "string" && isHttpsUrl(theme.logoUrl)) {
    $("logo").src = theme.logoUrl;
    $("logo").classList.remove("hidden");
  }
  document.body.classList.toggle("dark", theme.darkMode === true);
}

function isHttpsUrl(text) {
  try { return new URL(text).protocol === "https:"; } catch (_) { return false; }
}
