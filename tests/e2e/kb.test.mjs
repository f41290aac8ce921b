// kb-ingest end to end: the built Wasm in workerd, real Postgres through Hyperdrive, tenants
// from verified tokens, isolation by row-level security.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { startBundle, stackEnv, E2E_JWT_SECRET } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";

const tenant = () => `kb-${randomBytes(5).toString("hex")}`;
let bundle;

before(async () => {
  bundle = await startBundle();
});
after(async () => {
  await bundle?.dispose();
});

function api(tenantId, extraHeaders = {}) {
  const headers = { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenantId)}`, ...extraHeaders };
  return {
    post: (path, body, h = {}) =>
      bundle.fetch(path, { method: "POST", headers: { ...headers, "content-type": "application/json", ...h }, body: JSON.stringify(body) }),
    get: (path, h = {}) => bundle.fetch(path, { headers: { ...headers, ...h } }),
    del: (path) => bundle.fetch(path, { method: "DELETE", headers }),
  };
}

const GUIDE = {
  title: "Refund policy",
  contentType: "markdown",
  content: "# Refunds\n\nCustomers may request a refund within thirty days of purchase.\n\n## Exceptions\n\nGift cards are never refundable.",
  tags: ["billing"],
  source: { kind: "basehub", url: "https://example.com/refunds" },
  metadata: { owner: "support" },
};

describe("documents", () => {
  test("ingest → search → get → delete round trip", async () => {
    const t = api(tenant());
    const created = await t.post("/kb/documents", GUIDE);
    assert.equal(created.status, 201);
    const doc = await created.json();
    assert.match(doc.id, /^[0-9a-f-]{36}$/);
    assert.equal(doc.change, "created");
    assert.equal(doc.deduplicated, false);
    assert.ok(doc.chunks >= 1);

    const found = await (await t.get("/kb/search?q=gift%20cards&limit=5")).json();
    assert.equal(found.hits.length, 1);
    assert.equal(found.hits[0].documentId, doc.id);
    assert.equal(found.hits[0].title, "Refund policy");
    assert.match(found.hits[0].headline, /\*\*Gift\*\*/);

    const got = await t.get(`/kb/documents/${doc.id}`);
    assert.equal(got.status, 200);
    const body = await got.json();
    assert.equal(body.title, GUIDE.title);
    assert.deepEqual(body.tags, ["billing"]);
    assert.deepEqual(body.source, GUIDE.source);
    assert.equal(body.version, 1);
    assert.equal(body.language, "english");

    // The chunks as search sees them: in order, each the stored text at its offsets.
    const chunked = await t.get(`/kb/documents/${doc.id}/chunks`);
    assert.equal(chunked.status, 200);
    const { chunks, documentId, version } = await chunked.json();
    assert.deepEqual([documentId, version, chunks.length], [doc.id, 1, body.chunks]);
    const text = [...body.content];
    chunks.forEach((c, i) => {
      assert.equal(c.ordinal, i);
      assert.equal(text.slice(c.startOffset, c.endOffset).join("").trim(), c.content.trim());
    });
    assert.ok(chunks.some((c) => /gift cards/i.test(c.content)));

    assert.equal((await t.del(`/kb/documents/${doc.id}`)).status, 200);
    assert.equal((await t.get(`/kb/documents/${doc.id}`)).status, 404);
    assert.equal((await t.get(`/kb/documents/${doc.id}/chunks`)).status, 404);
    assert.equal((await t.get("/kb/search?q=gift%20cards")).status, 200);
  });

  test("same content is deduplicated; new content under the same externalId is version 2", async () => {
    const t = api(tenant());
    const v1 = { ...GUIDE, externalId: "refunds" };
    const first = await (await t.post("/kb/documents", v1)).json();
    const again = await t.post("/kb/documents", v1);
    assert.equal(again.status, 200);
    const dup = await again.json();
    assert.equal(dup.deduplicated, true);
    assert.equal(dup.id, first.id);
    const v2 = await (await t.post("/kb/documents", { ...v1, content: "Refunds are processed within five business days." })).json();
    assert.equal(v2.id, first.id);
    assert.equal(v2.version, 2);
    assert.equal(v2.change, "updated");
    const hits = (await (await t.get("/kb/search?q=gift")).json()).hits;
    assert.equal(hits.length, 0, "the old version's chunks are gone");
  });

  test("HTML is reduced to text: scripts never reach storage", async () => {
    const t = api(tenant());
    const res = await t.post("/kb/documents", {
      title: "Page",
      contentType: "html",
      content: "<h1>Shipping</h1><script>alert('x')</script><p>We ship worldwide &amp; fast.</p>",
    });
    assert.equal(res.status, 201);
    const { id } = await res.json();
    const doc = await (await t.get(`/kb/documents/${id}`)).json();
    assert.doesNotMatch(doc.content, /script|alert/);
    assert.match(doc.content, /We ship worldwide & fast\./);
  });

  test("a batch with invalid items → 422 naming each bad item, nothing written", async () => {
    const t = api(tenant());
    const res = await t.post("/kb/documents:batch", {
      documents: [
        { ...GUIDE, externalId: "ok-1" },
        { ...GUIDE, title: "" },
        { ...GUIDE, externalId: "ok-2", contentType: "pdf" },
        { ...GUIDE, tags: ["x".repeat(65)] },
      ],
    });
    assert.equal(res.status, 422);
    const paths = (await res.json()).error.issues.map((i) => JSON.stringify(i.path));
    assert.ok(paths.some((p) => p.startsWith('["documents",1,"title"')), paths.join(" "));
    assert.ok(paths.some((p) => p.startsWith('["documents",2')), paths.join(" "));
    assert.ok(paths.some((p) => p.startsWith('["documents",3,"tags"')), paths.join(" "));
    assert.equal((await (await t.get("/kb/search?q=refund")).json()).hits.length, 0);
  });

  test("a valid batch is written whole", async () => {
    const t = api(tenant());
    const res = await t.post("/kb/documents:batch", {
      documents: [
        { ...GUIDE, externalId: "a", content: "Alpha onboarding checklist." },
        { ...GUIDE, externalId: "b", content: "Beta onboarding checklist." },
      ],
    });
    assert.equal(res.status, 201);
    const body = await res.json();
    assert.equal(body.created, 2);
    assert.equal((await (await t.get("/kb/search?q=onboarding")).json()).hits.length, 2);
  });

  test("bad input: malformed JSON 400, wrong type 415, huge 413, unknown route 404, bad query 422", async () => {
    const t = api(tenant());
    const bad = await bundle.fetch("/kb/documents", {
      method: "POST",
      headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant())}`, "content-type": "application/json" },
      body: '{"title": ',
    });
    assert.equal(bad.status, 400);
    assert.equal((await t.post("/kb/documents", GUIDE, { "content-type": "text/plain" })).status, 415);
    const huge = await t.post("/kb/documents", { ...GUIDE, content: "x".repeat(3 * 1024 * 1024) });
    assert.equal(huge.status, 413);
    const tooBig = await t.post("/kb/documents", { ...GUIDE, content: "é".repeat(600 * 1024) });
    assert.equal(tooBig.status, 422, "over 1 MiB of UTF-8 is a validation error");
    assert.equal((await t.get("/kb/search")).status, 422);
    assert.equal((await t.get("/kb/search?q=x&limit=500")).status, 422);
    assert.equal((await t.get("/kb/documents/not-a-uuid")).status, 404);
    assert.equal((await bundle.fetch("/kb/search?q=x")).status, 401);
  });
});

describe("isolation", () => {
  test("tenant B cannot get, search, delete or overwrite tenant A's documents", async () => {
    const [a, b] = [api(tenant()), api(tenant())];
    const doc = await (await a.post("/kb/documents", { ...GUIDE, externalId: "shared-id" })).json();
    assert.equal((await b.get(`/kb/documents/${doc.id}`)).status, 404, "404, never 403");
    assert.equal((await b.get(`/kb/documents/${doc.id}/chunks`)).status, 404, "nor its chunks");
    assert.equal((await (await b.get("/kb/search?q=refund")).json()).hits.length, 0);
    assert.equal((await b.del(`/kb/documents/${doc.id}`)).status, 404);
    const theirs = await (await b.post("/kb/documents", { ...GUIDE, externalId: "shared-id", content: "B's text" })).json();
    assert.notEqual(theirs.id, doc.id);
    assert.equal(theirs.change, "created");
    const mine = await (await a.get(`/kb/documents/${doc.id}`)).json();
    assert.equal(mine.version, 1, "A's document untouched");
  });

  test("a forged X-Tenant-ID → 403", async () => {
    const a = tenant();
    const res = await api(a, { "x-tenant-id": tenant() }).get("/kb/search?q=refund");
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error.code, "tenant_mismatch");
  });

  test("as `authenticated` with A's claims, plain SQL sees zero of B's rows (RLS does the work)", async () => {
    const [a, b] = [tenant(), tenant()];
    await api(a).post("/kb/documents", { ...GUIDE, content: "A's secret plan" });
    await api(b).post("/kb/documents", { ...GUIDE, content: "B's secret plan" });
    const client = new pg.Client({ connectionString: stackEnv().postgresUrl });
    await client.connect();
    try {
      await client.query("begin");
      await client.query("select set_config('request.jwt.claims', $1, true)", [JSON.stringify({ app_metadata: { tenant_id: a } })]);
      await client.query("set local role authenticated");
      const docs = await client.query("select tenant_id from kb_documents where tenant_id in ($1, $2)", [a, b]);
      assert.deepEqual(docs.rows.map((r) => r.tenant_id), [a]);
      const chunks = await client.query("select count(*)::int as n from kb_chunks where tenant_id = $1", [b]);
      assert.equal(chunks.rows[0].n, 0);
      await client.query("rollback");
    } finally {
      await client.end();
    }
  });
});

describe("idempotency", () => {
  test("same key twice → one document, identical responses; different body → 422", async () => {
    const t = api(tenant());
    const key = { "idempotency-key": `k-${randomBytes(4).toString("hex")}` };
    const first = await t.post("/kb/documents", GUIDE, key);
    const second = await t.post("/kb/documents", GUIDE, key);
    assert.equal(first.status, 201);
    assert.equal(second.status, 201, "the original status is replayed");
    assert.deepEqual(await second.json(), await first.json());
    const reused = await t.post("/kb/documents", { ...GUIDE, title: "Other" }, key);
    assert.equal(reused.status, 422);
    assert.equal((await reused.json()).error.code, "idempotency_key_reused");
    assert.equal((await t.post("/kb/documents", GUIDE, { "idempotency-key": "bad key" })).status, 400);
  });

  test("20 concurrent duplicates → one document, identical answers", async () => {
    const t = api(tenant());
    const key = { "idempotency-key": `race-${randomBytes(4).toString("hex")}` };
    const doc = { ...GUIDE, content: `Concurrent ${randomBytes(4).toString("hex")}` };
    const responses = await Promise.all(Array.from({ length: 20 }, () => t.post("/kb/documents", doc, key)));
    const bodies = await Promise.all(responses.map((r) => r.json()));
    for (const r of responses) assert.equal(r.status, 201);
    assert.equal(new Set(bodies.map((b) => JSON.stringify(b))).size, 1);
    assert.equal((await (await t.get("/kb/search?q=concurrent")).json()).hits.length, 1);
  });
});
