// webhooks end to end: deliveries signed by the official `stripe` package (and BaseHub's and
// Svix's schemes), the Wasm in workerd, Postgres for exactly-once effects, Redis for cache
// drops and pub/sub, a Cloudflare Queue to kb-ingest, and the revalidate call after the 2xx.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import pg from "pg";
import Stripe from "stripe";
import { Redis } from "@upstash/redis";
import { basehubSignature, svixSignature } from "../support/signers.mjs";
import { startBundle, stackEnv, E2E_JWT_SECRET, E2E_WEBHOOK_SECRETS } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { subscription } from "../support/redis-subscribe.mjs";

const stripe = new Stripe("sk_test_e2e_not_a_real_key");
const CURRENT = "whsec_e2e_current_secret";
const OLD = "whsec_e2e_old_secret";
const CONTENT_TENANT = E2E_WEBHOOK_SECRETS.BASEHUB_TENANT_ID;
const stack = stackEnv();
const redis = new Redis({ url: stack.redisRestUrl, token: stack.redisRestToken, enableTelemetry: false });
const uid = (p) => `${p}_${randomBytes(6).toString("hex")}`;
const now = () => Math.floor(Date.now() / 1000);

let bundle;
let db;
let revalidations = [];
let revalidateServer;

before(async () => {
  revalidateServer = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      revalidations.push({ path: req.url, headers: req.headers, body: JSON.parse(body || "{}") });
      res.end("ok");
    });
  });
  await new Promise((r) => revalidateServer.listen(0, "127.0.0.1", r));
  const revalidateUrl = `http://127.0.0.1:${revalidateServer.address().port}/api/revalidate`;
  bundle = await startBundle({
    overrides: { webhooks: { bindings: { BASEHUB_REVALIDATE_URL: revalidateUrl, OUTBOUND_ALLOWLIST: "127.0.0.1" } } },
  });
  db = new pg.Client({ connectionString: stack.postgresUrl });
  await db.connect();
});
after(async () => {
  await bundle?.dispose();
  await db?.end();
  await new Promise((r) => revalidateServer?.close(r));
});

function stripeEvent(type, object, created = now()) {
  return JSON.stringify({ id: uid("evt"), object: "event", api_version: "2025-03-31.basil", created, type, data: { object } }, null, 2);
}

function deliver(payload, header) {
  return bundle.fetch("/webhooks/stripe", {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": header },
    body: payload,
  });
}

const sign = (payload, opts = {}) => stripe.webhooks.generateTestHeaderString({ payload, secret: CURRENT, ...opts });

function subscriptionObject(id, customer, status, lookupKey) {
  const start = now() - 60;
  return {
    id, object: "subscription", customer, status, cancel_at_period_end: false,
    items: { object: "list", data: [{ id: uid("si"), price: { id: `price_${lookupKey}`, lookup_key: lookupKey }, current_period_start: start, current_period_end: start + 2592000 }] },
  };
}

async function planOf(tenant) {
  const { rows } = await db.query("select plan, status, agent_requests_per_minute from tenant_plans where tenant_id = $1", [tenant]);
  return rows[0];
}

describe("Stripe signatures (headers made by the official stripe package)", () => {
  const payload = () => stripeEvent("customer.tax_id.created", { id: "txi_1", object: "tax_id" });

  test("valid → 200; unknown event types are recorded and ignored", async () => {
    const body = payload();
    const res = await deliver(body, sign(body));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { received: true, duplicate: false, outcome: "ignored" });
    const { rows } = await db.query("select outcome from webhook_events where provider = 'stripe' and event_id = $1", [JSON.parse(body).id]);
    assert.deepEqual(rows, [{ outcome: "ignored" }]);
  });

  test("tampered body, old timestamp, v0 only, wrong secret → 400 naming the reason", async () => {
    const body = payload();
    const cases = [
      [body.replace("txi_1", "txi_2"), sign(body), "signature_mismatch"],
      [body, sign(body, { timestamp: now() - 400 }), "timestamp_too_old"],
      [body, sign(body, { timestamp: now() + 400 }), "timestamp_in_future"],
      [body, sign(body, { scheme: "v0" }), "signature_missing_v1"],
      [body, stripe.webhooks.generateTestHeaderString({ payload: body, secret: "whsec_wrong" }), "signature_mismatch"],
      [body, "garbage", "signature_malformed"],
    ];
    for (const [b, header, code] of cases) {
      const res = await deliver(b, header);
      assert.equal(res.status, 400, code);
      const err = (await res.json()).error;
      assert.equal(err.code, code);
      assert.ok(!JSON.stringify(err).includes("whsec_"), "never echo a secret");
      assert.ok(!JSON.stringify(err).includes("txi_"), "never echo the body");
    }
    const missing = await bundle.fetch("/webhooks/stripe", { method: "POST", body });
    assert.equal(missing.status, 400);
    assert.equal((await missing.json()).error.code, "signature_missing");
  });

  test("rotation: two v1 (one stale) and the old secret both pass", async () => {
    const body = payload();
    const t = now();
    const good = sign(body, { timestamp: t });
    const stale = stripe.webhooks.generateTestHeaderString({ payload: body, secret: "whsec_retired", timestamp: t });
    const twoV1 = `${stale},${good.split(",").find((p) => p.startsWith("v1="))}`;
    assert.equal((await deliver(body, twoV1)).status, 200);
    const other = payload();
    const res = await deliver(other, stripe.webhooks.generateTestHeaderString({ payload: other, secret: OLD }));
    assert.equal(res.status, 200);
  });
});

describe("Stripe billing effects", () => {
  test("checkout + subscription set the plan; the new plan replaces the cached one and a message is published", async () => {
    const [tenant, customer, sub] = [uid("tenant"), uid("cus"), uid("sub")];
    const checkout = stripeEvent("checkout.session.completed", { id: uid("cs"), object: "checkout.session", client_reference_id: tenant, customer, mode: "subscription" });
    assert.equal((await deliver(checkout, sign(checkout))).status, 200);
    await redis.set(`sba:plan:${tenant}`, JSON.stringify({ plan: "free" }));
    const channel = subscription(stack.redisUrl, `sba:billing:${tenant}`);
    await channel.ready;
    const created = stripeEvent("customer.subscription.created", subscriptionObject(sub, customer, "active", "pro"));
    const res = await deliver(created, sign(created));
    assert.deepEqual(await res.json(), { received: true, duplicate: false, outcome: "applied" });
    assert.deepEqual(await planOf(tenant), { plan: "pro", status: "active", agent_requests_per_minute: 120 });
    // The new plan is written into the cache (the next run needs no database read for it).
    const cached = await redis.get(`sba:plan:${tenant}`);
    assert.equal(cached.plan, "pro", JSON.stringify(cached));
    assert.equal(cached.status, "active");
    assert.equal(cached.agentRequestsPerMinute, 120);
    const ttl = await redis.ttl(`sba:plan:${tenant}`);
    assert.ok(ttl > 0 && ttl <= 60, `ttl ${ttl}`);
    const message = JSON.parse(await channel.message);
    assert.equal(message.tenant, tenant);
    assert.equal(message.plan, "pro");
    assert.equal(message.status, "active");
  });

  test("out of order: updated before created, and an old updated after a new one → newest stored", async () => {
    const [tenant, customer, sub] = [uid("tenant"), uid("cus"), uid("sub")];
    const t = now();
    const newest = stripeEvent("customer.subscription.updated", subscriptionObject(sub, customer, "active", "business"), t - 10);
    const created = stripeEvent("customer.subscription.created", subscriptionObject(sub, customer, "active", "pro"), t - 30);
    const older = stripeEvent("customer.subscription.updated", subscriptionObject(sub, customer, "past_due", "pro"), t - 20);
    const checkout = stripeEvent("checkout.session.completed", { id: uid("cs"), object: "checkout.session", client_reference_id: tenant, customer }, t - 40);
    for (const [body, outcome] of [[newest, "applied"], [created, "stale"], [older, "stale"], [checkout, "applied"]]) {
      const res = await deliver(body, sign(body));
      assert.equal((await res.json()).outcome, outcome);
    }
    assert.deepEqual(await planOf(tenant), { plan: "business", status: "active", agent_requests_per_minute: 600 });
  });

  test("50 concurrent deliveries of one event → exactly one effect, 50 × 2xx", async () => {
    const [tenant, customer] = [uid("tenant"), uid("cus")];
    const checkout = stripeEvent("checkout.session.completed", { id: uid("cs"), object: "checkout.session", client_reference_id: tenant, customer });
    await deliver(checkout, sign(checkout));
    const invoiceId = uid("in");
    const paid = stripeEvent("invoice.paid", {
      id: invoiceId, object: "invoice", customer,
      lines: { object: "list", data: [{ period: { start: now(), end: now() + 2592000 } }] },
    });
    const header = sign(paid);
    const responses = await Promise.all(Array.from({ length: 50 }, () => deliver(paid, header)));
    const bodies = await Promise.all(responses.map((r) => r.json()));
    assert.deepEqual([...new Set(responses.map((r) => r.status))], [200]);
    assert.equal(bodies.filter((b) => !b.duplicate).length, 1);
    assert.equal(bodies.filter((b) => b.duplicate).length, 49);
    const { rows } = await db.query("select count(*)::int as n from usage_periods where invoice_id = $1", [invoiceId]);
    assert.equal(rows[0].n, 1);
  });

  test("payment failed marks the tenant delinquent until an invoice is paid", async () => {
    const [tenant, customer] = [uid("tenant"), uid("cus")];
    const checkout = stripeEvent("checkout.session.completed", { id: uid("cs"), object: "checkout.session", client_reference_id: tenant, customer });
    await deliver(checkout, sign(checkout));
    const failed = stripeEvent("invoice.payment_failed", { id: uid("in"), object: "invoice", customer });
    assert.equal((await (await deliver(failed, sign(failed))).json()).outcome, "applied");
    const { rows } = await db.query("select delinquent from tenant_plans where tenant_id = $1", [tenant]);
    assert.equal(rows[0].delinquent, true);
  });
});

describe("BaseHub", () => {
  const basehubSign = (body) => basehubSignature(body);
  const svixSign = (id, ts, body) => svixSignature(id, ts, body);
  const post = (body, headers) =>
    bundle.fetch("/webhooks/basehub", { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  test("a signed change drops cached blocks, publishes, queues a re-ingest, revalidates; a replay is a duplicate", async () => {
    const block = uid("blk");
    await redis.set(`sba:content:${CONTENT_TENANT}:block:${block}`, "cached html");
    const channel = subscription(stack.redisUrl, `sba:content:invalidate:${CONTENT_TENANT}`);
    await channel.ready;
    const body = JSON.stringify({ timestamp: new Date().toISOString(), type: "block.updated", data: { blockId: block, nonce: uid("n") } });
    const trace = randomBytes(16).toString("hex");
    const res = await post(body, { "x-basehub-webhook-signature": basehubSign(body), traceparent: `00-${trace}-${"ab".repeat(8)}-01` });
    assert.equal(res.status, 200);
    const ourSpan = res.headers.get("traceresponse").split("-")[2];
    assert.deepEqual(await res.json(), { received: true, duplicate: false, invalidated: 1, queued: true });
    assert.equal(await redis.get(`sba:content:${CONTENT_TENANT}:block:${block}`), null);
    assert.deepEqual(JSON.parse(await channel.message).blockIds, [block]);
    const replay = await post(body, { "x-basehub-webhook-signature": basehubSign(body) });
    assert.deepEqual(await replay.json(), { received: true, duplicate: true });
    const deadline = Date.now() + 5000;
    while (!revalidations.some((r) => r.body.blockIds?.includes(block)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const revalidation = revalidations.find((r) => r.path === "/api/revalidate" && r.body.blockIds.includes(block));
    assert.ok(revalidation, "revalidate URL called");
    assert.equal(revalidation.headers.traceparent, `00-${trace}-${ourSpan}-01`, "the revalidate call joins the delivery's trace");
  });

  test("the queued job reaches kb-ingest: the block's documents are marked stale", async () => {
    const block = uid("blk");
    const token = tenantToken(E2E_JWT_SECRET, CONTENT_TENANT);
    const ingest = await bundle.fetch("/kb/documents", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ title: "Pricing page", content: `Prices ${block}`, contentType: "text", source: { kind: "basehub" }, metadata: { blockId: block } }),
    });
    assert.equal(ingest.status, 201);
    const { id } = await ingest.json();
    const body = JSON.stringify({ type: "block.updated", data: { blockId: block } });
    const trace = randomBytes(16).toString("hex");
    const delivered = await post(body, { "x-basehub-webhook-signature": basehubSign(body), traceparent: `00-${trace}-${"cd".repeat(8)}-01` });
    assert.equal(delivered.status, 200);
    const deadline = Date.now() + 8000;
    let doc;
    do {
      await new Promise((r) => setTimeout(r, 100));
      doc = await (await bundle.fetch(`/kb/documents/${id}`, { headers: { authorization: `Bearer ${token}` } })).json();
    } while (doc.metadata?.stale !== true && Date.now() < deadline);
    assert.equal(doc.metadata.stale, true);
    // The consumer continued the delivery's trace across the queue.
    const applied = await bundle.waitForLog((l) => l.msg === "re-ingest job applied" && l.traceId === trace);
    assert.match(applied.spanId, /^[0-9a-f]{16}$/);
  });

  test("bad BaseHub signatures → 400; legacy Svix deliveries verified with a 5-minute window", async () => {
    const body = JSON.stringify({ type: "repo.commit", data: { nonce: uid("n") } });
    const tampered = await post(body, { "x-basehub-webhook-signature": basehubSign(body + " ") });
    assert.equal(tampered.status, 400);
    assert.equal((await tampered.json()).error.code, "signature_mismatch");
    assert.equal((await post(body, {})).status, 400);
    const id = uid("msg");
    const ts = String(now());
    const ok = await post(body, { "svix-id": id, "svix-timestamp": ts, "svix-signature": svixSign(id, ts, body) });
    assert.equal(ok.status, 200);
    const again = await post(body, { "svix-id": id, "svix-timestamp": ts, "svix-signature": svixSign(id, ts, body) });
    assert.equal((await again.json()).duplicate, true);
    const oldTs = String(now() - 600);
    const old = await post(body, { "svix-id": uid("msg"), "svix-timestamp": oldTs, "svix-signature": svixSign(id, oldTs, body) });
    assert.equal(old.status, 400);
    // The Standard Webhooks names Svix also sends: the same check, the same dedupe id.
    const unbranded = uid("msg");
    const plain = await post(body, { "webhook-id": unbranded, "webhook-timestamp": ts, "webhook-signature": svixSign(unbranded, ts, body) });
    assert.deepEqual(await plain.json(), { received: true, duplicate: false, invalidated: 0, queued: true });
    const branded = await post(body, { "svix-id": unbranded, "svix-timestamp": ts, "svix-signature": svixSign(unbranded, ts, body) });
    assert.equal((await branded.json()).duplicate, true);
    const forged = await post(body, { "webhook-id": uid("msg"), "webhook-timestamp": ts, "webhook-signature": svixSign("another-id", ts, body) });
    assert.equal(forged.status, 400);
  });
});
