// kb-ingest throughput: the built Wasm in workerd (Miniflare), real Postgres through the
// Hyperdrive binding, next to a baseline measured in the same run (GET /kb/healthz, the same
// Worker with no database work), so the ratios mean something on a shared machine.
//
//   SBA_* from scripts/bench's throwaway stack;  node tests/bench/kb-ingest.mjs
//
// Bounded: every phase stops after KB_BENCH_SECS seconds (default 3) or its own op cap,
// whichever comes first; loopback only. Exits 1 if any request of any phase failed. With
// SBA_BENCH_OUT set, also writes the rows there as JSON (scripts/bench folds them into its table).
// Not a node:test file (no .test. in its name): `node --test tests/` never runs it.

import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { startBundle, E2E_JWT_SECRET } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { generousPlan } from "./plans.mjs";
import { withTcpNoDelay } from "../support/tcp-proxy.mjs";
import { corpus as makeCorpus, markdown, pick } from "./corpus.mjs";
import { writeResults } from "./results.mjs";

const SECS = Number(process.env.KB_BENCH_SECS ?? 3);
const CONCURRENCY = Number(process.env.KB_BENCH_CONCURRENCY ?? 8);
const LARGE_DOCS = Number(process.env.KB_BENCH_LARGE_DOCS ?? 5);
const runId = randomBytes(4).toString("hex");
const tenant = (name) => `bench-${runId}-${name}`;

const failures = [];
function fail(phase, detail) {
  failures.push(`${phase}: ${detail}`);
}

/**
 * Runs `op(n)` from `workers` loops until `SECS` or `maxOps`; `op` resolves to the number of
 * chunks it wrote (or 0) and throws on any unexpected answer.
 */
async function measure(name, workers, maxOps, op) {
  let issued = 0;
  let done = 0;
  let chunks = 0;
  let failed = 0;
  const latencies = [];
  const started = performance.now();
  const deadline = started + SECS * 1000;
  const worker = async () => {
    while (issued < maxOps && performance.now() < deadline) {
      const n = issued++;
      const t0 = performance.now();
      try {
        const written = await op(n); // not `chunks += await …`: that reads `chunks` before awaiting
        chunks += written;
        done += 1;
      } catch (e) {
        failed += 1;
        if (failed <= 3) fail(name, e.message);
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  const secs = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const p50 = latencies[Math.floor(latencies.length / 2)] ?? 0;
  return { name, ops: done, failed, secs, perSec: done / secs, chunks, chunksPerSec: chunks / secs, p50 };
}

async function expect(res, status) {
  const text = await res.text();
  if (res.status !== status) throw new Error(`${res.status} (expected ${status}): ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}

const bundle = await withTcpNoDelay(() => startBundle());
const auth = (t) => ({ authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, t)}` });
const post = (path, t, body) =>
  bundle.fetch(path, { method: "POST", headers: { ...auth(t), "content-type": "application/json" }, body: JSON.stringify(body) });

const healthz = async () => {
  const body = await expect(await bundle.fetch("/kb/healthz"), 200);
  if (body.function !== "kb-ingest") throw new Error(`healthz answered for ${body.function}`);
  return 0;
};
const ingest = (t, bytes) => async (n) => {
  const doc = { title: `Doc ${n}`, contentType: "markdown", content: markdown(`${runId}-${t}-${n}`, bytes), tags: ["bench"] };
  const body = await expect(await post("/kb/documents", t, doc), 201);
  if (body.change !== "created" || body.deduplicated) throw new Error(`not a new document: ${JSON.stringify(body)}`);
  return body.chunks;
};

let exitCode = 0;
/** For scripts/bench's table: written to $SBA_BENCH_OUT when set. */
const results = { secsPerPhase: SECS, concurrency: CONCURRENCY, rows: [] };
try {
  // Warm-up: the Worker instantiated, a Postgres connection path exercised, JIT warm.
  for (let i = 0; i < 20; i++) await healthz();
  // Throughput, not the free plan's 100 documents, is what these tenants measure.
  await generousPlan(["warm", "search", "small-seq", "large", ...Array.from({ length: CONCURRENCY }, (_, i) => `small-con-${i}`)].map(tenant));
  for (let i = 0; i < 5; i++) await ingest(tenant("warm"), 1024)(i);

  // Search corpus: one tenant, ~300 chunks, written in one batch.
  const searchTenant = tenant("search");
  const corpus = makeCorpus(runId, 30, 12_000);
  const seeded = await expect(await post("/kb/documents:batch", searchTenant, { documents: corpus }), 201);
  const corpusChunks = seeded.documents.reduce((sum, d) => sum + d.chunks, 0);
  const search = async (n) => {
    const q = encodeURIComponent(`${pick(n)} ${pick(n * 3 + 1)}`);
    const body = await expect(await bundle.fetch(`/kb/search?q=${q}&limit=10`, { headers: auth(searchTenant) }), 200);
    if (body.hits.length === 0) throw new Error(`no hits for ${decodeURIComponent(q)}`);
    return 0;
  };

  const c = CONCURRENCY;
  const rows = [];
  const base1 = await measure("baseline: GET /kb/healthz, sequential", 1, 20_000, healthz);
  const baseC = await measure(`baseline: GET /kb/healthz, ${c} concurrent`, c, 20_000, healthz);
  rows.push([base1, base1], [baseC, baseC]);
  rows.push([await measure("ingest ~1 KB markdown, sequential", 1, 2_000, ingest(tenant("small-seq"), 1024)), base1]);
  // Distinct tenants per worker and distinct content per document: nothing is deduplicated.
  let w = 0;
  const perWorker = Array.from({ length: c }, (_, i) => ingest(tenant(`small-con-${i}`), 1024));
  rows.push([await measure(`ingest ~1 KB markdown, ${c} concurrent`, c, 2_000, (n) => perWorker[w++ % c](n)), baseC]);
  rows.push([await measure("ingest 1 MB markdown, sequential", 1, LARGE_DOCS, ingest(tenant("large"), 1_000_000)), base1]);
  rows.push([await measure(`search (${corpusChunks} chunks in the tenant), sequential`, 1, 5_000, search), base1]);
  rows.push([await measure(`search (${corpusChunks} chunks in the tenant), ${c} concurrent`, c, 5_000, search), baseC]);

  console.log(
    `kb-ingest bench — Wasm in workerd (Miniflare), Postgres via Hyperdrive; at most ${SECS} s per phase; ` +
      `ratio = ops/s ÷ healthz ops/s at the same concurrency (same run)\n`,
  );
  const head = ["phase", "ops", "secs", "ops/s", "ratio", "p50 ms", "chunks/s", "chunks/doc"];
  const fmt = (cells) =>
    `${cells[0].padEnd(48)} ${cells.slice(1).map((x, i) => String(x).padStart(i === 0 ? 6 : 9)).join(" ")}`;
  console.log(fmt(head));
  for (const [m, base] of rows) {
    const writes = m.chunks > 0;
    results.rows.push({ ...m, ratio: m.perSec / base.perSec, baseline: base.name, chunksPerDoc: writes ? m.chunks / Math.max(m.ops, 1) : null });
    console.log(
      fmt([
        m.name,
        m.ops,
        m.secs.toFixed(2),
        m.perSec.toFixed(1),
        (m.perSec / base.perSec).toFixed(3),
        m.p50.toFixed(1),
        writes ? m.chunksPerSec.toFixed(0) : "-",
        writes ? (m.chunks / Math.max(m.ops, 1)).toFixed(1) : "-",
      ]),
    );
    if (m.ops === 0) fail(m.name, "no operation completed");
    if (m.failed > 0) fail(m.name, `${m.failed} of ${m.ops + m.failed} requests failed`);
  }
  console.log(`\nsearch corpus: ${corpus.length} documents, ${corpusChunks} chunks (one batch)`);
} catch (e) {
  fail("setup", e.stack ?? e.message);
} finally {
  await bundle.dispose();
}
if (failures.length) {
  console.log(`FAIL: ${failures.length} failure(s)`);
  for (const f of failures) console.log(`  ${f}`);
  exitCode = 1;
}
writeResults({ ...results, failures });
process.exit(exitCode);
