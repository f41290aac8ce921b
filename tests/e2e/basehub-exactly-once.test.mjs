// BaseHub deliveries are applied exactly once, and a change really re-ingests the entry.
// The webhooks Worker records each delivery with what it owes (cache drops, the invalidation
// message, the re-ingest job) in one transaction (the outbox) and records each effect once
// done; kb-ingest reads the changed entry from BaseHub's content API (a double speaking its
// GraphQL answer shape) and stores it as a new version through the normal ingest path.
// Against the built Wasm in workerd, the local Redis (behind a proxy the tests can take down)
// and Postgres.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { basehubSignature } from "../support/signers.mjs";
import http from "node:http";
import pg from "pg";
import { Redis } from "@upstash/redis";
import { sleep, until } from "../support/wait.mjs";
import { startBundle, stackEnv, E2E_JWT_SECRET, E2E_WEBHOOK_SECRETS } from "../support/bundle.mjs";
import { startBasehubDouble } from "../support/basehub-double.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { listener } from "../support/redis-subscribe.mjs";

const TENANT = E2E_WEBHOOK_SECRETS.BASEHUB_TENANT_ID;
const stack = stackEnv();
const redis = new Redis({ url: stack.redisRestUrl, token: stack.redisRestToken, enableTelemetry: false });
const uid = (p) => `${p}_${randomBytes(6).toString("hex")}`;
const word = () => `w${randomBytes(6).toString("hex")}`;
const auth = { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, TENANT)}` };

let bundle;
let db;
let cms;
let redisProxy;
let redisDown = false;

before(async () => {
  cms = await startBasehubDouble();
  // The webhooks Worker's Redis: the real one, or 503 while `redisDown`.
  redisProxy = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    if (redisDown) {
      res.writeHead(503, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: "redis is down (test)" }));
    }
    const headers = { ...req.headers };
    delete headers.host;
    const upstream = await fetch(new URL(req.url, stack.redisRestUrl), { method: req.method, headers, body: Buffer.concat(chunks) });
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise((r) => redisProxy.listen(0, "127.0.0.1", r));
  bundle = await startBundle({
    overrides: {
      webhooks: { bindings: { REDIS_REST_URL: `http://127.0.0.1:${redisProxy.address().port}` } },
      "kb-ingest": {
        bindings: { BASEHUB_API_URL: cms.url, BASEHUB_TOKEN: cms.token, BASEHUB_COMPONENT: cms.component, BASEHUB_BODY_FIELD: cms.bodyField, REINGEST_RETRY_DELAY_SECS: "0" },
      },
    },
  });
  db = new pg.Client({ connectionString: stack.postgresUrl });
  await db.connect();
});

after(async () => {
  await bundle?.dispose();
  await db?.end();
  await cms?.close();
  await new Promise((r) => (redisProxy ? redisProxy.close(r) : r()));
});

const change = (blockId) => JSON.stringify({ timestamp: new Date().toISOString(), type: "block.updated", data: { blockId, blockIdPath: `root/${blockId}` } });
const eventId = (body) => `sha256:${createHash("sha256").update(body).digest("hex")}`;
const deliver = (body) =>
  bundle.fetch("/webhooks/basehub", {
    method: "POST",
    headers: { "content-type": "application/json", "x-basehub-webhook-signature": basehubSignature(body) },
    body,
  });
const asked = (block) => cms.requests.filter((r) => r.ids.includes(block)).length;


/** The entry's document as an editor first ingested it (version 1). */
async function ingested(block, words) {
  const res = await bundle.fetch("/kb/documents", {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ externalId: `basehub:${block}`, title: "Refund policy", content: `Refunds within 14 days. ${words}`, contentType: "text", source: { kind: "basehub" }, metadata: { blockId: block } }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()).id;
}

const documentOf = async (id) => (await bundle.fetch(`/kb/documents/${id}`, { headers: auth })).json();
const searchHits = async (q) => (await (await bundle.fetch(`/kb/search?q=${encodeURIComponent(q)}`, { headers: auth })).json()).hits ?? [];
const outboxRow = async (body) => (await db.query("select invalidated_at, queued_at, done_at, attempts, claimed_until from webhook_outbox where provider = 'basehub' and event_id = $1", [eventId(body)])).rows[0];

test("a change re-ingests the entry from BaseHub: a new version, and search answers with the new text", async () => {
  const block = uid("blk");
  const [oldWord, newWord] = [word(), word()];
  const id = await ingested(block, oldWord);
  cms.entries.set(block, { _title: "Refund policy", markdown: `# Refund policy\n\nRefunds within 30 days of the invoice date. ${newWord}` });
  const res = await deliver(change(block));
  assert.equal(res.status, 200, await res.clone().text());
  const doc = await until("version 2", async () => {
    const d = await documentOf(id);
    return d.version === 2 && d;
  });
  assert.match(doc.content, /30 days of the invoice date/);
  assert.equal(doc.metadata.blockId, block);
  assert.equal((await searchHits(newWord)).map((h) => h.documentId)[0], id, "search finds the new text");
  assert.equal((await searchHits(oldWord)).length, 0, "the old text is gone from search");
  const request = cms.requests.find((r) => r.ids.includes(block));
  assert.equal(request.headers["x-basehub-token"], cms.token);
  assert.deepEqual([...request.ids].sort(), [block, "root"].sort(), "every id on the path is asked for");
});

test("BaseHub unavailable: the old version stays searchable, the job is retried, then dead-lettered with a log line", async () => {
  const block = uid("blk");
  const oldWord = word();
  const id = await ingested(block, oldWord);
  cms.entries.set(block, { _title: "Refund policy", markdown: "never read" });
  cms.failWith = 503;
  try {
    const body = change(block);
    assert.equal((await deliver(body)).status, 200);
    const dead = await bundle.waitForLog((l) => l.msg?.startsWith("re-ingest job dead-lettered") && l.eventId === eventId(body), 20_000);
    assert.equal(dead.level, "error");
    assert.equal(asked(block), 4, "one attempt and the queue's 3 retries");
    assert.ok(bundle.logs.some((l) => l.msg === "re-ingest job failed; retried" && l.eventId === eventId(body) && /503/.test(l.error)));
  } finally {
    cms.failWith = null;
  }
  const doc = await documentOf(id);
  assert.equal(doc.version, 1);
  assert.equal((await searchHits(oldWord))[0]?.documentId, id, "the old version is still searchable");
});

test("50 identical signed deliveries at once: one set of effects (one cache drop, one message, one job)", async () => {
  const block = uid("blk");
  const id = await ingested(block, word());
  cms.entries.set(block, { _title: "Refund policy", markdown: `Refunds within 30 days. ${word()}` });
  const cacheKey = `sba:content:${TENANT}:block:${block}`;
  await redis.set(cacheKey, "cached html");
  const channel = listener(stack.redisUrl, `sba:content:invalidate:${TENANT}`);
  await channel.ready;
  const body = change(block);
  const answers = await Promise.all(Array.from({ length: 50 }, async () => {
    const res = await deliver(body);
    return { status: res.status, body: await res.json() };
  }));
  assert.deepEqual([...new Set(answers.map((a) => a.status))], [200], JSON.stringify(answers.filter((a) => a.status !== 200).slice(0, 3)));
  assert.equal(answers.filter((a) => a.body.duplicate === false).length, 1, "one delivery applied the change");
  await until("version 2", async () => (await documentOf(id)).version === 2);
  assert.equal(await redis.get(cacheKey), null);
  await sleep(1500); // room for any second job or message to show up
  assert.equal(asked(block), 1, "one re-ingest job");
  assert.equal(bundle.logs.filter((l) => l.msg === "re-ingest job applied" && l.eventId === eventId(body)).length, 1);
  assert.equal(channel.messages.filter((m) => m.includes(block)).length, 1, "one invalidation message");
  const row = await until("the outbox row done", async () => { const r = await outboxRow(body); return r?.done_at && r; });
  assert.equal(row.attempts, 1);
  channel.close();
});

test("a delivery half-applied while Redis is down is finished by its redelivery, without a second job", async () => {
  const block = uid("blk");
  const id = await ingested(block, word());
  cms.entries.set(block, { _title: "Refund policy", markdown: `Refunds within 30 days. ${word()}` });
  const cacheKey = `sba:content:${TENANT}:block:${block}`;
  await redis.set(cacheKey, "cached html");
  const body = change(block);
  redisDown = true;
  let first;
  try {
    first = await deliver(body);
  } finally {
    redisDown = false;
  }
  assert.equal(first.status, 503);
  assert.equal((await first.json()).error.code, "effects_pending");
  const pending = await until("the attempt recorded", async () => { const r = await outboxRow(body); return r && !r.claimed_until && r; });
  assert.equal(pending.invalidated_at, null, "the invalidation is still owed");
  assert.notEqual(pending.queued_at, null, "the job went out");
  assert.equal(pending.done_at, null);
  assert.equal(await redis.get(cacheKey), "cached html");
  await until("the job applied", async () => (await documentOf(id)).version === 2);

  const again = await deliver(body);
  assert.equal(again.status, 200);
  assert.equal((await again.json()).duplicate, false, "the redelivery finished the event");
  assert.equal(await redis.get(cacheKey), null);
  const done = await until("the outbox row done", async () => { const r = await outboxRow(body); return r?.done_at && r; });
  assert.equal(done.attempts, 2);
  await sleep(1000);
  assert.equal(asked(block), 1, "no second job");
  const third = await deliver(body);
  assert.deepEqual(await third.json(), { received: true, duplicate: true });
});

test("the cron finishes an event whose sender gave up", async () => {
  const block = uid("blk");
  const cacheKey = `sba:content:${TENANT}:block:${block}`;
  await redis.set(cacheKey, "cached html");
  const body = change(block);
  redisDown = true;
  try {
    assert.equal((await deliver(body)).status, 503);
  } finally {
    redisDown = false;
  }
  await until("the attempt recorded", async () => { const r = await outboxRow(body); return r && !r.claimed_until; });
  // Old enough for the sweep, which leaves fresh rows to their delivery.
  await db.query("update webhook_outbox set created_at = now() - interval '1 minute' where event_id = $1", [eventId(body)]);
  await bundle.scheduled("sba-webhooks");
  const row = await until("the outbox row done", async () => { const r = await outboxRow(body); return r?.done_at && r; });
  assert.equal(row.attempts, 2);
  assert.equal(await redis.get(cacheKey), null);
  await bundle.waitForLog((l) => l.msg === "outbox event finished by the sweep" && l.eventId === eventId(body));
});
