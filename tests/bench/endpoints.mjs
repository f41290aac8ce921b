// Throughput and latency per endpoint with `wrk`, each next to an EMPTY Worker measured in the
// same run on the same runtime: every function's built Wasm and tests/empty-worker run in one
// workerd (Miniflare), each on its own loopback socket (no router, no Miniflare entry Worker in
// front: as each is deployed, on its own route), against the throwaway Redis/Postgres stack of
// scripts/bench and a scripted LLM double.
//
//   SBA_* from scripts/bench;  node tests/bench/endpoints.mjs   (wrk must be on PATH)
//
// Every row: a short warm-up (`wrk -t1 -c2 -d1s`, not counted), then `wrk -t2 -c16 -d5s
// --latency` (SBA_BENCH_WRK_THREADS / _CONNECTIONS / _SECS) with tests/bench/wrk.lua, which
// checks every response's status (and a string its body must hold) and prints the counts. A
// row whose responses were not all as expected keeps its figures and shows the count.
// The empty Worker is measured again last (drift check: how steady the machine was).
// The JS reference Worker (tests/bench/js-reference: @upstash/ratelimit, stripe, jose, bundled
// with esbuild into target/bench/js-reference/) runs in the same workerd against the same REST
// server; its 429 and Stripe-400 rows sit beside ours, measured the same way.
// SBA_BENCH_ROWS=id,id,… measures only those rows (smoke runs; the empty Worker is then only
// loaded when a row of its is asked for).
// Bounded (about 1.5 min); loopback only. Exits 1 if any row had unexpected responses or no
// request completed. With SBA_BENCH_OUT set, also writes the rows there as JSON.
// Not a node:test file (no .test. in its name): `node --test tests/` never runs it.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startBundle, stackEnv, E2E_JWT_SECRET, E2E_WEBHOOK_SECRETS, ROOT } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { stripeSignature } from "../support/signers.mjs";
import { startLlmDouble, textChunks } from "../support/llm-double.mjs";
import { corpus } from "./corpus.mjs";
import { buildJsReference } from "./js-reference/build.mjs";
import { writeResults } from "./results.mjs";
import { generousPlan } from "./plans.mjs";

const THREADS = Number(process.env.SBA_BENCH_WRK_THREADS ?? 2);
const CONNECTIONS = Number(process.env.SBA_BENCH_WRK_CONNECTIONS ?? 16);
const SECS = Number(process.env.SBA_BENCH_WRK_SECS ?? 5);
const STRIPE_POOL = Number(process.env.SBA_BENCH_STRIPE_POOL ?? 5000);
const EMPTY = "sba-bench-empty";
const JS_REFERENCE = "sba-bench-js-reference";
const ONLY = process.env.SBA_BENCH_ROWS ? new Set(process.env.SBA_BENCH_ROWS.split(",").map((id) => id.trim())) : null;
const LUA = path.join(ROOT, "tests/bench/wrk.lua");
const WORK = path.join(ROOT, "target/bench");
const nonce = randomBytes(4).toString("hex");
const ANSWER = "Hello from the bench double, streamed in four pieces.";
mkdirSync(WORK, { recursive: true });

/** A tenant token valid for the whole bench. */
const token = (tenant) => tenantToken(E2E_JWT_SECRET, tenant, { exp: Math.floor(Date.now() / 1000) + 3600 });
const failures = [];
const fail = (row, detail) => failures.push(`${row}: ${detail}`);
const log = (...args) => console.log(...args);

/** Runs wrk once; resolves to the JSON line of tests/bench/wrk.lua's done() (and wrk's text). */
function wrk({ url, threads, connections, secs, env }) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${secs}s`, "--latency", "--timeout", "10s", "-s", LUA, url];
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", args, {
      env: { ...process.env, SBA_WRK_THREADS: String(threads), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("SBA_WRK_JSON "));
      if (code !== 0 || !line) return reject(new Error(`wrk exited ${code}: ${(err || out).trim().slice(0, 400)}`));
      resolve({ result: JSON.parse(line.slice("SBA_WRK_JSON ".length)), text: out.replace(/^SBA_WRK_JSON .*\n?/m, "").trimEnd() });
    });
  });
}

/** One row: warm-up, then the measured run; never throws (a broken row is a failure, not a crash). */
async function measure(row) {
  const url = `${await bundle.directUrl(row.worker)}${row.path}`;
  const env = (warm) => ({
    SBA_WRK_NONCE: `${nonce}-${row.id}${warm ? "-w" : ""}`,
    ...(row.pool ? { SBA_WRK_POOL: warm ? row.pool.warm : row.pool.main } : {}),
    ...row.env,
  });
  log(`\n== ${row.label}\n   ${row.env.SBA_WRK_METHOD ?? "GET"} ${url}`);
  try {
    if (row.prepare) log(`   ${await row.prepare(url)}`);
    const warm = await wrk({ url, threads: 1, connections: 2, secs: 1, env: env(true) });
    if (warm.result.notAsExpected) {
      log(`   warm-up: ${JSON.stringify(warm.result.statuses)}, ${warm.result.badBody} bodies without ${JSON.stringify(row.env.SBA_WRK_BODY_HAS)}`);
    }
    const { result, text } = await wrk({ url, threads: THREADS, connections: CONNECTIONS, secs: SECS, env: env(false) });
    log(text);
    const socket = Object.values(result.socketErrors).reduce((a, b) => a + b, 0);
    const bad = result.notAsExpected + socket;
    log(`   statuses ${JSON.stringify(result.statuses)}; unexpected status ${result.unexpectedStatus}, ` +
      `body without ${JSON.stringify(row.env.SBA_WRK_BODY_HAS ?? null)} ${result.badBody}, socket errors ${JSON.stringify(result.socketErrors)}` +
      (row.pool ? `, pool lines sent twice ${result.poolReused}` : ""));
    if (result.requests === 0) fail(row.label, "no request completed");
    if (bad) fail(row.label, `${bad} of ${result.requests} responses not as expected (${JSON.stringify(result.statuses)}, socket ${socket})`);
    if (result.poolReused) fail(row.label, `the pool of ${STRIPE_POOL} ran out: ${result.poolReused} deliveries were repeats`);
    return {
      id: row.id,
      label: row.label,
      method: row.env.SBA_WRK_METHOD ?? "GET",
      worker: row.worker,
      path: row.path,
      expect: row.env.SBA_WRK_EXPECT ? Number(row.env.SBA_WRK_EXPECT) : "2xx",
      requests: result.requests,
      secs: result.durationUs / 1e6,
      reqPerSec: result.requests / (result.durationUs / 1e6),
      p50Ms: result.latencyUs.p50 / 1000,
      p90Ms: result.latencyUs.p90 / 1000,
      p99Ms: result.latencyUs.p99 / 1000,
      maxMs: result.latencyUs.max / 1000,
      statuses: result.statuses,
      errors: bad,
      unexpectedStatus: result.unexpectedStatus,
      badBody: result.badBody,
      socketErrors: result.socketErrors,
      poolReused: result.poolReused,
    };
  } catch (e) {
    fail(row.label, e.message);
    return { id: row.id, label: row.label, worker: row.worker, path: row.path, failed: e.message };
  }
}

/** A signed Stripe delivery: `t=…,v1=HMAC-SHA256(secret, "t.body")`, as Stripe sends it. */
function stripeLine(body, t = Math.floor(Date.now() / 1000)) {
  return `${stripeSignature(body, { timestamp: t })}\t${body}`;
}
function checkoutEvent(i) {
  const tenant = `bench-${nonce}-${i}`;
  return JSON.stringify({
    id: `evt_bench_${nonce}_${i}`,
    object: "event",
    api_version: "2025-03-31.basil",
    created: Math.floor(Date.now() / 1000),
    type: "checkout.session.completed",
    data: { object: { id: `cs_bench_${nonce}_${i}`, object: "checkout.session", client_reference_id: tenant, customer: `cus_bench_${nonce}_${i}`, mode: "subscription" } },
  });
}
/** `count` distinct signed deliveries, one a line, for wrk.lua's pool mode. */
function stripePool(name, from, count) {
  const file = path.join(WORK, `stripe-${name}.tsv`);
  const lines = Array.from({ length: count }, (_, i) => stripeLine(checkoutEvent(from + i)));
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

/** A Stripe-Signature of the right shape and time whose HMAC no configured secret makes. */
function badStripeSignature(body, t = Math.floor(Date.now() / 1000)) {
  return stripeSignature(body, { secret: "whsec_not_the_configured_secret", timestamp: t });
}

/**
 * Waits, if needed, for a fresh minute: a sliding window over wall-clock minutes (ours and the
 * JS reference's) must not roll over between `exhaust` and the end of the row, or the weight of
 * the previous minute decays and runs are admitted again mid-row.
 */
async function freshMinuteFor(secs) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left > secs * 1000) return "";
  await new Promise((r) => setTimeout(r, left + 250));
  return `waited ${(left / 1000).toFixed(1)} s for a new minute; `;
}

/** Runs (read to the end) for `tenant` until the first 429: the tenant is over its limits. */
async function exhaust(url, tenant) {
  for (let i = 1; i <= 200; i++) {
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token(tenant)}`, "content-type": "application/json" },
      body: JSON.stringify({ threadId: `th-${nonce}-x${i}`, runId: `run-${nonce}-x${i}`, messages: [{ id: "m1", role: "user", content: "Hi" }], tools: [], context: [], state: {}, forwardedProps: {} }),
    });
    await res.text();
    if (res.status === 429) return `over the limit after ${i - 1} admitted runs`;
    if (res.status !== 200) throw new Error(`admission answered ${res.status}`);
  }
  throw new Error("still admitted after 200 runs");
}

// ---------------------------------------------------------------------------------------------
const llm = await startLlmDouble(() => ({ chunks: textChunks(ANSWER, { model: "bench", pieces: 4 }) }));
const llmBindings = { LLM_BASE_URLS: llm.url, LLM_MODEL: "bench" };
const wanted = (...ids) => !ONLY || ids.some((id) => ONLY.has(id));
const stack = stackEnv();
const extraWorkers = {
  ...(wanted("empty", "empty-again") ? { [EMPTY]: "tests/empty-worker" } : {}),
  ...(wanted("js-429", "js-stripe-400")
    ? {
        [JS_REFERENCE]: {
          scriptPath: await buildJsReference(),
          bindings: {
            REDIS_REST_URL: stack.redisRestUrl,
            REDIS_REST_TOKEN: stack.redisRestToken,
            AUTH_JWT_SECRET: E2E_JWT_SECRET,
            AUTH_AUDIENCE: "authenticated",
            STRIPE_WEBHOOK_SECRETS: E2E_WEBHOOK_SECRETS.STRIPE_WEBHOOK_SECRETS,
          },
        },
      }
    : {}),
};
const bundle = await startBundle({
  overrides: {
    agent: { bindings: llmBindings },
    // No IP or burst limit in the way: the tenant's plan (free: 20 runs a minute) is the limit
    // the 429 row hits, and it stays hit for the minute after `exhaust`.
    "ratelimited-agent": { bindings: { ...llmBindings, RATE_LIMIT_IP_PER_MINUTE: "1000000", RATE_LIMIT_BURST: "1000000" } },
  },
  extraWorkers,
  direct: true,
  // The runtime still writes every request's log line; this process does not parse them.
  keepOutput: false,
});
const rows = [];
try {
  const kbTenant = `bench-${nonce}-kb`;
  // Rows that measure throughput, not a plan's limits (the 429 row keeps the free plan).
  await generousPlan([kbTenant, `${kbTenant}-ingest`, `${kbTenant}-dedupe`, `bench-${nonce}-agent`]);
  const kb = await bundle.directUrl("sba-kb-ingest");

  // Search corpus: one tenant, 30 documents of ~12 KB (~300 chunks), one batch.
  const seeded = await fetch(`${kb}/kb/documents:batch`, {
    method: "POST",
    headers: { authorization: `Bearer ${token(kbTenant)}`, "content-type": "application/json" },
    body: JSON.stringify({ documents: corpus(nonce, 30, 12_000) }),
  });
  const seededBody = await seeded.json();
  if (seeded.status !== 201) throw new Error(`seeding the search corpus: ${seeded.status} ${JSON.stringify(seededBody).slice(0, 300)}`);
  const chunks = seededBody.documents.reduce((sum, d) => sum + d.chunks, 0);

  // The repeated document (dedupe row) and the repeated Stripe event (already-applied row).
  const sameDoc = JSON.stringify({ title: "Bench repeated", contentType: "markdown", content: corpus(`${nonce}-same`, 1, 1024)[0].content, tags: ["bench"] });
  const [sameEvent, sameSignature] = (() => {
    const [signature, body] = stripeLine(checkoutEvent("same")).split("\t");
    return [body, signature];
  })();
  // Signed just before use (Stripe's tolerance is 5 minutes), disjoint from the warm-up's.
  const pools = { warm: stripePool("warm", 0, 500), main: stripePool("main", 1_000, STRIPE_POOL) };

  const json = { SBA_WRK_METHOD: "POST", SBA_WRK_CONTENT_TYPE: "application/json" };
  const limitedTenant = `bench-${nonce}-limited`;
  const jsLimitedTenant = `bench-${nonce}-js-limited`;
  const badEvent = checkoutEvent("bad-signature");
  /** Signs the row's bad delivery just before it runs (a fresh timestamp, within tolerance). */
  const signBadly = (row) => () => {
    row.env.SBA_WRK_HEADER = `Stripe-Signature: ${badStripeSignature(badEvent)}`;
    return "bad signature made now (right shape and time, wrong secret)";
  };
  const baseline = { id: "empty", label: "empty Worker: GET / (baseline)", worker: EMPTY, path: "/", env: { SBA_WRK_EXPECT: "200" } };
  const spec = [
    baseline,
    {
      id: "healthz", label: "kb-ingest GET /kb/healthz", worker: "sba-kb-ingest", path: "/kb/healthz",
      env: { SBA_WRK_EXPECT: "200", SBA_WRK_BODY_HAS: '"kb-ingest"' },
    },
    {
      id: "search", label: `kb GET /kb/search (JWT; ${chunks} chunks)`, worker: "sba-kb-ingest", path: "/kb/search?q=refund%20invoice&limit=10",
      env: { SBA_WRK_AUTH: token(kbTenant), SBA_WRK_EXPECT: "200", SBA_WRK_BODY_HAS: '"hits":[{' },
    },
    {
      id: "search-422", label: "kb GET /kb/search?q= (JWT checked, 422, no DB)", worker: "sba-kb-ingest", path: "/kb/search?q=",
      env: { SBA_WRK_AUTH: token(kbTenant), SBA_WRK_EXPECT: "422", SBA_WRK_BODY_HAS: '"validation_failed"' },
    },
    {
      id: "ingest", label: "kb POST /kb/documents (new ~1 KB doc each)", worker: "sba-kb-ingest", path: "/kb/documents",
      env: { ...json, SBA_WRK_MODE: "kb-document", SBA_WRK_AUTH: token(`${kbTenant}-ingest`), SBA_WRK_EXPECT: "201", SBA_WRK_BODY_HAS: '"change":"created"' },
    },
    {
      id: "ingest-dedupe", label: "kb POST /kb/documents (same doc: dedupe path)", worker: "sba-kb-ingest", path: "/kb/documents",
      env: { ...json, SBA_WRK_BODY: sameDoc, SBA_WRK_AUTH: token(`${kbTenant}-dedupe`), SBA_WRK_EXPECT: "200", SBA_WRK_BODY_HAS: '"deduplicated":true' },
    },
    {
      id: "stripe", label: "webhooks POST /webhooks/stripe (new event)", worker: "sba-webhooks", path: "/webhooks/stripe", pool: pools,
      env: { ...json, SBA_WRK_MODE: "pool", SBA_WRK_POOL_HEADER: "Stripe-Signature", SBA_WRK_EXPECT: "200", SBA_WRK_BODY_HAS: '"outcome":"applied"' },
    },
    {
      id: "stripe-duplicate", label: "webhooks POST /webhooks/stripe (same event: duplicate)", worker: "sba-webhooks", path: "/webhooks/stripe",
      env: { ...json, SBA_WRK_BODY: sameEvent, SBA_WRK_HEADER: `Stripe-Signature: ${sameSignature}`, SBA_WRK_EXPECT: "200", SBA_WRK_BODY_HAS: '"duplicate":true' },
    },
    {
      id: "stripe-400", label: "webhooks POST /webhooks/stripe (bad signature: 400)", worker: "sba-webhooks", path: "/webhooks/stripe", badSignature: true,
      env: { ...json, SBA_WRK_BODY: badEvent, SBA_WRK_EXPECT: "400", SBA_WRK_BODY_HAS: '"signature_mismatch"' },
    },
    {
      id: "js-stripe-400", label: "JS reference: Stripe 400 (bad signature)", worker: JS_REFERENCE, path: "/webhooks/stripe", badSignature: true,
      env: { ...json, SBA_WRK_BODY: badEvent, SBA_WRK_EXPECT: "400", SBA_WRK_BODY_HAS: '"signature_mismatch"' },
    },
    {
      id: "agent-run", label: "agent POST /agent/run (SSE to RUN_FINISHED)", worker: "sba-agent", path: "/agent/run",
      env: { ...json, SBA_WRK_MODE: "agent-run", SBA_WRK_AUTH: token(`bench-${nonce}-agent`), SBA_WRK_EXPECT: "200", SBA_WRK_BODY_HAS: '"type":"RUN_FINISHED"' },
    },
    {
      id: "limited-429", label: "ratelimited-agent POST /run (over limit: 429)", worker: "sba-ratelimited-agent", path: "/ratelimited-agent/run",
      prepare: async (url) => `${await freshMinuteFor(SECS + 6)}${await exhaust(url, limitedTenant)}`,
      env: { ...json, SBA_WRK_MODE: "agent-run", SBA_WRK_AUTH: token(limitedTenant), SBA_WRK_EXPECT: "429", SBA_WRK_BODY_HAS: '"rate_limited"' },
    },
    {
      id: "js-429", label: "JS reference: 429 (rate-limited tenant)", worker: JS_REFERENCE, path: "/run",
      prepare: async (url) => `${await freshMinuteFor(SECS + 6)}${await exhaust(url, jsLimitedTenant)}`,
      env: { ...json, SBA_WRK_MODE: "agent-run", SBA_WRK_AUTH: token(jsLimitedTenant), SBA_WRK_EXPECT: "429", SBA_WRK_BODY_HAS: '"rate_limited"' },
    },
    // The baseline again: how far the machine drifted during the run (ratios near 1 = steady).
    { ...baseline, id: "empty-again", label: "empty Worker again, at the end (drift check)" },
  ];
  log(`endpoints bench — wrk -t${THREADS} -c${CONNECTIONS} -d${SECS}s --latency on loopback; every Worker in one workerd ` +
    `(Miniflare), each on its own socket; LLM double at ${llm.url} (no delay); search corpus ${chunks} chunks`);
  for (const row of spec) {
    if (row.badSignature) row.prepare = signBadly(row);
    if (wanted(row.id)) rows.push(await measure(row));
  }
} catch (e) {
  fail("setup", e.stack ?? e.message);
} finally {
  await bundle.dispose().catch(() => {});
  await llm.close().catch(() => {});
}
writeResults({ tool: "wrk", threads: THREADS, connections: CONNECTIONS, secs: SECS, baseline: "empty", rows, failures });
if (failures.length) {
  log(`\nFAIL: ${failures.length} failure(s)`);
  for (const f of failures) log(`  ${f}`);
}
process.exit(failures.length ? 1 : 0);
