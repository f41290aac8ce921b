// Soak: SBA_BENCH_SOAK_SECONDS (default 300) of mixed traffic at a modest rate against ONE
// bundle (the built Wasm in workerd via Miniflare, each function on its own loopback socket),
// with the stack's redis-server and Postgres each restarted once in the middle
// (tests/bench/outage.sh: Redis at 1/3 of the time, Postgres at 2/3, each kept down
// SBA_BENCH_OUTAGE_HOLD_SECONDS, default 5).
//
//   SBA_* and SBA_STACK_* from scripts/bench's throwaway stack;  node tests/bench/soak.mjs
//
// Traffic: SBA_BENCH_SOAK_RATE requests started per second (default 6), in a fixed cycle of
//   run         POST /agent/run (the LLM double answers a short text at once), read to its end
//   run-limited POST /ratelimited-agent/run for 10 tenants of the free plan (IP window and burst
//               bucket raised: the tenant window, 20/min, is never reached at this rate, except
//               after Redis lost its counters, which only makes room)
//   ingest      POST /kb/documents (a new small document; also the documents the BaseHub
//               deliveries below mark stale)
//   search      GET /kb/search
//   stripe      signed deliveries (the official `stripe` package's test header, the E2E secret):
//               per customer checkout.session.completed → customer.subscription.created →
//               invoice.paid, each sent once the previous one was acknowledged, every delivery
//               retried until a 2xx as Stripe does (backoff 1, 2, 4, 8 s), now and then an
//               acknowledged event delivered again (must be a duplicate)
//   basehub     signed block.updated deliveries (x-basehub-webhook-signature), each for a block
//               whose basehub document was ingested first, retried until a 2xx, some delivered
//               twice (must be a duplicate)
//
// An outage window runs from the moment the service stopped to the end of the first request
// that succeeded after it was up again (of a kind that needs it: runs for Redis, ingest and
// search for Postgres) plus SBA_BENCH_OUTAGE_MARGIN_SECONDS (default 2); a request belongs to it
// when its time overlaps it. Reported: requests per kind; 5xx and other failures (connection
// errors, timeouts, unexpected statuses, runs not ending in RUN_FINISHED) inside and outside
// the windows (outside must be 0); webhook effects counted in Postgres (and, for the re-ingest
// jobs, the consumer's log lines): every acknowledged Stripe event recorded once and applied
// (customer link, subscription row, usage period), every acknowledged BaseHub delivery recorded
// once and its document marked stale by that delivery, exactly one re-ingest job applied per
// delivery, no delivery acknowledged as new twice (doubled) or never acknowledged (lost);
// the Workers' connections at the stack's pooler (PgBouncer's SHOW POOLS: what a leak would
// hold) at the start, their maximum, and at the end (must be back to the start's), and Postgres
// client connections (pg_stat_activity) likewise (at the end at most the start's or the pooler's
// pool size, whichever is larger: the pool keeps idle server connections warm, and a Postgres
// restart empties it); workerd's RSS at the start, middle and end.
//
// Bounded: requests time out after 30 s, webhook retries stop 60 s after the traffic, at most
// 64 requests in flight (a slot finding them all busy is skipped, and counted). Loopback only.
// Exits 1 on any failure. With SBA_BENCH_OUT set, writes the figures there as JSON for
// tests/bench/table.mjs. Not a node:test file: `node --test tests/` never runs it.

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Agent, fetch as ufetch } from "undici";
import { startBundle, stackEnv, E2E_JWT_SECRET, E2E_WEBHOOK_SECRETS } from "../support/bundle.mjs";
import { poolerConsole } from "../support/pooler.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { basehubSignature, stripeSignature } from "../support/signers.mjs";
import { generousPlan } from "./plans.mjs";
import { startLlmDouble, textChunks } from "../support/llm-double.mjs";
import { writeResults } from "./results.mjs";

const SECS = Number(process.env.SBA_BENCH_SOAK_SECONDS ?? 300);
const RATE = Number(process.env.SBA_BENCH_SOAK_RATE ?? 6);
const HOLD_SECS = Number(process.env.SBA_BENCH_OUTAGE_HOLD_SECONDS ?? 5);
const MARGIN_MS = Number(process.env.SBA_BENCH_OUTAGE_MARGIN_SECONDS ?? 2) * 1000;
const REQUEST_TIMEOUT_MS = 30_000;
const RETRY_GRACE_MS = 60_000;
const MAX_IN_FLIGHT = 64;
const SAMPLE_MS = 5_000;
const CYCLE = ["run", "search", "ingest", "run-limited", "run", "search", "stripe", "ingest", "run", "search", "run-limited", "basehub"];
const KINDS = ["run", "run-limited", "ingest", "search", "stripe", "basehub"];
const NEEDS = { redis: ["run", "run-limited"], postgres: ["ingest", "search"] };
const here = path.dirname(fileURLToPath(import.meta.url));
const stack = stackEnv();
const soakId = randomBytes(3).toString("hex");
let serial = 0;
const uid = (p) => `${p}_${soakId}_${(serial++).toString(36)}${randomBytes(2).toString("hex")}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

const failures = [];
const fail = (phase, detail) => failures.push(`${phase}: ${detail}`);
const describe = (e) => `${e?.cause?.code ?? e?.code ?? e?.name ?? ""} ${e?.cause?.message ?? e?.message ?? e}`.trim().slice(0, 160);
let disposing = false;
const stray = [];
process.on("uncaughtException", (e) => {
  // Miniflare's Hyperdrive proxy sockets have no 'error' listener; an outage resets them.
  stray.push(`${disposing ? "during dispose" : "while soaking"}: ${describe(e)}`);
});

// ---- the stack: Postgres for counting, /proc for workerd ------------------------------------------
async function dbQuery(sql, params = []) {
  const client = new pg.Client({ connectionString: stack.postgresUrl, connectionTimeoutMillis: 5_000, query_timeout: 10_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}
const pgConnections = async () =>
  Number(
    (await dbQuery("select count(*)::int as n from pg_stat_activity where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid()"))[0].n,
  );
/** Runs `fn(console)` on a fresh connection to the stack pooler's console. */
async function withPooler(fn) {
  const pooler = await poolerConsole(stack.postgresPooledUrl);
  try {
    return await fn(pooler);
  } finally {
    await pooler.end();
  }
}
/** The Workers' connections open at the pooler now. */
const poolerClients = () => withPooler((p) => p.clients());
const rssMb = (pid) => {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
};
function workerdPid() {
  const parents = new Map();
  const names = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      names.set(Number(entry), stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")));
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  for (const [pid, comm] of names) {
    if (!comm.includes("workerd")) continue;
    for (let p = parents.get(pid); p; p = parents.get(p)) if (p === process.pid) return pid;
  }
  return null;
}

/** Runs tests/bench/outage.sh; resolves with the service's stop and start times (ms on `now()`'s clock). */
function outage(service) {
  return new Promise((resolve, reject) => {
    const requestedAt = now();
    const child = spawn("bash", [path.join(here, "outage.sh"), service, String(HOLD_SECS)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000 + HOLD_SECS * 1000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      const at = (word) => {
        const m = out.match(new RegExp(`^${word} (\\d+)$`, "m"));
        return m ? Number(m[1]) - performance.timeOrigin : null;
      };
      if (code !== 0) return reject(new Error(`outage.sh ${service} exited ${code}: ${err.trim().slice(-300)}`));
      resolve({ service, requestedAt, stoppedAt: at("stopped") ?? requestedAt, startedAt: at("started") ?? now() });
    });
  });
}

// ---- requests -----------------------------------------------------------------------------------
// A fresh connection per request (`pipelining: 0`): a pooled keep-alive connection can be closed
// by the server just as a request goes out on it, a client-side race, not a failure.
const dispatcher = new Agent({ connections: 1_000, pipelining: 0, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
const records = []; // { kind, t0, t1, status, fiveXx, failure, limited }
let inFlight = 0;
let skipped = 0;
const errorCode = (text) => {
  try {
    return JSON.parse(text).error?.code ?? "(no code)";
  } catch {
    return "(not JSON)";
  }
};
const lastEventType = (text) => {
  const frames = text.split("\n\n").filter((f) => /^data: /m.test(f));
  if (!frames.length) return "(no events)";
  try {
    return JSON.parse(frames.at(-1).match(/^data: (.*)$/m)[1]).type ?? "(untyped)";
  } catch {
    return "(unparseable)";
  }
};

/** One request; `expect(status, text)` returns null when the answer is right, else why not. */
async function request(kind, url, init, expect) {
  const rec = { kind, t0: now(), t1: null, status: 0, fiveXx: false, failure: null, limited: false, body: null };
  records.push(rec);
  inFlight += 1;
  try {
    const res = await ufetch(url, { ...init, dispatcher, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    rec.status = res.status;
    const text = await res.text();
    if (res.status >= 500) {
      rec.fiveXx = true;
      rec.failure = `${res.status} ${errorCode(text)}`;
    } else {
      rec.failure = expect(res.status, text, rec);
      if (rec.failure === null && res.headers.get("content-type")?.includes("json")) rec.body = JSON.parse(text);
    }
  } catch (e) {
    rec.failure = `fetch: ${describe(e)}`;
  } finally {
    rec.t1 = now();
    inFlight -= 1;
  }
  return rec;
}

let origins;
const auth = (tenant) => ({ authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}` });
const json = (tenant, body, extra = {}) => ({
  method: "POST",
  headers: { ...(tenant ? auth(tenant) : {}), "content-type": "application/json", ...extra },
  body: typeof body === "string" ? body : JSON.stringify(body),
});
const runInput = () => ({
  threadId: uid("th"),
  runId: uid("run"),
  messages: [{ id: "m1", role: "user", content: "Hi" }],
  tools: [],
  context: [],
  state: {},
  forwardedProps: {},
});
const expectRun = (limitedOk) => (status, text, rec) => {
  if (status === 429 && limitedOk) {
    rec.limited = true;
    return null;
  }
  if (status !== 200) return `${status} ${errorCode(text)}`;
  const last = lastEventType(text);
  return last === "RUN_FINISHED" ? null : `200 ending in ${last}`;
};
const expectStatus = (...ok) => (status, text) => (ok.includes(status) ? null : `${status} ${errorCode(text)}`);

const runTenants = Array.from({ length: 20 }, (_, i) => `soak-${soakId}-run${i}`);
const limitedTenants = Array.from({ length: 10 }, (_, i) => `soak-${soakId}-lim${i}`);
const kbTenants = Array.from({ length: 5 }, (_, i) => `soak-${soakId}-kb${i}`);
// Five minutes of ingest pass the free plan's 100 documents: these tenants get a plan no
// bench reaches (the limited-run tenants keep the free plan).
await generousPlan([...kbTenants, ...runTenants, E2E_WEBHOOK_SECRETS.BASEHUB_TENANT_ID]);
const pick = (list) => list[Math.floor(Math.random() * list.length)];
const WORDS = "refund invoice shipping warranty account password billing delivery return policy order support".split(" ");
const words = (n) => Array.from({ length: n }, () => pick(WORDS)).join(" ");

const ops = {
  run: () => request("run", `${origins.agent}/agent/run`, json(pick(runTenants), runInput(), { accept: "text/event-stream" }), expectRun(false)),
  "run-limited": () =>
    request("run-limited", `${origins.limited}/ratelimited-agent/run`, json(pick(limitedTenants), runInput(), { accept: "text/event-stream" }), expectRun(true)),
  ingest: () =>
    request(
      "ingest",
      `${origins.kb}/kb/documents`,
      json(pick(kbTenants), { title: `Soak ${uid("doc")}`, content: `soak ${words(40)}`, contentType: "text", tags: ["soak"], metadata: {} }),
      expectStatus(201),
    ),
  search: () =>
    request("search", `${origins.kb}/kb/search?q=${encodeURIComponent(`soak ${pick(WORDS)}`)}&limit=5`, { headers: auth(pick(kbTenants)) }, expectStatus(200)),
  stripe: () => stripeSlot(),
  basehub: () => basehubSlot(),
};

// ---- webhooks: delivered until acknowledged, as the senders do ---------------------------------------
const CONTENT_TENANT = E2E_WEBHOOK_SECRETS.BASEHUB_TENANT_ID;
let trafficEndsAt = Infinity;
const jobs = new Set();
const track = (promise) => {
  jobs.add(promise);
  promise.finally(() => jobs.delete(promise));
  return promise;
};

/** Sends `attempt()` until it is acknowledged (null failure) or the retry grace is over. */
async function untilAcknowledged(attempt) {
  for (let tries = 0; ; tries++) {
    const rec = await attempt();
    if (rec.failure === null) return rec;
    if (now() > trafficEndsAt + RETRY_GRACE_MS) return null;
    await sleep(Math.min(8_000, 1_000 * 2 ** Math.min(tries, 3)));
  }
}

const deliveries = { stripe: new Map(), basehub: new Map() }; // id → { kind, acked, fresh (answers with duplicate:false), ... }
const journeys = []; // { tenant, customer, sub, invoice, next, busy, events: [] }
let stripeSlots = 0;
function stripeEvent(type, object) {
  return JSON.stringify({ id: uid("evt"), object: "event", api_version: "2025-03-31.basil", created: Math.floor(Date.now() / 1000), type, data: { object } });
}
function deliverStripe(payload) {
  const id = JSON.parse(payload).id;
  const entry = deliveries.stripe.get(id) ?? { acked: false, fresh: 0, duplicates: 0, attempts: 0 };
  deliveries.stripe.set(id, entry);
  return untilAcknowledged(async () => {
    entry.attempts += 1;
    const header = stripeSignature(payload);
    const rec = await request("stripe", `${origins.webhooks}/webhooks/stripe`, json(null, payload, { "stripe-signature": header }), expectStatus(200));
    if (rec.failure === null) {
      entry.acked = true;
      if (rec.body?.duplicate) entry.duplicates += 1;
      else {
        entry.fresh += 1;
        entry.outcome = rec.body?.outcome;
      }
    }
    return rec;
  });
}
async function stripeSlot() {
  stripeSlots += 1;
  // Now and then an acknowledged event again: Stripe redelivers; it must change nothing.
  const acked = [...deliveries.stripe.entries()].filter(([, e]) => e.acked);
  if (stripeSlots % 5 === 0 && acked.length) {
    const [, entry] = pick(acked);
    entry.redelivered = (entry.redelivered ?? 0) + 1;
    return deliverStripe(entry.payload);
  }
  let journey = journeys.find((j) => !j.busy && j.next < 3);
  if (!journey) {
    journey = { tenant: `soak-${soakId}-pay${journeys.length}`, customer: uid("cus"), sub: uid("sub"), invoice: uid("in"), next: 0, busy: false, events: [] };
    journeys.push(journey);
  }
  journey.busy = true;
  const start = Math.floor(Date.now() / 1000) - 60;
  const payload = [
    () => stripeEvent("checkout.session.completed", { id: uid("cs"), object: "checkout.session", client_reference_id: journey.tenant, customer: journey.customer, mode: "subscription" }),
    () =>
      stripeEvent("customer.subscription.created", {
        id: journey.sub, object: "subscription", customer: journey.customer, status: "active", cancel_at_period_end: false,
        items: { object: "list", data: [{ id: uid("si"), price: { id: "price_pro", lookup_key: "pro" }, current_period_start: start, current_period_end: start + 2592000 }] },
      }),
    () =>
      stripeEvent("invoice.paid", {
        id: journey.invoice, object: "invoice", customer: journey.customer,
        lines: { object: "list", data: [{ period: { start, end: start + 2592000 } }] },
      }),
  ][journey.next]();
  const id = JSON.parse(payload).id;
  journey.events.push(id);
  deliveries.stripe.set(id, { acked: false, fresh: 0, duplicates: 0, attempts: 0, payload, type: JSON.parse(payload).type, journey });
  const rec = await deliverStripe(payload);
  if (rec) journey.next += 1;
  journey.busy = false;
}

let basehubSlots = 0;
function deliverBasehub(body) {
  const id = `sha256:${createHash("sha256").update(body).digest("hex")}`;
  const entry = deliveries.basehub.get(id);
  return untilAcknowledged(async () => {
    entry.attempts += 1;
    const signature = basehubSignature(body);
    const rec = await request("basehub", `${origins.webhooks}/webhooks/basehub`, json(null, body, { "x-basehub-webhook-signature": signature }), expectStatus(200));
    if (rec.failure === null) {
      entry.acked = true;
      if (rec.body?.duplicate) entry.duplicates += 1;
      else entry.fresh += 1;
    }
    return rec;
  });
}
async function basehubSlot() {
  basehubSlots += 1;
  const block = uid("blk");
  // The block's document first (the delivery's effect is to mark it stale).
  const doc = await untilAcknowledged(() =>
    request(
      "ingest",
      `${origins.kb}/kb/documents`,
      json(CONTENT_TENANT, { externalId: block, title: `Block ${block}`, content: `basehub block ${block} ${words(20)}`, contentType: "text", source: { kind: "basehub" }, metadata: { blockId: block } }),
      expectStatus(201, 200),
    ),
  );
  if (!doc) return;
  const body = JSON.stringify({ timestamp: new Date().toISOString(), type: "block.updated", data: { blockId: block, nonce: uid("n") } });
  const id = `sha256:${createHash("sha256").update(body).digest("hex")}`;
  deliveries.basehub.set(id, { acked: false, fresh: 0, duplicates: 0, attempts: 0, body, block, documentId: doc.body?.id });
  const rec = await deliverBasehub(body);
  // Every third delivery is sent again once acknowledged: BaseHub may retry; a duplicate.
  if (rec && basehubSlots % 3 === 0) {
    deliveries.basehub.get(id).redelivered = 1;
    await deliverBasehub(body);
  }
}

// ---------------------------------------------------------------------------------------------------
const results = { secs: SECS, rate: RATE, holdSecs: HOLD_SECS, marginMs: MARGIN_MS };
let llm;
let bundle;
let exitCode = 0;
try {
  llm = await startLlmDouble(() => ({ chunks: textChunks("Soak answer, short.", { model: "soak", pieces: 2 }) }));
  const llmBindings = { LLM_BASE_URLS: llm.url, LLM_MODEL: "soak" };
  bundle = await startBundle({
    direct: true,
    overrides: {
      agent: { bindings: llmBindings },
      "ratelimited-agent": { bindings: { ...llmBindings, RATE_LIMIT_IP_PER_MINUTE: "1000000", RATE_LIMIT_BURST: "1000000" } },
    },
  });
  origins = {
    agent: await bundle.directUrl("sba-agent"),
    limited: await bundle.directUrl("sba-ratelimited-agent"),
    kb: await bundle.directUrl("sba-kb-ingest"),
    webhooks: await bundle.directUrl("sba-webhooks"),
  };
  const wpid = workerdPid();
  console.log(`soak — ${SECS} s at ${RATE} requests/s (SBA_BENCH_SOAK_SECONDS, SBA_BENCH_SOAK_RATE), one bundle (workerd pid ${wpid ?? "not found"}); ` +
    `redis-server restarted at ${Math.round(SECS / 3)} s, Postgres at ${Math.round((2 * SECS) / 3)} s, each down ${HOLD_SECS} s`);

  // Warm-up: every kind once, all must succeed (the stack is up).
  for (const kind of ["run", "run-limited", "ingest", "search"]) {
    const rec = await ops[kind]();
    if (rec.failure) throw new Error(`warm-up ${kind}: ${rec.failure}`);
  }
  records.length = 0;
  await sleep(3_000);
  const pgBaseline = await pgConnections();
  const pooledBaseline = await poolerClients();
  const poolSize = await withPooler(async (p) => Number((await p.show("CONFIG")).find((r) => r.key === "default_pool_size")?.value));
  const rssStart = wpid ? rssMb(wpid) : null;
  const samples = []; // { at, rssMb, pg, pooled }
  let pgMax = pgBaseline;
  let pooledMax = pooledBaseline;
  console.log(`start: workerd RSS ${rssStart?.toFixed(0)} MB, Postgres client connections ${pgBaseline}, ` +
    `Worker connections at the pooler ${pooledBaseline} (pool size ${poolSize})`);

  // ---- the traffic --------------------------------------------------------------------------------
  const t0 = now();
  const endAt = t0 + SECS * 1000;
  const outagesRun = [];
  const planned = [
    { service: "redis", at: t0 + (SECS * 1000) / 3 },
    { service: "postgres", at: t0 + (2 * SECS * 1000) / 3 },
  ];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const sample = { at: (now() - t0) / 1000, rssMb: wpid ? rssMb(wpid) : null, pg: null, pooled: null, inFlight };
      try {
        sample.pg = await pgConnections();
        pgMax = Math.max(pgMax, sample.pg);
      } catch {
        // Postgres is down: no count
      }
      try {
        sample.pooled = await poolerClients();
        pooledMax = Math.max(pooledMax, sample.pooled);
      } catch {
        // the pooler did not answer: no count
      }
      samples.push(sample);
      await sleep(SAMPLE_MS);
    }
  })();
  const launched = Object.fromEntries(KINDS.map((k) => [k, 0]));
  for (let slot = 0; ; slot++) {
    const due = t0 + (slot * 1000) / RATE;
    if (due >= endAt) break;
    if (due > now()) await sleep(due - now());
    for (const p of planned) {
      if (!p.started && now() >= p.at) {
        p.started = true;
        console.log(`  ${((now() - t0) / 1000).toFixed(0)} s: ${p.service} stops for ${HOLD_SECS} s`);
        outagesRun.push(
          outage(p.service).then(
            (o) => (console.log(`  ${((o.startedAt - t0) / 1000).toFixed(1)} s: ${p.service} up again`), o),
            (e) => (fail("outage", `${p.service}: ${describe(e)}`), null),
          ),
        );
      }
    }
    const kind = CYCLE[slot % CYCLE.length];
    if (inFlight >= MAX_IN_FLIGHT) {
      skipped += 1;
      continue;
    }
    launched[kind] += 1;
    track(ops[kind]().catch((e) => fail(kind, `unexpected: ${e.stack ?? e}`)));
    if (slot % Math.round(RATE * 30) === 0 && slot > 0) {
      console.log(`  ${((now() - t0) / 1000).toFixed(0)} s: ${records.length} requests, ${records.filter((r) => r.failure).length} failed so far, ${inFlight} in flight`);
    }
  }
  trafficEndsAt = now();
  const middle = samples.reduce((best, s) => (best === null || Math.abs(s.at - SECS / 2) < Math.abs(best.at - SECS / 2) ? s : best), null);
  console.log(`traffic over after ${((trafficEndsAt - t0) / 1000).toFixed(0)} s; waiting for retries and in-flight requests (at most ${RETRY_GRACE_MS / 1000 + 30} s)`);
  const outages = (await Promise.all(outagesRun)).filter(Boolean);
  await Promise.race([Promise.allSettled([...jobs]), sleep(RETRY_GRACE_MS + REQUEST_TIMEOUT_MS)]);
  const jobsLeft = jobs.size;
  if (jobsLeft) fail("drain", `${jobsLeft} request/delivery jobs still running after the grace period`);

  // ---- outage windows -------------------------------------------------------------------------------
  const windows = outages.map((o) => {
    const firstOk = records
      .filter((r) => NEEDS[o.service].includes(r.kind) && r.t0 >= o.startedAt && r.failure === null && !r.limited)
      .sort((a, b) => a.t1 - b.t1)[0];
    const end = firstOk ? firstOk.t1 + MARGIN_MS : Infinity;
    if (!firstOk) fail("outage", `${o.service}: no request that needs it succeeded after it came back`);
    return { ...o, firstOkAt: firstOk?.t1 ?? null, endAt: end };
  });
  const inWindow = (r) => windows.some((w) => r.t1 >= w.stoppedAt && r.t0 <= w.endAt);
  const perKind = {};
  for (const kind of KINDS) {
    const mine = records.filter((r) => r.kind === kind);
    const inside = mine.filter(inWindow);
    const outside = mine.filter((r) => !inWindow(r));
    const reasons = (list) => {
      const m = {};
      for (const r of list) if (r.failure) m[r.failure] = (m[r.failure] ?? 0) + 1;
      return m;
    };
    perKind[kind] = {
      requests: mine.length,
      ok: mine.filter((r) => r.failure === null).length,
      limited: mine.filter((r) => r.limited).length,
      fiveXxInside: inside.filter((r) => r.fiveXx).length,
      fiveXxOutside: outside.filter((r) => r.fiveXx).length,
      otherInside: inside.filter((r) => r.failure && !r.fiveXx).length,
      otherOutside: outside.filter((r) => r.failure && !r.fiveXx).length,
      failuresInside: reasons(inside),
      failuresOutside: reasons(outside),
    };
  }

  // ---- webhook effects, counted ------------------------------------------------------------------
  // The re-ingest jobs go through a queue: give the consumer time to catch up.
  const basehubAcked = [...deliveries.basehub.entries()].filter(([, e]) => e.acked);
  const appliedLogs = (id) => bundle.logs.filter((l) => l.msg === "re-ingest job applied" && l.eventId === id).length;
  for (const until = now() + 20_000; now() < until && basehubAcked.some(([id]) => appliedLogs(id) === 0); ) await sleep(250);
  await sleep(1_000);

  const stripeAll = [...deliveries.stripe.entries()];
  const stripeAcked = stripeAll.filter(([, e]) => e.acked).map(([id]) => id);
  const stripeRows = new Map((await dbQuery(
    "select event_id, count(*)::int as n, max(outcome) as outcome from webhook_events where provider = 'stripe' and event_id = any($1) group by event_id",
    [stripeAll.map(([id]) => id)],
  )).map((r) => [r.event_id, r]));
  const tenants = journeys.map((j) => j.tenant);
  const customerRows = await dbQuery("select tenant_id, count(*)::int as n from billing_customers where tenant_id = any($1) group by tenant_id", [tenants]);
  const subRows = await dbQuery("select stripe_subscription_id, source_event_id from billing_subscriptions where stripe_subscription_id = any($1)", [journeys.map((j) => j.sub)]);
  const usageRows = await dbQuery("select invoice_id, count(*)::int as n from usage_periods where invoice_id = any($1) group by invoice_id", [journeys.map((j) => j.invoice)]);
  const stripeEffects = { events: stripeAll.length, acknowledged: stripeAcked.length, lost: 0, doubled: 0, notApplied: 0, neverAcknowledged: 0, redelivered: 0, redeliveredDuplicate: 0, answeredDuplicateOnly: 0, details: [] };
  const note = (where, what) => where.details.length < 10 && where.details.push(what);
  for (const [id, e] of stripeAll) {
    const row = stripeRows.get(id);
    if (!e.acked) {
      stripeEffects.neverAcknowledged += 1;
      note(stripeEffects, `${id} (${e.type}) never acknowledged in ${e.attempts} attempts`);
      continue;
    }
    if (!row) {
      stripeEffects.lost += 1;
      note(stripeEffects, `${id} (${e.type}) acknowledged but not in webhook_events`);
    } else if (row.n !== 1) {
      stripeEffects.doubled += 1;
    } else if (row.outcome !== "applied") {
      stripeEffects.notApplied += 1;
      note(stripeEffects, `${id} (${e.type}) recorded as ${row.outcome}`);
    }
    if (e.fresh > 1) {
      stripeEffects.doubled += 1;
      note(stripeEffects, `${id} (${e.type}) answered as new ${e.fresh} times`);
    }
    if (e.fresh === 0) stripeEffects.answeredDuplicateOnly += 1; // applied, but its first 2xx was lost to a failure
    if (e.redelivered) {
      stripeEffects.redelivered += e.redelivered;
      stripeEffects.redeliveredDuplicate += e.duplicates;
    }
  }
  // The effects themselves: one customer link per tenant, the subscription row written by its
  // created event, one usage period per paid invoice.
  const linked = new Map(customerRows.map((r) => [r.tenant_id, r.n]));
  const subs = new Map(subRows.map((r) => [r.stripe_subscription_id, r.source_event_id]));
  const usage = new Map(usageRows.map((r) => [r.invoice_id, r.n]));
  const effectRows = { customers: 0, subscriptions: 0, usagePeriods: 0 };
  for (const j of journeys) {
    const [checkout, created, paid] = j.events;
    if (checkout && deliveries.stripe.get(checkout).acked) {
      effectRows.customers += linked.get(j.tenant) ?? 0;
      if ((linked.get(j.tenant) ?? 0) !== 1) (stripeEffects.lost += 1), note(stripeEffects, `tenant ${j.tenant}: ${linked.get(j.tenant) ?? 0} customer links`);
    }
    if (created && deliveries.stripe.get(created).acked) {
      effectRows.subscriptions += subs.has(j.sub) ? 1 : 0;
      if (subs.get(j.sub) !== created) (stripeEffects.lost += 1), note(stripeEffects, `subscription ${j.sub}: source event ${subs.get(j.sub)}, expected ${created}`);
    }
    if (paid && deliveries.stripe.get(paid).acked) {
      effectRows.usagePeriods += usage.get(j.invoice) ?? 0;
      if ((usage.get(j.invoice) ?? 0) !== 1) (stripeEffects.lost += 1), note(stripeEffects, `invoice ${j.invoice}: ${usage.get(j.invoice) ?? 0} usage periods`);
    }
  }
  stripeEffects.rows = effectRows;

  const basehubAll = [...deliveries.basehub.entries()];
  const basehubRows = new Map((await dbQuery(
    "select event_id, count(*)::int as n from webhook_events where provider = 'basehub' and event_id = any($1) group by event_id",
    [basehubAll.map(([id]) => id)],
  )).map((r) => [r.event_id, r.n]));
  const docRows = new Map((await dbQuery(
    "select metadata ->> 'blockId' as block, count(*)::int as n, max(metadata ->> 'staleEvent') as stale_event, bool_and(coalesce((metadata ->> 'stale')::boolean, false)) as stale from kb_documents where tenant_id = $1 and metadata ->> 'blockId' = any($2) group by 1",
    [CONTENT_TENANT, basehubAll.map(([, e]) => e.block)],
  )).map((r) => [r.block, r]));
  const basehubEffects = { deliveries: basehubAll.length, acknowledged: 0, lost: 0, doubled: 0, neverAcknowledged: 0, redelivered: 0, redeliveredDuplicate: 0, jobsApplied: 0, jobsFailed: 0, details: [] };
  for (const [id, e] of basehubAll) {
    if (!e.acked) {
      basehubEffects.neverAcknowledged += 1;
      note(basehubEffects, `${id.slice(0, 20)}… (block ${e.block}) never acknowledged in ${e.attempts} attempts`);
      continue;
    }
    basehubEffects.acknowledged += 1;
    const rows = basehubRows.get(id) ?? 0;
    const applied = appliedLogs(id);
    const failedJobs = bundle.logs.filter((l) => l.msg?.startsWith("re-ingest job failed") && l.eventId === id).length;
    basehubEffects.jobsApplied += applied;
    basehubEffects.jobsFailed += failedJobs;
    const doc = docRows.get(e.block);
    if (rows !== 1 || applied === 0 || !doc?.stale || doc.stale_event !== id) {
      basehubEffects.lost += 1;
      note(basehubEffects, `block ${e.block}: ${rows} webhook_events rows, ${applied} jobs applied (${failedJobs} failed), document stale=${doc?.stale} by ${doc?.stale_event === id ? "this delivery" : doc?.stale_event}`);
    }
    if (applied > 1 || e.fresh > 1 || (doc && doc.n !== 1)) {
      basehubEffects.doubled += 1;
      note(basehubEffects, `block ${e.block}: ${applied} jobs applied, answered as new ${e.fresh} times, ${doc?.n} documents`);
    }
    if (e.redelivered) {
      basehubEffects.redelivered += e.redelivered;
      basehubEffects.redeliveredDuplicate += e.duplicates;
    }
  }

  // ---- the end: connections back to the baseline, memory ------------------------------------------
  sampling = false;
  await sampler;
  let pgEnd = null;
  let pooledEnd = null;
  const pgAllowed = Math.max(pgBaseline, Number.isFinite(poolSize) ? poolSize : 0);
  const pgDeadline = now() + 30_000;
  for (;;) {
    try {
      pgEnd = await pgConnections();
    } catch (e) {
      pgEnd = null;
    }
    try {
      pooledEnd = await poolerClients();
    } catch (e) {
      pooledEnd = null;
    }
    if ((pgEnd !== null && pgEnd <= pgAllowed && pooledEnd !== null && pooledEnd <= pooledBaseline) || now() > pgDeadline) break;
    await sleep(1_000);
  }
  const rssEnd = wpid ? rssMb(wpid) : null;
  const rssMax = Math.max(...samples.map((s) => s.rssMb ?? 0), rssEnd ?? 0);

  Object.assign(results, {
    launched,
    skipped,
    requests: records.length,
    perKind,
    windows: windows.map((w) => ({
      service: w.service,
      stoppedAtS: (w.stoppedAt - t0) / 1000,
      startedAtS: (w.startedAt - t0) / 1000,
      firstOkAtS: w.firstOkAt === null ? null : (w.firstOkAt - t0) / 1000,
      endAtS: Number.isFinite(w.endAt) ? (w.endAt - t0) / 1000 : null,
      secs: Number.isFinite(w.endAt) ? (w.endAt - w.stoppedAt) / 1000 : null,
    })),
    stripe: stripeEffects,
    basehub: basehubEffects,
    pgConnections: { start: pgBaseline, middle: middle?.pg ?? null, max: pgMax, end: pgEnd, poolSize },
    poolerClients: { start: pooledBaseline, middle: middle?.pooled ?? null, max: pooledMax, end: pooledEnd },
    workerdRssMb: { start: rssStart, middle: middle?.rssMb ?? null, end: rssEnd, max: rssMax },
    samples,
    strayErrors: stray.length,
  });

  // ---- print ----------------------------------------------------------------------------------------
  console.log("\noutage windows (s from the start of the traffic): stop → up again → first success (+ margin)");
  for (const w of results.windows) console.log(`  ${w.service.padEnd(9)} ${w.stoppedAtS.toFixed(1)} → ${w.startedAtS.toFixed(1)} → ${w.firstOkAtS?.toFixed(1) ?? "never"}  (window ${w.secs?.toFixed(1) ?? "open"} s)`);
  const fmt = (c) => `${c[0].padEnd(12)} ${c.slice(1).map((x) => String(x).padStart(9)).join(" ")}`;
  console.log(`\n${fmt(["kind", "requests", "ok", "429", "5xx in", "5xx out", "other in", "other out"])}`);
  for (const [kind, k] of Object.entries(perKind)) {
    console.log(fmt([kind, k.requests, k.ok, k.limited, k.fiveXxInside, k.fiveXxOutside, k.otherInside, k.otherOutside]));
  }
  for (const [kind, k] of Object.entries(perKind)) {
    if (Object.keys(k.failuresInside).length) console.log(`  ${kind} inside the windows: ${JSON.stringify(k.failuresInside)}`);
    if (Object.keys(k.failuresOutside).length) console.log(`  ${kind} OUTSIDE the windows: ${JSON.stringify(k.failuresOutside)}`);
  }
  console.log(`  slots skipped (${MAX_IN_FLIGHT} requests in flight): ${skipped}`);
  const s = stripeEffects;
  console.log(`\nStripe: ${s.events} events (${journeys.length} customers), ${s.acknowledged} acknowledged, never acknowledged ${s.neverAcknowledged}; ` +
    `lost ${s.lost}, doubled ${s.doubled}, not applied ${s.notApplied}; rows: ${effectRows.customers} customer links, ${effectRows.subscriptions} subscriptions, ` +
    `${effectRows.usagePeriods} usage periods; redelivered ${s.redelivered} (answered duplicate ${s.redeliveredDuplicate}); acknowledged only as duplicates ${s.answeredDuplicateOnly}`);
  const b = basehubEffects;
  console.log(`BaseHub: ${b.deliveries} deliveries, ${b.acknowledged} acknowledged, never acknowledged ${b.neverAcknowledged}; lost ${b.lost}, doubled ${b.doubled}; ` +
    `re-ingest jobs applied ${b.jobsApplied} (failed attempts ${b.jobsFailed}); redelivered ${b.redelivered} (answered duplicate ${b.redeliveredDuplicate})`);
  for (const d of [...s.details, ...b.details]) console.log(`  ${d}`);
  console.log(`\nPostgres client connections: start ${pgBaseline}, middle ${middle?.pg ?? "-"}, max ${pgMax}, end ${pgEnd} (pool size ${poolSize})`);
  console.log(`Worker connections at the pooler: start ${pooledBaseline}, middle ${middle?.pooled ?? "-"}, max ${pooledMax}, end ${pooledEnd}`);
  console.log(`workerd RSS: start ${rssStart?.toFixed(0)} MB, middle ${middle?.rssMb?.toFixed(0)} MB, end ${rssEnd?.toFixed(0)} MB, max ${rssMax.toFixed(0)} MB`);
  if (stray.length) console.log(`uncaught socket errors (Miniflare's Hyperdrive proxy, during the outages): ${stray.length}, e.g. ${stray[0]}`);

  // ---- verdicts ---------------------------------------------------------------------------------------
  for (const [kind, k] of Object.entries(perKind)) {
    if (k.fiveXxOutside) fail(`soak ${kind}`, `${k.fiveXxOutside} × 5xx outside the outage windows: ${JSON.stringify(k.failuresOutside)}`);
    if (k.otherOutside) fail(`soak ${kind}`, `${k.otherOutside} failures outside the outage windows: ${JSON.stringify(k.failuresOutside)}`);
  }
  if (s.lost || s.doubled || s.notApplied || s.neverAcknowledged) fail("soak stripe", `lost ${s.lost}, doubled ${s.doubled}, not applied ${s.notApplied}, never acknowledged ${s.neverAcknowledged}`);
  if (s.redeliveredDuplicate < s.redelivered) fail("soak stripe", `${s.redelivered - s.redeliveredDuplicate} redeliveries not answered as duplicates`);
  if (b.lost || b.doubled || b.neverAcknowledged) fail("soak basehub", `lost ${b.lost}, doubled ${b.doubled}, never acknowledged ${b.neverAcknowledged}`);
  if (b.redeliveredDuplicate < b.redelivered) fail("soak basehub", `${b.redelivered - b.redeliveredDuplicate} redeliveries not answered as duplicates`);
  if (pgEnd === null || pgEnd > pgAllowed) fail("soak postgres", `client connections at the end ${pgEnd}, at the start ${pgBaseline}, pool size ${poolSize}`);
  if (pooledEnd === null || pooledEnd > pooledBaseline) fail("soak pooler", `Worker connections at the pooler at the end ${pooledEnd}, at the start ${pooledBaseline}`);
  if (windows.length !== 2) fail("soak outages", `${windows.length} of 2 outages happened`);
  if (skipped) fail("soak", `${skipped} slots skipped: ${MAX_IN_FLIGHT} requests were in flight`);
} catch (e) {
  fail("setup", e.stack ?? describe(e));
} finally {
  disposing = true;
  await bundle?.dispose().catch(() => {});
  await llm?.close().catch(() => {});
  await dispatcher.destroy().catch(() => {});
}
writeResults({ ...results, failures });
if (failures.length) {
  console.log(`\nFAIL: ${failures.length} failure(s)`);
  for (const f of failures) console.log(`  ${f}`);
  exitCode = 1;
} else console.log("\nOK: no failures");
process.exit(exitCode);
