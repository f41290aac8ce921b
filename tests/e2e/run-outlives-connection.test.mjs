// An agent run outlives its client connection: a client that goes away (tab closed, network
// switch, proxy timeout) does not cancel the run. The run goes on in the background, its
// upstream LLM request is not aborted, its events keep going to the run log, and its audit
// row is written. A client that comes back with `Last-Event-ID` gets exactly the frames it
// missed, live if the run is still going (with `: ping` heartbeats while it waits), and a
// re-POST of the same run replays all of it without asking the model again.
//
// Each test disconnects at a different point: right after RUN_STARTED, in the middle of the
// streamed text, and in the middle of a server tool call (whose second model step answers
// after the client has left). The mid-text case runs for `/agent` and `/ratelimited-agent`.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { startBundle, stackEnv, E2E_JWT_SECRET } from "../support/bundle.mjs";
import { startAgentHarness } from "../support/agent-harness.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { textChunks, toolCallChunks } from "../support/llm-double.mjs";
import { sleep } from "../support/wait.mjs";

const HEARTBEAT_MS = 300;
const TERMINAL = new Set(["RUN_FINISHED", "RUN_ERROR"]);
const uid = (p) => `${p}-${randomBytes(5).toString("hex")}`;

let bundle;
let llm;
let db;
let script = () => ({ status: 500, body: "no script for this request" });

let harness;
before(async () => {
  harness = await startAgentHarness((body, i) => script(body, i), { LLM_FIRST_TOKEN_TIMEOUT_MS: "5000", SSE_HEARTBEAT_MS: String(HEARTBEAT_MS) });
  ({ bundle, llm, db } = harness);
});
after(() => harness?.close());

// ---- the LLM double's answers ----

/** `{delayMs}` before every chunk; `pauses[i]` replaces the delay before chunk i. */
const paced = (chunks, delayMs, pauses = {}) => chunks.flatMap((chunk, i) => [{ delayMs: pauses[i] ?? delayMs }, chunk]);

// ---- requests ----

const auth = (tenant) => ({ authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}` });

function runBody(runId, threadId, text = "Hi") {
  return JSON.stringify({ threadId, runId, messages: [{ id: "m1", role: "user", content: text }], tools: [], context: [], state: {}, forwardedProps: {} });
}

/** POST `<prefix>/run` (to `via`: the suite's bundle, or one with its own settings); never
 * waits more than 40 s in all (a hung stream fails the test). */
function postRun(prefix, tenant, body, signal = AbortSignal.timeout(40_000), via = bundle) {
  return via.fetch(`${prefix}/run`, {
    method: "POST",
    signal,
    headers: { ...auth(tenant), "content-type": "application/json", accept: "text/event-stream" },
    body,
  });
}

function getEvents(prefix, tenant, runId, lastEventId, via = bundle) {
  return via.fetch(`${prefix}/runs/${runId}/events`, {
    signal: AbortSignal.timeout(40_000),
    headers: { ...auth(tenant), accept: "text/event-stream", ...(lastEventId === undefined ? {} : { "last-event-id": lastEventId }) },
  });
}

// ---- reading SSE item by item: frames (`id`/`event`/`data`) and comments (`: ping`) ----

function parseBlock(block) {
  const at = Date.now();
  const items = [];
  const fields = {};
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) {
      items.push({ kind: line === ": ping" ? "ping" : "comment", raw: line, at });
      continue;
    }
    const m = line.match(/^(id|event|data): ?(.*)$/);
    if (m) fields[m[1]] = m[2];
  }
  if ("data" in fields) {
    let data;
    try {
      data = JSON.parse(fields.data);
    } catch {
      data = { unparsable: fields.data };
    }
    const seq = Number(fields.id?.slice(fields.id.lastIndexOf(":") + 1));
    items.push({ kind: "frame", raw: block, id: fields.id, seq, event: fields.event, data, type: data.type, at });
  } else if (Object.keys(fields).length) {
    items.push({ kind: "junk", raw: block, at });
  }
  return items;
}

class SseStream {
  constructor(response, label) {
    this.label = label;
    this.reader = response.body.getReader();
    this.decoder = new TextDecoder();
    this.buffer = "";
    this.queue = [];
    this.items = [];
    this.ended = false;
  }

  /** The next item, or null once the body has ended; throws after `timeoutMs` of nothing. */
  async next(timeoutMs) {
    for (;;) {
      if (this.queue.length) {
        const item = this.queue.shift();
        this.items.push(item);
        return item;
      }
      if (this.ended) return null;
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${this.label}: nothing for ${timeoutMs} ms after ${this.describe()}`)), timeoutMs);
      });
      let chunk;
      try {
        chunk = await Promise.race([this.reader.read(), timeout]);
      } finally {
        clearTimeout(timer);
      }
      if (chunk.done) {
        this.ended = true;
        if (this.buffer.length) this.queue.push({ kind: "partial", raw: this.buffer, at: Date.now() });
        this.buffer = "";
        continue;
      }
      this.buffer += this.decoder.decode(chunk.value, { stream: true });
      let cut;
      while ((cut = this.buffer.indexOf("\n\n")) >= 0) {
        const block = this.buffer.slice(0, cut);
        this.buffer = this.buffer.slice(cut + 2);
        this.queue.push(...parseBlock(block));
      }
    }
  }

  /** Reads until `predicate(item)` holds; returns that item. */
  async until(predicate, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const item = await this.next(Math.max(1, deadline - Date.now()));
      if (item === null) throw new Error(`${this.label}: the stream ended before the expected event; got ${this.describe()}`);
      if (predicate(item)) return item;
    }
  }

  /** Reads until the body ends; all items read by this stream. */
  async toEnd(timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    while ((await this.next(Math.max(1, deadline - Date.now()))) !== null);
    return this.items;
  }

  frames() {
    return this.items.filter((i) => i.kind === "frame");
  }

  describe() {
    return `[${this.items.map((i) => (i.kind === "frame" ? `${i.seq}:${i.type}` : i.kind)).join(", ")}]`;
  }

  cancel() {
    return this.reader.cancel().catch(() => {});
  }
}

// ---- assertions ----

const summary = (frames) => frames.map((f) => `${f.seq}:${f.type}`).join(", ");

/** Frames numbered `<runId>:<from>`, `<runId>:<from+1>`, … each once, ending in one RUN_FINISHED. */
function assertCompleteFrom(frames, runId, from, label) {
  assert.ok(frames.length > 0, `${label}: no frames at all`);
  frames.forEach((f, i) => assert.equal(f.id, `${runId}:${from + i}`, `${label}: frame ${i} out of sequence: ${summary(frames)}`));
  const terminals = frames.filter((f) => TERMINAL.has(f.type));
  assert.equal(terminals.length, 1, `${label}: exactly one terminal event: ${summary(frames)}`);
  assert.equal(frames.at(-1).type, "RUN_FINISHED", `${label}: ends with RUN_FINISHED, got ${JSON.stringify(frames.at(-1).data)}`);
}

function assertWellFormedBody(stream, label) {
  const odd = stream.items.filter((i) => !["frame", "ping"].includes(i.kind));
  assert.deepEqual(odd.map((i) => i.raw), [], `${label}: only frames and \`: ping\` heartbeats, and no cut-off frame`);
  assert.ok(stream.ended, `${label}: the body ended`);
}

async function auditRunRows(runId) {
  let rows = 0;
  for (let i = 0; i < 50 && rows === 0; i++) {
    await sleep(100);
    ({ rows: [{ n: rows }] } = await db.query("select count(*)::int as n from agent_audit where run_id = $1 and kind = 'run'", [runId]));
  }
  return rows;
}

const isContent = (i) => i.kind === "frame" && i.type === "TEXT_MESSAGE_CONTENT";

/**
 * One disconnect-and-come-back scenario:
 *   POST the run, read frames until `disconnectAt(frame, framesSoFar)`, abort the fetch,
 *   then at once resume with `Last-Event-ID` (and, with `livePost`, re-POST the same run
 *   concurrently), read both to the end, check the log, the audit row and a final re-POST.
 */
async function disconnectAndComeBack({ prefix = "/agent", answer, disconnectAt, llmRequests, livePost = false }) {
  const [tenant, runId, threadId] = [uid("t"), uid("run"), uid("thread")];
  const body = runBody(runId, threadId, `Please answer slowly (${runId})`);
  script = answer;
  const requestsBefore = llm.requests.length;
  const abortedBefore = llm.aborted;

  // 1. The first connection, cut at the disconnect point.
  const controller = new AbortController();
  const res = await postRun(prefix, tenant, body, controller.signal);
  assert.equal(res.status, 200, `POST ${prefix}/run answered ${res.status}: ${res.status === 200 ? "" : await res.text()}`);
  const first = new SseStream(res, "the first connection");
  const received = [];
  await first.until((item) => {
    if (item.kind !== "frame") return false;
    received.push(item);
    return disconnectAt(item, received);
  });
  const lastId = received.at(-1).id;
  const lastSeq = received.at(-1).seq;
  assert.ok(!TERMINAL.has(received.at(-1).type), "the disconnect point is before the end of the run");
  controller.abort();
  const abortedAt = Date.now();

  // 2. Come back at once, while the run is still going.
  const [resumeRes, liveRes] = await Promise.all([
    getEvents(prefix, tenant, runId, lastId),
    livePost ? postRun(prefix, tenant, body) : null,
  ]);
  assert.equal(resumeRes.status, 200, `resume answered ${resumeRes.status}: ${resumeRes.status === 200 ? "" : await resumeRes.text()}`);
  assert.match(resumeRes.headers.get("content-type") ?? "", /^text\/event-stream/);
  const resumed = new SseStream(resumeRes, "the resumed stream");
  const live = liveRes && new SseStream(liveRes, "the re-POST during the run");
  if (live) assert.equal(liveRes.status, 200, "a re-POST while the run goes on is answered 200");
  await Promise.all([resumed.toEnd(), live?.toEnd()]);

  // 3. The model was never cut off: the run went on without the client.
  assert.equal(llm.aborted, abortedBefore, "the upstream LLM request was not aborted when the client left");
  assert.equal(llm.requests.length - requestsBefore, llmRequests, `the run asked the model ${llmRequests} time(s)`);

  // 4. The resumed stream: exactly the frames after Last-Event-ID, then the end of the body.
  assertWellFormedBody(resumed, "resume");
  const rest = resumed.frames();
  assertCompleteFrom(rest, runId, lastSeq + 1, "resume");

  // 5. The audit trail of the run, written although its client had left.
  assert.equal(await auditRunRows(runId), 1, "one audit row of kind 'run' for the run");

  // 6. A re-POST after the end replays everything from seq 1 without asking the model.
  const replayRes = await postRun(prefix, tenant, body);
  assert.equal(replayRes.status, 200, "a re-POST of the finished run is answered 200");
  const replay = new SseStream(replayRes, "the re-POST after the run");
  await replay.toEnd();
  assertWellFormedBody(replay, "replay");
  const all = replay.frames();
  assertCompleteFrom(all, runId, 1, "replay");
  assert.deepEqual(
    [...received, ...rest].map((f) => f.raw),
    all.map((f) => f.raw),
    "the frames received before the disconnect plus the resumed ones are the whole run, byte for byte",
  );
  assert.equal(llm.requests.length - requestsBefore, llmRequests, "the re-POSTs did not ask the model again");

  if (live) {
    assertWellFormedBody(live, "re-POST during the run");
    assertCompleteFrom(live.frames(), runId, 1, "re-POST during the run");
    assert.deepEqual(live.frames().map((f) => f.raw), all.map((f) => f.raw), "the re-POST during the run delivers the same frames");
  }
  return { tenant, runId, received, resumed, live, all, abortedAt };
}

/** 20 text pieces 100 ms apart, with a 1.5 s silence of the model after the 10th. */
const PIECES = 20;
const slowText = Array.from({ length: PIECES }, (_, i) => `w${i + 1} `).join("");
const slowTextAnswer = () => ({ chunks: paced(textChunks(slowText, { pieces: PIECES }), 100, { 10: 1500 }) });

function assertLiveFollow(stream, label) {
  const frames = stream.frames();
  const terminalAt = stream.items.findIndex((i) => i.kind === "frame" && TERMINAL.has(i.type));
  const pings = stream.items.slice(0, terminalAt).filter((i) => i.kind === "ping");
  assert.ok(pings.length >= 1, `${label}: \`: ping\` heartbeats while waiting for the running run (every ${HEARTBEAT_MS} ms): ${stream.describe()}`);
  // The model was silent for 1.5 s in the middle of its text: a follower that gets the text
  // as it is produced sees text, then heartbeats, then more text.
  const pingBetweenText = stream.items.some(
    (item, i) => item.kind === "ping" && stream.items.slice(0, i).some(isContent) && stream.items.slice(i + 1).some(isContent),
  );
  assert.ok(pingBetweenText, `${label}: text arrives as the model produces it (heartbeats during the model's pause fall between text frames): ${stream.describe()}`);
  assert.ok(frames.some(isContent), `${label}: got text`);
}

describe("a run outlives its client connection", () => {
  test("disconnect right after RUN_STARTED: the run goes on, a resume from seq 1 gets the rest", { timeout: 45_000 }, async () => {
    const text = "The run went on after the client left right away.";
    const { resumed, received } = await disconnectAndComeBack({
      // The model takes its time to answer, so the client is gone before the first token.
      answer: () => ({ chunks: [{ delayMs: 700 }, ...paced(textChunks(text, { pieces: 6 }), 80)] }),
      disconnectAt: (frame) => frame.type === "RUN_STARTED",
      llmRequests: 1,
    });
    assert.equal(received.length, 1);
    assert.equal(received[0].seq, 1);
    const streamed = resumed.frames().filter(isContent).map((f) => f.data.delta).join("");
    assert.equal(streamed, text, "all of the text came after the disconnect");
  });

  for (const prefix of ["/agent", "/ratelimited-agent"]) {
    test(`${prefix}: disconnect in the middle of the text: the resume follows the run live, a re-POST during the run too`, { timeout: 45_000 }, async () => {
      const { resumed, live, received, all } = await disconnectAndComeBack({
        prefix,
        answer: slowTextAnswer,
        disconnectAt: (_, frames) => frames.filter(isContent).length === 3,
        llmRequests: 1,
        livePost: true,
      });
      assert.equal(received.filter(isContent).length, 3);
      const text = all.filter(isContent).map((f) => f.data.delta).join("");
      assert.equal(text, slowText, "the whole text is in the run log");
      assertLiveFollow(resumed, "resume");
      // The re-POST was answered while the run was going, not after it had ended.
      const terminal = (s) => s.items.find((i) => i.kind === "frame" && TERMINAL.has(i.type));
      assert.ok(live.items[0].at < terminal(resumed).at, "the re-POST during the run started streaming before the run ended");
    });
  }

  test("disconnect during a server tool call: the tool runs once, the model's second step answers, the resume gets it all", { timeout: 45_000 }, async () => {
    const title = uid("Call the supplier");
    const answer = (body) => {
      const toolMessage = body.messages.find((m) => m.role === "tool");
      if (!toolMessage) {
        return { chunks: paced(toolCallChunks([{ id: "call_bg_task", name: "createTask", arguments: { title } }], { fragments: 4 }), 150) };
      }
      return { chunks: paced(textChunks("Done: the task is created.", { pieces: 4 }), 100) };
    };
    const requestsBefore = llm.requests.length;
    const { tenant, received, resumed } = await disconnectAndComeBack({
      answer,
      disconnectAt: (frame, frames) => frame.type === "TOOL_CALL_ARGS" && frames.some((f) => f.type === "TOOL_CALL_START"),
      llmRequests: 2,
    });
    assert.ok(received.some((f) => f.type === "TOOL_CALL_START" && f.data.toolCallName === "createTask"));
    const rest = resumed.frames();
    const types = rest.map((f) => f.type);
    assert.ok(types.includes("TOOL_CALL_END"), `the rest of the tool call: ${types}`);
    const result = rest.find((f) => f.type === "TOOL_CALL_RESULT");
    assert.ok(result && result.data.toolCallId === "call_bg_task", `the tool's result after the disconnect: ${types}`);
    assert.ok(result.data.content.includes(title), result.data.content);
    assert.equal(rest.filter(isContent).map((f) => f.data.delta).join(""), "Done: the task is created.");
    // The second model step was asked with the tool's result, after the client had left.
    const second = llm.requests[requestsBefore + 1];
    assert.ok(second?.messages?.some((m) => m.role === "tool" && m.content.includes(title)), "the second model request carries the tool result");
    const { rows } = await db.query("select title from tasks where tenant_id = $1", [tenant]);
    assert.deepEqual(rows, [{ title }], "the tool ran exactly once");
  });

  test("a resume names its own run: another run's Last-Event-ID → 400, another tenant → 404", { timeout: 30_000 }, async () => {
    script = () => ({ chunks: textChunks("ok") });
    const tenant = uid("t");
    const [runA, runB] = [uid("run"), uid("run")];
    for (const runId of [runA, runB]) {
      const s = new SseStream(await postRun("/agent", tenant, runBody(runId, uid("thread"))), runId);
      await s.toEnd();
      assert.equal(s.frames().at(-1)?.type, "RUN_FINISHED");
    }
    const wrongRun = await getEvents("/agent", tenant, runA, `${runB}:1`);
    assert.equal(wrongRun.status, 400, "Last-Event-ID of another run");
    assert.equal(typeof (await wrongRun.json()).error?.code, "string");
    const sameRun = await getEvents("/agent", tenant, runA, `${runA}:1`);
    assert.equal(sameRun.status, 200, "the same run's Last-Event-ID is fine");
    await sameRun.body.cancel();
    const otherTenant = await getEvents("/agent", uid("t"), runA, `${runA}:1`);
    assert.equal(otherTenant.status, 404, "another tenant cannot resume the run");
    await otherTenant.body?.cancel();
  });
});

/** POSTs a run to `target` (a bundle with its own settings) and reads it to its first text. */
async function startOn(target, tenant, runId, threadId) {
  const controller = new AbortController();
  const res = await postRun("/agent", tenant, runBody(runId, threadId), controller.signal, target);
  assert.equal(res.status, 200);
  const first = new SseStream(res, "first connection");
  const lastSeen = await first.until(isContent);
  return { first, lastSeen, leave: () => controller.abort() };
}

/** The frames after `lastSeen`, resumed from `target` and read to the run's end. */
async function resumeToEnd(target, tenant, runId, lastSeen, timeoutMs) {
  const resumed = await getEvents("/agent", tenant, runId, lastSeen.id, target);
  assert.equal(resumed.status, 200);
  const rest = new SseStream(resumed, "resume");
  await rest.toEnd(timeoutMs);
  return rest.frames();
}

describe("a run that cannot finish still ends with exactly one terminal event", () => {
  test("still going RUN_DETACHED_LIMIT_MS after its client left → RUN_ERROR run_abandoned, upstream dropped, audited as aborted", { timeout: 60_000 }, async () => {
    const short = await startBundle({
      overrides: { agent: { bindings: { LLM_BASE_URLS: llm.url, LLM_MODEL: "scripted", SSE_HEARTBEAT_MS: String(HEARTBEAT_MS), RUN_DETACHED_LIMIT_MS: "1500" } } },
    });
    try {
      script = () => ({ chunks: paced(textChunks("slow ".repeat(40), { pieces: 40 }), 250) }); // 10 s of text
      const [tenant, runId, threadId] = [uid("t"), uid("run"), uid("thread")];
      const abortedBefore = llm.aborted;
      const { lastSeen, leave } = await startOn(short, tenant, runId, threadId);
      leave();
      const left = Date.now();
      const frames = await resumeToEnd(short, tenant, runId, lastSeen, 20_000);
      frames.forEach((f, i) => assert.equal(f.seq, lastSeen.seq + 1 + i, `in sequence: ${summary(frames)}`));
      const terminals = frames.filter((f) => TERMINAL.has(f.type));
      assert.equal(terminals.length, 1, summary(frames));
      assert.equal(frames.at(-1).type, "RUN_ERROR");
      assert.equal(frames.at(-1).data.code, "run_abandoned");
      assert.ok(Date.now() - left < 9_000, "ended well before the model would have finished");
      const deadline = Date.now() + 5000;
      while (llm.aborted === abortedBefore && Date.now() < deadline) await sleep(50);
      assert.ok(llm.aborted > abortedBefore, "the model's stream was dropped with the run");
      let status = null;
      for (let i = 0; i < 50 && status === null; i++) {
        await sleep(100);
        status = (await db.query("select status from agent_audit where run_id = $1 and kind = 'run'", [runId])).rows[0]?.status ?? null;
      }
      assert.equal(status, "aborted");
    } finally {
      await short.dispose();
    }
  });

  test("a client that leaves a quiet run is noticed at the runtime's first write (request.signal), not a heartbeat later", { timeout: 60_000 }, async () => {
    // The model sends one piece, then is silent. The local runtime learns that a client left
    // only when it writes to the connection: here the heartbeat after the client's abort
    // (HEARTBEAT after it). At that write the request's abort signal fires; the response
    // body is dropped (what the run saw before) only at the write after that, a heartbeat
    // later — and Cloudflare's 30 s of waitUntil grace start at the first.
    const HEARTBEAT = 6000;
    const DETACHED = 1500;
    const quiet = await startBundle({
      overrides: {
        agent: {
          bindings: {
            LLM_BASE_URLS: llm.url, LLM_MODEL: "scripted", SSE_HEARTBEAT_MS: String(HEARTBEAT),
            LLM_IDLE_TIMEOUT_MS: "60000", RUN_DETACHED_LIMIT_MS: String(DETACHED),
          },
        },
      },
    });
    try {
      script = () => ({ chunks: paced(textChunks("first then silence", { pieces: 2 }), 0, { 1: 50_000 }) });
      const [tenant, runId, threadId] = [uid("t"), uid("run"), uid("thread")];
      const abortedBefore = llm.aborted;
      const { first, lastSeen, leave } = await startOn(quiet, tenant, runId, threadId);
      await first.until((item) => item.kind === "ping", HEARTBEAT + 5000); // the next ping is a heartbeat away
      leave();
      const left = Date.now();
      const deadline = left + 3 * HEARTBEAT;
      while (llm.aborted === abortedBefore && Date.now() < deadline) await sleep(50);
      const droppedMs = Date.now() - left;
      assert.ok(llm.aborted > abortedBefore, "the model's stream was dropped with the run");
      // Noticed at the next write (one heartbeat), then the detached limit and the watcher's
      // 2 s tick: under HEARTBEAT + DETACHED + 2 s (+1 s of slack). Noticed only when the
      // body is dropped, it would be one heartbeat later than that.
      assert.ok(droppedMs < HEARTBEAT + DETACHED + 3000, `dropped ${droppedMs} ms after the client left`);
      const frames = await resumeToEnd(quiet, tenant, runId, lastSeen, 10_000);
      assert.equal(frames.filter((f) => TERMINAL.has(f.type)).length, 1, summary(frames));
      assert.equal(frames.at(-1).data.code, "run_abandoned", summary(frames));
    } finally {
      await quiet.dispose();
    }
  });

  test("a run whose worker died (its lease lapsed) is ended by its reader with RUN_ERROR run_lost, once for every reader", { timeout: 30_000 }, async () => {
    const { Redis } = await import("@upstash/redis");
    const stack = stackEnv();
    const redis = new Redis({ url: stack.redisRestUrl, token: stack.redisRestToken, enableTelemetry: false, automaticDeserialization: false });
    const [tenant, runId] = [uid("t"), uid("run")];
    // What a run leaves behind when its isolate dies right after RUN_STARTED: the claim and
    // one frame, and no lease.
    const base = `sba:agui:${tenant}:run:${runId}`;
    const started = `id: ${runId}:1\ndata: ${JSON.stringify({ type: "RUN_STARTED", threadId: "th", runId })}\n\n`;
    await redis.set(`${base}:claim`, "th", { px: 60_000 });
    await redis.rpush(`${base}:events`, started);
    await redis.pexpire(`${base}:events`, 60_000);
    const read = async () => {
      const res = await getEvents("/agent", tenant, runId, `${runId}:1`);
      assert.equal(res.status, 200);
      const stream = new SseStream(res, "reader");
      await stream.toEnd(10_000);
      return stream.frames();
    };
    const [a, b] = await Promise.all([read(), read()]);
    for (const frames of [a, b]) {
      assert.deepEqual(frames.map((f) => [f.seq, f.type, f.data.code]), [[2, "RUN_ERROR", "run_lost"]]);
    }
    assert.equal((await redis.lrange(`${base}:events`, 0, -1)).length, 2, "one terminal frame in the log");
  });
});
