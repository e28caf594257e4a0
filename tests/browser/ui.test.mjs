// Hookwire's dashboard (/ui) and customer portal (/portal) driven in headless Chromium.
//
// Starts the real binary (HOOKWIRE_BIN, default target/debug/hookwire) on 127.0.0.1:0 over a
// temporary data directory, a loopback receiver that records every delivery, and Debian's
// Chromium (CHROMIUM_PATH, default /usr/bin/chromium) through playwright-core. Screenshots go
// to target/browser-screenshots/. Waits poll for state; nothing sleeps for a fixed time.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
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
  await page.waitForURL(/\/ui\/overview$/); // signing in opens the overview
  await page.getByRole("link", { name: "Applications", exact: true }).click();
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
  assert.match(frame.url(), /#\/endpoints$/, "the first page has its own address");
  assert.equal(await portal.getByText("not yours").count(), 0, "another application's endpoints stay hidden");
  await shot(page, "portal-01-empty");

  // The catalog: grouped by prefix, each type's schema and example, and a subscribe button
  // that fills the new endpoint's form.
  await portal.locator("#nav").getByRole("link", { name: "Event catalog" }).click();
  await portal.locator("#page-catalog .catalog-group h3", { hasText: "invoice" }).waitFor();
  assert.match(frame.url(), /#\/catalog$/);
  await portal.locator(".event-type[data-name='invoice.paid'] summary code").click();
  await portal.locator(".event-type[data-name='invoice.paid'] pre", { hasText: '"amount": 42' }).last().waitFor();
  await shot(page, "portal-01b-catalog");
  await portal.getByRole("button", { name: "Subscribe to invoice.paid" }).click();
  await portal.getByRole("button", { name: "Subscribe to invoice.created" }).click();
  await portal.locator("#status", { hasText: "Added invoice.created to the new endpoint's event types" }).waitFor();
  await frame.evaluate(() => history.back());
  await portal.locator("#add-endpoint").waitFor();
  assert.equal(await portal.locator("#add-endpoint input[name=eventTypes]").inputValue(), "invoice.paid, invoice.created");
  await portal.locator("#add-endpoint input[name=url]").fill(`${receiver.url}/portal`);
  await portal.locator("#add-endpoint input[name=description]").fill("Billing");
  await portal.getByRole("button", { name: "Add endpoint" }).click();
  await portal.locator("#endpoint-url", { hasText: `${receiver.url}/portal` }).waitFor();
  await portal.locator("#status", { hasText: "Endpoint added" }).waitFor();
  assert.match(frame.url(), /#\/endpoints\/ep_/, "an endpoint's page has its own address");

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

  await portal.locator("#endpoint-settings input[name=eventTypes]").fill("invoice.*");
  await portal.getByRole("button", { name: "Save settings" }).click();
  await portal.locator("#status", { hasText: "Settings saved" }).waitFor();
  await portal.locator("#nav").getByRole("link", { name: "Endpoints" }).click();
  await portal.locator("#endpoints td", { hasText: "invoice.*" }).waitFor();
  // Back returns to the endpoint's page, Forward to the list again.
  await frame.evaluate(() => history.back());
  await portal.locator("#endpoint-url", { hasText: `${receiver.url}/portal` }).waitFor();
  await frame.evaluate(() => history.forward());
  await portal.locator("#endpoints td", { hasText: "invoice.*" }).waitFor();
  await frame.evaluate(() => history.back());
  await portal.locator("#endpoint-url", { hasText: `${receiver.url}/portal` }).waitFor();

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
  await portal.locator("#endpoint-meta", { hasText: "disabled" }).waitFor();
  await portal.getByRole("button", { name: "Enable endpoint" }).waitFor();
  await shot(page, "portal-05-disabled");
  });
});

/** Buttons a token without write capabilities must never see, on whatever page is shown. */
const WRITE_BUTTONS = ["Add endpoint", "Save settings", "Set header", "Remove", "Delete endpoint", "Send test event",
  "Disable endpoint", "Enable endpoint", "Reveal", "Rotate", "Resend", "Save transformation", "Test without saving",
  "Subscribe", "Pause", "Enable", "Skip backlog", "Force retry", "Save signature", "Save retries", "Test filter"];

async function assertNoWriteButtons(page, where) {
  for (const name of WRITE_BUTTONS) {
    assert.equal(await page.getByRole("button", { name }).count(), 0, `a read-only token has no "${name}" button (${where})`);
  }
}

test("portal with a read-only token shows deliveries and no control that writes", async () => {
  const app = await api("POST", "/api/v1/app", { name: "Umbrella", uid: "umbrella" });
  const endpoint = await api("POST", `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/read-only` });
  await api("POST", `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/fail`, retryPolicy: { schedule: [3600] } });
  await api("PUT", "/api/v1/event-type/order.created", { description: "An order was placed" });
  await api("POST", `/api/v1/app/${app.id}/msg`, { eventType: "order.created", payload: { n: 1 } });
  await waitFor("the delivery", () => deliveriesTo("/read-only")[0]);
  await waitFor("the failed attempt", () => deliveriesTo("/fail")[0]);
  await api("POST", `/api/v1/app/${app.id}/destination`, { type: "fifoEndpoint", uid: "archive", config: { url: `${receiver.url}/read-only-fifo` } });
  const access = await api("POST", `/api/v1/auth/app-portal-access/${app.id}`, { readOnly: true });

  await withPage("portal-read-only", { width: 1280, height: 900 }, async (page) => {
  await page.goto(access.url);
  await page.locator("#app-name", { hasText: "Umbrella" }).waitFor();
  await page.locator("#endpoints tbody tr").first().waitFor();
  await assertNoWriteButtons(page, "endpoints");
  await page.getByRole("link", { name: `${receiver.url}/read-only` }).click();
  await page.locator("#attempts tbody tr .badge.ok", { hasText: "success" }).first().waitFor();
  assert.equal(await page.locator("#endpoint-settings input[name=url]").getAttribute("readonly"), "", "settings are shown, not editable");
  await page.locator("#nav").getByRole("link", { name: "Endpoints" }).click();
  await page.getByRole("link", { name: `${receiver.url}/fail` }).click();
  await page.locator("#attempts tbody tr .badge.wait", { hasText: "retrying" }).first().waitFor();
  const retrying = await page.locator("#attempts tbody tr").first().textContent();
  assert.match(retrying, /retrying next at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/, "a failed attempt that will be retried says when");
  assert.match(retrying, /HTTP 503/);
  await page.locator("#retries-current", { hasText: "Own schedule: a failed delivery is retried after 1 h; 2 attempts at most." }).waitFor();
  await page.locator("#signature-current", { hasText: "signed as Standard Webhooks" }).waitFor();
  assert.equal(await page.locator("#endpoint-signature select[name=scheme]").isDisabled(), true, "the signature is shown, not editable");
  await assertNoWriteButtons(page, "endpoint");
  await page.locator("#nav").getByRole("link", { name: "Logs" }).click();
  await page.locator("#messages tbody tr").first().waitFor();
  await page.locator("#messages tbody a").first().click();
  await page.locator("#message-deliveries tbody tr").nth(1).waitFor();
  await assertNoWriteButtons(page, "message");
  await page.locator("#nav").getByRole("link", { name: "Event catalog" }).click();
  await page.locator(".event-type[data-name='order.created']").waitFor();
  await assertNoWriteButtons(page, "catalog");
  await page.locator("#nav").getByRole("link", { name: "Destinations" }).click();
  await page.getByRole("link", { name: "archive" }).click();
  await page.locator("#destination-name", { hasText: "archive" }).waitFor();
  await page.locator("#destination-facts dd", { hasText: `${receiver.url}/read-only-fifo` }).waitFor();
  await assertNoWriteButtons(page, "destination");
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
  await page.waitForURL(/\/ui\/overview$/);
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
  await page.locator("#nav").getByRole("link", { name: "Destinations" }).click();
  const row = page.locator("#destinations tbody tr").first();
  await row.locator(".badge.wait", { hasText: "retrying" }).waitFor();
  const cells = await row.locator("td").allTextContents();
  assert.deepEqual([cells[0], cells[1], cells[2], cells[4], cells[6], cells[8]],
    ["warehouse", "fifoEndpoint", `${receiver.url}/busy-portal`, "1", "HTTP 503: busy: try again later", "100"]);
  assert.match(cells[5], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/, "the next retry, in UTC");
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
  await page.locator("#destination-facts .badge.ok", { hasText: "enabled" }).waitFor();
  assert.equal(await page.locator("#destination-facts dt:text-is('Lag') + dd").textContent(), "0");
  await page.getByRole("button", { name: "Pause", exact: true }).click();
  await page.locator("#destination-facts .badge", { hasText: "paused" }).waitFor();
  await page.getByRole("button", { name: "Enable", exact: true }).waitFor();
  assert.equal((await api("GET", `/api/v1/app/${app.id}/destination/warehouse`)).status, "paused");
  await shot(page, "portal-09-destination-paused");
  });
});

/** Signs `page` in to the dashboard. */
async function signIn(page) {
  await page.goto(`${hookwire.url}/ui/login`);
  await page.fill("input[name=token]", TOKEN);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/ui\/overview$/);
}

test("dashboard: an application's attempts across its endpoints, filtered, a failure retrying", async () => {
  const app = await api("POST", "/api/v1/app", { name: "Massive Dynamic", uid: "massive-dynamic" });
  await api("POST", `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/attempts-ok` });
  await api("POST", `/api/v1/app/${app.id}/endpoint`,
    { url: `${receiver.url}/fail-attempts`, eventTypes: ["order.paid"], retryPolicy: { schedule: [3600] } });
  await api("POST", `/api/v1/app/${app.id}/msg`, { eventType: "order.paid", tags: ["vip"], payload: { n: 1 } });
  await api("POST", `/api/v1/app/${app.id}/msg`, { eventType: "user.created", payload: { n: 2 } });
  await waitFor("both successes", () => deliveriesTo("/attempts-ok").length === 2);
  await waitFor("the failure", () => deliveriesTo("/fail-attempts").length === 1);

  await withPage("dashboard-attempts", { width: 1280, height: 800 }, async (page) => {
  await signIn(page);
  await page.goto(`${hookwire.url}/ui/apps/${app.id}`);
  await page.getByRole("link", { name: "Attempts", exact: true }).click();
  await page.waitForURL(/\/attempts$/);
  await waitFor("three attempts, the failure retrying", async () => {
    await page.reload();
    return (await page.locator("tr[data-attempt]").count()) === 3 && (await page.locator("tr[data-attempt] .retrying").count()) === 1;
  });
  await shot(page, "dashboard-13-attempts");

  await page.selectOption("select[name=status]", "fail");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/status=fail/);
  assert.equal(await page.locator("tr[data-attempt]").count(), 1, "the successes are filtered out");
  const row = await page.locator("tr[data-attempt]").first().textContent();
  assert.match(row, /retrying next at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/, "the failure says when it goes again");
  assert.match(row, /HTTP 503: down for maintenance/);
  assert.ok(row.includes(`${receiver.url}/fail-attempts`), row);
  await shot(page, "dashboard-13b-attempts-failed");

  await page.selectOption("select[name=status]", "");
  await page.fill("input[name=event_types]", "user.created");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/event_types=user.created/);
  assert.equal(await page.locator("tr[data-attempt]").count(), 1, "only the user.created attempt");
  await page.fill("input[name=event_types]", "");
  await page.fill("input[name=since]", "last tuesday");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.locator(".error", { hasText: "query.since" }).waitFor();
  });
});

test("dashboard: create, edit and delete an application; add and edit an event type; bad input names the field", async () => {
  await withPage("dashboard-admin", { width: 1280, height: 900 }, async (page) => {
  await signIn(page);
  await page.goto(`${hookwire.url}/ui/apps`);
  await page.fill("form[action='/ui/apps'] input[name=name]", "Wayne Enterprises");
  await page.fill("form[action='/ui/apps'] input[name=uid]", "wayne");
  await page.fill("form[action='/ui/apps'] input[name=rate_limit]", "fast");
  await page.fill("form[action='/ui/apps'] textarea[name=metadata]", "tier=gold");
  await page.getByRole("button", { name: "Create application" }).click();
  await page.locator(".error", { hasText: "Rate limit:" }).waitFor();
  assert.equal(await page.locator("input[name=rate_limit][aria-invalid=true]").count(), 1, "the field is marked");
  assert.equal(await page.locator("input[name=name]").inputValue(), "Wayne Enterprises", "what was typed is kept");
  await shot(page, "dashboard-14-create-app");
  await page.fill("input[name=rate_limit]", "10");
  await page.getByRole("button", { name: "Create application" }).click();
  await page.locator(".notice", { hasText: "Application created" }).waitFor();
  const created = await api("GET", "/api/v1/app/wayne");
  assert.deepEqual([created.name, created.throttleRate, created.metadata], ["Wayne Enterprises", 10, { tier: "gold" }]);

  await page.locator("details.edit summary").click();
  await page.fill("form[action$='/edit'] input[name=name]", "Wayne Industries");
  await page.getByRole("button", { name: "Save application" }).click();
  await page.locator(".notice", { hasText: "Application saved" }).waitFor();
  await page.locator("h1", { hasText: "Wayne Industries" }).waitFor();

  await page.getByRole("link", { name: "Event types" }).click();
  await page.fill("form[action='/ui/event-types'] input[name=name]", "shipment.sent");
  await page.fill("form[action='/ui/event-types'] input[name=description]", "A shipment left the warehouse");
  await page.fill("form[action='/ui/event-types'] textarea[name=schema]", '{"type": 12}');
  await page.getByRole("button", { name: "Add event type" }).click();
  await page.locator(".error", { hasText: "JSON Schema: not a valid JSON Schema" }).waitFor();
  await page.fill("textarea[name=schema]", '{"type": "object", "properties": {"carrier": {"type": "string"}}}');
  await page.getByRole("button", { name: "Add event type" }).click();
  await page.locator(".notice", { hasText: "Event type added" }).waitFor();
  await page.check("input[name=deprecated]");
  await page.getByRole("button", { name: "Save event type" }).click();
  await page.locator(".notice", { hasText: "Event type saved" }).waitFor();
  await page.locator("dl.facts .badge", { hasText: "deprecated" }).waitFor();
  await shot(page, "dashboard-14b-event-type");
  const eventType = await api("GET", "/api/v1/event-type/shipment.sent");
  assert.equal(eventType.deprecated, true);
  assert.equal(eventType.schemas["1"].properties.carrier.type, "string");
  await page.getByRole("button", { name: "Archive" }).click();
  await page.locator(".notice", { hasText: "Event type archived" }).waitFor();

  await page.goto(`${hookwire.url}/ui/apps/${created.id}`);
  await page.locator("details.edit summary").click();
  await page.fill("input[name=confirm]", "Wayne");
  await page.getByRole("button", { name: "Delete application" }).click();
  await page.locator(".error", { hasText: "Confirm:" }).waitFor();
  await page.fill("input[name=confirm]", "Wayne Industries");
  await page.getByRole("button", { name: "Delete application" }).click();
  await page.locator(".notice", { hasText: "Application Wayne Industries deleted" }).waitFor();
  const gone = await fetch(`${hookwire.url}/api/v1/app/wayne`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(gone.status, 404);
  });
});

test("dashboard: the header's search finds a message by event id in whichever application holds it", async () => {
  await api("POST", "/api/v1/app", { name: "Vandelay Industries" });
  const app = await api("POST", "/api/v1/app", { name: "Prestige Worldwide", uid: "prestige-worldwide" });
  const message = await api("POST", `/api/v1/app/${app.id}/msg`,
    { eventType: "robot.built", eventId: "evt-browser-15", tags: ["line-2"], payload: { model: "T-800" } });

  await withPage("dashboard-search", { width: 1280, height: 700 }, async (page) => {
  await signIn(page);
  await page.fill("header input[name=q]", "evt-browser-15");
  await page.press("header input[name=q]", "Enter");
  await page.waitForURL(/\/ui\/search\?q=evt-browser-15$/);
  assert.equal(await page.locator("tbody tr").count(), 1);
  assert.match(await page.locator("tbody tr").first().textContent(), /Prestige Worldwide.*robot\.built.*evt-browser-15.*event id/);
  await shot(page, "dashboard-15-search");
  await page.getByRole("link", { name: message.id }).click();
  await page.locator("h1", { hasText: "robot.built" }).waitFor();
  await page.fill("header input[name=q]", message.id);
  await page.press("header input[name=q]", "Enter");
  await page.locator("tbody tr td", { hasText: "message id" }).waitFor();
  });
});

/** Opens a portal link at the top level and waits for the application's name. */
async function openPortal(page, access, name) {
  await page.goto(access.url);
  await page.locator("#app-name", { hasText: name }).waitFor();
}

test("portal logs: filters, paging, find by eventId, a message's attempts retrying or failed", async () => {
  const app = await api("POST", "/api/v1/app", { name: "Stark", uid: "stark" });
  await api("POST", `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/logs-ok` });
  await api("POST", `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/fail-retrying`, eventTypes: ["invoice.paid"], retryPolicy: { schedule: [3600] } });
  await api("POST", `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/fail-final`, eventTypes: ["invoice.paid"], retryPolicy: { schedule: [] } });
  for (let n = 0; n < 29; n += 1) {
    await api("POST", `/api/v1/app/${app.id}/msg`, { eventType: "order.created", payload: { n }, tags: ["bulk"] });
  }
  const vip = await api("POST", `/api/v1/app/${app.id}/msg`,
    { eventType: "invoice.paid", eventId: "inv-42", payload: { amount: 4200 }, tags: ["vip"], channels: ["billing"] });
  await waitFor("every message delivered", () => deliveriesTo("/logs-ok").length === 30);
  await waitFor("both failures", () => deliveriesTo("/fail-retrying")[0] && deliveriesTo("/fail-final")[0]);

  await withPage("portal-logs", { width: 1280, height: 900 }, async (page) => {
  await openPortal(page, await api("POST", `/api/v1/auth/app-portal-access/${app.id}`, {}), "Stark");
  await page.locator("#nav").getByRole("link", { name: "Logs" }).click();
  await page.locator(`#messages tr[data-msg="${vip.id}"]`).waitFor();
  assert.equal(await page.locator("#messages tbody tr").count(), 25, "a page of 25");
  assert.equal(await page.locator("#messages tbody tr").first().getAttribute("data-msg"), vip.id, "newest first");
  assert.ok(await page.locator("#logs-previous").isDisabled(), "no page before the first");
  await shot(page, "portal-10-logs");

  await page.getByRole("button", { name: "Next" }).click();
  await waitFor("the second page", async () => (await page.locator("#messages tbody tr").count()) === 5);
  assert.ok(await page.locator("#logs-next").isDisabled(), "no page after the last");
  assert.match(page.url(), /#\/logs\?iterator=msg_/);
  await page.getByRole("button", { name: "Previous" }).click();
  await waitFor("the first page again", async () => (await page.locator("#messages tbody tr").count()) === 25);
  assert.equal(await page.locator("#messages tbody tr").first().getAttribute("data-msg"), vip.id);
  await page.evaluate(() => history.back());
  await waitFor("Back: the second page", async () => (await page.locator("#messages tbody tr").count()) === 5);

  // Filters: each one applied (the address keeps them), a bad one named next to the form.
  const rows = () => page.locator("#messages tbody tr").count();
  await page.fill("#logs-filters input[name=event_types]", "invoice.paid");
  await page.getByRole("button", { name: "Filter" }).click();
  await waitFor("one invoice", async () => (await rows()) === 1);
  assert.match(page.url(), /event_types=invoice\.paid/);
  await page.getByRole("button", { name: "Clear" }).click();
  await page.waitForURL(/#\/logs$/);
  // The cleared page shown (its form reset first): typed before, the tag would be wiped by it.
  await waitFor("the unfiltered page", async () => (await rows()) === 25);
  await page.fill("#logs-filters input[name=tag]", "bulk");
  await page.getByRole("button", { name: "Filter" }).click();
  await waitFor("the bulk page", async () => (await rows()) === 25 && !(await page.locator(`#messages tr[data-msg="${vip.id}"]`).count()));
  await page.fill("#logs-filters input[name=tag]", "");
  // Failed for good: only the invoice (its fail-final delivery); waiting or retrying: the same
  // invoice (its fail-retrying delivery).
  await page.selectOption("#logs-filters select[name=status]", "2");
  await page.getByRole("button", { name: "Filter" }).click();
  await waitFor("the failed invoice", async () => (await rows()) === 1 && (await page.locator(`#messages tr[data-msg="${vip.id}"]`).count()) === 1);
  assert.match(page.url(), /status=2/);
  await page.selectOption("#logs-filters select[name=status]", "1");
  await page.getByRole("button", { name: "Filter" }).click();
  await waitFor("the retrying invoice", async () => (await rows()) === 1 && /status=1/.test(page.url()));
  await page.selectOption("#logs-filters select[name=status]", "");
  await page.fill("#logs-filters input[name=channel]", "billing");
  await page.getByRole("button", { name: "Filter" }).click();
  await waitFor("the billing message", async () => (await rows()) === 1);
  await page.fill("#logs-filters input[name=channel]", "");
  await page.fill("#logs-filters input[name=after]", new Date(Date.now() + 3_600_000).toISOString());
  await page.getByRole("button", { name: "Filter" }).click();
  await page.locator("#messages-empty:not(.hidden)").waitFor();
  await page.fill("#logs-filters input[name=after]", "2020-01-01T00:00");
  await page.fill("#logs-filters input[name=before]", new Date(Date.now() + 3_600_000).toISOString().slice(0, 16));
  await page.getByRole("button", { name: "Filter" }).click();
  await waitFor("every message between the two times", async () => (await rows()) === 25);
  await page.fill("#logs-filters input[name=after]", "last tuesday");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.locator("#logs-errors", { hasText: 'after: "last tuesday" is not a time' }).waitFor();
  assert.equal(await page.locator("#logs-filters input[name=after]").getAttribute("aria-invalid"), "true");
  await page.getByRole("button", { name: "Clear" }).click();
  await page.waitForURL(/#\/logs$/);
  await page.fill("#logs-filters input[name=event_types]", "not a type!");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.locator("#logs-errors", { hasText: "event_types:" }).waitFor();
  assert.equal(await page.locator("#logs-filters input[name=event_types]").getAttribute("aria-invalid"), "true", "the API's 422 names the field");

  // Find by eventId: the message's page, its payload, and each delivery's state.
  await page.fill("#logs-find input[name=id]", "no-such-event");
  await page.getByRole("button", { name: "Open" }).click();
  await page.locator("#logs-errors", { hasText: 'No message has the id or eventId "no-such-event"' }).waitFor();
  await page.fill("#logs-find input[name=id]", "inv-42");
  await page.getByRole("button", { name: "Open" }).click();
  await page.locator("#message-title", { hasText: vip.id }).waitFor();
  assert.match(page.url(), new RegExp(`#/logs/${vip.id}$`));
  assert.match(await page.locator("#message-payload").textContent(), /"amount": 4200/);
  const delivery = (url) => page.locator("#message-deliveries tbody tr", { hasText: url });
  await delivery(`${receiver.url}/logs-ok`).locator(".badge.ok", { hasText: "success" }).waitFor();
  await delivery(`${receiver.url}/fail-retrying`).locator(".badge.wait", { hasText: "retrying" }).waitFor();
  assert.match(await delivery(`${receiver.url}/fail-retrying`).textContent(), /retrying next at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  await delivery(`${receiver.url}/fail-final`).locator(".badge.bad", { hasText: "fail" }).waitFor();
  const attempt = (url) => page.locator("#message-attempts tbody tr", { hasText: url });
  assert.match(await attempt(`${receiver.url}/fail-retrying`).textContent(), /retrying next at .*HTTP 503/);
  assert.equal(await attempt(`${receiver.url}/fail-final`).locator(".badge.bad", { hasText: "fail" }).count(), 1, "a final failure is not retrying");
  assert.equal(await attempt(`${receiver.url}/fail-final`).locator(".badge.wait").count(), 0);
  await shot(page, "portal-10b-message");
  await page.locator("#message-deliveries").getByRole("button", { name: `Resend to ${receiver.url}/logs-ok` }).click();
  await waitFor("the resend", () => deliveriesTo("/logs-ok").length === 31);
  await page.evaluate(() => history.back());
  await page.locator("#page-logs:not(.hidden)").waitFor();
  });
});

test("portal endpoint settings: edit every field, headers, a 422 named next to the form, delete", async () => {
  const app = await api("POST", "/api/v1/app", { name: "Wonka", uid: "wonka" });
  await api("PUT", "/api/v1/event-type/candy.made", { description: "A bar was made", schemas: { "1": { type: "object", examples: [{ amount: 250 }] } } });
  const endpoint = await api("POST", `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/settings`, description: "Candy" });
  const read = () => api("GET", `/api/v1/app/${app.id}/endpoint/${endpoint.id}`);

  await withPage("portal-settings", { width: 1280, height: 1000 }, async (page) => {
  page.on("dialog", (dialog) => dialog.accept());
  await openPortal(page, await api("POST", `/api/v1/auth/app-portal-access/${app.id}`, {}), "Wonka");
  await page.getByRole("link", { name: `${receiver.url}/settings` }).click();
  const form = page.locator("#endpoint-settings");
  await waitFor("the settings filled in", async () => (await form.locator("input[name=description]").inputValue()) === "Candy");

  await form.locator("input[name=rateLimit]").fill("lots");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator("#settings-errors", { hasText: "rateLimit:" }).waitFor();
  assert.equal(await form.locator("input[name=rateLimit]").getAttribute("aria-invalid"), "true");
  await form.locator("input[name=rateLimit]").fill("0");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator("#settings-errors", { hasText: "rateLimit: must be at least 1" }).waitFor();
  await form.locator("input[name=rateLimit]").fill("5");
  await form.locator("textarea[name=filter]").fill("data.amount >");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator("#settings-errors", { hasText: "filter: filter does not compile" }).waitFor();
  assert.equal(await form.locator("textarea[name=filter]").getAttribute("aria-invalid"), "true");
  assert.equal((await read()).throttleRate, null, "nothing saved while a field is refused");

  await form.locator("textarea[name=filter]").fill("data.amount > 100");
  await form.locator("input[name=url]").fill(`${receiver.url}/settings-moved`);
  await form.locator("input[name=description]").fill("Candy, moved");
  await form.locator("input[name=channels]").fill("eu, us");
  // The catalog's Subscribe fills the settings of the endpoint last open; Back returns to them.
  await page.locator("#nav").getByRole("link", { name: "Event catalog" }).click();
  await page.getByRole("button", { name: "Subscribe to candy.made" }).click();
  await page.locator("#status", { hasText: `Added candy.made to the event types of ${receiver.url}/settings` }).waitFor();
  await page.evaluate(() => history.back());
  await form.locator("input[name=eventTypes]").waitFor();
  assert.equal(await form.locator("input[name=eventTypes]").inputValue(), "candy.made");
  assert.equal(await form.locator("input[name=channels]").inputValue(), "eu, us", "what was typed is kept");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator("#status", { hasText: "Settings saved" }).waitFor();
  assert.equal(await page.locator("#settings-errors").isVisible(), false);
  const saved = await read();
  assert.deepEqual(
    [saved.url, saved.description, saved.eventTypes, saved.channels, saved.throttleRate, saved.filter],
    [`${receiver.url}/settings-moved`, "Candy, moved", ["candy.made"], ["eu", "us"], 5, "data.amount > 100"]);
  await page.locator("#endpoint-url", { hasText: `${receiver.url}/settings-moved` }).waitFor();

  // Custom headers: a sensitive value is write-only.
  await page.fill("#add-header input[name=name]", "X-Customer");
  await page.fill("#add-header input[name=value]", "c-1");
  await page.getByRole("button", { name: "Set header" }).click();
  await page.locator("#headers tr[data-header='X-Customer']", { hasText: "c-1" }).waitFor();
  await page.fill("#add-header input[name=name]", "Authorization");
  await page.fill("#add-header input[name=value]", "Bearer s3cret-value");
  await page.getByRole("button", { name: "Set header" }).click();
  await page.locator("#headers tr[data-header='Authorization']", { hasText: "write-only" }).waitFor();
  assert.ok(!(await page.content()).includes("s3cret-value"), "a sensitive value is never shown again");
  await page.fill("#add-header input[name=name]", "Host");
  await page.fill("#add-header input[name=value]", "evil.example");
  await page.getByRole("button", { name: "Set header" }).click();
  await page.locator("#headers-errors", { hasText: "headers.Host: this header is set by Hookwire" }).waitFor();
  assert.equal(await page.locator("#add-header input[name=name]").getAttribute("aria-invalid"), "true");
  await page.getByRole("button", { name: "Remove header X-Customer" }).click();
  await page.locator("#headers tr[data-header='X-Customer']").waitFor({ state: "detached" });
  const headers = await api("GET", `/api/v1/app/${app.id}/endpoint/${endpoint.id}/headers`);
  assert.deepEqual([headers.headers, headers.sensitive], [{}, ["Authorization"]]);
  await page.locator("#settings").scrollIntoViewIfNeeded();
  await shot(page, "portal-11-endpoint-settings");

  // The filter, saved or being typed, tried on the catalog's example and on payloads typed in.
  await page.locator("#filter-test-pane summary").click();
  const tester = page.locator("#filter-test");
  await tester.locator("input[name=eventType]").fill("candy.made");
  await page.getByRole("button", { name: "Test filter" }).click();
  await page.locator("#filter-test-result", { hasText: "On the catalog's example of candy.made: this endpoint would receive the message." }).waitFor();
  await tester.locator("textarea[name=payload]").fill('{"amount": 5}');
  await page.getByRole("button", { name: "Test filter" }).click();
  await page.locator("#filter-test-result", { hasText: "On the payload above: this endpoint would not receive the message." }).waitFor();
  await tester.locator("textarea[name=payload]").fill('{"weight": 5}');
  await page.getByRole("button", { name: "Test filter" }).click();
  await page.locator("#filter-test-result", { hasText: "could not be evaluated on the payload above, so it matches nothing" }).waitFor();
  await form.locator("textarea[name=filter]").fill("data.amount >");
  await page.getByRole("button", { name: "Test filter" }).click();
  await page.locator("#filter-test-errors", { hasText: "filter: filter does not compile" }).waitFor();
  assert.equal(await form.locator("textarea[name=filter]").getAttribute("aria-invalid"), "true", "marked where it is typed");
  await form.locator("textarea[name=filter]").fill("data.amount > 100");
  await tester.locator("textarea[name=payload]").fill('{"amount": 500}');
  await page.getByRole("button", { name: "Test filter" }).click();
  await page.locator("#filter-test-result", { hasText: "On the payload above: this endpoint would receive the message." }).waitFor();
  assert.equal(await form.locator("textarea[name=filter]").getAttribute("aria-invalid"), null);
  assert.equal(await page.locator("#filter-test-errors").isVisible(), false);

  // The signature: a scheme's own fields, each refusal named beside its field, then saved.
  const signature = page.locator("#endpoint-signature");
  await page.locator("#signature-current", { hasText: "signed as Standard Webhooks" }).waitFor();
  assert.equal(await signature.locator("input[name=header]").isVisible(), false, "Standard Webhooks takes no header");
  await signature.locator("select[name=scheme]").selectOption("hmac");
  await page.getByRole("button", { name: "Save signature" }).click();
  await page.locator("#signature-errors", { hasText: "header: the hmac scheme needs the name of the header" }).waitFor();
  assert.equal(await signature.locator("input[name=header]").getAttribute("aria-invalid"), "true");
  await signature.locator("input[name=header]").fill("Webhook-Wonka");
  await page.getByRole("button", { name: "Save signature" }).click();
  await page.locator("#signature-errors", { hasText: 'header: "Webhook-Wonka" is set by Hookwire' }).waitFor();
  assert.equal(await signature.locator("input[name=header]").getAttribute("aria-invalid"), "true", "the API's 422 names signature.header");
  await signature.locator("input[name=header]").fill("X-Wonka-Signature");
  await signature.locator("select[name=algorithm]").selectOption("sha512");
  await signature.locator("select[name=encoding]").selectOption("base64");
  await signature.locator("select[name=content]").selectOption("standard");
  await signature.locator("input[name=prefix]").fill("sha512=");
  await page.getByRole("button", { name: "Save signature" }).click();
  await page.locator("#status", { hasText: "Signature saved" }).waitFor();
  assert.deepEqual((await read()).signature,
    { scheme: "hmac", header: "X-Wonka-Signature", algorithm: "sha512", encoding: "base64", prefix: "sha512=", content: "standard" });
  await page.locator("#signature-current", { hasText: 'HMAC-SHA512 of {id}.{timestamp}.{body} in X-Wonka-Signature, base64, prefixed "sha512="' }).waitFor();
  const sent = deliveriesTo("/settings-moved").length;
  await page.getByRole("button", { name: "Send test event" }).click();
  const signed = await waitFor("the test event, signed the new way", () => deliveriesTo("/settings-moved")[sent]);
  assert.match(signed.headers["x-wonka-signature"], /^sha512=[A-Za-z0-9+/]{86}==$/);

  // Retries and timeout: the default shown, an own schedule, a fixed interval, the default again.
  const retries = page.locator("#endpoint-retries");
  await page.locator("#retries-current", { hasText: "Default schedule: a failed delivery is retried immediately, then after 5 s, 5 min, " +
    "30 min, 2 h, 5 h, 10 h and 10 h (each ±20 %, so retries spread out); 9 attempts at most. Each request may take 15 s (the default)." }).waitFor();
  assert.equal(await retries.locator("input[name=schedule]").isVisible(), false);
  await retries.locator("select[name=retryMode]").selectOption("schedule");
  assert.equal(await retries.locator("input[name=schedule]").inputValue(), "0, 5s, 5m, 30m, 2h, 5h, 10h, 10h", "an own schedule starts from the default");
  await retries.locator("input[name=schedule]").fill("0, 30s, 5m, 2h, soon");
  await page.getByRole("button", { name: "Save retries" }).click();
  await page.locator("#retries-errors", { hasText: 'schedule: "soon" is not a delay' }).waitFor();
  assert.equal(await retries.locator("input[name=schedule]").getAttribute("aria-invalid"), "true");
  await retries.locator("input[name=schedule]").fill("0, 30s, 5m, 2h");
  await retries.locator("input[name=timeoutMs]").fill("500");
  await page.getByRole("button", { name: "Save retries" }).click();
  await page.locator("#retries-errors", { hasText: "timeoutMs: must be between 1000 and 30000" }).waitFor();
  assert.equal(await retries.locator("input[name=timeoutMs]").getAttribute("aria-invalid"), "true");
  assert.equal((await read()).retryPolicy, null, "nothing saved while a field is refused");
  await retries.locator("input[name=timeoutMs]").fill("5000");
  await page.getByRole("button", { name: "Save retries" }).click();
  await page.locator("#status", { hasText: "Retries saved" }).waitFor();
  const own = await read();
  assert.deepEqual([own.retryPolicy, own.timeoutMs], [{ schedule: [0, 30, 300, 7200] }, 5000]);
  await page.locator("#retries-current", { hasText: "Own schedule: a failed delivery is retried immediately, then after 30 s, 5 min and 2 h; " +
    "5 attempts at most. Each request may take 5 s." }).waitFor();
  await page.locator("#endpoint-retries").scrollIntoViewIfNeeded();
  await shot(page, "portal-13-endpoint-filter-signature-retries");
  await retries.locator("select[name=retryMode]").selectOption("fixed");
  await retries.locator("input[name=maxRetries]").fill("3");
  await retries.locator("input[name=intervalMs]").fill("1500");
  await page.getByRole("button", { name: "Save retries" }).click();
  await page.locator("#retries-current", { hasText: "Fixed interval: a failed delivery is retried up to 3 times, each 1500 ms after the last; 4 attempts at most." }).waitFor();
  assert.deepEqual((await read()).retryPolicy, { maxRetries: 3, intervalMs: 1500 });
  await retries.locator("select[name=retryMode]").selectOption("default");
  await retries.locator("input[name=timeoutMs]").fill("");
  await page.getByRole("button", { name: "Save retries" }).click();
  await page.locator("#retries-current", { hasText: "Default schedule" }).waitFor();
  const reset = await read();
  assert.deepEqual([reset.retryPolicy, reset.timeoutMs], [null, null]);

  await page.getByRole("button", { name: "Disable endpoint" }).click();
  await page.getByRole("button", { name: "Enable endpoint" }).waitFor();
  assert.equal((await read()).disabled, true);
  await page.getByRole("button", { name: "Enable endpoint" }).click();
  await page.getByRole("button", { name: "Disable endpoint" }).waitFor();
  assert.equal((await read()).disabled, false);

  await page.getByRole("button", { name: "Delete endpoint" }).click();
  await page.locator("#status", { hasText: "Endpoint deleted" }).waitFor();
  assert.match(page.url(), /#\/endpoints$/);
  await page.locator("#endpoints-empty:not(.hidden)").waitFor();
  const gone = await fetch(`${hookwire.url}/api/v1/app/${app.id}/endpoint/${endpoint.id}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(gone.status, 404);
  });
});

test("portal themed in a cross-origin iframe: colours, font, logo, dark mode, and its height told to the parent", async () => {
  const app = await api("POST", "/api/v1/app", { name: "Tyrell", uid: "tyrell" });
  await api("POST", `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/themed`, description: "Replicants" });
  const theme = { primaryColor: "#0a7f5c", logoUrl: "https://127.0.0.1:9/logo.png", fontFamily: "Georgia, 'Times New Roman', serif", darkMode: true };
  const access = await api("POST", `/api/v1/auth/app-portal-access/${app.id}`, { theme });
  assert.match(access.url, /&theme=%7B/);

  await withPage("portal-themed", { width: 1100, height: 900 }, async (page) => {
  // The customer's page (another origin: the receiver's port) records what the frame posts.
  await page.addInitScript(() => {
    if (window !== window.top) return;
    window.portalMessages = [];
    window.addEventListener("message", (event) => window.portalMessages.push({ origin: event.origin, data: event.data }));
  });
  await page.goto(`${receiver.url}/host?src=${encodeURIComponent(access.url)}`);
  const portal = page.frameLocator("#portal");
  await portal.locator("#app-name", { hasText: "Tyrell" }).waitFor();
  const frame = page.frames().find((f) => f.url().startsWith(`${hookwire.url}/portal`));
  assert.ok(!frame.url().includes("theme="), "the theme leaves the address with the token");
  const looks = await frame.evaluate(() => {
    const body = getComputedStyle(document.body);
    const button = document.querySelector("#add-endpoint button[type=submit]");
    return {
      dark: document.body.classList.contains("dark"),
      font: body.fontFamily,
      background: body.backgroundColor,
      button: getComputedStyle(button).backgroundColor,
      logo: document.getElementById("logo").getAttribute("src"),
      logoShown: !document.getElementById("logo").classList.contains("hidden"),
      styleAttributes: document.querySelectorAll("[style]").length,
    };
  });
  assert.deepEqual(looks, {
    dark: true, font: "Georgia, \"Times New Roman\", serif", background: "rgb(15, 20, 29)", button: "rgb(10, 127, 92)",
    logo: theme.logoUrl, logoShown: true, styleAttributes: 1,
  }, "applied through custom properties on the root element (its one style attribute, written by the CSSOM)");

  const posted = () => page.evaluate(() => window.portalMessages.filter((m) => m.data && m.data.type === "hookwire-portal-resize"));
  const first = await waitFor("a resize message", async () => (await posted())[0]);
  assert.equal(first.origin, new URL(hookwire.url).origin);
  assert.ok(Number.isInteger(first.data.height) && first.data.height > 0, JSON.stringify(first));
  // The last height told is the page's own, whatever it shows.
  const told = async () => {
    const all = await posted();
    const height = await frame.evaluate(() => Math.ceil(document.documentElement.getBoundingClientRect().height));
    return all[all.length - 1].data.height === height && height;
  };
  const listHeight = await waitFor("the endpoints page's height told", told);
  const before = (await posted()).length;
  await portal.locator("#nav").getByRole("link", { name: "Logs" }).click();
  await portal.locator("#page-logs:not(.hidden)").waitFor();
  await waitFor("a resize message after the page change", async () => (await posted()).length > before);
  await portal.locator("#nav").getByRole("link", { name: "Endpoints" }).click();
  await portal.getByRole("link", { name: `${receiver.url}/themed` }).click();
  await portal.locator("#endpoint-url").waitFor();
  await waitFor("the endpoint page's taller height told", async () => (await told()) > listHeight);
  await shot(page, "portal-12-themed");
  });
});

/** axe-core's source, run in a page through the DevTools protocol (the page's CSP allows no
 *  script but its own, and rightly so). */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** Serious and critical accessibility violations on the page as it is now. */
async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** A portal with something on every page: an endpoint with deliveries, a message, a catalog
 *  entry, a FIFO destination. */
async function furnishedPortal(name, uid) {
  const app = await api("POST", "/api/v1/app", { name, uid });
  await api("PUT", "/api/v1/event-type/shipment.sent", { description: "A parcel left", schemas: { "1": { type: "object", examples: [{ parcel: "p-1" }] } } });
  const endpoint = await api("POST", `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/${uid}`, description: "Parcels" });
  await api("PATCH", `/api/v1/app/${app.id}/endpoint/${endpoint.id}/headers`, { headers: { "X-Team": "ops", Authorization: "Bearer t" } });
  const message = await api("POST", `/api/v1/app/${app.id}/msg`, { eventType: "shipment.sent", eventId: `${uid}-1`, payload: { parcel: "p-1" }, tags: ["eu"] });
  await waitFor("the delivery", () => deliveriesTo(`/${uid}`)[0]);
  const destination = await api("POST", `/api/v1/app/${app.id}/destination`, { type: "fifoEndpoint", uid: "ledger", config: { url: `${receiver.url}/${uid}-fifo` } });
  const access = await api("POST", `/api/v1/auth/app-portal-access/${app.id}`, {});
  return { app, endpoint, message, destination, access };
}

test("portal pages have no serious or critical accessibility violation (axe-core)", async () => {
  const { endpoint, message, destination, access } = await furnishedPortal("Cyberdyne", "cyberdyne");
  const pages = [
    ["#/endpoints", "#endpoints tbody tr"],
    [`#/endpoints/${endpoint.id}`, "#attempts tbody tr"],
    ["#/logs", "#messages tbody tr"],
    [`#/logs/${message.id}`, "#message-attempts tbody tr"],
    ["#/catalog", ".event-type[data-name='shipment.sent']"],
    ["#/activity", "#activity-charts figure"],
    ["#/destinations", "#destinations tbody tr"],
    [`#/destinations/${destination.id}`, "#destination-facts dd"],
  ];
  for (const dark of [false, true]) {
    const link = dark ? await api("POST", `/api/v1/auth/app-portal-access/${access.url.split("app=")[1]}`, { theme: { darkMode: true } }) : access;
    await withPage(dark ? "portal-axe-dark" : "portal-axe", { width: 1280, height: 900 }, async (page) => {
      await openPortal(page, link, "Cyberdyne");
      const found = [];
      for (const [hash, ready] of pages) {
        await page.evaluate((to) => { location.hash = to; }, hash);
        await page.locator(ready).first().waitFor();
        // Open the catalog entry and the transformation's test pane, so what they hide is checked too.
        if (hash === "#/catalog") await page.locator(".event-type summary").first().click();
        if (hash.startsWith("#/endpoints/")) await page.locator("#filter-test-pane summary").click();
        found.push(...(await axeViolations(page)).map((v) => `${hash}${dark ? " (dark)" : ""}: ${v}`));
      }
      assert.deepEqual(found, [], "no serious or critical violation");
    });
  }
});

test("activity: the dashboard's overview and the portal's Activity page chart what was delivered", async () => {
  const app = await api("POST", "/api/v1/app", { name: "Oscorp", uid: "oscorp" });
  const good = await api("POST", `/api/v1/app/${app.id}/endpoint`, { url: `${receiver.url}/oscorp-ok`, description: "Works" });
  await api("POST", `/api/v1/app/${app.id}/endpoint`,
    { url: `${receiver.url}/fail-oscorp`, retryPolicy: { maxRetries: 0, intervalMs: 1000 } });
  for (let n = 0; n < 3; n++) await api("POST", `/api/v1/app/${app.id}/msg`, { eventType: "gadget.built", payload: { n } });
  await waitFor("three deliveries each", () => deliveriesTo("/oscorp-ok").length === 3 && deliveriesTo("/fail-oscorp").length === 3);
  await waitFor("the attempts counted", async () =>
    (await api("GET", `/api/v1/app/${app.id}/activity`)).total.failed === 3);

  await withPage("dashboard-overview", { width: 1280, height: 1100 }, async (page) => {
    await signIn(page);
    await page.getByRole("link", { name: "Overview" }).click();
    await page.waitForURL(/\/ui\/overview$/);
    await page.getByRole("link", { name: "Last hour" }).click();
    await page.waitForURL(/period=1h/);
    assert.equal(await page.locator("figure.chart").count(), 4, "attempts, success rate, latency, queue depth");
    assert.ok(await page.locator("figure.chart rect.chart-ok").count() >= 1, "successes drawn");
    assert.ok(await page.locator("figure.chart rect.chart-bad").count() >= 1, "failures drawn");
    const first = await page.locator("h2:has-text('Most failed endpoints') + table tbody tr").first().textContent();
    assert.ok(first.includes("fail-oscorp"), `the failing endpoint first: ${first}`);
    await shot(page, "dashboard-14-overview");
    assert.deepEqual(await axeViolations(page), [], "the overview: no serious or critical violation");
    await page.goto(`${hookwire.url}/ui/apps/${app.id}`);
    await page.locator("section.activity figure.chart").first().waitFor();
    await shot(page, "dashboard-15-application-activity");
  });

  const access = await api("POST", `/api/v1/auth/app-portal-access/${app.id}`, { readOnly: true });
  await withPage("portal-activity", { width: 1280, height: 1000 }, async (page) => {
    await openPortal(page, access, "Oscorp");
    await page.getByRole("link", { name: "Activity" }).click();
    await page.locator("#activity-charts figure.chart").first().waitFor();
    assert.match(page.url(), /#\/activity$/);
    assert.equal(await page.locator("#activity-charts figure.chart").count(), 3);
    assert.equal(await page.locator("#activity-charts .tile .figure").first().textContent(), "6", "six attempts");
    assert.ok(await page.locator("#activity-charts rect.chart-bad").count() >= 1, "failures drawn");
    const label = await page.locator("#activity-charts svg").first().getAttribute("aria-label");
    assert.match(label, /^Attempts, 2[45] buckets, by the hour; Succeeded 3 in all; Failed 3 in all$/);
    await shot(page, "portal-14-activity");
    await page.getByRole("link", { name: "Last week" }).click();
    await page.waitForURL(/#\/activity\?period=7d$/);
    await page.locator("#activity-caption", { hasText: "Last week" }).waitFor();
    await waitFor("a week of hours", async () =>
      /^Attempts, 16[89] buckets/.test(await page.locator("#activity-charts svg").first().getAttribute("aria-label")));
    assert.deepEqual(await axeViolations(page), [], "the Activity page: no serious or critical violation");
    await page.goBack();
    await page.locator("#activity-caption", { hasText: "Last day" }).waitFor();
    await page.evaluate((to) => { location.hash = to; }, `#/endpoints/${good.id}`);
    await page.locator("#endpoint-activity-charts figure.chart").first().waitFor();
    const endpointLabel = await page.locator("#endpoint-activity-charts svg").first().getAttribute("aria-label");
    assert.match(endpointLabel, /Succeeded 3 in all; Failed 0 in all$/, "only this endpoint's attempts");
    await shot(page, "portal-15-endpoint-activity");
  });
});

test("portal by keyboard: tab through the menu to Logs, open a message with Enter", async () => {
  const { message, access } = await furnishedPortal("Soylent", "soylent");
  await withPage("portal-keyboard", { width: 1280, height: 900 }, async (page) => {
    // Start-up held back at its last request: the menu must not show before the router listens
    // (a link followed then changed the page with nobody listening, and focus stayed put).
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    let reached;
    const holding = new Promise((resolve) => { reached = resolve; });
    await page.route(/\/destination\?limit=1$/, async (route) => { reached(); await held; await route.continue(); });
    const opened = page.goto(access.url);
    await holding;
    assert.ok(await page.locator("#nav").isHidden(), "no menu while the portal is still starting");
    release();
    await opened;
    await page.locator("#app-name", { hasText: "Soylent" }).waitFor();
    await page.unroute(/\/destination\?limit=1$/);
    const focused = () => page.evaluate(() => {
      const active = document.activeElement;
      return active ? { tag: active.tagName, text: active.textContent.trim(), href: active.getAttribute("href") } : null;
    });
    /** Presses Tab until `wanted(focused)`, at most `limit` times. */
    async function tabTo(what, wanted, limit) {
      for (let presses = 0; presses < limit; presses += 1) {
        await page.keyboard.press("Tab");
        if (wanted(await focused())) return;
      }
      throw new Error(`${what} not reached in ${limit} presses of Tab (at ${JSON.stringify(await focused())})`);
    }
    await tabTo("the menu's Logs link", (f) => f && f.href === "#/logs" && f.text === "Logs", 10);
    await page.keyboard.press("Enter");
    await page.locator("#page-logs:not(.hidden)").waitFor();
    await page.locator(`#messages tr[data-msg="${message.id}"]`).waitFor();
    await waitFor("focus on the new page's heading", () => page.evaluate(() => document.activeElement.id === "logs-title"));
    await tabTo("the message's link", (f) => f && f.href === `#/logs/${message.id}`, 30);
    await page.keyboard.press("Enter");
    await page.locator("#message-title", { hasText: message.id }).waitFor();
    assert.match(page.url(), new RegExp(`#/logs/${message.id}$`));
  });
});

test("portal by keyboard: an endpoint's filter tested and its retries changed without a mouse", async () => {
  const { app, endpoint, access } = await furnishedPortal("Initech", "initech");
  await api("PATCH", `/api/v1/app/${app.id}/endpoint/${endpoint.id}`, { filter: "data.parcel == 'p-1'" });
  await withPage("portal-keyboard-settings", { width: 1280, height: 900 }, async (page) => {
    await openPortal(page, access, "Initech");
    // The page's last request (its activity) held back: a field focused while the page still
    // loads keeps its focus when loading ends (the router used to move it to the heading).
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    let reached;
    const holding = new Promise((resolve) => { reached = resolve; });
    const activity = new RegExp(`/endpoint/${endpoint.id}/activity\\?`);
    await page.route(activity, async (route) => { reached(); await held; await route.continue(); });
    await page.evaluate((to) => { location.hash = to; }, `#/endpoints/${endpoint.id}`);
    const filter = page.locator("#endpoint-settings textarea[name=filter]");
    await waitFor("the filter filled in", async () => (await filter.inputValue()) === "data.parcel == 'p-1'");
    await holding;
    assert.equal(await page.locator("#page-endpoint").getAttribute("aria-busy"), "true", "busy while it loads");
    await filter.focus();
    release();
    await page.locator("#page-endpoint:not([aria-busy])").waitFor();
    await page.unroute(activity);
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute("name")), "filter", "focus kept");
    const focused = () => page.evaluate(() => {
      const active = document.activeElement;
      return active ? { tag: active.tagName, name: active.getAttribute("name"), text: active.textContent.trim() } : null;
    });
    /** Presses Tab until `wanted(focused)`, at most `limit` times. */
    async function tabTo(what, wanted, limit) {
      for (let presses = 0; presses < limit; presses += 1) {
        await page.keyboard.press("Tab");
        if (wanted(await focused())) return;
      }
      throw new Error(`${what} not reached in ${limit} presses of Tab (at ${JSON.stringify(await focused())})`);
    }
    await filter.focus();
    await tabTo("the filter's test", (f) => f.tag === "SUMMARY", 5);
    await page.keyboard.press("Enter");
    await tabTo("the test's event type", (f) => f.name === "eventType", 5);
    await page.keyboard.press("Control+A");
    await page.keyboard.type("shipment.sent");
    await tabTo("Test filter", (f) => f.tag === "BUTTON" && f.text === "Test filter", 5);
    await page.keyboard.press("Enter");
    await page.locator("#filter-test-result", { hasText: "On the catalog's example of shipment.sent: this endpoint would receive the message." }).waitFor();

    await tabTo("the retry policy", (f) => f.name === "retryMode", 10);
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    assert.equal(await page.locator("#endpoint-retries select[name=retryMode]").inputValue(), "fixed");
    await tabTo("the number of retries", (f) => f.name === "maxRetries", 3);
    await page.keyboard.type("2");
    await tabTo("the interval", (f) => f.name === "intervalMs", 3);
    await page.keyboard.type("60000");
    await tabTo("Save retries", (f) => f.tag === "BUTTON" && f.text === "Save retries", 5);
    await page.keyboard.press("Enter");
    await page.locator("#status", { hasText: "Retries saved" }).waitFor();
    const saved = await api("GET", `/api/v1/app/${app.id}/endpoint/${endpoint.id}`);
    assert.deepEqual(saved.retryPolicy, { maxRetries: 2, intervalMs: 60000 });
  });
});
