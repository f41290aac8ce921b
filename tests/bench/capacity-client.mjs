// One client process of tests/bench/capacity.mjs (forked by it; never run on its own). It
// serves the LLM double ONE workerd's agents talk to and opens that workerd's streams: each
// held stream costs a descriptor for the client socket and one for the double's, and two such
// processes keep both under the machine's 20,000 descriptors per process at 10,000 streams.
//
// The double: model "cap-stall" sends one content token at once and then nothing for ten
// minutes (the run stays open, idle, heart-beating); any other model answers a short text.
//
// Commands (IPC messages { id, cmd, … }, answered with { id, ok, result | error }):
//   open  { origin, count, group, waitMs }  `count` runs POSTed at once (a burst) to
//         `${origin}/run`; resolves when each has its first token, or ended, or failed, or
//         `waitMs` passed; the streams are kept open
//   status                                   how many held streams are still open, pings
//   burst { url, count, tenant }             `count` simultaneous runs of ONE tenant, each
//         body read to its end: statuses, error codes, runs that ended in RUN_FINISHED
//   close { group? }                         aborts the held streams (of `group`, or all)

import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Agent, fetch } from "undici";
import { E2E_JWT_SECRET } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { startLlmDouble, textChunks } from "../support/llm-double.mjs";

const STALL_MODEL = "cap-stall";
const tag = randomBytes(3).toString("hex");
let serial = 0;
const uid = (p) => `${p}-${tag}-${(serial++).toString(36)}-${randomBytes(3).toString("hex")}`;

const stallChunks = [textChunks("Thinking", { model: STALL_MODEL, pieces: 1 })[0], { delayMs: 600_000 }];
const answerChunks = textChunks("Hello from the capacity double.", { model: "cap-answer", pieces: 3 });
const llm = await startLlmDouble((body) =>
  body?.model === STALL_MODEL ? { chunks: stallChunks, done: false } : { chunks: answerChunks },
);

// No cap on connections; `pipelining: 0` = a fresh connection per request (a held stream
// owns its connection anyway); generous timeouts: a burst of thousands makes answers late.
const dispatcher = new Agent({
  connections: 100_000,
  pipelining: 0,
  headersTimeout: 180_000,
  bodyTimeout: 0,
  connect: { timeout: 60_000 },
});

const shape = (text) =>
  String(text)
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<id>")
    .replace(/\b(t|run|th)-[0-9a-f]{6}-[0-9a-z]+-[0-9a-f]{6}\b/g, "<$1>")
    .slice(0, 160);
const describe = (e) => shape(`${e?.cause?.code ?? e?.code ?? ""} ${e?.cause?.message ?? e?.message ?? e}`.trim());
const bump = (map, key, n = 1) => (map[key] = (map[key] ?? 0) + n);
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null);
const stats = (values) => {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 50), p95: pct(s, 95), max: s.at(-1) ?? null };
};

const runBody = () =>
  JSON.stringify({
    threadId: uid("th"),
    runId: uid("run"),
    messages: [{ id: "m1", role: "user", content: "Hi" }],
    tools: [],
    context: [],
    state: {},
    forwardedProps: {},
  });

/** Reads SSE frames from a response body, calling `onEvent(type, event)` and `onPing()`. */
async function readSse(res, { onEvent, onPing }) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const frame = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      let data = null;
      for (const line of frame.split("\n")) {
        if (line.startsWith(":")) {
          if (line.slice(1).trim() === "ping") onPing();
        } else if (line.startsWith("data:")) data = line.slice(5).trimStart();
      }
      if (data === null) continue;
      let event;
      try {
        event = JSON.parse(data);
      } catch {
        onEvent("(unparseable)", {});
        continue;
      }
      onEvent(event.type, event);
    }
  }
}

// ---- held streams -----------------------------------------------------------------------------
/** Every stream opened by `open`: { group, controller, opened, status, firstTokenAt, ended, error, pings }. */
const streams = [];

function openOne(origin, group) {
  const controller = new AbortController();
  const s = { group, controller, t0: performance.now(), status: 0, runStartedAt: null, firstTokenAt: null, ended: false, endedAt: null, error: null, pings: 0, lastType: null };
  streams.push(s);
  let settle;
  s.settled = new Promise((resolve) => (settle = resolve));
  s.done = (async () => {
    try {
      const tenant = uid("t");
      const res = await fetch(`${origin}/run`, {
        method: "POST",
        dispatcher,
        signal: controller.signal,
        headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}`, "content-type": "application/json", accept: "text/event-stream" },
        body: runBody(),
      });
      s.status = res.status;
      if (res.status !== 200) {
        const text = await res.text().catch(() => "");
        let code = "(not JSON)";
        try {
          code = JSON.parse(text).error?.code ?? "(no code)";
        } catch {
          // not JSON
        }
        s.error = `HTTP ${res.status} ${code}`;
        return;
      }
      await readSse(res, {
        onPing: () => (s.pings += 1),
        onEvent: (type, event) => {
          s.lastType = type;
          if (type === "RUN_STARTED") s.runStartedAt ??= performance.now() - s.t0;
          if (type === "TEXT_MESSAGE_CONTENT" && s.firstTokenAt === null) {
            s.firstTokenAt = performance.now() - s.t0;
            settle();
          }
          if (type === "RUN_ERROR") s.error ??= `RUN_ERROR ${event.code ?? ""}`;
        },
      });
      s.error ??= `stream ended (last event ${s.lastType})`;
    } catch (e) {
      if (!controller.signal.aborted) s.error ??= `fetch: ${describe(e)}`;
    } finally {
      s.ended = true;
      s.endedAt = performance.now();
      settle();
    }
  })();
  return s;
}

async function open({ origin, count, group, waitMs }) {
  const t0 = performance.now();
  const fresh = Array.from({ length: count }, () => openOne(origin, group));
  let timer;
  const timedOut = new Promise((resolve) => (timer = setTimeout(() => resolve("timeout"), waitMs)));
  await Promise.race([Promise.all(fresh.map((s) => s.settled)), timedOut]);
  clearTimeout(timer);
  const secs = (performance.now() - t0) / 1000;
  const statuses = {};
  const problems = {};
  let fiveXx = 0;
  let heldNow = 0;
  let pending = 0;
  for (const s of fresh) {
    bump(statuses, s.status || "none");
    if (s.status >= 500) fiveXx += 1;
    if (!s.ended && s.firstTokenAt !== null) heldNow += 1;
    else if (!s.ended) {
      pending += 1;
      bump(problems, s.status === 200 ? "200 but no first token yet" : "no answer yet");
    } else if (s.error) bump(problems, s.error);
  }
  return {
    requested: count,
    secs,
    heldNow,
    fiveXx,
    pending,
    otherFailures: count - heldNow - fiveXx,
    statuses,
    problems,
    runStarted: stats(fresh.map((s) => s.runStartedAt)),
    firstToken: stats(fresh.map((s) => s.firstTokenAt)),
    fds: fdCount(),
  };
}

function status() {
  const now = performance.now();
  const open = streams.filter((s) => !s.ended && s.firstTokenAt !== null);
  const problems = {};
  for (const s of streams) if (s.ended && s.error && !s.controller.signal.aborted) bump(problems, s.error);
  // Silent for longer than a heartbeat interval (+ slack) since the first token: a ping was due.
  const due = open.filter((s) => now - (s.t0 + s.firstTokenAt) > 18_000);
  return {
    opened: streams.length,
    held: open.length,
    ended: streams.filter((s) => s.ended).length,
    problems,
    pingDue: due.length,
    pinged: due.filter((s) => s.pings > 0).length,
    pings: streams.reduce((sum, s) => sum + s.pings, 0),
    fds: fdCount(),
    llmRequests: llm.requests.length,
    llmAborted: llm.aborted,
  };
}

async function close({ group } = {}) {
  const chosen = streams.filter((s) => group === undefined || s.group === group);
  const t0 = performance.now();
  const reachedBefore = llm.aborted;
  for (const s of chosen) s.controller.abort();
  await Promise.race([Promise.allSettled(chosen.map((s) => s.done)), new Promise((r) => setTimeout(r, 15_000))]);
  const stillOpen = chosen.filter((s) => !s.ended).length;
  for (let i = streams.length - 1; i >= 0; i--) if (chosen.includes(streams[i])) streams.splice(i, 1);
  return { aborted: chosen.length, stillOpen, secs: (performance.now() - t0) / 1000, llmAbortedSince: llm.aborted - reachedBefore };
}

// ---- a burst of one tenant's runs (the rate limiter) -------------------------------------------
async function burst({ url, count, tenant }) {
  const token = tenantToken(E2E_JWT_SECRET, tenant);
  const t0 = performance.now();
  const one = async () => {
    const r = { status: 0, code: null, lastType: null, error: null, sentAt: Date.now(), answeredAt: null, rateLimit: null };
    try {
      const res = await fetch(url, {
        method: "POST",
        dispatcher,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "text/event-stream" },
        body: runBody(),
        signal: AbortSignal.timeout(120_000),
      });
      r.status = res.status;
      r.answeredAt = Date.now();
      r.rateLimit = res.headers.get("ratelimit");
      if (res.status === 200) {
        await readSse(res, { onPing: () => {}, onEvent: (type) => (r.lastType = type) });
      } else {
        const text = await res.text();
        try {
          r.code = JSON.parse(text).error?.code ?? "(no code)";
        } catch {
          r.code = "(not JSON)";
        }
      }
    } catch (e) {
      r.error = describe(e);
    }
    return r;
  };
  const results = await Promise.all(Array.from({ length: count }, one));
  const statuses = {};
  const codes = {};
  const errors = {};
  for (const r of results) {
    bump(statuses, r.status || "none");
    if (r.code) bump(codes, `${r.status} ${r.code}`);
    if (r.error) bump(errors, r.error);
  }
  const admitted = results.filter((r) => r.status === 200);
  return {
    requested: count,
    secs: (performance.now() - t0) / 1000,
    admitted: admitted.length,
    finished: admitted.filter((r) => r.lastType === "RUN_FINISHED").length,
    limited: results.filter((r) => r.status === 429).length,
    fiveXx: results.filter((r) => r.status >= 500).length,
    other: results.filter((r) => r.status !== 200 && r.status !== 429 && !(r.status >= 500)).length,
    statuses,
    codes,
    errors,
    // When each admitted run was sent and answered (ms into the wall-clock minute: the
    // limiter's windows are minutes) and the RateLimit header it got.
    admittedRuns: admitted.map((r) => ({ sentMsInMinute: r.sentAt % 60_000, answeredMsInMinute: r.answeredAt % 60_000, rateLimit: r.rateLimit })),
  };
}

// ---- plumbing -----------------------------------------------------------------------------------
function fdCount() {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return null;
  }
}

const commands = { open, status, close, burst };
process.on("message", async (msg) => {
  try {
    const result = await commands[msg.cmd](msg);
    process.send({ id: msg.id, ok: true, result });
  } catch (e) {
    process.send({ id: msg.id, ok: false, error: e?.stack ?? String(e) });
  }
});
// The parent going away (or disconnecting) ends this process, whatever is open.
process.on("disconnect", async () => {
  for (const s of streams) s.controller.abort();
  await llm.close().catch(() => {});
  process.exit(0);
});
process.send({ type: "ready", llmUrl: llm.url, pid: process.pid });
