// Hookwire driven end to end by the official Svix JavaScript SDK (`svix` on npm).
//
// The JavaScript SDK serialises differently from the Python one the tests in tests/python use:
// Date objects (sent with toISOString(), read back into Date), camelCase fields, numeric enums
// (MessageStatus, MessageAttemptTriggerType), string enums (BackgroundTaskStatus/Type),
// comma-joined list query parameters (event_types), with_content=false and
// expanded_statuses=true sent by default, raw payloads (messageInRaw), an idempotency key on
// every POST. Everything here goes through `new Svix(token, { serverUrl })`; the only raw HTTP
// calls set Hookwire's own `retryPolicy` extension, which the SDK cannot express.
//
// Starts the real binary (HOOKWIRE_BIN, default target/debug/hookwire) on 127.0.0.1:0 over a
// temporary data directory, and a loopback receiver that records every delivery. Every delivery
// is verified with the SDK's Webhook class. Waits poll for state; nothing sleeps a fixed time.
//
//   HOOKWIRE_BIN=$PWD/target/debug/hookwire node --test tests/node/svix.test.mjs
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import {
  ApiException,
  AppPortalCapability,
  BackgroundTaskStatus,
  BackgroundTaskType,
  MessageAttemptTriggerType,
  MessageStatus,
  MessageStatusText,
  Ordering,
  StatusCodeClass,
  Svix,
  Webhook,
  WebhookVerificationError,
  messageInRaw,
} from "svix";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = path.resolve(REPO, process.env.HOOKWIRE_BIN || "target/debug/hookwire");
const TOKEN = "node-sdk-test-admin-token";
/** How long any wait lasts before the test fails. */
const WAIT_MS = 15_000;
const POLL_MS = 50;
const STARTUP_MS = 30_000;

let hookwire; // { child, url }
let receiver; // { server, url(path), received: [], statusByPath: Map }
let svix;
let dataDir;

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

function unique(prefix) {
  return `${prefix}-${randomUUID().slice(0, 12)}`;
}

async function waitFor(what, probe) {
  const deadline = Date.now() + WAIT_MS;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Records every request; answers `statusByPath.get(path)` (default 200) with body `ok`. */
function startReceiver() {
  const received = [];
  const statusByPath = new Map();
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const pathname = new URL(request.url, "http://127.0.0.1").pathname;
      received.push({ path: pathname, method: request.method, headers: request.headers, body: Buffer.concat(chunks), at: Date.now() });
      const status = statusByPath.get(pathname) ?? 200;
      response.writeHead(status, { "content-type": "text/plain" });
      response.end(status < 400 ? "ok" : "failing on purpose");
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const base = `http://127.0.0.1:${server.address().port}`;
      resolve({ server, received, statusByPath, url: (p) => base + p });
    });
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

/** Set while apiError() awaits a failure it expects, so that failure is not reported. */
let expectingError = 0;

/**
 * The SDK's fetch, reporting every unexpected 4xx/5xx with its request and response on stderr
 * (an ApiException's message carries neither).
 */
async function reportingFetch(url, init) {
  const response = await fetch(url, init);
  if (response.status >= 400 && expectingError === 0) {
    const text = await response.clone().text();
    process.stderr.write(`unexpected HTTP ${response.status}: ${init.method} ${url} ${init.body ?? ""}\n  -> ${text}\n`);
  }
  return response;
}

/** A client with no retries: a server error must surface, not be papered over. */
function client(token) {
  return new Svix(token, { serverUrl: hookwire.url, retryScheduleInMs: [], fetch: reportingFetch });
}

/** Raw admin call, only for Hookwire extensions the SDK cannot express. */
async function rawApi(method, pathname, body) {
  const response = await fetch(hookwire.url + pathname, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${pathname}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Hookwire extension: one attempt, no automatic retries, so a 500 is final (`fail`) at once. */
async function noRetries(appId, endpointId) {
  await rawApi("PATCH", `/api/v1/app/${appId}/endpoint/${endpointId}`, { retryPolicy: { maxRetries: 0, intervalMs: 0 } });
}

/** The SDK's error for `promise`, which must reject with an ApiException of `status` (or one of them). */
async function apiError(promise, status) {
  const allowed = [status].flat();
  expectingError++;
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApiException, `expected an ApiException, got ${error}`);
    assert.ok(allowed.includes(error.code), `HTTP ${error.code}, expected ${allowed.join(" or ")}; body: ${JSON.stringify(error.body)}`);
    return error;
  } finally {
    expectingError--;
  }
  assert.fail(`expected an HTTP ${allowed.join(" or ")}, the call succeeded`);
}

function deliveriesTo(p) {
  return receiver.received.filter((r) => r.path === p);
}

async function waitForDeliveries(p, count) {
  return waitFor(`${count} deliveries to ${p}`, () => {
    const got = deliveriesTo(p);
    return got.length >= count ? got : null;
  });
}

/** Deliveries some test verified; the last test checks that no delivery went unverified. */
const verified = new Set();

/** Every delivery verifies with the SDK's Webhook class and `secret`; a tampered one does not. */
function assertVerified(secret, deliveries) {
  assert.ok(deliveries.length > 0);
  const webhook = new Webhook(secret);
  for (const d of deliveries) {
    verified.add(d);
    assert.doesNotThrow(() => webhook.verify(d.body, d.headers), `delivery ${d.headers["webhook-id"]} verifies`);
    // The svix-* headers alone verify too.
    const svixOnly = Object.fromEntries(Object.entries(d.headers).filter(([k]) => !k.startsWith("webhook-")));
    assert.doesNotThrow(() => webhook.verify(d.body, svixOnly));
    assert.equal(d.headers["svix-id"], d.headers["webhook-id"]);
  }
  const first = deliveries[0];
  assert.throws(() => webhook.verify(Buffer.concat([first.body, Buffer.from(" ")]), first.headers), WebhookVerificationError);
}

const ids = (items) => items.map((x) => x.id);
const sorted = (xs) => [...xs].sort();
const webhookIds = (deliveries) => deliveries.map((d) => d.headers["webhook-id"]);

function assertDate(value, what) {
  assert.ok(value instanceof Date && !Number.isNaN(value.getTime()), `${what} is a valid Date: ${value}`);
}

async function newApp(name) {
  return svix.application.create({ name, uid: unique("app") });
}

/** All pages of `list(options)`, following `iterator` until `done`. */
async function allPages(list, options = {}) {
  const items = [];
  let iterator = null;
  for (let page = 0; page < 100; page++) {
    const response = await list({ ...options, iterator });
    items.push(...response.data);
    if (response.done) return items;
    assert.ok(response.iterator, "a page that is not the last has an iterator");
    iterator = response.iterator;
  }
  throw new Error("more than 100 pages");
}

/** Polls a background task until it leaves `running`. */
async function taskDone(taskId) {
  return waitFor(`task ${taskId} to finish`, async () => {
    const task = await svix.backgroundTask.get(taskId);
    return task.status === BackgroundTaskStatus.Running ? null : task;
  });
}

// ------------------------------------------------------------------------------------------
// Setup
// ------------------------------------------------------------------------------------------

before(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), "hookwire-node-"));
  receiver = await startReceiver();
  hookwire = await startHookwire(dataDir);
  svix = client(TOKEN);
});

after(async () => {
  if (hookwire) {
    const exited = new Promise((resolve) => hookwire.child.once("exit", resolve));
    hookwire.child.kill("SIGTERM");
    await exited;
  }
  receiver?.server.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------------------
// Applications
// ------------------------------------------------------------------------------------------

test("application: create, get, list, getOrCreate, upsert, patch, delete", async () => {
  const uid = unique("app");
  const app = await svix.application.create({ name: "Acme", uid, metadata: { tier: "gold" }, throttleRate: 50 });
  assert.match(app.id, /^app_/);
  assert.equal(app.uid, uid);
  assert.equal(app.name, "Acme");
  assert.deepEqual(app.metadata, { tier: "gold" });
  assert.equal(app.throttleRate, 50);
  assertDate(app.createdAt, "createdAt");
  assertDate(app.updatedAt, "updatedAt");

  // By id and by uid.
  assert.equal((await svix.application.get(app.id)).id, app.id);
  const byUid = await svix.application.get(uid);
  assert.equal(byUid.id, app.id);
  assert.equal(byUid.createdAt.getTime(), app.createdAt.getTime(), "createdAt round-trips to the millisecond");

  // getOrCreate: the same uid finds the application, every time; a new uid creates one.
  for (let i = 0; i < 2; i++) {
    assert.equal((await svix.application.getOrCreate({ name: "Acme", uid })).id, app.id);
  }
  const otherUid = unique("app");
  const other = await svix.application.getOrCreate({ name: "Other", uid: otherUid });
  assert.notEqual(other.id, app.id);
  assert.equal(other.uid, otherUid);
  const third = await newApp("Third");

  // list: pages by iterator; order ascending and descending.
  const ascending = ids(await allPages((o) => svix.application.list(o), { limit: 2, order: Ordering.Ascending }));
  const descending = ids(await allPages((o) => svix.application.list(o), { limit: 2, order: Ordering.Descending }));
  const mine = [app.id, other.id, third.id];
  assert.deepEqual(ascending.filter((id) => mine.includes(id)), mine);
  assert.deepEqual(descending.filter((id) => mine.includes(id)), [...mine].reverse());
  assert.equal(new Set(ascending).size, ascending.length, "no application listed twice");
  const firstPage = await svix.application.list({ limit: 1 });
  assert.equal(firstPage.data.length, 1);
  assert.equal(firstPage.done, false);

  // upsert (PUT): replaces the application...
  const replaced = await svix.application.upsert(app.id, { name: "Acme Inc", uid, metadata: { tier: "platinum" } });
  assert.equal(replaced.id, app.id);
  assert.equal(replaced.name, "Acme Inc");
  assert.deepEqual(replaced.metadata, { tier: "platinum" });
  assert.equal(replaced.throttleRate ?? null, null, "PUT replaces: an absent throttleRate is cleared");
  assert.ok(replaced.updatedAt >= app.updatedAt);
  // ...and creates one (uid from the path) when it does not exist.
  const upsertUid = unique("upsert");
  const created = await svix.application.upsert(upsertUid, { name: "Made by PUT", uid: upsertUid });
  assert.match(created.id, /^app_/);
  assert.equal(created.uid, upsertUid);
  assert.equal((await svix.application.get(upsertUid)).name, "Made by PUT");

  // patch: only what is given changes.
  const patched = await svix.application.patch(uid, { name: "Acme Patched" });
  assert.equal(patched.name, "Acme Patched");
  assert.equal(patched.uid, uid);
  assert.deepEqual(patched.metadata, { tier: "platinum" });
  const patchedMeta = await svix.application.patch(app.id, { metadata: { region: "eu" } });
  assert.equal(patchedMeta.name, "Acme Patched");
  assert.deepEqual(patchedMeta.metadata, { region: "eu" });

  // delete: gone, by id and by uid.
  assert.equal(await svix.application.delete(app.id), undefined);
  const missing = await apiError(svix.application.get(app.id), 404);
  assert.equal(missing.body.code, "not_found");
  await apiError(svix.application.get(uid), 404);
  for (const id of [other.id, third.id, created.id]) await svix.application.delete(id);
});

// ------------------------------------------------------------------------------------------
// Event types
// ------------------------------------------------------------------------------------------

test("eventType: create, get, list, upsert, patch, delete (archive and expunge)", async () => {
  const name = unique("invoice").replace(/-/g, "_") + ".paid";
  const schemas = { 1: { type: "object", properties: { amount: { type: "integer" } }, required: ["amount"] } };
  const created = await svix.eventType.create({ name, description: "An invoice was paid", schemas, groupName: "billing", featureFlags: ["beta"] });
  assert.equal(created.name, name);
  assert.equal(created.description, "An invoice was paid");
  assert.equal(created.archived, false);
  assert.equal(created.deprecated, false);
  assert.equal(created.groupName, "billing");
  assert.deepEqual(created.featureFlags, ["beta"]);
  assert.deepEqual(created.schemas, schemas);
  assertDate(created.createdAt, "createdAt");
  assertDate(created.updatedAt, "updatedAt");

  const got = await svix.eventType.get(name);
  assert.equal(got.description, "An invoice was paid");
  assert.deepEqual(got.schemas, schemas);

  // list: withContent decides whether schemas are included.
  const listed = await allPages((o) => svix.eventType.list(o), { limit: 50, withContent: true });
  const mine = listed.find((e) => e.name === name);
  assert.ok(mine, "the new event type is listed");
  assert.deepEqual(mine.schemas, schemas);
  assertDate(mine.createdAt, "listed createdAt");
  const withoutContent = (await allPages((o) => svix.eventType.list(o), { limit: 50 })).find((e) => e.name === name);
  assert.ok(withoutContent);
  assert.ok(withoutContent.schemas == null || Object.keys(withoutContent.schemas).length === 0, "no schemas without withContent");

  // upsert (PUT): updates an existing one (name from the path)...
  const updated = await svix.eventType.upsert(name, { description: "Paid in full", deprecated: true, schemas, groupName: "billing" });
  assert.equal(updated.name, name);
  assert.equal(updated.description, "Paid in full");
  assert.equal(updated.deprecated, true);
  assert.equal(updated.createdAt.getTime(), created.createdAt.getTime());
  assert.equal(updated.featureFlags ?? null, null, "PUT replaces: absent featureFlags are cleared");
  // ...and creates a new one.
  const upserted = unique("shipment").replace(/-/g, "_") + ".sent";
  const made = await svix.eventType.upsert(upserted, { description: "Shipped" });
  assert.equal(made.name, upserted);
  assert.equal((await svix.eventType.get(upserted)).description, "Shipped");

  // patch: only what is given changes.
  const patched = await svix.eventType.patch(name, { description: "Patched", deprecated: false });
  assert.equal(patched.description, "Patched");
  assert.equal(patched.deprecated, false);
  assert.deepEqual(patched.schemas, schemas);
  assert.equal(patched.groupName, "billing");

  // delete archives: still readable, listed only with includeArchived.
  await svix.eventType.delete(name);
  assert.equal((await svix.eventType.get(name)).archived, true);
  const active = await allPages((o) => svix.eventType.list(o), { limit: 50 });
  assert.ok(!active.some((e) => e.name === name), "an archived event type is not listed by default");
  const withArchived = await allPages((o) => svix.eventType.list(o), { limit: 50, includeArchived: true });
  assert.ok(withArchived.find((e) => e.name === name)?.archived, "listed, archived, with includeArchived");
  // patch unarchives.
  assert.equal((await svix.eventType.patch(name, { archived: false })).archived, false);
  assert.ok((await allPages((o) => svix.eventType.list(o), { limit: 50 })).some((e) => e.name === name));

  // delete with expunge removes it for good.
  await svix.eventType.delete(name, { expunge: true });
  await apiError(svix.eventType.get(name), 404);
  await svix.eventType.delete(upserted, { expunge: true });
});

// ------------------------------------------------------------------------------------------
// Endpoints
// ------------------------------------------------------------------------------------------

test("endpoint: create, get, list, upsert, patch, headers, secret, rotation; deliveries verify", async () => {
  const app = await newApp("Endpoints");
  const p = `/${app.id}/endpoint`;
  const uid = unique("ep");
  const endpoint = await svix.endpoint.create(app.id, {
    url: receiver.url(p),
    uid,
    description: "Orders",
    eventTypes: ["order.created", "order.paid"],
    channels: ["eu", "us"],
    metadata: { team: "payments" },
    throttleRate: 100,
    headers: { "x-custom": "one", authorization: "Bearer receiver-secret" },
  });
  assert.match(endpoint.id, /^ep_/);
  assert.equal(endpoint.url, receiver.url(p));
  assert.equal(endpoint.uid, uid);
  assert.equal(endpoint.description, "Orders");
  assert.deepEqual(sorted(endpoint.eventTypes), ["order.created", "order.paid"]);
  assert.deepEqual(sorted(endpoint.channels), ["eu", "us"]);
  assert.deepEqual(endpoint.metadata, { team: "payments" });
  assert.equal(endpoint.throttleRate, 100);
  assert.equal(endpoint.disabled, false);
  assertDate(endpoint.createdAt, "createdAt");
  assertDate(endpoint.updatedAt, "updatedAt");

  // get by id and uid; list.
  assert.equal((await svix.endpoint.get(app.id, endpoint.id)).uid, uid);
  assert.equal((await svix.endpoint.get(app.id, uid)).id, endpoint.id);
  const second = await svix.endpoint.create(app.id, { url: receiver.url(`${p}/second`), disabled: true });
  assert.equal(second.disabled, true);
  const listed = await svix.endpoint.list(app.id);
  assert.deepEqual(sorted(ids(listed.data)), sorted([endpoint.id, second.id]));
  assert.equal(listed.done, true);
  const page = await svix.endpoint.list(app.id, { limit: 1, order: Ordering.Ascending });
  assert.deepEqual(ids(page.data), [endpoint.id]);
  assert.equal(page.done, false);
  const rest = await svix.endpoint.list(app.id, { limit: 1, order: Ordering.Ascending, iterator: page.iterator });
  assert.deepEqual(ids(rest.data), [second.id]);

  // Headers: a sensitive one is write-only.
  const headers = await svix.endpoint.getHeaders(app.id, endpoint.id);
  assert.deepEqual(headers.headers, { "x-custom": "one" });
  assert.deepEqual(headers.sensitive, ["authorization"]);
  await svix.endpoint.patchHeaders(app.id, endpoint.id, { headers: { "x-added": "two" } });
  assert.deepEqual((await svix.endpoint.getHeaders(app.id, endpoint.id)).headers, { "x-custom": "one", "x-added": "two" });
  await svix.endpoint.patchHeaders(app.id, endpoint.id, { headers: {}, deleteHeaders: ["x-custom"] });
  assert.deepEqual((await svix.endpoint.getHeaders(app.id, endpoint.id)).headers, { "x-added": "two" });
  await svix.endpoint.setHeaders(app.id, endpoint.id, { headers: { "x-replaced": "three", authorization: "Bearer receiver-secret" } });
  const replacedHeaders = await svix.endpoint.getHeaders(app.id, endpoint.id);
  assert.deepEqual(replacedHeaders.headers, { "x-replaced": "three" });
  assert.deepEqual(replacedHeaders.sensitive, ["authorization"]);

  // Secret.
  const secret = (await svix.endpoint.getSecret(app.id, endpoint.id)).key;
  assert.match(secret, /^whsec_/);

  // A delivery carries the custom headers and verifies with the secret.
  const message = await svix.message.create(app.id, { eventType: "order.created", payload: { n: 1 }, channels: ["eu"] });
  const [delivery] = await waitForDeliveries(p, 1);
  assert.equal(delivery.headers["webhook-id"], message.id);
  assert.equal(delivery.headers["x-replaced"], "three");
  assert.equal(delivery.headers.authorization, "Bearer receiver-secret");
  assert.deepEqual(JSON.parse(delivery.body), { n: 1 });
  assertVerified(secret, [delivery]);

  // upsert (PUT) replaces the endpoint's settings.
  const upserted = await svix.endpoint.upsert(app.id, endpoint.id, {
    url: receiver.url(p),
    uid,
    description: "Orders (replaced)",
    eventTypes: ["order.created"],
    metadata: { team: "billing" },
  });
  assert.equal(upserted.id, endpoint.id);
  assert.equal(upserted.description, "Orders (replaced)");
  assert.deepEqual(upserted.eventTypes, ["order.created"]);
  assert.equal(upserted.channels ?? null, null, "PUT replaces: absent channels are cleared");
  assert.equal(upserted.throttleRate ?? null, null, "PUT replaces: an absent throttleRate is cleared");
  assert.deepEqual(upserted.metadata, { team: "billing" });

  // patch: only what is given; null clears.
  const patched = await svix.endpoint.patch(app.id, endpoint.id, { description: "Patched", channels: ["eu"] });
  assert.equal(patched.description, "Patched");
  assert.deepEqual(patched.eventTypes, ["order.created"]);
  assert.deepEqual(patched.channels, ["eu"]);
  assert.deepEqual(patched.metadata, { team: "billing" });
  const cleared = await svix.endpoint.patch(app.id, endpoint.id, { eventTypes: null, channels: null });
  assert.equal(cleared.eventTypes ?? null, null);
  assert.equal(cleared.channels ?? null, null);
  assert.equal(cleared.description, "Patched");

  // rotateSecret: to a given key, then to a generated one; both signatures are sent meanwhile.
  const chosen = "whsec_" + Buffer.alloc(32, 7).toString("base64");
  assert.equal(await svix.endpoint.rotateSecret(app.id, endpoint.id, { key: chosen }), undefined);
  assert.equal((await svix.endpoint.getSecret(app.id, endpoint.id)).key, chosen);
  await svix.endpoint.rotateSecret(app.id, endpoint.id);
  const generated = (await svix.endpoint.getSecret(app.id, endpoint.id)).key;
  assert.match(generated, /^whsec_/);
  assert.notEqual(generated, chosen);
  const afterRotation = await svix.message.create(app.id, { eventType: "order.created", payload: { n: 2 } });
  const deliveries = await waitForDeliveries(p, 2);
  const rotated = deliveries.find((d) => d.headers["webhook-id"] === afterRotation.id);
  assert.ok(rotated);
  assertVerified(generated, [rotated]);
  assertVerified(chosen, [rotated]); // within the grace period

  // delete.
  await svix.endpoint.delete(app.id, second.id);
  await apiError(svix.endpoint.get(app.id, second.id), 404);
  await svix.application.delete(app.id);
});

// ------------------------------------------------------------------------------------------
// Messages
// ------------------------------------------------------------------------------------------

test("message: create with tags, channels, eventId, deliverAt; get by id and eventId; list filters", async () => {
  const app = await newApp("Messages");
  const p = `/${app.id}/messages`;
  const endpoint = await svix.endpoint.create(app.id, { url: receiver.url(p) });
  const secret = (await svix.endpoint.getSecret(app.id, endpoint.id)).key;
  const channelOnly = await svix.endpoint.create(app.id, { url: receiver.url(`${p}/us`), channels: ["us"] });
  const usSecret = (await svix.endpoint.getSecret(app.id, channelOnly.id)).key;

  const eventId = unique("evt");
  const payload = { order: 1, note: 'naïve ☃ "quoted"', nested: { list: [1, 2, 3] } };
  const m1 = await svix.message.create(app.id, { eventType: "order.created", eventId, payload, tags: ["vip", "eu-batch"], channels: ["eu"] });
  assert.match(m1.id, /^msg_/);
  assert.equal(m1.eventId, eventId);
  assert.equal(m1.eventType, "order.created");
  assert.deepEqual(sorted(m1.tags), ["eu-batch", "vip"]);
  assert.deepEqual(m1.channels, ["eu"]);
  assertDate(m1.timestamp, "timestamp");
  assert.deepEqual(m1.payload, {}, "create answers without the payload by default (with_content=false)");
  assert.equal(m1.deliverAt, null);

  // MessageIn.application creates the application on the fly.
  const inlineUid = unique("inline");
  const inline = await svix.message.create(inlineUid, { eventType: "order.created", payload: {}, application: { name: "Inline", uid: inlineUid } });
  assert.match(inline.id, /^msg_/);
  assert.equal((await svix.application.get(inlineUid)).name, "Inline");
  await svix.application.delete(inlineUid);

  // withContent on create returns the payload.
  const m2 = await svix.message.create(app.id, { eventType: "order.paid", payload: { order: 2 }, tags: ["std"], channels: ["us"] }, { withContent: true });
  assert.deepEqual(m2.payload, { order: 2 });

  // A duplicate eventId is a 409.
  await apiError(svix.message.create(app.id, { eventType: "order.created", eventId, payload: {} }), 409);

  // An idempotency key returns the same message.
  const key = unique("idem");
  const i1 = await svix.message.create(app.id, { eventType: "order.refunded", payload: { order: 3 } }, { idempotencyKey: key });
  const i2 = await svix.message.create(app.id, { eventType: "order.refunded", payload: { order: 3 } }, { idempotencyKey: key });
  assert.equal(i2.id, i1.id);

  // get by id and by eventId, with and without content.
  const byId = await svix.message.get(app.id, m1.id, { withContent: true });
  assert.equal(byId.id, m1.id);
  assert.deepEqual(byId.payload, payload);
  assert.equal(byId.timestamp.getTime(), m1.timestamp.getTime());
  const byEventId = await svix.message.get(app.id, eventId);
  assert.equal(byEventId.id, m1.id);
  assert.deepEqual(byEventId.payload, {}, "no payload without withContent");
  await apiError(svix.message.get(app.id, unique("no-such-event")), 404);

  // Deliveries: both messages to the catch-all endpoint, only the "us" one to the channel endpoint.
  const all = await waitForDeliveries(p, 3);
  assert.deepEqual(sorted(webhookIds(all)), sorted([m1.id, m2.id, i1.id]));
  assert.deepEqual(JSON.parse(all.find((d) => d.headers["webhook-id"] === m1.id).body), payload);
  assertVerified(secret, all);
  const us = await waitForDeliveries(`${p}/us`, 1);
  assert.deepEqual(webhookIds(us), [m2.id]);
  assertVerified(usSecret, us);

  // deliverAt: accepted now, delivered no earlier than asked.
  const deliverAt = new Date(Date.now() + 1500);
  const later = await svix.message.create(app.id, { eventType: "order.scheduled", payload: { later: true }, deliverAt });
  assert.ok(later.deliverAt instanceof Date, "deliverAt is read back as a Date");
  assert.equal(later.deliverAt.getTime(), deliverAt.getTime());
  assert.equal((await svix.message.get(app.id, later.id)).deliverAt.getTime(), deliverAt.getTime());
  const scheduled = await waitFor("the scheduled delivery", () => deliveriesTo(p).find((d) => d.headers["webhook-id"] === later.id));
  assert.ok(scheduled.at >= deliverAt.getTime(), `delivered ${deliverAt.getTime() - scheduled.at} ms before deliverAt`);
  assertVerified(secret, [scheduled]);

  // list: tag, eventTypes (comma-joined by the SDK), channel.
  const list = async (options) => sorted(ids((await svix.message.list(app.id, options)).data));
  assert.deepEqual(await list({ tag: "vip" }), [m1.id]);
  assert.deepEqual(await list({ tag: "std" }), [m2.id]);
  assert.deepEqual(await list({ tag: "nothing-tagged" }), []);
  assert.deepEqual(await list({ eventTypes: ["order.paid"] }), [m2.id]);
  assert.deepEqual(await list({ eventTypes: ["order.created", "order.paid"] }), sorted([m1.id, m2.id]));
  assert.deepEqual(await list({ channel: "eu" }), [m1.id]);
  assert.deepEqual(await list({ eventTypes: ["order.created"], tag: "std" }), []);
  assert.equal((await list({})).length, 4);
  const withContent = (await svix.message.list(app.id, { tag: "vip", withContent: true })).data;
  assert.deepEqual(withContent[0].payload, payload);
  const withoutContent = (await svix.message.list(app.id, { tag: "vip" })).data;
  assert.deepEqual(withoutContent[0].payload, {});
  assertDate(withoutContent[0].timestamp, "listed timestamp");

  // before/after (Dates): a cut between two messages splits them.
  const earlier = await svix.message.create(app.id, { eventType: "window.test", payload: { w: 1 } });
  await waitFor("the clock to move on", () => Date.now() > earlier.timestamp.getTime() + 20);
  const cut = new Date();
  await waitFor("the clock to move on", () => Date.now() > cut.getTime() + 20);
  const newer = await svix.message.create(app.id, { eventType: "window.test", payload: { w: 2 } });
  assert.ok(earlier.timestamp < cut && cut < newer.timestamp);
  assert.deepEqual(await list({ eventTypes: ["window.test"], before: cut }), [earlier.id]);
  assert.deepEqual(await list({ eventTypes: ["window.test"], after: cut }), [newer.id]);
  assert.deepEqual(await list({ eventTypes: ["window.test"], after: new Date(Date.now() + 60_000) }), []);
  assert.deepEqual(await list({ eventTypes: ["window.test"], before: new Date(earlier.timestamp.getTime() - 60_000) }), []);

  // Paging by iterator.
  const paged = await allPages((o) => svix.message.list(app.id, o), { limit: 2 });
  assert.deepEqual(sorted(ids(paged)), sorted([m1.id, m2.id, i1.id, later.id, earlier.id, newer.id]));

  // expungeContent: the payload is gone, the message remains.
  await svix.message.expungeContent(app.id, m2.id);
  const expunged = await svix.message.get(app.id, m2.id, { withContent: true });
  assert.equal(expunged.id, m2.id);
  assert.deepEqual(expunged.payload, { expired: true }, "as Svix shows an expunged payload");

  assertVerified(secret, await waitForDeliveries(p, 6));
  await svix.application.delete(app.id);
});

test("message: messageInRaw delivers exactly the given bytes with the given content-type", async () => {
  const app = await newApp("Raw");
  const p = `/${app.id}/raw`;
  const endpoint = await svix.endpoint.create(app.id, { url: receiver.url(p) });
  const secret = (await svix.endpoint.getSecret(app.id, endpoint.id)).key;

  const xml = '<?xml version="1.0"?>\n<order id="7">  <note>naïve ☃ &amp; "quoted"</note>\n</order>\n';
  const json = '{ "b" : 2,\n  "a":1.50, "escaped": "\\u00e9" }';
  const asXml = await svix.message.create(app.id, messageInRaw("order.xml", xml, "application/xml; charset=utf-8"));
  const asJson = await svix.message.create(app.id, messageInRaw("order.json", json));
  assert.match(asXml.id, /^msg_/);
  assert.equal(asXml.eventType, "order.xml");

  const deliveries = await waitForDeliveries(p, 2);
  const xmlDelivery = deliveries.find((d) => d.headers["webhook-id"] === asXml.id);
  const jsonDelivery = deliveries.find((d) => d.headers["webhook-id"] === asJson.id);
  assert.ok(xmlDelivery.body.equals(Buffer.from(xml, "utf8")), `raw XML byte for byte, got ${JSON.stringify(xmlDelivery.body.toString())}`);
  assert.equal(xmlDelivery.headers["content-type"], "application/xml; charset=utf-8");
  assert.ok(jsonDelivery.body.equals(Buffer.from(json, "utf8")), `raw JSON not normalised, got ${JSON.stringify(jsonDelivery.body.toString())}`);
  assert.match(jsonDelivery.headers["content-type"], /^application\/json/);
  assertVerified(secret, [xmlDelivery, jsonDelivery]);
  await svix.application.delete(app.id);
});

test("endpoint.transformation: get, patch (code, enabled, variables), deliveries reshaped and signed as sent", async () => {
  const app = await newApp("Transform");
  const p = `/${app.id}/chat`;
  const endpoint = await svix.endpoint.create(app.id, { url: receiver.url(p) });
  const secret = (await svix.endpoint.getSecret(app.id, endpoint.id)).key;
  const none = await svix.endpoint.transformation.get(app.id, endpoint.id);
  assert.equal(none.code ?? null, null);
  assert.equal(none.enabled, false);

  const code = "function handler(webhook) {\n  webhook.payload = { text: `${webhook.eventType} for ${webhook.variables.team}` };\n  return webhook;\n}";
  await svix.endpoint.transformation.patch(app.id, endpoint.id, { code, variables: { team: "ops" } });
  const saved = await svix.endpoint.transformation.get(app.id, endpoint.id);
  assert.equal(saved.code, code);
  assert.equal(saved.enabled, true);
  assert.deepEqual(saved.variables, { team: "ops" });
  assert.ok(saved.updatedAt instanceof Date, "updatedAt is read back into a Date");

  await assert.rejects(
    svix.endpoint.transformation.patch(app.id, endpoint.id, { code: "function handler( {" }),
    (e) => e instanceof ApiException && e.code === 422,
  );
  const sent = await svix.message.create(app.id, { eventType: "user.created", payload: { id: 1 } });
  const [delivery] = await waitForDeliveries(p, 1);
  assert.equal(delivery.headers["webhook-id"], sent.id);
  assert.deepEqual(JSON.parse(delivery.body.toString()), { text: "user.created for ops" });
  assertVerified(secret, [delivery]);

  // The deprecated call older SDK versions use.
  await svix.endpoint.transformationPartialUpdate(app.id, endpoint.id, { enabled: false });
  assert.equal((await svix.endpoint.transformation.get(app.id, endpoint.id)).enabled, false);
  await svix.application.delete(app.id);
});

test("destination (pollingEndpoint) and message.poller: poll, consumerPoll, consumerSeek read the stream in order", async () => {
  const app = await newApp("Poller");
  const created = await svix.destination.create(app.id, { type: "pollingEndpoint", uid: "feed", eventTypes: ["order.*"], batchSize: 2 });
  assert.equal(created.type, "pollingEndpoint");
  assert.equal(created.batchSize, 2);
  assert.ok(created.createdAt instanceof Date);
  for (const [n, eventType] of [[1, "order.created"], [2, "user.created"], [3, "order.paid"], [4, "order.shipped"]]) {
    await svix.message.create(app.id, { eventType, payload: { n } });
  }
  const first = await svix.message.poller.poll(app.id, created.id);
  assert.deepEqual(first.data.map((m) => m.payload.n), [1, 3]);
  assert.ok(first.data[0].timestamp instanceof Date);
  const rest = await svix.message.poller.poll(app.id, created.id, { iterator: first.iterator, limit: 10 });
  assert.deepEqual(rest.data.map((m) => m.payload.n), [4]);
  assert.equal(rest.done, true);
  const paid = await svix.message.poller.poll(app.id, created.id, { eventType: "order.paid", limit: 10 });
  assert.deepEqual(paid.data.map((m) => m.payload.n), [3]);

  assert.deepEqual((await svix.message.poller.consumerPoll(app.id, "feed", "c1")).data.map((m) => m.payload.n), [1, 3]);
  assert.deepEqual((await svix.message.poller.consumerPoll(app.id, "feed", "c1")).data.map((m) => m.payload.n), [4]);
  const sought = await svix.message.poller.consumerSeek(app.id, "feed", "c1", { after: new Date(Date.now() - 3_600_000) });
  assert.equal(typeof sought.iterator, "string");
  assert.deepEqual((await svix.message.poller.consumerPoll(app.id, "feed", "c1")).data.map((m) => m.payload.n), [1, 3]);

  // A FIFO destination's transformation through the SDK (DestinationTransformIn is {code}).
  const fifo = await svix.destination.create(app.id, { type: "fifoEndpoint", config: { url: receiver.url(`/${app.id}/fifo`) } });
  assert.equal(fifo.type, "fifoEndpoint");
  const code = "function handler(input) { return { count: input.events.length }; }";
  await svix.destination.transformation.patch(app.id, fifo.id, { code });
  const transformation = await svix.destination.transformation.get(app.id, fifo.id);
  assert.equal(transformation.code, code);
  assert.equal(transformation.enabled, true);
  await svix.destination.delete(app.id, fifo.id);

  await svix.destination.patch(app.id, created.id, { status: "paused" });
  assert.equal((await svix.destination.get(app.id, "feed")).status, "paused");
  await svix.destination.delete(app.id, created.id);
  await svix.application.delete(app.id);
});

// ------------------------------------------------------------------------------------------
// Attempts
// ------------------------------------------------------------------------------------------

test("messageAttempt: listByEndpoint, listByMsg, listAttemptedMessages, listAttemptedDestinations filter; get, resend, expungeContent; stats", async () => {
  const started = new Date(Date.now() - 1000);
  const app = await newApp("Attempts");
  const okPath = `/${app.id}/ok`;
  const badPath = `/${app.id}/bad`;
  receiver.statusByPath.set(badPath, 500);
  const ok = await svix.endpoint.create(app.id, { url: receiver.url(okPath) });
  const bad = await svix.endpoint.create(app.id, { url: receiver.url(badPath) });
  await noRetries(app.id, bad.id);
  const okSecret = (await svix.endpoint.getSecret(app.id, ok.id)).key;
  const badSecret = (await svix.endpoint.getSecret(app.id, bad.id)).key;

  const eventId = unique("evt");
  const m1 = await svix.message.create(app.id, { eventType: "order.created", eventId, payload: { n: 1 }, channels: ["eu"], tags: ["vip"] });
  const m2 = await svix.message.create(app.id, { eventType: "order.paid", payload: { n: 2 }, channels: ["us"], tags: ["std"] });

  assertVerified(okSecret, await waitForDeliveries(okPath, 2));
  assertVerified(badSecret, await waitForDeliveries(badPath, 2));
  await waitFor("both endpoints' attempts to be final", async () => {
    const [a, b] = await Promise.all([svix.endpoint.getStats(app.id, ok.id), svix.endpoint.getStats(app.id, bad.id)]);
    return a.success === 2 && b.fail === 2;
  });

  // listByEndpoint.
  const byEndpoint = async (endpointId, options) => (await svix.messageAttempt.listByEndpoint(app.id, endpointId, options)).data;
  const okAttempts = await byEndpoint(ok.id);
  assert.equal(okAttempts.length, 2);
  assert.deepEqual(sorted(okAttempts.map((a) => a.msgId)), sorted([m1.id, m2.id]));
  for (const a of okAttempts) {
    assert.match(a.id, /^atmpt_/);
    assert.equal(a.endpointId, ok.id);
    assert.equal(a.status, MessageStatus.Success);
    assert.equal(a.statusText, MessageStatusText.Success);
    assert.equal(a.responseStatusCode, 200);
    assert.equal(a.triggerType, MessageAttemptTriggerType.Scheduled);
    assert.equal(a.url, receiver.url(okPath));
    assertDate(a.timestamp, "attempt timestamp");
    assert.ok(a.msg == null, "no msg without withMsg");
  }
  assert.deepEqual((await byEndpoint(ok.id, { eventTypes: ["order.created"] })).map((a) => a.msgId), [m1.id]);
  assert.deepEqual((await byEndpoint(ok.id, { eventTypes: ["order.paid", "nothing.here"] })).map((a) => a.msgId), [m2.id]);
  assert.deepEqual((await byEndpoint(ok.id, { channel: "us" })).map((a) => a.msgId), [m2.id]);
  assert.deepEqual((await byEndpoint(ok.id, { tag: "vip" })).map((a) => a.msgId), [m1.id]);
  assert.deepEqual(await byEndpoint(ok.id, { status: MessageStatus.Fail }), []);
  assert.equal((await byEndpoint(ok.id, { status: MessageStatus.Success })).length, 2);
  const failed = await byEndpoint(bad.id, { status: MessageStatus.Fail });
  assert.deepEqual(sorted(failed.map((a) => a.msgId)), sorted([m1.id, m2.id]));
  assert.ok(failed.every((a) => a.responseStatusCode === 500 && a.statusText === MessageStatusText.Fail));
  assert.deepEqual(await byEndpoint(bad.id, { status: MessageStatus.Success }), []);
  assert.equal((await byEndpoint(bad.id, { statusCodeClass: StatusCodeClass.Code5xx })).length, 2);
  assert.deepEqual(await byEndpoint(ok.id, { statusCodeClass: StatusCodeClass.Code5xx }), []);
  assert.equal((await byEndpoint(ok.id, { statusCodeClass: StatusCodeClass.Code2xx })).length, 2);
  const withMsg = await byEndpoint(ok.id, { withMsg: true, eventTypes: ["order.created"] });
  assert.equal(withMsg[0].msg.id, m1.id);
  assert.equal(withMsg[0].msg.eventType, "order.created");
  assertDate(withMsg[0].msg.timestamp, "msg timestamp");
  assert.deepEqual(await byEndpoint(ok.id, { after: new Date(Date.now() + 60_000) }), []);
  assert.equal((await byEndpoint(ok.id, { after: started })).length, 2);

  // listByMsg (by id and by eventId).
  const byMsg = async (msgId, options) => (await svix.messageAttempt.listByMsg(app.id, msgId, options)).data;
  const m1Attempts = await byMsg(m1.id);
  assert.deepEqual(sorted(m1Attempts.map((a) => a.endpointId)), sorted([ok.id, bad.id]));
  assert.deepEqual(sorted(ids(await byMsg(eventId))), sorted(ids(m1Attempts)));
  assert.deepEqual((await byMsg(m1.id, { status: MessageStatus.Success })).map((a) => a.endpointId), [ok.id]);
  assert.deepEqual((await byMsg(m1.id, { status: MessageStatus.Fail })).map((a) => a.endpointId), [bad.id]);
  assert.deepEqual((await byMsg(m1.id, { endpointId: bad.id })).map((a) => a.endpointId), [bad.id]);
  assert.deepEqual(await byMsg(m1.id, { eventTypes: ["order.paid"] }), []);
  assert.equal((await byMsg(m1.id, { eventTypes: ["order.created"] })).length, 2);
  assert.deepEqual(await byMsg(m1.id, { channel: "us" }), []);
  assert.equal((await byMsg(m1.id, { channel: "eu" })).length, 2);

  // listAttemptedMessages: an endpoint's messages with their delivery status.
  const attempted = async (endpointId, options) => (await svix.messageAttempt.listAttemptedMessages(app.id, endpointId, options)).data;
  const okMessages = await attempted(ok.id);
  assert.deepEqual(sorted(ids(okMessages)), sorted([m1.id, m2.id]));
  for (const m of okMessages) {
    assert.equal(m.status, MessageStatus.Success);
    assert.equal(m.statusText, MessageStatusText.Success);
    assertDate(m.timestamp, "timestamp");
    assert.equal(m.nextAttempt, null);
  }
  assert.deepEqual(ids(await attempted(ok.id, { eventTypes: ["order.paid"] })), [m2.id]);
  assert.deepEqual(ids(await attempted(ok.id, { channel: "eu" })), [m1.id]);
  assert.deepEqual(ids(await attempted(ok.id, { tag: "std" })), [m2.id]);
  assert.deepEqual(await attempted(ok.id, { status: MessageStatus.Fail }), []);
  const badMessages = await attempted(bad.id, { status: MessageStatus.Fail });
  assert.deepEqual(sorted(ids(badMessages)), sorted([m1.id, m2.id]));
  assert.ok(badMessages.every((m) => m.statusText === MessageStatusText.Fail));
  assert.deepEqual((await attempted(ok.id, { withContent: true, tag: "vip" }))[0].payload, { n: 1 });

  // listAttemptedDestinations.
  const destinations = (await svix.messageAttempt.listAttemptedDestinations(app.id, m1.id)).data;
  assert.deepEqual(sorted(ids(destinations)), sorted([ok.id, bad.id]));
  const okDestination = destinations.find((d) => d.id === ok.id);
  assert.equal(okDestination.status, MessageStatus.Success);
  assert.equal(okDestination.statusText, MessageStatusText.Success);
  assert.equal(okDestination.url, receiver.url(okPath));
  assertDate(okDestination.createdAt, "createdAt");
  assertDate(okDestination.updatedAt, "updatedAt");
  assert.equal(destinations.find((d) => d.id === bad.id).status, MessageStatus.Fail);
  const firstDestination = await svix.messageAttempt.listAttemptedDestinations(app.id, m1.id, { limit: 1 });
  assert.equal(firstDestination.data.length, 1);
  assert.equal(firstDestination.done, false);

  // get (by message id and by eventId).
  const okAttempt = m1Attempts.find((a) => a.endpointId === ok.id);
  const got = await svix.messageAttempt.get(app.id, m1.id, okAttempt.id);
  assert.equal(got.id, okAttempt.id);
  assert.equal(got.msgId, m1.id);
  assert.equal(got.response, "ok");
  assert.equal(got.responseStatusCode, 200);
  assert.ok(Number.isInteger(got.responseDurationMs) && got.responseDurationMs >= 0);
  assert.equal(got.triggerType, MessageAttemptTriggerType.Scheduled);
  assert.equal(got.timestamp.getTime(), okAttempt.timestamp.getTime());
  assert.equal((await svix.messageAttempt.get(app.id, eventId, okAttempt.id)).id, okAttempt.id);

  // resend: delivered again with the same webhook-id, a Manual attempt.
  const resent = await svix.messageAttempt.resend(app.id, m1.id, ok.id);
  assert.deepEqual(resent, {});
  const again = await waitForDeliveries(okPath, 3);
  assert.equal(again.filter((d) => d.headers["webhook-id"] === m1.id).length, 2);
  assertVerified(okSecret, again);
  const manual = await waitFor("the manual attempt", async () =>
    (await byMsg(m1.id, { endpointId: ok.id })).find((a) => a.triggerType === MessageAttemptTriggerType.Manual),
  );
  assert.equal(manual.status, MessageStatus.Success);

  // expungeContent: the response body is gone, the attempt remains.
  await svix.messageAttempt.expungeContent(app.id, m1.id, okAttempt.id);
  const expunged = await svix.messageAttempt.get(app.id, m1.id, okAttempt.id);
  assert.equal(expunged.id, okAttempt.id);
  assert.notEqual(expunged.response, "ok");
  assert.equal(expunged.responseStatusCode, 200);

  // getStats with since/until Dates: three successful attempts (two scheduled, one resent).
  const stats = await svix.endpoint.getStats(app.id, ok.id, { since: started, until: new Date(Date.now() + 60_000) });
  assert.deepEqual(stats, { success: 3, pending: 0, sending: 0, fail: 0, canceled: 0 });
  const badStats = await svix.endpoint.getStats(app.id, bad.id, { since: started });
  assert.equal(badStats.fail, 2);
  assert.equal(badStats.success, 0);
  const before = await svix.endpoint.getStats(app.id, ok.id, { since: new Date(started.getTime() - 3_600_000), until: new Date(started.getTime() - 60_000) });
  assert.deepEqual(before, { success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 }, "a window before the messages counts nothing");
  const future = await svix.endpoint.getStats(app.id, ok.id, { since: new Date(Date.now() + 60_000) });
  assert.equal(future.success, 0, "a window after the messages counts nothing");

  receiver.statusByPath.delete(badPath);
  await svix.application.delete(app.id);
});

// ------------------------------------------------------------------------------------------
// Recover, replay-missing, background tasks
// ------------------------------------------------------------------------------------------

test("endpoint.recover and replayMissing start qtask_ background tasks followed with backgroundTask.get/list", async () => {
  const since = new Date(Date.now() - 60_000);
  const app = await newApp("Recover");
  const p = `/${app.id}/recover`;
  receiver.statusByPath.set(p, 503);
  const endpoint = await svix.endpoint.create(app.id, { url: receiver.url(p) });
  await noRetries(app.id, endpoint.id);
  const secret = (await svix.endpoint.getSecret(app.id, endpoint.id)).key;
  const sent = [];
  for (let n = 0; n < 3; n++) sent.push(await svix.message.create(app.id, { eventType: "job.done", payload: { n } }));
  await waitForDeliveries(p, 3);
  await waitFor("three failed deliveries", async () => (await svix.endpoint.getStats(app.id, endpoint.id)).fail === 3);

  // The receiver recovers; recover sends the failed messages again.
  receiver.statusByPath.delete(p);
  const started = await svix.endpoint.recover(app.id, endpoint.id, { since });
  assert.match(started.id, /^qtask_/);
  assert.equal(started.task, BackgroundTaskType.EndpointRecover);
  assert.ok([BackgroundTaskStatus.Running, BackgroundTaskStatus.Finished].includes(started.status), started.status);
  assertDate(started.updatedAt, "updatedAt");
  const recovered = await taskDone(started.id);
  assert.equal(recovered.status, BackgroundTaskStatus.Finished);
  assert.equal(recovered.task, BackgroundTaskType.EndpointRecover);
  assert.equal(recovered.data.messagesSent, 3);
  assertDate(recovered.updatedAt, "updatedAt");
  const deliveries = await waitForDeliveries(p, 6);
  assert.deepEqual(sorted(webhookIds(deliveries.slice(3))), sorted(ids(sent)));
  assertVerified(secret, deliveries);
  await waitFor("the recovered messages to be delivered", async () => {
    const messages = (await svix.messageAttempt.listAttemptedMessages(app.id, endpoint.id)).data;
    return messages.length === 3 && messages.every((m) => m.status === MessageStatus.Success);
  });

  // Nothing failed any more: a second recover sends nothing.
  const second = await taskDone((await svix.endpoint.recover(app.id, endpoint.id, { since, until: new Date() })).id);
  assert.equal(second.data.messagesSent, 0);

  // replayMissing: an endpoint created after the messages gets them all; the first gets none.
  const latePath = `/${app.id}/late`;
  const late = await svix.endpoint.create(app.id, { url: receiver.url(latePath) });
  const lateSecret = (await svix.endpoint.getSecret(app.id, late.id)).key;
  const replay = await svix.endpoint.replayMissing(app.id, late.id, { since });
  assert.match(replay.id, /^qtask_/);
  assert.equal(replay.task, BackgroundTaskType.EndpointReplay);
  const replayed = await taskDone(replay.id);
  assert.equal(replayed.status, BackgroundTaskStatus.Finished);
  assert.equal(replayed.data.messagesSent, 3);
  const lateDeliveries = await waitForDeliveries(latePath, 3);
  assert.deepEqual(sorted(webhookIds(lateDeliveries)), sorted(ids(sent)));
  assertVerified(lateSecret, lateDeliveries);
  const nothingMissing = await taskDone((await svix.endpoint.replayMissing(app.id, endpoint.id, { since })).id);
  assert.equal(nothingMissing.data.messagesSent, 0);

  // bulkReplay: sends again what was delivered, narrowed by event type and status.
  const bulk = await svix.endpoint.bulkReplay(app.id, endpoint.id, { since, eventTypes: ["job.done"], status: MessageStatus.Success });
  assert.match(bulk.id, /^qtask_/);
  assert.equal(bulk.task, BackgroundTaskType.EndpointBulkReplay);
  const bulkDone = await taskDone(bulk.id);
  assert.equal(bulkDone.status, BackgroundTaskStatus.Finished);
  assert.equal(bulkDone.data.messagesSent, 3);
  const bulkDeliveries = await waitForDeliveries(p, 9);
  assert.deepEqual(sorted(webhookIds(bulkDeliveries.slice(6))), sorted(ids(sent)));
  assertVerified(secret, bulkDeliveries);
  const noneOfThat = await taskDone((await svix.endpoint.bulkReplay(app.id, endpoint.id, { since, eventTypes: ["other.type"] })).id);
  assert.equal(noneOfThat.data.messagesSent, 0);

  // backgroundTask.list: filters by task type and status, pages by iterator.
  const recovers = await allPages((o) => svix.backgroundTask.list(o), { task: BackgroundTaskType.EndpointRecover, limit: 50 });
  assert.ok(recovers.length >= 2);
  assert.ok(recovers.every((t) => t.task === BackgroundTaskType.EndpointRecover));
  assert.ok(ids(recovers).includes(started.id) && ids(recovers).includes(second.id));
  assert.ok(!ids(recovers).includes(replay.id));
  const replays = await allPages((o) => svix.backgroundTask.list(o), { task: BackgroundTaskType.EndpointReplay, limit: 50 });
  assert.ok(ids(replays).includes(replay.id));
  const finished = await allPages((o) => svix.backgroundTask.list(o), { status: BackgroundTaskStatus.Finished, limit: 50 });
  for (const id of [started.id, second.id, replay.id, nothingMissing.id, bulk.id]) assert.ok(ids(finished).includes(id), id);
  assert.deepEqual(await allPages((o) => svix.backgroundTask.list(o), { status: BackgroundTaskStatus.Failed, limit: 50 }), []);
  const paged = await allPages((o) => svix.backgroundTask.list(o), { limit: 1 });
  assert.equal(new Set(ids(paged)).size, paged.length);
  assert.ok(paged.length >= 6);
  for (const t of paged) assertDate(t.updatedAt, "listed updatedAt");
  await apiError(svix.backgroundTask.get("qtask_" + "0".repeat(26)), 404);

  await svix.application.delete(app.id);
});

test(
  "eventType.create unarchives an archived event type (Svix: create new or unarchive existing)",
  async () => {
    const name = unique("archived").replace(/-/g, "_") + ".event";
    await svix.eventType.create({ name, description: "First" });
    await svix.eventType.delete(name);
    assert.equal((await svix.eventType.get(name)).archived, true);
    try {
      const again = await svix.eventType.create({ name, description: "Back again" });
      assert.equal(again.name, name);
      assert.equal(again.archived, false);
      assert.equal(again.description, "Back again");
      assert.equal((await svix.eventType.get(name)).archived, false);
    } finally {
      await svix.eventType.delete(name, { expunge: true });
    }
    // Creating a live one twice is still a conflict.
    await svix.eventType.create({ name, description: "Live" });
    await apiError(svix.eventType.create({ name, description: "Live" }), 409);
    await svix.eventType.delete(name, { expunge: true });
  },
);

test(
  "endpoint.upsert creates the endpoint when it does not exist (Svix: PUT is create-or-update)",
  async () => {
    const app = await newApp("Endpoint PUT");
    const uid = unique("ep-put");
    try {
      const created = await svix.endpoint.upsert(app.id, uid, { url: receiver.url(`/${app.id}/put`), uid, disabled: true });
      assert.match(created.id, /^ep_/);
      assert.equal(created.uid, uid);
      assert.equal(created.disabled, true);
      assert.equal((await svix.endpoint.get(app.id, uid)).id, created.id);
      assert.match((await svix.endpoint.getSecret(app.id, uid)).key, /^whsec_/, "a secret is generated");
    } finally {
      await svix.application.delete(app.id);
    }
  },
);

test(
  "endpoint.getStats counts deliveries by status (README, Svix compatibility: Svix counts attempts), so a recovered message is one success",
  async () => {
    const since = new Date(Date.now() - 60_000);
    const app = await newApp("Stats");
    const p = `/${app.id}/stats`;
    receiver.statusByPath.set(p, 500);
    try {
      const endpoint = await svix.endpoint.create(app.id, { url: receiver.url(p) });
      await noRetries(app.id, endpoint.id);
      const message = await svix.message.create(app.id, { eventType: "stats.test", payload: {} });
      await waitFor("the failed attempt", async () => (await svix.messageAttempt.listByMsg(app.id, message.id, { status: MessageStatus.Fail })).data.length === 1);
      receiver.statusByPath.delete(p);
      assert.equal((await taskDone((await svix.endpoint.recover(app.id, endpoint.id, { since })).id)).data.messagesSent, 1);
      await waitFor("the successful attempt", async () => (await svix.messageAttempt.listByMsg(app.id, message.id, { status: MessageStatus.Success })).data.length === 1);
      assertVerified((await svix.endpoint.getSecret(app.id, endpoint.id)).key, await waitForDeliveries(p, 2));
      const attempts = (await svix.messageAttempt.listByEndpoint(app.id, endpoint.id)).data;
      assert.deepEqual(sorted(attempts.map((a) => a.status)), [MessageStatus.Success, MessageStatus.Fail]);
      const stats = await svix.endpoint.getStats(app.id, endpoint.id, { since });
      assert.deepEqual(
        { success: stats.success, pending: stats.pending, sending: stats.sending, fail: stats.fail },
        { success: 1, pending: 0, sending: 0, fail: 0 },
      );
    } finally {
      receiver.statusByPath.delete(p);
      await svix.application.delete(app.id);
    }
  },
);

test(
  "application.list takes the SDK's excludeAppsWithNoEndpoints / excludeAppsWithDisabledEndpoints filters",
  async () => {
    const empty = await newApp("No endpoints");
    const disabled = await newApp("Disabled endpoint only");
    const live = await newApp("Live endpoint");
    try {
      await svix.endpoint.create(disabled.id, { url: receiver.url(`/${disabled.id}/off`), disabled: true });
      await svix.endpoint.create(live.id, { url: receiver.url(`/${live.id}/on`) });
      const withEndpoints = ids(await allPages((o) => svix.application.list(o), { limit: 50, excludeAppsWithNoEndpoints: true }));
      assert.ok(!withEndpoints.includes(empty.id) && withEndpoints.includes(disabled.id) && withEndpoints.includes(live.id));
      const enabled = ids(await allPages((o) => svix.application.list(o), { limit: 50, excludeAppsWithDisabledEndpoints: true }));
      assert.ok(!enabled.includes(disabled.id) && enabled.includes(live.id));
    } finally {
      for (const app of [empty, disabled, live]) await svix.application.delete(app.id);
    }
  },
);

test(
  "an SDK call the server does not route fails with an ApiException (a JSON error body), not a SyntaxError",
  async () => {
    const app = await newApp("Unrouted");
    try {
      let error;
      try {
        expectingError++;
        await svix.message.bulkExpungeContent(app.id, {});
      } catch (e) {
        error = e;
      } finally {
        expectingError--;
      }
      // Svix implements bulk-expunge; failing that, the error must at least be one the SDK reads.
      if (error !== undefined) {
        assert.ok(error instanceof ApiException, `expected an ApiException, got ${error}`);
        assert.equal(typeof error.body?.code, "string");
      }
    } finally {
      await svix.application.delete(app.id);
    }
  },
);

// ------------------------------------------------------------------------------------------
// Authentication
// ------------------------------------------------------------------------------------------

test("authentication: appPortalAccess gives an application token; logout revokes it", async () => {
  const app = await newApp("Portal");
  const other = await newApp("Someone else");
  const access = await svix.authentication.appPortalAccess(app.id, {});
  assert.ok(access.token, "a token");
  assert.ok(access.url.startsWith("http"), access.url);
  assert.ok(access.url.includes(access.token) || access.url.includes(encodeURIComponent(access.token)), "the URL carries the token");

  const asApp = client(access.token);
  assert.equal((await asApp.application.get(app.id)).id, app.id);
  const endpoint = await asApp.endpoint.create(app.id, { url: receiver.url(`/${app.id}/portal`) });
  assert.deepEqual(ids((await asApp.endpoint.list(app.id)).data), [endpoint.id]);
  await apiError(asApp.application.get(other.id), [403, 404]);
  await apiError(asApp.application.list(), 403);

  // A read-only token (capabilities: ViewBase) reads but does not write.
  const readOnly = client((await svix.authentication.appPortalAccess(app.id, { capabilities: [AppPortalCapability.ViewBase] })).token);
  assert.equal((await readOnly.endpoint.get(app.id, endpoint.id)).id, endpoint.id);
  await apiError(readOnly.endpoint.delete(app.id, endpoint.id), 403);

  // logout: the token stops working; the admin token is unaffected.
  assert.equal(await asApp.authentication.logout(), undefined);
  const revoked = await apiError(asApp.application.get(app.id), 401);
  assert.ok(revoked.body.code);
  assert.equal((await readOnly.endpoint.get(app.id, endpoint.id)).id, endpoint.id, "another token of the app still works");
  assert.equal((await svix.application.get(app.id)).id, app.id);

  // The admin token cannot be logged out.
  await apiError(svix.authentication.logout(), [400, 401, 403]);
  assert.equal((await svix.application.get(app.id)).id, app.id);

  await svix.application.delete(app.id);
  await svix.application.delete(other.id);
});

test("errors: 404, 422 and 401 surface as ApiException with Svix's bodies", async () => {
  const missing = await apiError(svix.application.get(unique("missing")), 404);
  assert.equal(missing.body.code, "not_found");
  assert.equal(typeof missing.body.detail, "string");

  const app = await newApp("Errors");
  const invalid = await apiError(svix.endpoint.create(app.id, { url: "ftp://x" }), 422);
  assert.ok(Array.isArray(invalid.body.detail) && invalid.body.detail.length > 0);
  assert.deepEqual(invalid.body.detail[0].loc, ["body", "url"]);

  const intruder = client("hw_not-a-real-token");
  const unauthorized = await apiError(intruder.application.get(app.id), 401);
  assert.equal(unauthorized.body.code, "authentication_failed");
  await svix.application.delete(app.id);
});

test("every delivery the receiver got was verified with the SDK's Webhook class", () => {
  const unverified = receiver.received.filter((d) => !verified.has(d));
  assert.deepEqual(unverified.map((d) => `${d.path} ${d.headers["webhook-id"]}`), []);
  assert.ok(verified.size >= 30, `only ${verified.size} deliveries`);
});
