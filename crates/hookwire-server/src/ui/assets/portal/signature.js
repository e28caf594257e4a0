// An endpoint's signing: its secret (or ed25519 public key), shown, hidden and rotated, and
// its `signature` setting, the form showing the fields the chosen scheme takes.
import { api, patchEndpoint } from "./api.js";
import { $, act, fieldError, formAct, say, showWhen } from "./dom.js";
import { endpointPath, lockForm, state } from "./state.js";

const HIDDEN_SECRET = "••••••••••••••••";

// Each signature scheme: its name in sentences, and what a receiver gets.
const SCHEMES = {
  standard: ["as Standard Webhooks",
    "webhook-id, webhook-timestamp and webhook-signature (v1: HMAC-SHA256 keyed with the whsec_ secret): any Standard Webhooks or Svix library verifies them."],
  ed25519: ["as Standard Webhooks with ed25519",
    "webhook-signature carries v1a, an ed25519 signature: receivers verify it with the public key (whpk_…) that Reveal shows above, and hold no secret."],
  hmac: ["with an HMAC in a header you name",
    "The HMAC of the signed content, keyed with the secret's text, encoded and prefixed as chosen, in the header you name."],
  "secret-header": ["with the secret in a header you name",
    "The secret itself, unsigned, in the header you name: only the endpoint's HTTPS keeps it private."],
};

// The secret masked again, as on opening an endpoint.
export function hideSecret() {
  $("secret").textContent = HIDDEN_SECRET;
  $("reveal").textContent = "Reveal";
}

export function fillSignature() {
  const form = $("endpoint-signature");
  const signature = state.selected.signature || { scheme: "standard" };
  form.elements.scheme.value = signature.scheme;
  form.elements.header.value = signature.header || "";
  form.elements.algorithm.value = signature.algorithm || "sha256";
  form.elements.encoding.value = signature.encoding || "hex";
  form.elements.content.value = signature.content || "body";
  form.elements.prefix.value = signature.prefix || "";
  showScheme();
  $("signature-current").textContent = "Currently: requests are signed " + signatureText(signature) + ".";
  $("secret-label").textContent = signature.scheme === "ed25519" ? "Public key" : "Signing secret";
  lockForm(form);
}

function showScheme() {
  const scheme = $("endpoint-signature").elements.scheme.value;
  showWhen($("endpoint-signature"), "data-schemes", scheme);
  $("signature-hint").textContent = SCHEMES[scheme][1];
}

function signatureText(signature) {
  const scheme = (signature && signature.scheme) || "standard";
  if (scheme === "secret-header") return "with the secret in " + signature.header;
  if (scheme !== "hmac") return SCHEMES[scheme][0];
  const s = normalSignature(signature);
  return "with an HMAC-" + s.algorithm.toUpperCase() + " of " + (s.content === "body" ? "the body" : "{id}.{timestamp}.{body}") +
    " in " + s.header + ", " + s.encoding + (s.prefix ? ", prefixed " + JSON.stringify(s.prefix) : "");
}

// A `signature` with its scheme's defaults filled in, so two can be compared.
function normalSignature(signature) {
  const scheme = (signature && signature.scheme) || "standard";
  if (scheme !== "hmac") return { scheme, header: (signature && signature.header) || "" };
  return { scheme, header: signature.header || "", algorithm: signature.algorithm || "sha256",
    encoding: signature.encoding || "hex", content: signature.content || "body", prefix: signature.prefix || "" };
}

// The `signature` the form describes: only the fields its scheme takes; Standard Webhooks,
// the default, is no setting at all.
function signatureInput(form) {
  const scheme = form.elements.scheme.value;
  if (scheme === "standard") return null;
  if (scheme === "ed25519") return { scheme };
  const header = form.elements.header.value.trim();
  if (!header) throw fieldError("header", "the " + scheme + " scheme needs the name of the header it goes in");
  if (scheme === "secret-header") return { scheme, header };
  const signature = { scheme, header, algorithm: form.elements.algorithm.value, encoding: form.elements.encoding.value,
    content: form.elements.content.value };
  if (form.elements.prefix.value) signature.prefix = form.elements.prefix.value;
  return signature;
}

async function saveSignature(form) {
  const signature = signatureInput(form);
  const selected = state.selected;
  const same = JSON.stringify(normalSignature(signature)) === JSON.stringify(normalSignature(selected.signature));
  const from = (selected.signature && selected.signature.scheme) || "standard";
  const to = (signature && signature.scheme) || "standard";
  if (to !== from && !confirm("Sign requests to " + selected.url + " " + SCHEMES[to][0] + "? Its receiver must verify them " +
    "that way from the next request on, and a secret that does not suit the new scheme is replaced at once.")) return;
  if (!(await patchEndpoint(same ? {} : { signature }))) return;
  fillSignature();
  hideSecret();
  say("Signature saved: requests are signed " + signatureText(state.selected.signature) + ".");
}

export function wireSignature() {
  $("endpoint-signature").addEventListener("submit", (event) => {
    event.preventDefault();
    formAct(event.target, "signature-errors", () => saveSignature(event.target));
  });
  $("endpoint-signature").elements.scheme.addEventListener("change", showScheme);
  $("reveal").addEventListener("click", () => act(async () => {
    if ($("reveal").textContent === "Hide") {
      hideSecret();
      return;
    }
    const secret = await api("GET", endpointPath() + "/secret");
    $("secret").textContent = secret.key;
    $("reveal").textContent = "Hide";
  }));
  $("rotate").addEventListener("click", () => act(async () => {
    if (!confirm("Rotate the signing secret? The old one keeps signing for 24 hours.")) return;
    const secret = await api("POST", endpointPath() + "/secret/rotate", {});
    $("secret").textContent = secret.key;
    $("reveal").textContent = "Hide";
    say("Secret rotated; the previous one stays valid for 24 hours.");
  }));
}
