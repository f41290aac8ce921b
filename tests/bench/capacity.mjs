// Capacity under bursts: the built Wasm in TWO workerd processes (two Miniflare instances, each
// function on its own loopback socket), the project's Redis (REST) and Postgres, and an LLM
// double whose model sends one token and then stays silent.
//
//   SBA_* from scripts/bench's throwaway stack;  node tests/bench/capacity.mjs
//
// Two measurements:
//   1. the rate limiter under a burst: SBA_BENCH_LIMIT_BURST (default 2,000) simultaneous runs
//      of ONE fresh tenant (free plan: 20 runs a minute; plan not cached yet) on
//      /ratelimited-agent/run, with the IP window and the burst bucket raised out of reach so
//      the tenant's window binds: admitted (must be exactly 20, each ending in RUN_FINISHED),
//      429, 5xx, anything else. In a bundle of its own, disposed before part 2 starts;
//   2. open SSE streams started AS A BURST: 2,000, then taken to SBA_BENCH_STREAMS (default
//      10,000) by a second burst, spread evenly over two fresh workerd processes (this machine
//      allows 20,000 descriptors per process and a stream costs ~2 in workerd and ~2 on the
//      client side, so the streams come from two node client processes,
//      tests/bench/capacity-client.mjs, each also serving the LLM double for its workerd). At
//      each point: streams held (RUN_STARTED and the first token received, still open), 5xx
//      answers, other failures (connection errors, streams that ended, no first token within
//      the wait), GET /agent/healthz with them open, and memory per stream per process: (workerd
//      RSS with the streams open − its RSS idle, measured after a warm-up of 5 runs) ÷ the
//      streams it holds. Nothing is retried: a 503 counts as a 5xx.
//
// Bounded: the whole step gives up after SBA_BENCH_CAPACITY_SECS (default 240 s; each burst
// waits at most what is left of it); everything is torn down by killing the two workerd
// processes (the held runs are not wound down one by one: that would be 10,000 audit writes).
// Loopback only. Exits 1 on any failure. With SBA_BENCH_OUT set, writes the figures there as
// JSON for tests/bench/table.mjs. Not a node:test file: `node --test tests/` never runs it.

import { execSync, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Agent, fetch as ufetch } from "undici";
import { startBundle } from "../support/bundle.mjs";
import { writeResults } from "./results.mjs";

const TARGET = Math.max(2, Number(process.env.SBA_BENCH_STREAMS ?? 10_000));
const FIRST_POINT = 2_000;
const LIMIT_BURST = Number(process.env.SBA_BENCH_LIMIT_BURST ?? 2_000);
const BUDGET_SECS = Number(process.env.SBA_BENCH_CAPACITY_SECS ?? 240);
// Fire the limiter burst at this second of the wall-clock minute (the limiter's windows are
// minutes), e.g. 57 to make it straddle a window boundary; unset: at once.
const LIMIT_AT_SECOND = process.env.SBA_BENCH_LIMIT_AT_SECOND === undefined ? null : Number(process.env.SBA_BENCH_LIMIT_AT_SECOND);
const FREE_PER_MINUTE = 20;
const PROCESSES = 2;
const HEARTBEAT_DUE_MS = 18_000; // 15 s heartbeat + slack
const here = path.dirname(fileURLToPath(import.meta.url));
const started = performance.now();
const deadline = started + BUDGET_SECS * 1000;
const secsLeft = () => (deadline - performance.now()) / 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const failures = [];
const fail = (phase, detail) => failures.push(`${phase}: ${detail}`);
const describe = (e) => `${e?.message ?? e}${e?.cause ? ` (${e.cause.code ?? ""} ${e.cause.message ?? ""})` : ""}`;
let disposing = false;
process.on("uncaughtException", (e) => {
  // Miniflare's Hyperdrive proxy sockets have no 'error' listener (see tests/bench/agent.mjs).
  if (!disposing) fail("uncaught", describe(e));
});

// ---- /proc ------------------------------------------------------------------------------------
const rssMb = (pid) => {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
};
const fdCount = (pid = "self") => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
};
/** The workerd processes descending from this one. */
function workerdPids() {
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
  const found = [];
  for (const [pid, comm] of names) {
    if (!comm.includes("workerd")) continue;
    for (let p = parents.get(pid); p; p = parents.get(p)) if (p === process.pid) found.push(pid);
  }
  return found;
}

// ---- the client processes -----------------------------------------------------------------------
function startClient(index) {
  const child = fork(path.join(here, "capacity-client.mjs"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const pending = new Map();
  let next = 0;
  let onReady;
  const ready = new Promise((resolve, reject) => {
    onReady = resolve;
    child.once("exit", (code) => reject(new Error(`client ${index} exited (${code}) before it was ready`)));
  });
  child.on("message", (msg) => {
    if (msg.type === "ready") return onReady(msg);
    const waiter = pending.get(msg.id);
    if (!waiter) return;
    pending.delete(msg.id);
    if (msg.ok) waiter.resolve(msg.result);
    else waiter.reject(new Error(`client ${index}: ${msg.error}`));
  });
  child.on("exit", (code, signal) => {
    for (const w of pending.values()) w.reject(new Error(`client ${index} exited (${code ?? signal})`));
    pending.clear();
  });
  const call = (cmd, args = {}) =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      child.send({ id, cmd, ...args });
    });
  return { child, ready, call };
}

// ---- healthz ----------------------------------------------------------------------------------
const probe = new Agent({ connections: 8, pipelining: 0, headersTimeout: 30_000, bodyTimeout: 30_000 });
async function healthz(origin, times = 3) {
  const ms = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    const res = await ufetch(`${origin}/healthz`, { dispatcher: probe, signal: AbortSignal.timeout(30_000) });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`healthz ${res.status}: ${body.slice(0, 120)}`);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

// ---------------------------------------------------------------------------------------------------
const [softFd, hardFd] = (() => {
  try {
    return execSync("ulimit -Sn; ulimit -Hn", { shell: "/bin/sh", encoding: "utf8" }).trim().split("\n");
  } catch {
    return ["?", "?"];
  }
})();
const results = { target: TARGET, processes: PROCESSES, budgetSecs: BUDGET_SECS, ulimit: { soft: softFd, hard: hardFd }, limiter: null, steps: [], heartbeats: null, stopReason: null };
const clients = [];
const sides = []; // per workerd: { bundle, pid, agent, client, idleRssMb }
let watchdogFired = false;
const watchdog = setTimeout(() => {
  watchdogFired = true;
  fail("time", `the step passed its budget of ${BUDGET_SECS} s + 60 s of teardown; torn down`);
  teardown().finally(() => finish());
}, (BUDGET_SECS + 60) * 1000);

async function teardown() {
  disposing = true;
  // Kill the runtimes first: the held runs die with them (no 10,000 detached wind-downs).
  await Promise.allSettled(sides.map((s) => Promise.race([s.bundle.dispose(), sleep(20_000)])));
  for (const c of clients) {
    try {
      c.child.disconnect();
    } catch {
      // already gone
    }
  }
  await Promise.race([Promise.allSettled(clients.map((c) => new Promise((r) => (c.child.exitCode !== null ? r() : c.child.once("exit", r))))), sleep(10_000)]);
  for (const c of clients) if (c.child.exitCode === null) c.child.kill("SIGKILL");
  await probe.destroy().catch(() => {});
}

function finish() {
  clearTimeout(watchdog);
  writeResults({ ...results, failures });
  if (failures.length) {
    console.log(`\nFAIL: ${failures.length} failure(s)`);
    for (const f of failures) console.log(`  ${f}`);
  } else console.log("\nOK: no failures");
  process.exit(failures.length ? 1 : 0);
}

try {
  console.log(`capacity bench — ${PROCESSES} workerd processes (Miniflare, direct sockets), ${PROCESSES} node client processes; ` +
    `ulimit -n soft ${softFd}, hard ${hardFd}; ${execSync("nproc", { encoding: "utf8" }).trim()} CPUs; budget ${BUDGET_SECS} s`);
  for (let i = 0; i < PROCESSES; i++) clients.push(startClient(i));
  const readies = await Promise.all(clients.map((c) => c.ready));
  // ---- 1. the limiter under a burst (a bundle of its own, gone before the streams' start, so
  // that its heap does not count in their memory) ------------------------------------------------
  {
    const tenant = `cap-${randomBytes(5).toString("hex")}`;
    console.log(`\n== 1. limiter: ${LIMIT_BURST} simultaneous runs of one fresh tenant (${tenant}, free plan ${FREE_PER_MINUTE}/min, plan not cached) ==`);
    const bundle = await startBundle({
      direct: true,
      overrides: {
        "ratelimited-agent": {
          bindings: { LLM_BASE_URLS: readies[0].llmUrl, LLM_MODEL: "cap-answer", RATE_LIMIT_IP_PER_MINUTE: "1000000", RATE_LIMIT_BURST: "1000000" },
        },
      },
    });
    try {
      const limited = `${await bundle.directUrl("sba-ratelimited-agent")}/ratelimited-agent`;
      for (let i = 0; i < 5; i++) await healthz(limited, 1);
      if (LIMIT_AT_SECOND !== null) await sleep((LIMIT_AT_SECOND * 1000 - (Date.now() % 60_000) + 60_000) % 60_000);
      const firedAt = Date.now();
      const lim = await clients[0].call("burst", { url: `${limited}/run`, count: LIMIT_BURST, tenant });
      // Whether the burst's answers spread over two of the limiter's (minute) windows.
      lim.firedAtSecond = (firedAt % 60_000) / 1000;
      lim.crossedMinute = Math.floor((firedAt + lim.secs * 1000) / 60_000) !== Math.floor(firedAt / 60_000);
      // How the runtime decided each request of the tenant (the log line's limitDecision).
      await sleep(1_000);
      const decisions = {};
      for (const l of bundle.logs) {
        if (l.tenant !== tenant || l.function !== "ratelimited-agent") continue;
        const key = `${l.status} ${l.limitDecision ?? "-"}${l.errorCode ? ` ${l.errorCode}` : ""}`;
        decisions[key] = (decisions[key] ?? 0) + 1;
      }
      lim.decisions = decisions;
      results.limiter = { ...lim, tenant, expectedAdmitted: Math.min(FREE_PER_MINUTE, LIMIT_BURST) };
      console.log(`   ${lim.secs.toFixed(1)} s: admitted ${lim.admitted} (RUN_FINISHED ${lim.finished}), 429 ${lim.limited}, 5xx ${lim.fiveXx}, other ${lim.other}; ` +
        `statuses ${JSON.stringify(lim.statuses)}${Object.keys(lim.codes).length ? `, codes ${JSON.stringify(lim.codes)}` : ""}` +
        `${Object.keys(lim.errors).length ? `, errors ${JSON.stringify(lim.errors)}` : ""}`);
      console.log(`   the runtime's log lines (status, limitDecision, errorCode): ${JSON.stringify(decisions)}`);
      console.log(`   fired at second ${lim.firedAtSecond.toFixed(1)} of the minute; the burst ${lim.crossedMinute ? "CROSSED" : "did not cross"} a minute (limiter window) boundary`);
      if (lim.admitted !== results.limiter.expectedAdmitted) fail("limiter", `admitted ${lim.admitted} of ${LIMIT_BURST}, expected exactly ${results.limiter.expectedAdmitted}`);
      if (lim.finished !== lim.admitted) fail("limiter", `${lim.admitted - lim.finished} admitted run(s) did not end in RUN_FINISHED`);
      if (lim.fiveXx) fail("limiter", `${lim.fiveXx} × 5xx: ${JSON.stringify(lim.codes)}`);
      if (lim.other) fail("limiter", `${lim.other} answers neither 200, 429 nor 5xx: ${JSON.stringify(lim.statuses)} ${JSON.stringify(lim.errors)}`);
    } finally {
      await bundle.dispose();
    }
  }

  // ---- 2. open streams: two fresh bundles ------------------------------------------------------------
  for (let i = 0; i < PROCESSES; i++) {
    const before = new Set(workerdPids());
    const bundle = await startBundle({
      direct: true,
      overrides: {
        // A client that leaves (the warm-up's) ends its run 2 s later instead of 25 s.
        // The model is silent on purpose: no idle timeout or deadline may end the streams held.
        agent: { bindings: { LLM_BASE_URLS: readies[i].llmUrl, LLM_MODEL: "cap-stall", RUN_DETACHED_LIMIT_MS: "2000", LLM_IDLE_TIMEOUT_MS: "3600000", RUN_DEADLINE_MS: "3600000" } },
      },
    });
    const pid = workerdPids().find((p) => !before.has(p)) ?? null;
    sides.push({ bundle, pid, client: clients[i], agent: `${await bundle.directUrl("sba-agent")}/agent` });
    console.log(`workerd ${i + 1}: pid ${pid ?? "not found"}, agent ${sides[i].agent}; client pid ${readies[i].pid}, LLM double ${readies[i].llmUrl}`);
    if (!pid) fail("setup", `workerd ${i + 1}'s pid not found: no memory figures`);
  }

  // Warm-up: the isolates instantiated, a few held runs through the whole path and let go.
  for (const s of sides) for (let i = 0; i < 10; i++) await healthz(s.agent, 1);
  const warm = await Promise.all(sides.map((s) => s.client.call("open", { origin: s.agent, count: 5, group: "warm", waitMs: 30_000 })));
  for (const [i, w] of warm.entries()) if (w.heldNow !== 5) throw new Error(`warm-up on workerd ${i + 1}: ${JSON.stringify(w.problems)}`);
  await Promise.all(sides.map((s) => s.client.call("close", { group: "warm" })));

  // Idle: the warm-up's runs are over (2 s detached limit, audit rows written).
  await sleep(5_000);
  for (const s of sides) {
    s.idleRssMb = s.pid ? rssMb(s.pid) : null;
    s.idleFds = s.pid ? fdCount(s.pid) : null;
  }
  console.log(`\n   idle (after a warm-up of 5 runs each): workerd RSS ${sides.map((s) => `${s.idleRssMb?.toFixed(0)} MB`).join(", ")}; fds ${sides.map((s) => s.idleFds).join(", ")}`);

  // Streams, started as bursts.
  const points = [...new Set([Math.min(FIRST_POINT, TARGET), TARGET])];
  console.log(`\n== 2. open SSE streams started as a burst, spread over ${PROCESSES} workerd (model silent after one token) ==`);
  console.log(`   points: ${points.join(", ")} (SBA_BENCH_STREAMS=${TARGET}); KB/stream = (RSS − idle RSS) ÷ streams held, per process; nothing retried`);
  const fmt = (cells) => `${String(cells[0]).padStart(7)} ${cells.slice(1).map((x) => String(x).padStart(9)).join(" ")}`;
  console.log(`\n${fmt(["streams", "burst s", "held", "5xx", "other", "RS p50", "RS max", "hz ms", "wkd MB", "idle MB", "KB/strm", "wkd fds"])}`);
  let opened = 0;
  for (const point of points) {
    const add = point - opened;
    const waitMs = Math.max(5_000, Math.min(150_000, (secsLeft() - 10) * 1000));
    if (secsLeft() < 20) {
      results.stopReason = `time budget: ${secsLeft().toFixed(0)} s left before the ${point} point`;
      fail("streams", results.stopReason);
      break;
    }
    const shares = sides.map((_, i) => Math.floor(add / PROCESSES) + (i < add % PROCESSES ? 1 : 0));
    const t0 = performance.now();
    const bursts = await Promise.all(sides.map((s, i) => s.client.call("open", { origin: s.agent, count: shares[i], group: "held", waitMs })));
    const burstSecs = (performance.now() - t0) / 1000;
    opened = point;
    await sleep(2_000); // let the last streams' first writes settle before reading RSS
    const statuses = await Promise.all(sides.map((s) => s.client.call("status")));
    const per = [];
    for (const [i, s] of sides.entries()) {
      let hz = null;
      let hzError = null;
      try {
        hz = await healthz(s.agent);
      } catch (e) {
        hzError = describe(e);
      }
      const rss = s.pid ? rssMb(s.pid) : null;
      const held = statuses[i].held;
      per.push({
        workerd: i + 1,
        pid: s.pid,
        requested: shares[i],
        held,
        fiveXx: bursts[i].fiveXx,
        otherFailures: bursts[i].otherFailures,
        statuses: bursts[i].statuses,
        problems: { ...bursts[i].problems, ...statuses[i].problems },
        runStarted: bursts[i].runStarted,
        firstToken: bursts[i].firstToken,
        burstSecs: bursts[i].secs,
        rssMb: rss,
        idleRssMb: s.idleRssMb,
        kbPerStream: rss !== null && s.idleRssMb !== null && held > 0 ? ((rss - s.idleRssMb) * 1024) / held : null,
        workerdFds: s.pid ? fdCount(s.pid) : null,
        clientFds: statuses[i].fds,
        healthzMs: hz,
        healthzError: hzError,
      });
    }
    const sum = (k) => per.reduce((a, p) => a + (p[k] ?? 0), 0);
    const step = {
      streams: point,
      added: add,
      burstSecs,
      held: sum("held"),
      fiveXx: sum("fiveXx"),
      otherFailures: sum("otherFailures"),
      kbPerStream: sum("held") > 0 && per.every((p) => p.rssMb !== null) ? (per.reduce((a, p) => a + p.rssMb - p.idleRssMb, 0) * 1024) / sum("held") : null,
      perProcess: per,
    };
    results.steps.push(step);
    for (const p of per) {
      console.log(fmt([
        `${point}/${p.workerd}`, p.burstSecs.toFixed(1), p.held, p.fiveXx, p.otherFailures,
        p.runStarted.p50?.toFixed(0) ?? "-", p.runStarted.max?.toFixed(0) ?? "-",
        p.healthzMs?.toFixed(1) ?? "FAIL", p.rssMb?.toFixed(0) ?? "-", p.idleRssMb?.toFixed(0) ?? "-",
        p.kbPerStream?.toFixed(0) ?? "-", p.workerdFds ?? "-",
      ]));
      if (Object.keys(p.problems).length) console.log(`          workerd ${p.workerd}: ${JSON.stringify(p.problems)} statuses ${JSON.stringify(p.statuses)}`);
    }
    console.log(`   ${point}: held ${step.held} of ${point}, 5xx ${step.fiveXx}, other failures ${step.otherFailures}, ` +
      `${step.kbPerStream?.toFixed(0) ?? "-"} KB/stream over both processes; burst took ${burstSecs.toFixed(1)} s`);
    if (step.fiveXx) fail(`streams ${point}`, `${step.fiveXx} × 5xx`);
    if (step.held < point) {
      const problems = {};
      for (const p of per) for (const [k, n] of Object.entries(p.problems)) problems[k] = (problems[k] ?? 0) + n;
      fail(`streams ${point}`, `held ${step.held} of ${point} (why not: ${JSON.stringify(problems)})`);
    }
    for (const p of per) if (p.healthzError) fail(`streams ${point}`, `workerd ${p.workerd} healthz: ${p.healthzError}`);
    if (step.held < point) {
      results.stopReason = `the ${point} point was not held`;
      break;
    }
  }
  results.stopReason ??= `reached ${TARGET}`;
  const finalStatus = await Promise.all(sides.map((s) => s.client.call("status")));
  results.heartbeats = { due: finalStatus.reduce((a, s) => a + s.pingDue, 0), pinged: finalStatus.reduce((a, s) => a + s.pinged, 0) };
  console.log(`\n   heartbeats: ${results.heartbeats.pinged} of ${results.heartbeats.due} streams silent > ${HEARTBEAT_DUE_MS / 1000} s since their first token had a \`: ping\`; ` +
    `still held now: ${finalStatus.map((s) => s.held).join(" + ")}; client fds ${finalStatus.map((s) => s.fds).join(", ")}`);
  if (results.heartbeats.pinged < results.heartbeats.due) fail("heartbeats", `${results.heartbeats.due - results.heartbeats.pinged} long-open streams never got a ping`);
  console.log(`   stopped: ${results.stopReason}; step wall time ${((performance.now() - started) / 1000).toFixed(0)} s`);
} catch (e) {
  fail("setup", e.stack ?? describe(e));
}
if (!watchdogFired) {
  await teardown();
  finish();
}
