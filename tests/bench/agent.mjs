// agent run latency and open-stream capacity: the built Wasm in workerd (Miniflare), a
// scripted OpenAI-compatible LLM double on loopback, Redis (REST) for the run log, Postgres
// through Hyperdrive for the audit rows — next to a baseline measured in the same run
// (GET /agent/healthz, the same Worker doing no run), so the ratios mean something on a
// shared machine.
//
//   SBA_* from scripts/bench's (or scripts/test's) throwaway stack;  node tests/bench/agent.mjs
//
// Three sections:
//   1. baseline: GET /agent/healthz latency at 1, 50 and 200 simultaneous requests;
//   2. runs: time to RUN_STARTED and to the first TEXT_MESSAGE_CONTENT (the double waits
//      LLM_DELAY_MS = 20 ms before its first chunk, so that is TTFT's floor) for bursts of
//      1, 50 and 200 simultaneous runs (distinct tenants, threads and runIds), read frame by
//      frame from the SSE body; any non-200, missing event or missing RUN_FINISHED is a
//      failure;
//   3. open streams: runs whose model sends one token and then stays silent (the stream
//      should stay open with `: ping` heartbeats every 15 s), opened SBA_BENCH_OPEN_CONCURRENCY
//      (default 25) at a time in steps of 250, 500, 1000, … up to SBA_BENCH_MAX_STREAMS
//      (default 2000) within SBA_BENCH_STREAM_SECS (default 60 s); a 503 at admission is
//      retried (up to 3×, counted); every step checks that all streams got RUN_STARTED, none
//      closed, and healthz still answers; the largest step held is the result (not holding
//      the first step is a failure). Then: every stream open > 18 s must have had a ping;
//      everything is aborted and within 24 s the double must see every upstream request go
//      (the runtime learns of a disconnect at its next write, a heartbeat at most; then the
//      runs' 2 s detached limit, the watcher's 2 s tick and 5 s for 2,000 runs to end).
//
// Bounded in count and time (about 1–1.5 min with the defaults); loopback only. Exits 1 on any
// failure. With SBA_BENCH_OUT set, also writes the figures there as JSON (scripts/bench folds
// the streams held and workerd's memory at that point into its table). Not a node:test file (no .test. in its name): `node --test tests/` never runs it.

import { execSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Agent, fetch as ufetch } from "undici";
import { startBundle, E2E_JWT_SECRET } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { startLlmDouble, textChunks } from "../support/llm-double.mjs";
import { writeResults } from "./results.mjs";

const MAX_STREAMS = Number(process.env.SBA_BENCH_MAX_STREAMS ?? 2000);
const STREAM_SECS = Number(process.env.SBA_BENCH_STREAM_SECS ?? 60);
// Streams are opened this many at a time (each waits for its RUN_STARTED): section 3 measures
// how many open streams are HELD, not how big a burst of new runs is admitted (section 2).
const OPEN_CONCURRENCY = Number(process.env.SBA_BENCH_OPEN_CONCURRENCY ?? 25);
const OPEN_RETRIES = 3;
const STREAM_TARGET = 10_000; // what the issue aims for
const LLM_DELAY_MS = 20;
const ANSWER = "Hello from the bench double, streamed in four pieces.";
const HEARTBEAT_MS = 15_000;
const benchId = randomBytes(4).toString("hex");
const uid = (p) => `${p}-${benchId}-${randomBytes(5).toString("hex")}`;

const failures = [];
const fail = (phase, detail) => failures.push(`${phase}: ${detail}`);
/** A failure message without the ids that make every occurrence distinct. */
const shape = (text) => String(text).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<id>").replace(/(bt|run|th)-[0-9a-f]{8}-[0-9a-f]{10}/g, "<$1>");
const describe = (e) => `${e?.message ?? e}${e?.cause ? ` (${e.cause.code ?? ""} ${e.cause.message ?? ""})`.replace(/\( +/, "(") : ""}`;
// Miniflare's Hyperdrive proxy sockets have no 'error' listener: a reset there (e.g. when
// workerd goes away during dispose) would kill this process. Record it instead.
let disposing = false;
const stray = [];
process.on("uncaughtException", (e) => {
  stray.push(`${disposing ? "during dispose" : "while measuring"}: ${describe(e)}`);
  if (!disposing) fail("uncaught", describe(e));
});
/** Pause between measurements so one phase's after-response work (audit writes) does not land in the next. */
const SETTLE_MS = 2_000;

// ---------------------------------------------------------------------------------------------
// The LLM double: "answer" mode streams ANSWER in 4 pieces after LLM_DELAY_MS; "stall" mode
// sends one content token at once and then nothing for ten minutes (the Worker's first-token
// timeout is satisfied, so the run stays open, idle, heart-beating).
let mode = "answer";
const answerChunks = textChunks(ANSWER, { model: "bench", pieces: 4 });
const stallChunks = [textChunks("Thinking", { model: "bench", pieces: 1 })[0], { delayMs: 600_000 }];
const llm = await startLlmDouble(() =>
  mode === "answer" ? { chunks: [{ delayMs: LLM_DELAY_MS }, ...answerChunks] } : { chunks: stallChunks, done: false },
);

// One Agent of the `undici` package (already installed as Miniflare's dependency) for every
// request: no per-origin connection cap, long bodies allowed, and a fresh connection per
// request (`pipelining: 0` sends `connection: close`): a pooled keep-alive connection can be
// closed by the server just as a POST goes out on it ("other side closed"), a client-side race
// rather than a failed run. Loopback connects cost ~0.1 ms, and the baseline pays them too.
const dispatcher = new Agent({
  connections: 100_000,
  pipelining: 0,
  headersTimeout: 60_000,
  bodyTimeout: 120_000,
  connect: { timeout: 30_000 },
});

let bundle;
const url = (p) => `${bundle.url}${p}`;
const tokens = new Map();
const tokenFor = (tenant) => {
  let t = tokens.get(tenant);
  if (!t) tokens.set(tenant, (t = tenantToken(E2E_JWT_SECRET, tenant)));
  return t;
};

// ---------------------------------------------------------------------------------------------
// Statistics and small helpers.
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);
function stats(values) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 50), p95: pct(s, 95), max: s.at(-1) ?? NaN };
}
const ms = (v) => (Number.isFinite(v) ? v.toFixed(1) : "-");
const sleep = (t) => new Promise((r) => setTimeout(r, t));

function ulimits() {
  try {
    return execSync("ulimit -Sn; ulimit -Hn", { shell: "/bin/sh", encoding: "utf8" }).trim().split("\n");
  } catch {
    return ["?", "?"];
  }
}
const fdCount = (pid = "self") => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
};
const rssMb = (pid = "self") => {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
};
/** The workerd process Miniflare started (a descendant of this process), if visible. */
function workerdPid() {
  try {
    const parents = new Map();
    const names = new Map();
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        parents.set(Number(entry), ppid);
        names.set(Number(entry), comm);
      } catch {
        // gone meanwhile
      }
    }
    for (const [pid, comm] of names) {
      if (!comm.includes("workerd")) continue;
      for (let p = parents.get(pid); p; p = parents.get(p)) if (p === process.pid) return pid;
    }
  } catch {
    // no /proc
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Requests.
async function healthz() {
  const t0 = performance.now();
  const res = await ufetch(url("/agent/healthz"), { dispatcher });
  const body = await res.text();
  const t = performance.now() - t0;
  if (res.status !== 200) throw new Error(`healthz ${res.status}: ${body.slice(0, 200)}`);
  if (JSON.parse(body).function !== "agent") throw new Error(`healthz answered for ${body.slice(0, 100)}`);
  return t;
}

/**
 * Posts one run and reads its SSE body frame by frame. Resolves when the body ends (or at once
 * after `onOpen` when `hold` is set, leaving the stream to the caller). Times are ms from the
 * moment the request was issued.
 */
async function startRun({ signal, hold = false } = {}) {
  const tenant = uid("bt");
  const runId = uid("run");
  const r = {
    tenant,
    runId,
    status: 0,
    headersAt: NaN,
    runStartedAt: NaN,
    firstContentAt: NaN,
    onProgress: null,
    finishedAt: NaN,
    types: [],
    firstType: null,
    text: "",
    pings: 0,
    ended: false,
    error: null,
    t0: performance.now(),
  };
  const body = JSON.stringify({
    threadId: uid("th"),
    runId,
    messages: [{ id: "m1", role: "user", content: "Hi" }],
    tools: [],
    context: [],
    state: {},
    forwardedProps: {},
  });
  const res = await ufetch(url("/agent/run"), {
    method: "POST",
    dispatcher,
    signal,
    headers: { authorization: `Bearer ${tokenFor(tenant)}`, "content-type": "application/json", accept: "text/event-stream" },
    body,
  });
  r.status = res.status;
  r.headersAt = performance.now() - r.t0;
  if (res.status !== 200) {
    r.error = `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`;
    r.ended = true;
    return r;
  }
  const read = (async () => {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffered.indexOf("\n\n")) >= 0) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          onFrame(r, frame);
        }
      }
    } catch (e) {
      if (!signal?.aborted) r.error = `read: ${e.message}`;
    } finally {
      r.ended = true;
      r.endedAt = performance.now() - r.t0;
      r.onProgress?.();
    }
  })();
  if (hold) {
    r.done = read;
    return r;
  }
  await read;
  return r;
}

function onFrame(r, frame) {
  const now = performance.now() - r.t0;
  let data = null;
  for (const line of frame.split("\n")) {
    if (line.startsWith(":")) {
      if (line.slice(1).trim() === "ping") r.pings += 1;
    } else if (line.startsWith("data:")) {
      data = line.slice(5).trimStart();
    }
  }
  if (data === null) return;
  let event;
  try {
    event = JSON.parse(data);
  } catch {
    r.error ??= `unparseable frame: ${frame.slice(0, 100)}`;
    return;
  }
  r.firstType ??= event.type;
  r.types.push(event.type);
  if (event.type === "RUN_STARTED" && Number.isNaN(r.runStartedAt)) r.runStartedAt = now;
  if (event.type === "TEXT_MESSAGE_CONTENT") {
    if (Number.isNaN(r.firstContentAt)) r.firstContentAt = now;
    r.text += event.delta ?? "";
  }
  if (event.type === "RUN_FINISHED") r.finishedAt = now;
  if (event.type === "RUN_ERROR") r.error ??= `RUN_ERROR ${event.code}: ${event.message}`;
  r.onProgress?.();
}

/** A complete, successful run, or why not. */
function checkRun(r) {
  if (r.error) return r.error;
  if (r.firstType !== "RUN_STARTED") return `first event ${r.firstType}, not RUN_STARTED`;
  if (Number.isNaN(r.firstContentAt)) return "no TEXT_MESSAGE_CONTENT";
  if (Number.isNaN(r.finishedAt)) return `no RUN_FINISHED (last event ${r.types.at(-1)})`;
  if (r.types.at(-1) !== "RUN_FINISHED") return `events after RUN_FINISHED: ${r.types.at(-1)}`;
  if (r.text !== ANSWER) return `text mismatch: ${JSON.stringify(r.text.slice(0, 80))}`;
  return null;
}

/** `waves` bursts of `n` simultaneous calls of `op`; values of the fulfilled ones, errors counted. */
async function bursts(n, waves, op) {
  const values = [];
  const errors = [];
  for (let w = 0; w < waves; w++) {
    const settled = await Promise.allSettled(Array.from({ length: n }, () => op()));
    for (const s of settled) (s.status === "fulfilled" ? values : errors).push(s.status === "fulfilled" ? s.value : s.reason);
  }
  return { values, errors };
}

// ---------------------------------------------------------------------------------------------
const [softFd, hardFd] = ulimits();
let exitCode = 0;
/** For scripts/bench's table: written to $SBA_BENCH_OUT when set. */
const results = { llmDelayMs: LLM_DELAY_MS, healthz: {}, runs: [], streams: null };
try {
  // Runs outlive their client for RUN_DETACHED_LIMIT_MS, then end as run_abandoned and drop the
  // model's stream: 2 s here, so the cleanup below sees every upstream request go away.
  bundle = await startBundle({ overrides: { agent: { bindings: { LLM_BASE_URLS: llm.url, LLM_MODEL: "bench", RUN_DETACHED_LIMIT_MS: "2000", LLM_IDLE_TIMEOUT_MS: "3600000", RUN_DEADLINE_MS: "3600000" } } } });
  const wpid = workerdPid();

  console.log(`agent bench — Wasm in workerd (Miniflare), LLM double on loopback (${LLM_DELAY_MS} ms before the first chunk), ` +
    `Redis REST run log, Postgres audit via Hyperdrive`);
  console.log(`node ${process.version}, ${execSync("nproc", { encoding: "utf8" }).trim()} CPUs, ulimit -n: soft ${softFd}, hard ${hardFd}; ` +
    `workerd pid ${wpid ?? "not found"}`);

  // Warm-up: the Worker instantiated, Redis and the LLM path exercised, JIT warm.
  for (let i = 0; i < 20; i++) await healthz();
  for (let i = 0; i < 3; i++) {
    const problem = checkRun(await startRun());
    if (problem) throw new Error(`warm-up run failed: ${problem}`);
  }

  // ---- 1. baseline ------------------------------------------------------------------------
  console.log(`\n== 1. baseline: GET /agent/healthz (same Worker, no run), latency in ms ==\n`);
  const hz = {};
  const hzRow = (label, s) => console.log(`${label.padEnd(34)} ${String(s.n).padStart(6)} ${ms(s.p50).padStart(8)} ${ms(s.p95).padStart(8)} ${ms(s.max).padStart(8)}`);
  console.log(`${"healthz".padEnd(34)} ${"n".padStart(6)} ${"p50".padStart(8)} ${"p95".padStart(8)} ${"max".padStart(8)}`);
  for (const [c, waves] of [[1, 200], [50, 6], [200, 2]]) {
    const { values, errors } = await bursts(c, waves, healthz);
    hz[c] = stats(values);
    results.healthz[c] = hz[c];
    hzRow(c === 1 ? "sequential (1 at a time)" : `bursts of ${c} simultaneous`, hz[c]);
    await sleep(200);
    if (errors.length) fail(`healthz ×${c}`, `${errors.length} failed, e.g. ${describe(errors[0])}`);
  }

  // ---- 2. runs ----------------------------------------------------------------------------
  console.log(`\n== 2. agent runs: POST /agent/run, SSE read frame by frame; ms from the request ==`);
  console.log(`   RS = time to RUN_STARTED, TTFT = time to the first TEXT_MESSAGE_CONTENT (floor: the double's ${LLM_DELAY_MS} ms),`);
  console.log(`   ratio = RS p50 ÷ healthz p50 (at 1 request, and at the same burst size)\n`);
  const runHead = ["runs", "n", "fail", "RS p50", "RS p95", "RS max", "TTFT p50", "TTFT p95", "TTFT max", "done p50", "RS/hz1", "RS/hz=c"];
  const runFmt = (cells) => `${cells[0].padEnd(30)} ${cells.slice(1).map((x) => String(x).padStart(8)).join(" ")}`;
  console.log(runFmt(runHead));
  const runErrors = new Map();
  for (const [c, waves] of [[1, 30], [50, 2], [200, 1]]) {
    const { values, errors } = await bursts(c, waves, () => startRun());
    let failed = errors.length;
    const good = [];
    const note = (problem) => {
      const key = `×${c}: ${shape(problem)}`;
      runErrors.set(key, (runErrors.get(key) ?? 0) + 1);
    };
    for (const e of errors) note(`fetch: ${describe(e)}`);
    for (const r of values) {
      const problem = checkRun(r);
      if (problem) {
        failed += 1;
        note(problem);
      } else good.push(r);
    }
    const rs = stats(good.map((r) => r.runStartedAt));
    const ttft = stats(good.map((r) => r.firstContentAt));
    const done = stats(good.map((r) => r.finishedAt));
    results.runs.push({ concurrent: c, n: values.length + errors.length, failed, runStarted: rs, firstToken: ttft, finished: done });
    console.log(
      runFmt([
        c === 1 ? `sequential ×${waves}` : `${waves > 1 ? `${waves} bursts` : "1 burst"} of ${c} simultaneous`,
        values.length + errors.length,
        failed,
        ms(rs.p50), ms(rs.p95), ms(rs.max),
        ms(ttft.p50), ms(ttft.p95), ms(ttft.max),
        ms(done.p50),
        (rs.p50 / hz[1].p50).toFixed(2),
        hz[c] ? (rs.p50 / hz[c].p50).toFixed(2) : "-",
      ]),
    );
    if (failed) fail(`runs ×${c}`, `${failed} of ${values.length + errors.length} runs failed`);
    await sleep(SETTLE_MS);
  }
  for (const [problem, count] of runErrors) console.log(`   failed: ${count} run(s) of burst ${problem}`);
  const auditFailures = () => bundle.logs.filter((l) => l.msg === "audit write failed");
  const auditNote = () => {
    const failed = auditFailures();
    const kinds = new Map();
    for (const l of failed) kinds.set(shape(l.error), (kinds.get(shape(l.error)) ?? 0) + 1);
    return `${failed.length}` + (failed.length ? ` (${[...kinds].slice(0, 3).map(([k, n]) => `${n}× ${k}`).join("; ")})` : "");
  };
  console.log(`   audit rows are written after the response (waitUntil), not timed; audit write failures logged so far: ${auditNote()}`);

  // ---- 3. open streams ----------------------------------------------------------------------
  console.log(`\n== 3. open SSE streams held by one local workerd (model sends one token, then stays silent) ==`);
  console.log(`   target of the issue: ${STREAM_TARGET} concurrent streams; this run's cap: SBA_BENCH_MAX_STREAMS=${MAX_STREAMS}, ` +
    `budget SBA_BENCH_STREAM_SECS=${STREAM_SECS} s; opened ${OPEN_CONCURRENCY} at a time (SBA_BENCH_OPEN_CONCURRENCY)`);
  console.log(`   RS = ms to RUN_STARTED of the streams added in the step (last attempt); 503 retry = admissions retried so far ` +
    `(run_log_unavailable, up to ${OPEN_RETRIES}× per stream, 250 ms apart);`);
  console.log(`   closed = streams of all steps no longer open; hz = GET /agent/healthz ms with them all open`);
  const fdNeed = 2 * MAX_STREAMS + 200;
  console.log(`   file descriptors: ulimit -n ${softFd} (this process and workerd each need ~2 per stream: ~${fdNeed} at the cap)` +
    (Number(softFd) < fdNeed ? "  ← TOO LOW for the cap" : ""));
  mode = "stall";
  const streams = [];
  const controllers = [];
  const requestsBefore = llm.requests.length;
  const abortedBefore = llm.aborted;
  const phaseStart = performance.now();
  const deadline = phaseStart + STREAM_SECS * 1000;
  const steps = [];
  for (let n = 250; n < MAX_STREAMS; n *= 2) steps.push(n);
  steps.push(MAX_STREAMS);
  let held = 0;
  let retries = 0;
  let stopReason = `reached the cap (${MAX_STREAMS})`;
  let lastStep = null;
  const rssBefore = wpid ? rssMb(wpid) : NaN;
  let heldAt = null; // workerd's figures at the largest step held
  const stepFmt = (cells) => `${cells[0].padStart(7)} ${cells.slice(1).map((x) => String(x).padStart(9)).join(" ")}`;
  console.log("");
  console.log(stepFmt(["streams", "open s", "RS p50", "RS p95", "RS max", "503 retry", "closed", "hz p50", "hz max", "node fd", "wkd fd", "wkd MB"]));
  /** Opens one held stream; resolves once it has RUN_STARTED and the model's token, ended, or 15 s passed. */
  const openOne = async () => {
    const controller = new AbortController();
    controllers.push(controller);
    const entry = { r: null, error: null, opened: performance.now() };
    streams.push(entry);
    // A 503 at admission says "retry shortly": a client would, so a stream is retried up to
    // OPEN_RETRIES times (counted) before it counts as not started.
    for (let attempt = 0; ; attempt++) {
      try {
        entry.r = await startRun({ signal: controller.signal, hold: true });
      } catch (e) {
        entry.error = controller.signal.aborted ? null : describe(e);
        return entry;
      }
      if (entry.r.status !== 503 || attempt >= OPEN_RETRIES) break;
      retries += 1;
      await sleep(250);
    }
    const r = entry.r;
    await new Promise((resolve) => {
      const ready = () => r.ended || !Number.isNaN(r.firstContentAt);
      if (ready()) return resolve();
      const timer = setTimeout(resolve, 15_000);
      r.onProgress = () => {
        if (ready()) {
          clearTimeout(timer);
          r.onProgress = null;
          resolve();
        }
      };
    });
    return entry;
  };
  /** Opens `count` streams, at most OPEN_CONCURRENCY opening at a time. */
  const openMany = async (count) => {
    const fresh = [];
    let left = count;
    const opener = async () => {
      while (left > 0) {
        left -= 1;
        fresh.push(await openOne());
      }
    };
    await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, opener));
    return fresh;
  };
  for (const n of steps) {
    const add = n - streams.length;
    if (lastStep) {
      const estimate = lastStep.secs * (add / lastStep.added);
      if (performance.now() + estimate * 1000 > deadline) {
        stopReason = `time budget: the next step (${n}) would likely end after ${STREAM_SECS} s`;
        break;
      }
    }
    const t0 = performance.now();
    // Every new stream must reach RUN_STARTED (and the stalled model's one token).
    const fresh = await openMany(add);
    const secs = (performance.now() - t0) / 1000;
    const all = streams.map((s) => s.r);
    const notStarted = fresh.filter((s) => !s.r || Number.isNaN(s.r.runStartedAt)).length;
    const closed = streams.filter((s) => s.error || !s.r || s.r.ended).length;
    const rs = stats(fresh.map((s) => s.r?.runStartedAt));
    let hzs = { p50: NaN, max: NaN };
    let hzError = null;
    try {
      const times = [];
      for (let i = 0; i < 5; i++) times.push(await healthz());
      hzs = stats(times);
    } catch (e) {
      hzError = e.message;
    }
    console.log(
      stepFmt([
        String(n), secs.toFixed(1), ms(rs.p50), ms(rs.p95), ms(rs.max), String(retries), String(closed),
        ms(hzs.p50), ms(hzs.max), String(fdCount()), String(wpid ? fdCount(wpid) : "-"), wpid ? rssMb(wpid).toFixed(0) : "-",
      ]),
    );
    if (notStarted || closed || hzError) {
      const problems = new Map();
      for (const s of streams) {
        const p = s.error ?? s.r?.error ?? (s.r?.ended ? `stream ended (last event ${s.r.types.at(-1)})` : null);
        if (p) problems.set(shape(p), (problems.get(shape(p)) ?? 0) + 1);
      }
      const sample = [...problems].map(([p, k]) => `${k}× ${p}`).join("; ");
      stopReason = `step ${n} not held: ${notStarted} without RUN_STARTED, ${closed} closed` +
        (hzError ? `, healthz failed: ${hzError}` : "") + (sample ? ` (e.g. ${sample})` : "");
      if (n <= steps[0]) fail("open streams", stopReason);
      break;
    }
    held = n;
    heldAt = { workerdRssMb: wpid ? rssMb(wpid) : NaN, workerdFds: wpid ? fdCount(wpid) : NaN, healthzP50Ms: hzs.p50 };
    lastStep = { secs, added: add };
    if (all.length >= MAX_STREAMS) break;
  }

  // Heartbeats: every stream open for more than one heartbeat interval (plus slack for a busy
  // machine) must have received a `: ping`. Wait for the oldest to get there if need be.
  const slack = 3_000;
  const firstStep = streams.slice(0, steps[0]).map((s) => s.opened);
  const wait = (firstStep.length ? Math.max(...firstStep) : 0) + HEARTBEAT_MS + slack + 200 - performance.now();
  if (held > 0 && wait > 0) await sleep(wait);
  const now = performance.now();
  const due = streams.filter((s) => s.r && !s.r.ended && now - s.opened > HEARTBEAT_MS + slack);
  const pinged = due.filter((s) => s.r.pings > 0).length;
  console.log(`\n   largest N held: ${held} concurrent open streams (all got RUN_STARTED, none closed, healthz answered)`);
  console.log(`   stopped because: ${stopReason}`);
  console.log(`   vs the issue's target: ${held} of ${STREAM_TARGET} (${((100 * held) / STREAM_TARGET).toFixed(0)} %)` +
    (held < STREAM_TARGET ? ` — NOT demonstrated here at ${STREAM_TARGET}` : ""));
  const totalPings = streams.reduce((sum, s) => sum + (s.r?.pings ?? 0), 0);
  console.log(`   heartbeats: ${pinged} of ${due.length} streams open > ${(HEARTBEAT_MS + slack) / 1000} s had received a \`: ping\` ` +
    `(${totalPings} pings over all ${streams.length} streams; one is due every ${HEARTBEAT_MS / 1000} s of silence)`);
  results.streams = {
    held, cap: MAX_STREAMS, target: STREAM_TARGET, stopReason, workerdRssMbBefore: rssBefore, ...heldAt,
    heartbeats: { due: due.length, pinged },
  };
  if (pinged < due.length) fail("heartbeats", `${due.length - pinged} of ${due.length} long-open streams never got a ping`);

  // Cleanup: abort every stream; the runtime learns of each disconnect at its next write to
  // that stream (the heartbeat, 15 s at most: the model is silent), the run ends 2 s later
  // (its detached limit, seen on the watcher's 2 s tick): the double must see every upstream
  // request it got go away within that, plus 5 s for 2,000 runs to end.
  const reachedDouble = llm.requests.length - requestsBefore;
  const t0 = performance.now();
  for (const c of controllers) c.abort();
  await Promise.allSettled(streams.map((s) => s.promise));
  await Promise.allSettled(streams.map((s) => s.r?.done));
  const cleanupDeadline = t0 + 15_000 + 2_000 + 2_000 + 5_000;
  while (llm.aborted - abortedBefore < reachedDouble && performance.now() < cleanupDeadline) await sleep(50);
  const gone = llm.aborted - abortedBefore;
  const clientOpen = streams.filter((s) => s.r && !s.r.ended).length;
  console.log(`   cleanup: aborted ${controllers.length} client streams; the double saw ${gone} of ${reachedDouble} upstream requests ` +
    `closed in ${((performance.now() - t0) / 1000).toFixed(1)} s; client streams still open: ${clientOpen}`);
  if (gone < reachedDouble) fail("cleanup", `${reachedDouble - gone} upstream LLM requests still open ${((cleanupDeadline - t0) / 1000).toFixed(0)} s after the abort`);
  if (clientOpen) fail("cleanup", `${clientOpen} client streams still open after abort`);
  await sleep(500);
  try {
    const after = [];
    for (let i = 0; i < 5; i++) after.push(await healthz());
    console.log(`   after cleanup: healthz p50 ${ms(stats(after).p50)} ms; node fds ${fdCount()}, workerd fds ${wpid ? fdCount(wpid) : "-"}`);
  } catch (e) {
    fail("cleanup", `healthz after cleanup: ${e.message}`);
  }
  console.log(`   phase wall time ${((performance.now() - phaseStart) / 1000).toFixed(1)} s; audit write failures logged in the whole run: ${auditFailures().length}`);
} catch (e) {
  fail("setup", e.stack ?? e.message);
} finally {
  disposing = true;
  await bundle?.dispose().catch(() => {});
  await llm.close().catch(() => {});
  await dispatcher.destroy().catch(() => {});
}
if (stray.length) console.log(`\nuncaught socket errors (Miniflare's Hyperdrive proxy): ${stray.length}, e.g. ${stray[0]}`);
writeResults({ ...results, failures });
if (failures.length) {
  console.log(`\nFAIL: ${failures.length} failure(s)`);
  for (const f of failures) console.log(`  ${f}`);
  exitCode = 1;
} else {
  console.log(`\nOK: no failures`);
}
process.exit(exitCode);
