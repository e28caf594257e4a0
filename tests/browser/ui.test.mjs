// Hookwire's dashboard (/ui) and customer portal (/portal) driven in headless Chromium.
//
// Starts the real binary (HOOKWIRE_BIN, default target/debug/hookwire) on 127.0.0.1:0 over a
// temporary data directory, a loopback receiver that records every delivery, and Debian's
// Chromium (CHROMIUM_PATH, default /usr/bin/chromium) through playwright-core. Screenshots go
// to target/browser-screenshots/. Waits poll for state; nothing sleeps for a fixed time.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = path.resolve(REPO, process.env.HOOKWIRE_BIN || "target/debug/hookwire");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const SHOTS = path.join(REPO, "target/browser-screenshots");
const TOKEN = "browser-test-admin-token";
/** How long any wait lasts before the test fails. */
const WAIT_MS = 20_000;
const POLL_MS = 100;
const STARTUP_MS = 30_000;

let hookwire; // { child, url }
let receiver; // { server, url, received: [] }
let browser;
let dataDir;

async function waitFor(what, probe) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function startReceiver() {
  const received = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const url = new URL(request.url, "http://127.0.0.1");
      if (request.method === "GET" && url.pathname === "/host") {
        // A customer's page that embeds the portal in an iframe (another origin).
        response.writeHead(200, { "content-type": "text/html" });
        response.end(
          `<!doctype html><meta charset="utf-8"><title>Customer app</title><body style="margin:0;font-family:sans-serif">` +
            `<p style="padding:8px 16px;background:#eef">Customer settings · Webhooks</p>` +
            `<iframe id="portal" src="${url.searchParams.get("src").replace(/"/g, "&quot;")}" ` +
            `style="width:100%;height:1000px;border:0"></iframe></body>`,
        );
        return;
      }
      received.push({ path: url.pathname, headers: request.headers, body: Buffer.concat(chunks).toString() });
      if (url.pathname.startsWith("/busy")) {
        // Down, and asking for a long wait: a FIFO batch goes again only when forced.
        response.writeHead(503, { "content-type": "text/plain", "retry-after": "600" });
        response.end("busy: try again later");
        return;
      }
      if (url.pathname.startsWith("/fail")) {
        response.writeHead(503, { "content-type": "text/plain" });
        response.end("down for maintenance");
        return;
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end('{"ok":true}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({ server, received, url: `http://127.0.0.1:${server.address().port}` }));
  });
}

function startHookwire(dir) {
  const child = spawn(
    BIN,
    ["serve", "--listen", "127.0.0.1:0", "--allow-private-networks", "--database-url", `sqlite://${path.join(dir, "hookwire.db")}`],
    { env: { ...process.env, HOOKWIRE_ADMIN_TOKEN: TOKEN, HOOKWIRE_LOG: "warn" }, stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("hookwire did not report its address")), STARTUP_MS);
    child.on("exit", (code) => reject(new Error(`hookwire exited early with ${code}`)));
    const lines = readline.createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const match = /^Hookwire listening on (http:\/\/\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1] });
      }
    });
  });
}

async function api(method, pathname, body) {
  const response = await fetch(hookwire.url + pathname, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${pathname}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

function deliveriesTo(pathname) {
  return receiver.received.filter((r) => r.path === pathname);
}

/** Runs `body` with a fresh page; on failure, saves what the page showed. */
async function withPage(name, viewport, body) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  // Script errors and Content-Security-Policy violations; expected HTTP errors are not counted.
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) problems.push(message.text());
  });
  try {
    await body(page);
    assert.deepEqual(problems, [], "no script errors or CSP violations");
  } catch (error) {
    await shot(page, `${name}-FAILED`).catch(() => {});
    throw error;
  } finally {
    await page.close();
  }
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dataDir = mkdtempSync(path.join(os.tmpdir(), "hookwire-browser-"));
  receiver = await startReceiver();
  hookwire = await startHookwire(dataDir);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  if (hookwire) {
    const exited = new Promise((resolve) => hookwire.child.once("exit", resolve));
    hookwire.child.kill("SIGTERM");
    await exited;
  }
  receiver?.server.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("dashboard: sign in, add an endpoint, send a test event, see it delivered, resend", async () => {
  const app = await api("POST", "/api/v1/app", { name: "Acme Store", uid: "acme" });
  await withPage("dashboard", { width: 1280, height: 800 }, async (page) => {

  await page.goto(`${hookwire.url}/ui`);
  assert.match(page.url(), /\/ui\/login$/, "signed-out visitors land on the sign-in form");
  await shot(page, "dashboard-01-sign-in");
  await page.fill("input[name=token]", "not-the-token");
  await page.click("button[type=submit]");
  await page.locator(".error", { hasText: "not valid" }).waitFor();
  await page.fill("input[name=token]", TOKEN);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/ui\/apps$/);
  await page.getByRole("link", { name: "Acme Store" }).waitFor();
  await shot(page, "dashboard-02-applications");

  await page.getByRole("link", { name: "Acme Store" }).click();
  await page.fill("input[name=url]", `${receiver.url}/dashboard`);
  await page.fill("input[name=event_types]", "order.paid");
  await page.fill("input[name=description]", "Order events");
  await page.getByRole("button", { name: "Add endpoint" }).click();
  await page.locator(".notice", { hasText: "Endpoint created" }).waitFor();

  await page.getByRole("button", { name: "Send test event" }).click();
  await page.locator(".notice", { hasText: "Test event sent" }).waitFor();
  const delivered = await waitFor("the test event at the receiver", () => deliveriesTo("/dashboard")[0]);
  assert.ok(delivered.headers["webhook-signature"], "deliveries are signed");
  await waitFor("a success on the message page", async () => {
    await page.reload();
    return (await page.locator("table .badge.ok", { hasText: "success" }).count()) > 0;
  });
  await shot(page, "dashboard-03-message-delivered");

  await page.getByRole("button", { name: "Resend" }).click();
  await page.locator(".notice", { hasText: "Resend queued" }).waitFor();
  await waitFor("the resend at the receiver", () => deliveriesTo("/dashboard").length === 2);
  await waitFor("two attempts on the message page", async () => {
    await page.reload();
    return (await page.locator("details.attempt .badge.ok").count()) === 2;
  });
  assert.equal(deliveriesTo("/dashboard")[1].headers["webhook-id"], delivered.headers["webhook-id"]);
  await page.locator("details.attempt summary").first().click();
  await shot(page, "dashboard-04-resent");

  await page.goto(`${hookwire.url}/ui/apps/${app.id}`);
  await page.locator("td", { hasText: "100%" }).waitFor();
  await shot(page, "dashboard-05-endpoints");
  await page.goto(`${hookwire.url}/ui/apps/${app.id}/messages`);
  await page.fill("input[name=event_type]", "order.paid");
  await page.selectOption("select[name=status]", "success");
  await page.getByRole("button", { name: "Search" }).click();
  await page.locator("tbody tr").first().waitFor();
  assert.equal(await page.locator("tbody tr").count(), 1);
  await shot(page, "dashboard-06-messages");
  await page.getByRole("link", { name: "Event types" }).click();
  await shot(page, "dashboard-07-event-types");

  const endpoints = await api("GET", `/api/v1/app/${app.id}/endpoint`);
  await page.goto(`${hookwire.url}/ui/apps/${app.id}/endpoints/${endpoints.data[0].id}`);
  await page.fill("#transformation-code", "function handler(webhook) {\n  webhook.payload = { text: 'order ' + webhook.payload.n };\n  return webhook;\n}");
  await page.fill("#transformation-payload", '{"n": 7}');
  await page.getByRole("button", { name: "Test without saving" }).click();
  await page.locator("#transformation-result", { hasText: "would send" }).waitFor();
  assert.match(await page.locator("#transformation-result pre").textContent(), /"text": "order 7"/);
  await shot(page, "dashboard-08-transformation-test");
  await page.getByRole("button", { name: "Save transformation" }).click();
  await page.locator(".notice", { hasText: "Transformation saved" }).waitFor();
  await page.getByRole("button", { name: "Send test event" }).click();
  const reshaped = await waitFor("the transformed test event", () => deliveriesTo("/dashboard")[2]);
  assert.deepEqual(JSON.parse(reshaped.body), { text: "order undefined" }, "the saved code ran on the delivery");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/ui\/login$/);
  });
});

test("portal in an iframe: add an endpoint, send a test event, see it delivered, secret, resend", async () => {
  const app = await api("POST", "/api/v1/app", { name: "Globex", uid: "globex" });
  const schema = { type: "object", properties: { amount: { type: "integer" } }, examples: [{ amount: 42 }] };
  await api("PUT", "/api/v1/event-type/invoice.paid", { description: "An invoice was paid", schemas: { "1": schema } });
  await api("PUT", "/api/v1/event-type/invoice.created", { description: "An invoice was created" });
  const other = await api("POST", "/api/v1/app", { name: "Initech" });
  await api("POST", `/api/v1/app/${other.id}/endpoint`, { url: `${receiver.url}/other`, description: "not yours" });
  const access = await api("POST", `/api/v1/auth/app-portal-access/${app.id}`, {});
  assert.ok(access.url.startsWith(`${hookwire.url}/portal/#token=`), access.url);

  await withPage("portal", { width: 1280, height: 900 }, async (page) => {
  page.on("dialog", (dialog) => dialog.accept());
  await page.goto(`${receiver.url}/host?src=${encodeURIComponent(access.url)}`);
  const portal = page.frameLocator("#portal");
  await portal.locator("#app-name", { hasText: "Globex" }).waitFor();
  const frame = page.frames().find((f) => f.url().startsWith(`${hookwire.url}/portal`));
  assert.ok(frame && !frame.url().includes("token="), "the token is removed from the address");
  assert.equal(await portal.getByText("not yours").count(), 0, "another application's endpoints stay hidden");
  await shot(page, "portal-01-empty");

  // The catalog: grouped by prefix, each type's schema and example, and a subscribe button.
  await portal.locator("#catalog .catalog-group h3", { hasText: "invoice" }).waitFor();
  await portal.locator("details.event-type[data-name='invoice.paid'] summary code").click();
  await portal.locator("details.event-type[data-name='invoice.paid'] pre", { hasText: '"amount": 42' }).last().waitFor();
  await shot(page, "portal-01b-catalog");
  await portal.locator("#add-endpoint input[name=url]").fill(`${receiver.url}/portal`);
  await portal.locator("details.event-type[data-name='invoice.paid']").getByRole("button", { name: "Subscribe" }).click();
  await portal.locator("details.event-type[data-name='invoice.created']").getByRole("button", { name: "Subscribe" }).click();
  assert.equal(await portal.locator("#add-endpoint input[name=eventTypes]").inputValue(), "invoice.paid, invoice.created");
  await portal.locator("#add-endpoint input[name=description]").fill("Billing");
  await portal.getByRole("button", { name: "Add endpoint" }).click();
  await portal.locator("#endpoint-url", { hasText: `${receiver.url}/portal` }).waitFor();
  await portal.locator("#endpoints tbody tr").first().waitFor();

  await portal.getByRole("button", { name: "Send test event" }).click();
  const delivered = await waitFor("the portal's test event at the receiver", () => deliveriesTo("/portal")[0]);
  assert.equal(JSON.parse(delivered.body).constructor, Object);
  await portal.locator("#attempts tbody tr .badge.ok", { hasText: "success" }).first().waitFor();
  await shot(page, "portal-02-delivered");

  await portal.getByRole("button", { name: "Reveal" }).click();
  await portal.locator("#secret", { hasText: "whsec_" }).waitFor();
  const revealed = await portal.locator("#secret").textContent();
  const endpoints = await api("GET", `/api/v1/app/${app.id}/endpoint`);
  const secret = await api("GET", `/api/v1/app/${app.id}/endpoint/${endpoints.data[0].id}/secret`);
  assert.equal(revealed, secret.key);
  await portal.getByRole("button", { name: "Rotate" }).click();
  await waitFor("a new secret", async () => {
    const shown = await portal.locator("#secret").textContent();
    return shown.startsWith("whsec_") && shown !== revealed;
  });
  const rotated = await api("GET", `/api/v1/app/${app.id}/endpoint/${endpoints.data[0].id}/secret`);
  assert.equal(await portal.locator("#secret").textContent(), rotated.key);

  await portal.locator("#edit-types input[name=eventTypes]").fill("invoice.*");
  await portal.getByRole("button", { name: "Save event types" }).click();
  await portal.locator("#endpoints td", { hasText: "invoice.*" }).waitFor();

  await portal.getByRole("button", { name: "Resend" }).first().click();
  await waitFor("the portal's resend at the receiver", () => deliveriesTo("/portal").length === 2);
  await waitFor("two delivered attempts in the portal", async () => {
    return (await portal.locator("#attempts tbody tr .badge.ok").count()) === 2;
  });
  await portal.locator("#attempts details summary").first().click();
  await shot(page, "portal-03-resent");

  const code = "function handler(webhook) {\n  console.log('type', webhook.eventType);\n  webhook.payload = { text: 'Paid: ' + webhook.eventType };\n  return webhook;\n}";
  await portal.locator("#transformation-code").fill(code);
  await portal.locator("#transformation-event-type").fill("invoice.paid");
  await portal.locator("#transformation-payload").fill('{"amount": 3}');
  await portal.getByRole("button", { name: "Test without saving" }).click();
  await portal.locator("#transformation-verdict", { hasText: "Would send POST" }).waitFor();
  assert.match(await portal.locator("#transformation-output").textContent(), /"text": "Paid: invoice\.paid"[\s\S]*Console:\ntype invoice\.paid/);
  await shot(page, "portal-04-transformation-test");
  await portal.getByRole("button", { name: "Save transformation" }).click();
  await portal.locator("#transformation-state", { hasText: "enabled" }).waitFor();
  await portal.getByRole("button", { name: "Send test event" }).click();
  const reshaped = await waitFor("the transformed test event", () => deliveriesTo("/portal")[2]);
  assert.deepEqual(JSON.parse(reshaped.body), { text: "Paid: invoice.test" }, "the saved code reshaped the test event");

  await portal.getByRole("button", { name: "Disable endpoint" }).click();
  await portal.locator("#endpoints .badge", { hasText: "disabled" }).waitFor();
  await shot(page, "portal-05-disabled");
  });
});

test("portal with a read-only token shows deliveries and no control that writes", async () => {
  const app = await api("POST", "/api/v1/app", { name: "Umbrella", uid: "umbrella" });
  const endpoint = await api("POST", `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/read-only` });
  await api("POST", `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/fail`, retryPolicy: { schedule: [3600] } });
  await api("POST", `/api/v1/app/${app.id}/msg`, { eventType: "order.created", payload: { n: 1 } });
  await waitFor("the delivery", () => deliveriesTo("/read-only")[0]);
  await waitFor("the failed attempt", () => deliveriesTo("/fail")[0]);
  await api("POST", `/api/v1/app/${app.id}/destination`, { type: "fifoEndpoint", uid: "archive", config: { url: `${receiver.url}/read-only-fifo` } });
  const access = await api("POST", `/api/v1/auth/app-portal-access/${app.id}`, { readOnly: true });

  await withPage("portal-read-only", { width: 1280, height: 900 }, async (page) => {
  await page.goto(access.url);
  await page.locator("#app-name", { hasText: "Umbrella" }).waitFor();
  await page.locator("#endpoints tbody tr").first().waitFor();
  await page.getByRole("link", { name: `${receiver.url}/read-only` }).click();
  await page.locator("#attempts tbody tr .badge.ok", { hasText: "success" }).first().waitFor();
  await page.getByRole("link", { name: `${receiver.url}/fail` }).click();
  await page.locator("#attempts tbody tr .badge.wait", { hasText: "retrying" }).first().waitFor();
  const retrying = await page.locator("#attempts tbody tr").first().textContent();
  assert.match(retrying, /retrying next at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/, "a failed attempt that will be retried says when");
  assert.match(retrying, /HTTP 503/);
  await page.getByRole("link", { name: "archive" }).click();
  await page.locator("#destination-name", { hasText: "archive" }).waitFor();
  await page.locator("#destination-facts dd", { hasText: `${receiver.url}/read-only-fifo` }).waitFor();
  for (const name of ["Add endpoint", "Save event types", "Send test event", "Disable endpoint", "Reveal", "Rotate", "Resend", "Save transformation", "Test without saving", "Subscribe",
    "Pause", "Enable", "Skip backlog", "Force retry"]) {
    assert.equal(await page.getByRole("button", { name }).count(), 0, `a read-only token has no "${name}" button`);
  }
  await shot(page, "portal-06-read-only");
  });
  assert.ok(endpoint.id);
});

/** Waits until the API shows the destination in a state `done` accepts; returns it. */
async function destinationState(appId, key, what, done) {
  return waitFor(what, async () => {
    const destination = await api("GET", `/api/v1/app/${appId}/destination/${key}`);
    return done(destination) ? destination : null;
  });
}

test("dashboard: destinations listed, a failing FIFO shown, tested, forced, skipped, paused", async () => {
  const app = await api("POST", "/api/v1/app", { name: "Initrode", uid: "initrode" });
  const ledger = await api("POST", `/api/v1/app/${app.id}/destination`,
    { type: "fifoEndpoint", uid: "ledger", batchSize: 50, eventTypes: ["order.*"], config: { url: `${receiver.url}/busy-dashboard` } });
  await api("POST", `/api/v1/app/${app.id}/destination`, { type: "pollingEndpoint", uid: "feed" });
  await api("POST", `/api/v1/app/${app.id}/msg`, { eventType: "order.created", payload: { n: 5 } });
  await destinationState(app.id, "ledger", "the FIFO retrying", (d) => d.status === "retrying");

  await withPage("dashboard-destinations", { width: 1280, height: 800 }, async (page) => {
  await page.goto(`${hookwire.url}/ui/login`);
  await page.fill("input[name=token]", TOKEN);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/ui\/apps$/);
  await page.goto(`${hookwire.url}/ui/apps/${app.id}`);
  const row = page.locator(`tr[data-destination="${ledger.id}"]`);
  await row.locator(".badge.wait", { hasText: "retrying" }).waitFor();
  const cells = await row.locator("td").allTextContents();
  assert.equal(cells[0], "ledger");
  assert.equal(cells[2], `${receiver.url}/busy-dashboard`);
  assert.equal(cells[4], "1", "one message behind");
  assert.match(cells[5], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/, "the next retry, in UTC");
  assert.equal(cells[6], "HTTP 503: busy: try again later");
  assert.equal(cells[8], "50");
  await page.locator("#destinations").scrollIntoViewIfNeeded();
  await shot(page, "dashboard-09-destinations");

  await row.getByRole("link", { name: "ledger" }).click();
  await page.locator("h1", { hasText: "ledger" }).waitFor();
  await page.locator("table .badge.bad", { hasText: "fail" }).first().waitFor();
  await page.fill("#transformation-code", "function handler(input) {\n  console.log('events', input.events.length);\n  return { orders: input.events.map(e => e.payload.n) };\n}");
  await page.getByRole("button", { name: "Test without saving" }).click();
  await page.locator("#transformation-result", { hasText: "would send" }).waitFor();
  assert.match(await page.locator("#transformation-result pre").first().textContent(), /"orders": \[\s*5\s*\]/, "run on the pending batch");
  assert.match(await page.locator("#transformation-result").textContent(), /events 1/);
  await shot(page, "dashboard-10-destination-transformation-test");

  await page.getByRole("button", { name: "Force retry" }).click();
  await page.locator(".notice", { hasText: "Retry forced" }).waitFor();
  await waitFor("the forced retry at the receiver", () => deliveriesTo("/busy-dashboard").length === 2);
  await destinationState(app.id, "ledger", "the second failure saved", (d) => d.status === "retrying" && d.nextRetryAt);
  await page.reload();
  assert.equal(await page.locator("table .badge.bad", { hasText: "fail" }).count(), 2, "both tries listed");
  await shot(page, "dashboard-11-destination-retrying");

  await page.getByRole("button", { name: "Skip backlog" }).click();
  await page.locator(".notice", { hasText: "Backlog skipped" }).waitFor();
  await page.locator("dl.facts .badge.ok", { hasText: "enabled" }).waitFor();
  assert.equal(await page.locator("dl.facts dt:text-is('Lag') + dd").textContent(), "0");
  await page.getByRole("button", { name: "Pause", exact: true }).click();
  await page.locator(".notice", { hasText: "Destination paused" }).waitFor();
  await page.locator("dl.facts .badge", { hasText: "paused" }).waitFor();
  assert.equal((await destinationState(app.id, "ledger", "paused", (d) => d.status === "paused")).status, "paused");
  await shot(page, "dashboard-12-destination-paused");
  await page.getByRole("button", { name: "Enable", exact: true }).click();
  await page.locator(".notice", { hasText: "Destination enabled" }).waitFor();
  });
});

test("portal: a FIFO destination listed, its transformation tested and saved, forced, skipped, paused", async () => {
  const app = await api("POST", "/api/v1/app", { name: "Hooli", uid: "hooli" });
  await api("POST", `/api/v1/app/${app.id}/destination`,
    { type: "fifoEndpoint", uid: "warehouse", config: { url: `${receiver.url}/busy-portal` } });
  await api("POST", `/api/v1/app/${app.id}/msg`, { eventType: "order.created", payload: { n: 9 } });
  await destinationState(app.id, "warehouse", "the FIFO retrying", (d) => d.status === "retrying");
  const access = await api("POST", `/api/v1/auth/app-portal-access/${app.id}`, {});

  await withPage("portal-destinations", { width: 1280, height: 900 }, async (page) => {
  page.on("dialog", (dialog) => dialog.accept());
  await page.goto(access.url);
  await page.locator("#app-name", { hasText: "Hooli" }).waitFor();
  const row = page.locator("#destinations tbody tr").first();
  await row.locator(".badge.wait", { hasText: "retrying" }).waitFor();
  const cells = await row.locator("td").allTextContents();
  assert.deepEqual([cells[0], cells[1], cells[2], cells[4], cells[6], cells[8]],
    ["warehouse", "fifoEndpoint", `${receiver.url}/busy-portal`, "1", "HTTP 503: busy: try again later", "100"]);
  assert.match(cells[5], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/, "the next retry, in UTC");
  await page.locator("#destinations-section").scrollIntoViewIfNeeded();
  await shot(page, "portal-07-destinations");

  await row.getByRole("link", { name: "warehouse" }).click();
  await page.locator("#destination-name", { hasText: "warehouse" }).waitFor();
  await page.locator("#destination-attempts tbody tr .badge.bad", { hasText: "failed" }).first().waitFor();
  const code = "function handler(input) {\n  console.log('events', input.events.length);\n  return { types: input.events.map(e => e.eventType + ':' + e.payload.n) };\n}";
  await page.locator("#destination-transformation-code").fill(code);
  await page.locator("#destination-transformation-event-type").fill("invoice.paid");
  await page.locator("#destination-transformation-payload").fill('{"n": 3}');
  await page.locator("#destination").getByRole("button", { name: "Test without saving" }).click();
  await page.locator("#destination-transformation-verdict", { hasText: `Would send POST ${receiver.url}/busy-portal` }).waitFor();
  assert.match(await page.locator("#destination-transformation-output").textContent(), /"invoice\.paid:3"[\s\S]*Console:\nevents 1/);
  await page.locator("#destination-transformation-event-type").fill("");
  await page.locator("#destination-transformation-payload").fill("");
  await page.locator("#destination").getByRole("button", { name: "Test without saving" }).click();
  await page.locator("#destination-transformation-output", { hasText: "order.created:9" }).waitFor();
  await shot(page, "portal-08-destination-transformation-test");
  await page.locator("#destination").getByRole("button", { name: "Save transformation" }).click();
  await page.locator("#destination-transformation-state", { hasText: "enabled" }).waitFor();

  await page.getByRole("button", { name: "Force retry" }).click();
  await page.locator("#status", { hasText: "Retry forced" }).waitFor();
  const forced = await waitFor("the forced retry at the receiver", () => deliveriesTo("/busy-portal")[1]);
  assert.deepEqual(JSON.parse(forced.body), { types: ["order.created:9"] }, "the saved code shaped the batch");
  await destinationState(app.id, "warehouse", "the second failure saved", (d) => d.status === "retrying" && d.nextRetryAt);
  await page.locator("#destination-attempts tbody tr").nth(1).waitFor();

  await page.getByRole("button", { name: "Skip backlog" }).click();
  await page.locator("#status", { hasText: "Backlog skipped" }).waitFor();
  await row.locator(".badge.ok", { hasText: "enabled" }).waitFor();
  assert.equal(await row.locator("td").nth(4).textContent(), "0");
  await page.getByRole("button", { name: "Pause", exact: true }).click();
  await row.locator(".badge", { hasText: "paused" }).waitFor();
  await page.getByRole("button", { name: "Enable", exact: true }).waitFor();
  assert.equal((await api("GET", `/api/v1/app/${app.id}/destination/warehouse`)).status, "paused");
  await shot(page, "portal-09-destination-paused");
  });
});
