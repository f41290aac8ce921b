// The rate-limited agent under bursts: hundreds to thousands of concurrent runs for one
// tenant are answered with EXACTLY the plan's per-minute limit admitted (free plan: 20 runs a
// minute) and every other run refused with a 429 — never a 5xx, never a dropped request —
// whether the plan is cached or not, whether Redis is near, far, too slow for the limiter's
// deadline or gone mid-burst. Refused runs must not cost Postgres connections (counted where the
// Workers connect, at the stack's pooler, and as Postgres backends).
//
// Every function listens on its own loopback socket (`direct`), so the dev router is not in
// the way; the LLM is the double, answering a short text at once. The IP window and the burst
// bucket are set out of reach, so only the tenant's window binds.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { startBundle, stackEnv, E2E_JWT_SECRET } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { startLlmDouble, textChunks } from "../support/llm-double.mjs";
import { tcpProxy } from "../support/tcp-proxy.mjs";
import { poolerConsole } from "../support/pooler.mjs";
import { awayFromMinuteEdge } from "../support/wait.mjs";

const PER_MINUTE = 20; // the free plan's agent_requests_per_minute
const FUNCTION = "sba-ratelimited-agent";
const uid = (p) => `${p}-${randomBytes(5).toString("hex")}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Thousands of requests in flight at once: a client with no cap on connections per origin
// (undici's own fetch and Agent when the package is installed, else Node's fetch, whose
// default dispatcher has no cap either).
let send = (url, init) => fetch(url, init);
let dispatcher = null;
try {
  const undici = await import("undici");
  dispatcher = new undici.Agent({ connections: 4096, pipelining: 1, keepAliveTimeout: 2000, headersTimeout: 120_000, bodyTimeout: 120_000 });
  send = (url, init) => undici.fetch(url, { ...init, dispatcher });
} catch {
  console.log("(undici not installed: Node's own fetch)");
}

let llm;
let bundle;
let url;
let monitorDb;
let pooler;
/** Every bundle started here (the extra ones are disposed in their tests), for the leak check. */
const outputs = [];

const limitedBindings = (extra = {}) => ({
  LLM_BASE_URLS: llm.url,
  LLM_MODEL: "scripted",
  RATE_LIMIT_IP_PER_MINUTE: "100000",
  RATE_LIMIT_BURST: "100000",
  ...extra,
});

async function startLimited(extraBindings = {}, label = "extra") {
  const b = await startBundle({ direct: true, overrides: { "ratelimited-agent": { bindings: limitedBindings(extraBindings) } } });
  outputs.push({ label, rawOutput: b.rawOutput });
  return { bundle: b, url: `${await b.directUrl(FUNCTION)}/run` };
}

before(async () => {
  llm = await startLlmDouble(() => ({ chunks: textChunks("ok", { pieces: 1 }) }));
  ({ bundle, url } = await startLimited({}, "main"));
  monitorDb = new pg.Client({ connectionString: stackEnv().postgresUrl });
  await monitorDb.connect();
  pooler = await poolerConsole(stackEnv().postgresPooledUrl);
});
after(async () => {
  await bundle?.dispose();
  await llm?.close();
  await monitorDb?.end();
  await pooler?.end();
  await dispatcher?.close();
});

// ---- helpers ----

/** The `type` of the last `data:` event of an SSE body (comments such as `: ping` skipped). */
function lastEventType(text) {
  const frames = text.split("\n\n").filter((f) => /^data: /m.test(f));
  if (frames.length === 0) return "(no events)";
  try {
    return JSON.parse(frames.at(-1).match(/^data: (.*)$/m)[1]).type ?? "(untyped)";
  } catch {
    return "(unparseable)";
  }
}

/** One run: status, error code, Retry-After, and for a 200 the last event of the whole body. */
async function runOnce(url, token) {
  const body = JSON.stringify({
    threadId: uid("thread"),
    runId: uid("run"),
    messages: [{ id: "m1", role: "user", content: "Hi" }],
    tools: [],
    context: [],
    state: {},
    forwardedProps: {},
  });
  let res;
  try {
    res = await send(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "text/event-stream" },
      body,
    });
  } catch (e) {
    return { status: "reject", error: e.cause?.code ?? e.cause?.message ?? e.message };
  }
  const result = { status: res.status, retryAfter: res.headers.get("retry-after") };
  let text;
  try {
    text = await res.text();
  } catch (e) {
    return { ...result, bodyError: e.cause?.code ?? e.message, body: "" };
  }
  result.body = text;
  if (res.status === 200) result.lastEvent = lastEventType(text);
  else {
    try {
      result.code = JSON.parse(text).error?.code ?? "(no code)";
    } catch {
      result.code = "(not JSON)";
    }
  }
  return result;
}

const tally = (items) => {
  const counts = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return counts;
};

/**
 * `n` concurrent runs of `tenant` against `url`, every body read to its end.
 * `onAnswer(answered)` is called as each response completes (e.g. to cut Redis mid-burst).
 * With `hold: { first, until }`, only `first` runs leave at once; the others wait for the
 * promise `until`, then leave together.
 */
async function burst(url, tenant, n, { label = `burst ${n}`, onAnswer, hold } = {}) {
  const token = tenantToken(E2E_JWT_SECRET, tenant);
  const started = Date.now();
  let answered = 0;
  const results = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      if (hold && i >= hold.first) await hold.until;
      const r = await runOnce(url, token);
      answered += 1;
      onAnswer?.(answered);
      return r;
    }),
  );
  return summarize(results, label, Date.now() - started);
}

function summarize(results, label, durationMs) {
  const statusCounts = tally(results.map((r) => r.status));
  const summary = {
    results,
    statusCounts,
    codes: tally(results.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.code ?? r.error ?? ""}`.trim())),
    lastEvents: tally(results.filter((r) => r.status === 200).map((r) => r.bodyError ? `body error ${r.bodyError}` : r.lastEvent)),
    finished: results.filter((r) => r.status === 200 && r.lastEvent === "RUN_FINISHED").length,
    bodies: results.map((r) => r.body),
    admitted: results.filter((r) => r.status !== 429).length,
    durationMs,
  };
  console.log(
    `[${label}] ${results.length} runs in ${durationMs} ms: statuses ${JSON.stringify(statusCounts)}, ` +
      `codes ${JSON.stringify(summary.codes)}, 200 ends ${JSON.stringify(summary.lastEvents)}`,
  );
  for (const r of results.filter((r) => r.status === "reject" || r.status >= 500).slice(0, 3)) {
    console.log(`  ${r.status}: ${(r.body ?? r.error ?? "").slice(0, 300)}`);
  }
  return summary;
}

/** The log lines of `tenant`'s 5xx answers: their error code and the operator's `detail`. */
function serverErrors(b, tenant) {
  return b.logs
    .filter((l) => l.tenant === tenant && l.status >= 500)
    .slice(0, 5)
    .map((l) => `${l.status} ${l.errorCode}: ${l.detail ?? ""}`.slice(0, 400));
}

const merge = (label, ...summaries) =>
  summarize(summaries.flatMap((s) => s.results), label, Math.max(...summaries.map((s) => s.durationMs)));

/**
 * Exactly `ok` 200s streaming to RUN_FINISHED and `limited` 429 rate_limited with
 * Retry-After; nothing else. `from` ({ bundle, tenant }) explains any 5xx from the log lines.
 */
function assertExact(s, ok, limited, from) {
  const why = from ? ` ${JSON.stringify(serverErrors(from.bundle, from.tenant))}` : "";
  assert.deepEqual(s.statusCounts, { 200: ok, 429: limited }, `statuses ${JSON.stringify(s.statusCounts)} codes ${JSON.stringify(s.codes)}${why}`);
  assert.equal(s.finished, ok, `every 200 streams to RUN_FINISHED: ${JSON.stringify(s.lastEvents)}`);
  assertRefusals(s);
}

/** Every 429 is `rate_limited` with a delta-seconds Retry-After ≥ 1. */
function assertRefusals(s) {
  const refused = s.results.filter((r) => r.status === 429);
  const badCode = refused.filter((r) => r.code !== "rate_limited");
  assert.equal(badCode.length, 0, `429s not rate_limited: ${JSON.stringify(tally(badCode.map((r) => r.code)))}`);
  const badRetry = refused.filter((r) => !/^\d+$/.test(r.retryAfter ?? "") || Number(r.retryAfter) < 1);
  assert.equal(badRetry.length, 0, `429s without a Retry-After ≥ 1: ${JSON.stringify(tally(badRetry.map((r) => r.retryAfter)))}`);
}

/** No fetch rejected, no 500 (or other unexpected 5xx than 503), every body read. */
function assertAllAnswered(s) {
  assert.equal(s.statusCounts.reject ?? 0, 0, `requests never answered: ${JSON.stringify(s.codes)}`);
  const broken = s.results.filter((r) => r.status !== "reject" && r.status >= 500 && r.status !== 503);
  assert.equal(broken.length, 0, `5xx other than 503: ${JSON.stringify(tally(broken.map((r) => `${r.status} ${r.code}`)))}`);
  const bodyErrors = s.results.filter((r) => r.bodyError);
  assert.equal(bodyErrors.length, 0, `bodies cut off: ${JSON.stringify(tally(bodyErrors.map((r) => r.bodyError)))}`);
}

/** A first run for `tenant` that must be admitted and finish (it also caches the plan). */
async function warmUp(url, tenant) {
  const first = await burst(url, tenant, 1, { label: "first run" });
  assert.deepEqual(first.statusCounts, { 200: 1 }, `the first run: ${JSON.stringify(first.codes)}`);
  assert.equal(first.finished, 1);
}

const CONNECTIONS_SQL = "select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()";

// Two counts, both bounded: Postgres backends (pg_stat_activity, direct), and the connections
// the Workers open at the stack's pooler (PgBouncer's SHOW POOLS). The pooler caps backends at
// its pool size whatever the Workers do, so a refused run that opened a connection would show
// only in the second count; the first still bounds what Postgres pays.
async function connectionsNow() {
  const [{ rows }, workers] = await Promise.all([monitorDb.query(CONNECTIONS_SQL), pooler.clients()]);
  return { backends: rows[0].n, workers };
}

/** Polls both counts every ~25 ms until `stop()`; `max` holds the highest of each seen. */
function watchConnections() {
  const state = { max: { backends: 0, workers: 0 }, samples: 0, stopped: false };
  const loop = (async () => {
    while (!state.stopped) {
      const now = await connectionsNow();
      for (const k of Object.keys(state.max)) state.max[k] = Math.max(state.max[k], now[k]);
      state.samples += 1;
      await sleep(25);
    }
  })();
  return {
    async stop() {
      state.stopped = true;
      await loop.catch(() => {});
      return state;
    },
  };
}

/** Both counts now (the lowest of a few samples), once the previous test's background work (audit rows) has settled. */
async function connectionBaseline() {
  const low = { backends: Infinity, workers: Infinity };
  for (let i = 0; i < 8; i++) {
    const now = await connectionsNow();
    for (const k of Object.keys(low)) low[k] = Math.min(low[k], now[k]);
    await sleep(50);
  }
  return low;
}

/**
 * Runs `work` (a burst) while counting connections; asserts the most seen at once ≤ baseline +
 * admitted runs (the 200s) + 6, for the Workers' connections at the pooler and for Postgres
 * backends alike.
 */
async function withConnectionBudget(label, work) {
  await sleep(500); // audit rows of earlier runs are written after their responses
  const baseline = await connectionBaseline();
  const watch = watchConnections();
  const summary = await work().finally(() => watch.stop());
  const seen = await watch.stop();
  const admitted = summary.statusCounts[200] ?? 0;
  for (const [k, what] of [["workers", "Worker connections at the pooler"], ["backends", "Postgres connections"]]) {
    const budget = baseline[k] + admitted + 6;
    console.log(`[${label}] ${what}: baseline ${baseline[k]}, max ${seen.max[k]} over ${seen.samples} samples, admitted ${admitted}, budget ${budget}`);
    assert.ok(seen.max[k] <= budget, `${label}: ${seen.max[k]} ${what} at once, more than baseline ${baseline[k]} + ${admitted} admitted + 6`);
  }
  return summary;
}

/** A delaying/switchable TCP proxy in front of the Redis REST server, and its URL. */
async function redisProxy(delayMs) {
  const { redisRestUrl } = stackEnv();
  const target = new URL(redisRestUrl);
  const proxy = await tcpProxy({ host: target.hostname, port: Number(target.port), delayMs });
  let through = proxy.url(redisRestUrl);
  if (!redisRestUrl.endsWith("/") && through.endsWith("/")) through = through.slice(0, -1);
  return { proxy, through };
}

/** The function's log lines for `tenant`, once `count` of them have arrived (or `timeoutMs` passed). */
async function tenantLogs(b, tenant, count, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let lines = [];
  while (Date.now() < deadline) {
    lines = b.logs.filter((l) => l.tenant === tenant && l.function === "ratelimited-agent");
    if (lines.length >= count) break;
    await sleep(100);
  }
  return lines;
}

// ---- the limits hold ----

test("one run, then 500 concurrent runs: exactly 19 more admitted, 481 refused with 429", { timeout: 90_000 }, async () => {
  await awayFromMinuteEdge(15_000);
  const tenant = uid("ovl");
  await warmUp(url, tenant);
  assertExact(await burst(url, tenant, 500), PER_MINUTE - 1, 500 - (PER_MINUTE - 1), { bundle, tenant });
});

test("one run, then a single burst of 1,000: exactly 19 admitted, 981 refused", { timeout: 90_000 }, async () => {
  await awayFromMinuteEdge(20_000);
  const tenant = uid("ovl");
  await warmUp(url, tenant);
  assertExact(await burst(url, tenant, 1000), PER_MINUTE - 1, 1000 - (PER_MINUTE - 1), { bundle, tenant });
});

test("one run, then two simultaneous bursts of 1,000 (2,000 in flight): 19 admitted in all", { timeout: 120_000 }, async () => {
  await awayFromMinuteEdge(25_000);
  const tenant = uid("ovl");
  await warmUp(url, tenant);
  const [a, b] = await Promise.all([burst(url, tenant, 1000, { label: "burst A" }), burst(url, tenant, 1000, { label: "burst B" })]);
  assertExact(merge("bursts A+B", a, b), PER_MINUTE - 1, 2000 - (PER_MINUTE - 1), { bundle, tenant });
});

test("cold plan: 600 concurrent FIRST runs of a new tenant: exactly 20 admitted, 580 refused", { timeout: 120_000 }, async () => {
  await awayFromMinuteEdge(20_000);
  const tenant = uid("ovl-cold");
  assertExact(await burst(url, tenant, 600, { label: "cold 600" }), PER_MINUTE, 600 - PER_MINUTE, { bundle, tenant });
});

test("refused runs cost no Postgres connection: at most baseline + admitted + 6 during bursts", { timeout: 120_000 }, async () => {
  await awayFromMinuteEdge(15_000);
  // Plan not cached: every run of the burst is a cache miss at once.
  const cold = await withConnectionBudget("cold 400", () => burst(url, uid("ovl-pgc"), 400, { label: "cold 400" }));
  assertAllAnswered(cold);
  // Plan cached: refusals decided by Redis alone.
  const tenant = uid("ovl-pgw");
  await awayFromMinuteEdge(15_000);
  await warmUp(url, tenant);
  const warm = await withConnectionBudget("warm 400", () => burst(url, tenant, 400, { label: "warm 400" }));
  assertAllAnswered(warm);
});

// ---- when Redis is far, too slow, or gone ----

test("Redis far away (40 ms each way): one run, then 300 concurrent: still exactly 19 admitted", { timeout: 120_000 }, async () => {
  const { proxy, through } = await redisProxy(40);
  const far = await startLimited({ REDIS_REST_URL: through }, "redis far away");
  try {
    await awayFromMinuteEdge(20_000);
    const tenant = uid("ovl-far");
    await warmUp(far.url, tenant);
    assertExact(await burst(far.url, tenant, 300, { label: "far 300" }), PER_MINUTE - 1, 300 - (PER_MINUTE - 1), { bundle: far.bundle, tenant });
    assert.ok(proxy.stats.accepted > 0, "the function reached Redis through the delaying proxy");
  } finally {
    await far.bundle.dispose();
    await proxy.close();
  }
});

test("a tenant blocked in the last second is refused from isolate memory: nothing reaches Redis", { timeout: 120_000 }, async () => {
  const { proxy, through } = await redisProxy(0);
  const near = await startLimited({ REDIS_REST_URL: through }, "blocked from memory");
  try {
    await awayFromMinuteEdge(20_000);
    const tenant = uid("ovl-mem");
    await warmUp(near.url, tenant);
    assertExact(await burst(near.url, tenant, 30, { label: "fill" }), PER_MINUTE - 1, 30 - (PER_MINUTE - 1), { bundle: near.bundle, tenant });
    const token = tenantToken(E2E_JWT_SECRET, tenant);
    // Waits until nothing has gone to Redis for 150 ms: the fill's refused runs give their
    // claims back after their responses (waitUntil) and its admitted runs log their events.
    const quiet = async () => {
      for (let last = proxy.stats.bytesUp, quietSince = Date.now(); Date.now() - quietSince < 150; ) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        if (proxy.stats.bytesUp !== last) [last, quietSince] = [proxy.stats.bytesUp, Date.now()];
      }
    };
    await quiet();
    // The admitted runs may have outlived the plan's 1 s of trust: one more refusal (through
    // Redis if so) is the "blocked in the last second" the ten below rely on.
    const primed = Date.now();
    const priming = await runOnce(near.url, token);
    assert.equal(priming.status, 429);
    await quiet();
    const before = proxy.stats.bytesUp;
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await runOnce(near.url, token));
    const elapsed = Date.now() - primed;
    assert.deepEqual(tally(answers.map((a) => `${a.status} ${a.code}`)), { "429 rate_limited": 10 });
    assert.ok(answers.every((a) => Number(a.retryAfter) >= 1), "each refusal says when to come back");
    // The plan is trusted from memory for 1 s after the last answer from Redis (at most the
    // priming refusal's); ten refusals take a few ms each, so none may send a byte to Redis.
    if (elapsed < 900) assert.equal(proxy.stats.bytesUp - before, 0, `bytes sent to Redis by 10 refusals, ${elapsed} ms after the priming one`);
    else console.log(`[blocked from memory] 10 refusals ended ${elapsed} ms after the priming one (machine too slow to judge round trips)`);
  } finally {
    await near.bundle.dispose();
    await proxy.close();
  }
});

test("Redis slower than the limiter's deadline: an in-isolate limiter admits at most the limit, no 500", { timeout: 150_000 }, async () => {
  const { proxy, through } = await redisProxy(400);
  const slow = await startLimited({ REDIS_REST_URL: through, RATE_LIMIT_TIMEOUT_MS: "150" }, "redis too slow");
  try {
    await awayFromMinuteEdge(30_000);
    const tenant = uid("ovl-slow");
    const llmBefore = llm.requests.length;
    const s = await burst(slow.url, tenant, 200, { label: "slow 200" });
    const llmCalls = llm.requests.length - llmBefore;
    const lines = await tenantLogs(slow.bundle, tenant, 200);
    const decisions = tally(lines.map((l) => l.limitDecision ?? "(none)"));
    console.log(`[slow 200] model asked ${llmCalls} times; limit decisions in ${lines.length} log lines: ${JSON.stringify(decisions)}`);
    assertAllAnswered(s);
    const unexpected = Object.keys(s.statusCounts).filter((status) => !["200", "429", "503"].includes(status));
    assert.deepEqual(unexpected, [], `only 200, 429 or 503: ${JSON.stringify(s.codes)}`);
    assertRefusals(s);
    assert.ok(s.admitted <= PER_MINUTE, `admitted (not 429) ${s.admitted} > ${PER_MINUTE}: ${JSON.stringify(s.statusCounts)}`);
    assert.ok(llmCalls <= PER_MINUTE, `the model was asked ${llmCalls} times, more than ${PER_MINUTE}`);
    assert.ok((decisions.allowed_local ?? 0) >= 1, `some runs allowed by the in-isolate limiter: ${JSON.stringify(decisions)}`);
    assert.ok((decisions.denied_local ?? 0) >= 1, `some runs denied by the in-isolate limiter: ${JSON.stringify(decisions)}`);
    assert.ok((decisions.allowed_local ?? 0) <= PER_MINUTE, `allowed_local ${decisions.allowed_local} > ${PER_MINUTE}`);
    const failOpen = lines.filter((l) => l.limitDecision === "allowed_fail_open").length;
    assert.equal(failOpen, 0, "no run admitted by failing open");
  } finally {
    await slow.bundle.dispose();
    await proxy.close();
  }
});

test("Redis stopped mid-burst: at most 20 admitted in all, every request answered, no 500; recovers", { timeout: 150_000 }, async () => {
  const { proxy, through } = await redisProxy(0);
  const cut = await startLimited({ REDIS_REST_URL: through }, "redis stopped");
  try {
    await awayFromMinuteEdge(20_000);
    const tenant = uid("ovl-cut");
    await warmUp(cut.url, tenant);
    const llmBefore = llm.requests.length;
    // 100 runs leave at once; after 50 answers Redis stops, and the other 300 leave into the
    // outage (decided with Redis gone, whatever the speed of the machine).
    let downAt = null;
    let wentDown;
    const down = new Promise((resolve) => (wentDown = resolve));
    const s = await burst(cut.url, tenant, 400, {
      label: "cut 400",
      hold: { first: 100, until: down },
      onAnswer: (answered) => {
        if (answered === 50 && downAt === null) {
          downAt = answered;
          proxy.down();
          wentDown();
        }
      },
    });
    const llmCalls = llm.requests.length - llmBefore;
    const decisions = tally((await tenantLogs(cut.bundle, tenant, 401)).map((l) => l.limitDecision ?? "(none)"));
    console.log(`[cut 400] Redis went down after ${downAt} answers; model asked ${llmCalls} times during the burst; limit decisions (first run included): ${JSON.stringify(decisions)}`);
    assert.equal(downAt, 50, "Redis was stopped while the burst was in flight");
    assertAllAnswered(s);
    assert.equal(s.statusCounts[500] ?? 0, 0, `no 500: ${JSON.stringify(serverErrors(cut.bundle, tenant))}`);
    assert.equal(s.results.filter((r) => /panic/i.test(r.body ?? "")).length, 0, "no answer mentions a panic");
    assertRefusals(s);
    // The warm-up run counts too: 20 a minute in all.
    assert.ok(1 + s.admitted <= PER_MINUTE, `admitted (not 429) ${s.admitted} + the first run > ${PER_MINUTE}: ${JSON.stringify(s.statusCounts)}`);
    assert.ok(1 + llmCalls <= PER_MINUTE, `the model was asked ${llmCalls} times after the first run`);

    proxy.up();
    const other = uid("ovl-back");
    let back;
    for (let attempt = 1; attempt <= 6; attempt++) {
      back = await burst(cut.url, other, 1, { label: `after recovery, attempt ${attempt}` });
      if (back.statusCounts[503] !== 1) break;
      await sleep(1000);
    }
    assert.deepEqual(back.statusCounts, { 200: 1 }, `a new tenant's run once Redis is back: ${JSON.stringify(back.codes)}`);
    assert.equal(back.finished, 1, `it streams to RUN_FINISHED: ${JSON.stringify(back.lastEvents)}`);
  } finally {
    proxy.up();
    await cut.bundle.dispose();
    await proxy.close();
  }
});

test("300 at once 12 s into the minute after a full one → only what the sliding window leaves (at most 5)", { timeout: 150_000 }, async () => {
  const tenant = uid("t-slide");
  // Fill the tenant's window in one minute (20 runs, all admitted)...
  await awayFromMinuteEdge(20_000);
  const fill = await burst(url, tenant, PER_MINUTE, { label: "fill" });
  assert.deepEqual(fill.statusCounts, { 200: PER_MINUTE }, JSON.stringify(fill.codes));
  assert.equal(fill.finished, PER_MINUTE);
  // ...then burst 12 s into the next one, when the previous minute still weighs 48/60 of 20.
  const minuteStart = Date.now() - (Date.now() % 60_000) + 60_000;
  await sleep(minuteStart + 12_000 - Date.now());
  const offsetMs = Date.now() - minuteStart;
  const later = await burst(url, tenant, 300, { label: `300 at +${offsetMs} ms` });
  assertAllAnswered(later);
  const left = (ms) => PER_MINUTE - Math.floor((PER_MINUTE * (60_000 - ms)) / 60_000);
  // The decisions are taken between `offsetMs` and the burst's end: what the window leaves
  // at those times, and never more than 5.
  const most = Math.min(5, left(offsetMs + later.durationMs));
  const least = left(offsetMs);
  assert.equal(later.statusCounts[429], 300 - later.finished, `statuses ${JSON.stringify(later.statusCounts)}`);
  assert.ok(later.finished >= least && later.finished <= most, `${later.finished} admitted at +${offsetMs} ms (expected ${least}..${most})`);
  assertRefusals(later);
});

test("after all bursts: no uncaught exception, no panic in any runtime's output", () => {
  for (const { label, rawOutput } of outputs) {
    const bad = rawOutput()
      .split("\n")
      .filter((line) => /Uncaught|panicked/.test(line));
    assert.deepEqual(bad.slice(0, 5), [], `${label} bundle printed ${bad.length} bad lines`);
  }
});
