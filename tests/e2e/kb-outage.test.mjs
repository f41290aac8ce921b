// kb-ingest when Postgres goes away: every database route answers 503 `store_unavailable`
// with Retry-After (never a hang, never a 500), the Worker recovers by itself once the
// database is back, and a batch whose connection dies mid-transaction leaves nothing behind.
//
// The shared Postgres of the suite must keep running, so a TCP proxy (tests/support/tcp-proxy)
// sits between the Hyperdrive binding and the stack's pooler (PgBouncer, what the Worker talks
// to, as it talks to Hyperdrive deployed) and is switched "down" instead. Cutting the Worker's
// side is the outage a Worker sees; the pooler rolls back a transaction whose client went away
// mid-way, and the assertions on committed rows read Postgres directly (`postgresUrl`).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { startBundle, stackEnv, E2E_JWT_SECRET, FUNCTIONS } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { tcpProxy, withTcpNoDelay } from "../support/tcp-proxy.mjs";

const tenant = () => `kbo-${randomBytes(5).toString("hex")}`;
const word = () => `zq${randomBytes(6).toString("hex")}`; // one token for Postgres' English parser
let proxy;
let bundle;

before(async () => {
  const { postgresPooledUrl } = stackEnv();
  const target = new URL(postgresPooledUrl);
  proxy = await tcpProxy({ host: target.hostname, port: Number(target.port) });
  // Miniflare names a Hyperdrive's proxy service after the binding (`hyperdrive:DB`) and keeps
  // the first Worker's: a per-Worker postgresUrl only changes user, password and database, never
  // host and port. So every function goes through the proxy; only kb-ingest is called here.
  const through = { postgresUrl: proxy.url(postgresPooledUrl) };
  const overrides = Object.fromEntries(FUNCTIONS.map((name) => [name, through]));
  // A burst of two runs per tenant, no refill; the model is unreachable (a run still streams, to RUN_ERROR).
  overrides["ratelimited-agent"] = {
    ...through,
    bindings: { LLM_BASE_URLS: "http://127.0.0.1:9", LLM_FIRST_TOKEN_TIMEOUT_MS: "500", RATE_LIMIT_BURST: "2", RATE_LIMIT_BURST_REFILL_INTERVAL_MS: "3600000", RATE_LIMIT_IP_PER_MINUTE: "100000" },
  };
  bundle = await withTcpNoDelay(() => startBundle({ overrides }));
});
after(async () => {
  await bundle?.dispose();
  await proxy?.close();
});

function api(tenantId) {
  const auth = { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenantId)}` };
  return {
    post: (path, body, h = {}) =>
      bundle.fetch(path, { method: "POST", headers: { ...auth, "content-type": "application/json", ...h }, body: JSON.stringify(body) }),
    get: (path, h = {}) => bundle.fetch(path, { headers: { ...auth, ...h } }),
  };
}

function assertSecurityHeaders(res) {
  assert.equal(res.headers.get("content-security-policy"), "default-src 'none'; frame-ancestors 'none'");
  assert.match(res.headers.get("strict-transport-security") ?? "", /^max-age=\d{8,}/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
  assert.equal(res.headers.get("x-frame-options"), "DENY");
}

/** A 503 as a client should see it: retryable, JSON, the error shape, security headers. */
async function assertStoreUnavailable(res, requestId, what) {
  const text = await res.text();
  assert.equal(res.status, 503, `${what}: ${text.slice(0, 300)}`);
  const retryAfter = res.headers.get("retry-after");
  assert.match(retryAfter ?? "", /^\d+$/, `${what}: Retry-After is delta-seconds`);
  assert.ok(Number(retryAfter) >= 1, `${what}: Retry-After ≥ 1`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assertSecurityHeaders(res);
  const body = JSON.parse(text);
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.equal(body.error.code, "store_unavailable", what);
  assert.ok(body.error.message.length > 0);
  if (requestId) {
    assert.equal(body.error.requestId, requestId);
    const line = await bundle.waitForLog((l) => l.requestId === requestId);
    assert.equal(line.status, 503);
    assert.equal(line.errorCode, "store_unavailable");
  }
}

test("Postgres down → 503 store_unavailable with Retry-After on every route; back up → served again", { timeout: 60_000 }, async () => {
  const t = api(tenant());
  const marker = word();
  const doc = { title: "Outage guide", contentType: "markdown", content: `# Outages\n\nThe ${marker} runbook says: wait, then retry.` };

  const created = await t.post("/kb/documents", doc);
  assert.equal(created.status, 201, await created.clone().text());
  const { id } = await created.json();
  assert.ok(proxy.stats.accepted >= 1 && proxy.stats.bytesUp > 0, "kb-ingest reaches Postgres through the proxy");
  assert.equal((await (await t.get(`/kb/search?q=${marker}`)).json()).hits.length, 1);

  const before = { ...proxy.stats };
  proxy.down();
  try {
    const probe = (name) => ({ "x-request-id": `outage-${name}-${randomBytes(3).toString("hex")}` });
    const ingest = probe("ingest");
    await assertStoreUnavailable(await t.post("/kb/documents", { ...doc, content: `${doc.content} Second.` }, ingest), ingest["x-request-id"], "POST /kb/documents");
    const search = probe("search");
    await assertStoreUnavailable(await t.get(`/kb/search?q=${marker}`, search), search["x-request-id"], "GET /kb/search");
    const get = probe("get");
    await assertStoreUnavailable(await t.get(`/kb/documents/${id}`, get), get["x-request-id"], "GET /kb/documents/{id}");
    const batch = probe("batch");
    await assertStoreUnavailable(await t.post("/kb/documents:batch", { documents: [doc] }, batch), batch["x-request-id"], "POST /kb/documents:batch");

    const ready = await bundle.fetch("/kb/readyz");
    assert.equal(ready.status, 503);
    assert.equal((await ready.json()).checks.postgres.ok, false);
    // The failures came from the proxy refusing service, not from anything else.
    assert.ok(proxy.stats.closedOnArrival - before.closedOnArrival >= 5, JSON.stringify(proxy.stats));
  } finally {
    proxy.up();
  }
  const recovered = { ...proxy.stats };

  // Recovery: nothing cached, nothing broken; every route works again, writes included.
  for (let i = 0; i < 3; i++) {
    const found = await t.get(`/kb/search?q=${marker}`);
    assert.equal(found.status, 200);
    assert.equal((await found.json()).hits.length, 1);
  }
  const got = await t.get(`/kb/documents/${id}`);
  assert.equal(got.status, 200);
  assert.equal((await got.json()).title, "Outage guide");
  const again = await t.post("/kb/documents", { ...doc, title: "After the outage", content: `${doc.content} Written after recovery.` });
  assert.equal(again.status, 201, await again.clone().text());
  assert.equal((await (await t.get(`/kb/search?q=${marker}`)).json()).hits.length, 2);
  assert.equal((await bundle.fetch("/kb/readyz")).status, 200);
  // Seven requests since, each on a fresh connection that the proxy let through.
  assert.ok(proxy.stats.accepted - recovered.accepted >= 7, JSON.stringify(proxy.stats));
  assert.equal(proxy.stats.closedOnArrival, recovered.closedOnArrival);
});

test("ratelimited-agent: our outage refunds the limiter; over-limit runs are refused from Redis alone", async () => {
  const id = tenant();
  const run = () =>
    bundle.fetch("/ratelimited-agent/run", {
      method: "POST",
      headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, id)}`, "content-type": "application/json" },
      body: JSON.stringify({ threadId: `th-${id}`, runId: `run-${randomBytes(5).toString("hex")}`, messages: [{ id: "m", role: "user", content: "hi" }], tools: [], context: [], state: {}, forwardedProps: {} }),
    });
  const settle = () => new Promise((r) => setTimeout(r, 500)); // waitUntil work (audit, refund) finishes
  // A burst of 2 that does not refill during the test.
  const first = await run();
  assert.equal(first.status, 200, "admitted; the plan is now cached");
  await first.text();
  await settle();

  proxy.down();
  const failed = await run();
  assert.equal(failed.status, 503, "admitted by the limiter, then the database was down");
  assert.equal((await failed.json()).error.code, "store_unavailable");
  await settle();
  proxy.up();

  const second = await run();
  assert.equal(second.status, 200, "the unit the outage took was refunded");
  await second.text();
  await settle();

  const before = { ...proxy.stats };
  proxy.down();
  try {
    for (let i = 0; i < 3; i++) {
      const refused = await run();
      const body = await refused.json();
      assert.equal(refused.status, 429, JSON.stringify(body));
      assert.equal(body.error.code, "rate_limited");
    }
    assert.equal(proxy.stats.accepted, before.accepted, "over the limit, no Postgres connection is even attempted");
  } finally {
    proxy.up();
  }
});

/** ~20 KB of markdown naming `marker` in every section, distinct per document. */
function bigDocument(i, marker) {
  const sections = [];
  for (let s = 0; sections.join("").length < 20_000; s++) {
    sections.push(
      `## Section ${s} of document ${i}\n\n` +
        `The ${marker} procedure, step ${s}: check the inventory ledger, reconcile invoice ${i}-${s}, ` +
        `notify the account owner and archive the shipment record. `.repeat(4) +
        "\n\n",
    );
  }
  return { externalId: `outage-${i}`, title: `Runbook ${i}`, contentType: "markdown", content: `# Runbook ${i}\n\n${sections.join("")}` };
}

test("a batch whose connection is cut mid-transaction → 503 and none of it visible; re-sent → all of it", { timeout: 120_000 }, async () => {
  const tenantId = tenant();
  const t = api(tenantId);
  const marker = word();
  const documents = Array.from({ length: 50 }, (_, i) => bigDocument(i, marker));
  const body = JSON.stringify({ documents });
  assert.ok(body.length > 1_000_000, `a large batch (${body.length} bytes)`);

  // A separate superuser connection (RLS does not apply) watches for committed rows of this
  // tenant all the while the batch runs and fails.
  const observer = new pg.Client({ connectionString: stackEnv().postgresUrl });
  await observer.connect();
  const committed = async () =>
    (
      await observer.query(
        "select (select count(*) from kb_documents where tenant_id = $1)::int + (select count(*) from kb_chunks where tenant_id = $1)::int as n",
        [tenantId],
      )
    ).rows[0].n;
  let watching = true;
  let seen = 0;
  let polls = 0;
  const watcher = (async () => {
    while (watching) {
      seen = Math.max(seen, await committed());
      polls += 1;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();

  try {
    // BEGIN, the claims and the role are well under 2 KB; each document then sends its text
    // twice (the row and its chunks), ~40 KB. Cutting after 96 KB lands inside the transaction,
    // after at least two documents were written, long before the commit (~2 MB in).
    const cutAfter = 96 * 1024;
    const before = { ...proxy.stats };
    const cut = proxy.cutAfter(cutAfter);
    const res = await t.post("/kb/documents:batch", { documents });
    await assertStoreUnavailable(res, null, "cut batch");
    await Promise.race([cut, new Promise((_, reject) => setTimeout(() => reject(new Error("the proxy never cut")), 1000))]);
    assert.equal(proxy.stats.cuts, before.cuts + 1);
    const sent = proxy.stats.bytesUp - before.bytesUp;
    assert.ok(sent >= cutAfter && sent < body.length, `cut mid-batch after ${sent} bytes`);
    assert.equal(proxy.isUp, false);
    proxy.up();

    assert.equal((await (await t.get(`/kb/search?q=${marker}&limit=50`)).json()).hits.length, 0, "no partial batch");
    watching = false;
    await watcher;
    assert.ok(polls >= 1);
    assert.equal(seen, 0, "no row of the batch was ever committed");
    assert.equal(await committed(), 0);

    // The same batch again: every document is new (nothing of the first attempt survived).
    const resent = await t.post("/kb/documents:batch", { documents });
    const result = await resent.json();
    assert.equal(resent.status, 201, JSON.stringify(result).slice(0, 500));
    assert.equal(result.count, 50);
    assert.equal(result.created, 50);
    for (const d of result.documents) {
      assert.equal(d.change, "created");
      assert.equal(d.version, 1);
      assert.ok(d.chunks > 1, "a 20 KB document is several chunks");
    }
    const hits = (await (await t.get(`/kb/search?q=${marker}&limit=50`)).json()).hits;
    assert.equal(hits.length, 50);
    const stored = (await observer.query("select count(*)::int as n from kb_documents where tenant_id = $1", [tenantId])).rows[0].n;
    assert.equal(stored, 50);
  } finally {
    watching = false;
    await watcher.catch(() => {});
    await observer.end();
    proxy.up();
  }
});

test("the answer to COMMIT lost → 503, yet the whole batch is there; the same Idempotency-Key replays the 201", { timeout: 120_000 }, async () => {
  const tenantId = tenant();
  const t = api(tenantId);
  const marker = word();
  const documents = Array.from({ length: 10 }, (_, i) => bigDocument(i, marker));
  const key = { "idempotency-key": `outage-${randomBytes(6).toString("hex")}` };

  // CommandComplete for COMMIT: 'C', length 11, "COMMIT\0". Postgres has committed by the time
  // it sends this; the Worker never receives it and cannot know the outcome.
  const commitComplete = Buffer.from([0x43, 0, 0, 0, 11, ...Buffer.from("COMMIT"), 0]);
  const before = { ...proxy.stats };
  const cut = proxy.cutOnReply(commitComplete);
  try {
    await assertStoreUnavailable(await t.post("/kb/documents:batch", { documents }, key), null, "batch whose commit answer was lost");
    await Promise.race([cut, new Promise((_, reject) => setTimeout(() => reject(new Error("the proxy never cut")), 1000))]);
    assert.equal(proxy.stats.cuts, before.cuts + 1);
  } finally {
    proxy.up();
  }

  // All of it, not part of it: searchable, and every row there (counted as superuser, past RLS).
  assert.equal((await (await t.get(`/kb/search?q=${marker}&limit=50`)).json()).hits.length, 50);
  const direct = new pg.Client({ connectionString: stackEnv().postgresUrl });
  await direct.connect();
  try {
    const { rows } = await direct.query(
      "select count(*)::int as docs, coalesce(sum(chunk_count), 0)::int as chunks, (select count(*)::int from kb_chunks where tenant_id = $1) as stored from kb_documents where tenant_id = $1",
      [tenantId],
    );
    assert.equal(rows[0].docs, 10);
    assert.ok(rows[0].chunks > 10);
    assert.equal(rows[0].stored, rows[0].chunks, "every document's chunks, not some");
  } finally {
    await direct.end();
  }
  // A retry with the same key gets the answer the lost one would have been.
  const replay = await t.post("/kb/documents:batch", { documents }, key);
  assert.equal(replay.status, 201);
  const replayed = await replay.json();
  assert.equal(replayed.created, 10);
  assert.ok(replayed.documents.every((d) => d.change === "created" && d.version === 1));
  // A retry without a key writes nothing new either.
  const again = await t.post("/kb/documents:batch", { documents });
  assert.equal(again.status, 200);
  const unchanged = await again.json();
  assert.equal(unchanged.created, 0);
  assert.ok(unchanged.documents.every((d) => d.change === "unchanged" && d.deduplicated));
  assert.deepEqual(unchanged.documents.map((d) => d.id), replayed.documents.map((d) => d.id));
});
