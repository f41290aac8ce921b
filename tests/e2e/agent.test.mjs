// The agent end to end: the official @ag-ui/client HttpAgent against the Wasm in workerd, a
// scripted OpenAI-compatible server (real wire format) as the LLM provider, kb-ingest for the
// documents the tools read, Postgres for audit rows, Redis for the resumable event log.

import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { HttpAgent } from "@ag-ui/client";
import { startBundle, E2E_JWT_SECRET } from "../support/bundle.mjs";
import { startAgentHarness } from "../support/agent-harness.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { unusedPort } from "../support/ports.mjs";
import { startLlmDouble, textChunks, toolCallChunks, anthropicTextEvents, anthropicToolEvents } from "../support/llm-double.mjs";
import { awayFromMinuteEdge } from "../support/wait.mjs";

// Script answers for the LLM double: streamed text (optionally slow), or tool calls.
const say = (text, opts = {}) => {
  const chunks = textChunks(text, opts);
  return { chunks: opts.delayMs ? chunks.flatMap((c) => [{ delayMs: opts.delayMs }, c]) : chunks };
};
const callTools = (calls, opts = {}) => ({ chunks: toolCallChunks(calls, opts) });
const uid = (p) => `${p}-${randomBytes(5).toString("hex")}`;
let bundle;
let llm;
let db;
let script = () => say("Hello from SBA.");

let harness;
before(async () => {
  const dead = `http://127.0.0.1:${await unusedPort()}`;
  harness = await startAgentHarness((body, i) => script(body, i), { LLM_FIRST_TOKEN_TIMEOUT_MS: "3000", SSE_HEARTBEAT_MS: "300" }, { llmUrls: (llm) => `${dead},${llm.url}` });
  ({ bundle, llm, db } = harness);
});
after(() => harness?.close());

function agentFor(tenant, path = "/agent/run", initialMessages = [{ id: uid("m"), role: "user", content: "Hi" }]) {
  return new HttpAgent({
    url: `${bundle.url}${path}`,
    headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}` },
    threadId: uid("thread"),
    initialMessages,
  });
}

async function runCollect(agent, params = {}) {
  const events = [];
  const result = await agent.runAgent({ runId: uid("run"), ...params }, { onEvent: ({ event }) => events.push(event) });
  return { events, result, types: events.map((e) => e.type) };
}

function assertWellFormed(types) {
  assert.equal(types[0], "RUN_STARTED");
  assert.ok(["RUN_FINISHED", "RUN_ERROR"].includes(types.at(-1)), `terminal event, got ${types.at(-1)}`);
}

describe("agent runs through the official AG-UI client", () => {
  test("a text-only run streams text and finishes (with failover past a dead provider)", async () => {
    script = () => say("Hello from SBA, streamed in pieces.", { pieces: 5 });
    const { types, events, result } = await runCollect(agentFor(uid("t")));
    assertWellFormed(types);
    assert.equal(types.at(-1), "RUN_FINISHED");
    const text = events.filter((e) => e.type === "TEXT_MESSAGE_CONTENT").map((e) => e.delta).join("");
    assert.equal(text, "Hello from SBA, streamed in pieces.");
    assert.ok(types.indexOf("TEXT_MESSAGE_START") < types.indexOf("TEXT_MESSAGE_END"));
    assert.ok(types.includes("STEP_STARTED") && types.includes("STEP_FINISHED"));
    assert.ok(result.newMessages.some((m) => m.role === "assistant" && m.content.includes("Hello from SBA")));
  });

  test("a run that calls getDocument on an ingested document answers with its content", async () => {
    const tenant = uid("t");
    const secret = `The launch code word is ${uid("zebra")}.`;
    const res = await bundle.fetch("/kb/documents", {
      method: "POST",
      headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}`, "content-type": "application/json" },
      body: JSON.stringify({ title: "Launch notes", content: secret, contentType: "text" }),
    });
    const { id } = await res.json();
    script = (body) => {
      const toolMessage = body.messages.find((m) => m.role === "tool");
      if (!toolMessage) return callTools([{ id: "call_doc_1", name: "getDocument", arguments: JSON.stringify({ documentId: id }) }], { fragments: 3 });
      const content = JSON.parse(toolMessage.content).content;
      return say(`The document says: ${content}`);
    };
    const { events, types } = await runCollect(agentFor(tenant));
    assertWellFormed(types);
    assert.equal(types.at(-1), "RUN_FINISHED");
    const start = events.find((e) => e.type === "TOOL_CALL_START");
    assert.equal(start.toolCallName, "getDocument");
    const args = events.filter((e) => e.type === "TOOL_CALL_ARGS").map((e) => e.delta).join("");
    assert.deepEqual(JSON.parse(args), { documentId: id });
    const result = events.find((e) => e.type === "TOOL_CALL_RESULT");
    assert.ok(result.content.includes(secret));
    const text = events.filter((e) => e.type === "TEXT_MESSAGE_CONTENT").map((e) => e.delta).join("");
    assert.ok(text.includes(secret), text);
  });

  test("a front-end tool call is streamed and the run finishes for the client to execute it", async () => {
    script = () => callTools([{ id: "call_fe_1", name: "confirmAction", arguments: JSON.stringify({ question: "Proceed?" }) }]);
    const tools = [{ name: "confirmAction", description: "Ask the user to confirm", parameters: { type: "object", properties: { question: { type: "string" } } } }];
    const { events, types } = await runCollect(agentFor(uid("t")), { tools });
    assertWellFormed(types);
    assert.equal(types.at(-1), "RUN_FINISHED");
    assert.equal(events.find((e) => e.type === "TOOL_CALL_START").toolCallName, "confirmAction");
    assert.ok(types.includes("TOOL_CALL_END"));
    assert.ok(!types.includes("TOOL_CALL_RESULT"), "the server never executes a front-end tool");
  });
});

async function rawRun(tenant, runId, threadId, signal) {
  return bundle.fetch("/agent/run", {
    method: "POST",
    signal,
    headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}`, "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ threadId, runId, messages: [{ id: "m1", role: "user", content: "Hi" }], tools: [], context: [], state: {}, forwardedProps: {} }),
  });
}

function parseFrames(text) {
  return text
    .split("\n\n")
    .filter((f) => f.includes("data:"))
    .map((f) => ({ id: f.match(/^id: (.*)$/m)?.[1], data: JSON.parse(f.match(/^data: (.*)$/m)[1]) }));
}

describe("streams that survive the edge", () => {
  test("SSE headers defeat buffering and every event carries id <runId>:<seq>", async () => {
    script = () => say("ok");
    const [tenant, runId] = [uid("t"), uid("run")];
    const res = await rawRun(tenant, runId, uid("thread"));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    assert.equal(res.headers.get("cache-control"), "no-cache, no-transform");
    assert.equal(res.headers.get("x-accel-buffering"), "no");
    const frames = parseFrames(await res.text());
    frames.forEach((f, i) => assert.equal(f.id, `${runId}:${i + 1}`));
  });

  test("resume with Last-Event-ID delivers the remaining events exactly once", async () => {
    script = () => say("one two three four five six", { pieces: 6 });
    const [tenant, runId] = [uid("t"), uid("run")];
    const all = parseFrames(await (await rawRun(tenant, runId, uid("thread"))).text());
    assert.ok(all.length > 6);
    const resumed = await bundle.fetch(`/agent/runs/${runId}/events`, {
      headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}`, "last-event-id": all[2].id },
    });
    assert.equal(resumed.status, 200);
    const rest = parseFrames(await resumed.text());
    assert.deepEqual(rest, all.slice(3));
    const other = await bundle.fetch(`/agent/runs/${runId}/events`, { headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, uid("t"))}` } });
    assert.equal(other.status, 404, "another tenant cannot read the run");
  });

  test("a duplicate re-POST replays instead of running twice (audit rows counted)", async () => {
    script = () => say("only once");
    const [tenant, runId, threadId] = [uid("t"), uid("run"), uid("thread")];
    const before = llm.requests.length;
    const first = parseFrames(await (await rawRun(tenant, runId, threadId)).text());
    const second = parseFrames(await (await rawRun(tenant, runId, threadId)).text());
    assert.deepEqual(second, first);
    assert.equal(llm.requests.length - before, 1, "the LLM was asked once");
    let rows = 0;
    for (let i = 0; i < 50 && rows === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ({ rows: [{ n: rows }] } = await db.query("select count(*)::int as n from agent_audit where run_id = $1 and kind = 'run'", [runId]));
    }
    assert.equal(rows, 1);
  });

  test("aborting mid-stream does not abort the upstream LLM request; the run finishes in the background and a resume gets the rest", async () => {
    const text = "slow ".repeat(20);
    script = () => say(text, { pieces: 20, delayMs: 100 });
    const abortedBefore = llm.aborted;
    const [tenant, runId] = [uid("t"), uid("run")];
    const controller = new AbortController();
    const res = await rawRun(tenant, runId, uid("thread"), controller.signal);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let seen = "";
    while (!seen.includes("TEXT_MESSAGE_CONTENT")) {
      const { done, value } = await reader.read();
      assert.ok(!done, `the stream ended before any text: ${seen}`);
      seen += decoder.decode(value, { stream: true });
    }
    controller.abort();
    // Only whole frames count as received.
    const received = parseFrames(seen.slice(0, seen.lastIndexOf("\n\n") + 2));
    const resumed = await bundle.fetch(`/agent/runs/${runId}/events`, {
      signal: AbortSignal.timeout(15_000),
      headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}`, "last-event-id": received.at(-1).id },
    });
    assert.equal(resumed.status, 200);
    const rest = parseFrames(await resumed.text());
    assert.equal(llm.aborted, abortedBefore, "the upstream request was not aborted when the client left");
    assert.ok(rest.length > 0, "the resume delivered the rest of the run");
    assert.equal(rest.at(-1).data.type, "RUN_FINISHED", JSON.stringify(rest.at(-1).data));
    const all = [...received, ...rest];
    all.forEach((f, i) => assert.equal(f.id, `${runId}:${i + 1}`));
    const streamed = all.filter((f) => f.data.type === "TEXT_MESSAGE_CONTENT").map((f) => f.data.delta).join("");
    assert.equal(streamed, text, "the text the client missed came with the resume");
  });

  test("`: ping` heartbeats flow while the model is silent", async () => {
    script = () => {
      const chunks = textChunks("first words then a short silence", { pieces: 2 });
      // Short: the run goes on in the background after the client leaves.
      return { chunks: [chunks[0], { delayMs: 2_000 }, ...chunks.slice(1)] };
    };
    const controller = new AbortController();
    const res = await rawRun(uid("t"), uid("run"), uid("thread"), controller.signal);
    const reader = res.body.getReader();
    let seen = "";
    const started = Date.now();
    while ((seen.match(/^: ping$/gm) ?? []).length < 3 && Date.now() - started < 5000) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    assert.ok((seen.match(/^: ping$/gm) ?? []).length >= 3, "heartbeats arrive every 300 ms during the silence");
    controller.abort();
  });

  test("failover between providers: each gets its own key and model, never another's", async () => {
    const first = await startLlmDouble(() => ({ status: 503, body: "overloaded" }));
    const second = await startLlmDouble(() => say("From the second provider."));
    const bindings = {
      LLM_BASE_URLS: `${first.url}|model=model-a|key=LLM_KEY_A, ${second.url}|key=LLM_KEY_B|model=model-b`,
      LLM_KEY_A: "sk-first", LLM_KEY_B: "sk-second", LLM_API_KEY: "",
    };
    // (The second host is never called: the configuration is refused first.)
    const shared = { ...bindings, LLM_BASE_URLS: `${first.url}, ${second.url.replace("127.0.0.1", "localhost")}`, LLM_API_KEY: "sk-shared" };
    const own = await startBundle({ overrides: { agent: { bindings } } });
    const leaky = await startBundle({ overrides: { agent: { bindings: shared } } });
    try {
      const run = (target, tenant = uid("t")) =>
        target.fetch("/agent/run", {
          method: "POST",
          headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}`, "content-type": "application/json" },
          body: JSON.stringify({ threadId: uid("th"), runId: uid("run"), messages: [{ id: "m", role: "user", content: "Hi" }], tools: [], context: [] }),
        });
      const frames = parseFrames(await (await run(own)).text());
      assert.equal(frames.at(-1).data.type, "RUN_FINISHED");
      assert.equal(frames.filter((f) => f.data.type === "TEXT_MESSAGE_CONTENT").map((f) => f.data.delta).join(""), "From the second provider.");
      assert.deepEqual([first.headers[0].authorization, first.requests[0].model], ["Bearer sk-first", "model-a"]);
      assert.deepEqual([second.headers[0].authorization, second.requests[0].model], ["Bearer sk-second", "model-b"]);

      // One shared key for two hosts would hand the first vendor's key to the second: refused
      // as a configuration error before any provider is called.
      const calls = first.requests.length + second.requests.length;
      const refusedTenant = uid("t");
      const refused = await run(leaky, refusedTenant);
      assert.equal(refused.status, 503);
      const { error } = await refused.json();
      assert.equal(error.code, "not_configured");
      assert.match(error.message, /LLM_API_KEY would be sent to 2 different hosts \(127\.0\.0\.1, localhost\)/);
      assert.equal(first.requests.length + second.requests.length, calls, "no provider was called");
      const { rows } = await db.query("select agent_runs from usage_periods where tenant_id = $1", [refusedTenant]);
      assert.ok(rows.every((r) => Number(r.agent_runs) === 0), `a refused run is not charged: ${JSON.stringify(rows)}`);
    } finally {
      await own.dispose();
      await leaky.dispose();
      await first.close();
      await second.close();
    }
  });

  test("an Anthropic Messages provider: text and a server tool through the same run", async () => {
    const tenant = uid("t");
    const anthropic = await startLlmDouble((body) => {
      const toolResult = body.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).find((b) => b.type === "tool_result");
      if (!toolResult) return { anthropic: anthropicToolEvents([{ id: "toolu_1", name: "createTask", arguments: { title: "Call the supplier" } }]) };
      return { anthropic: anthropicTextEvents("Task created.") };
    });
    const claude = await startBundle({ overrides: { agent: { bindings: { LLM_BASE_URLS: `${anthropic.url}/anthropic`, LLM_API_KEY: "sk-ant-e2e" } } } });
    try {
      const agent = new HttpAgent({
        url: `${claude.url}/agent/run`,
        headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}` },
        threadId: uid("thread"),
        initialMessages: [{ id: uid("m"), role: "user", content: "Remind me to call the supplier" }],
      });
      const { events, types } = await runCollect(agent);
      assert.equal(types.at(-1), "RUN_FINISHED");
      assert.equal(events.find((e) => e.type === "TOOL_CALL_START").toolCallName, "createTask");
      assert.ok(types.includes("STATE_SNAPSHOT"), "creating a task changes the run's state");
      assert.equal(events.filter((e) => e.type === "TEXT_MESSAGE_CONTENT").map((e) => e.delta).join(""), "Task created.");
      assert.ok(anthropic.paths.every((p) => p === "/anthropic/v1/messages"), anthropic.paths.join(","));
      assert.equal(anthropic.headers[0]["x-api-key"], "sk-ant-e2e");
      const { rows } = await db.query("select title from tasks where tenant_id = $1", [tenant]);
      assert.deepEqual(rows, [{ title: "Call the supplier" }]);
    } finally {
      await claude.dispose();
      await anthropic.close();
    }
  });

  test("all providers down → RUN_ERROR with a clear code", async () => {
    const dead = await startBundle({
      overrides: { agent: { bindings: { LLM_BASE_URLS: `http://127.0.0.1:${await unusedPort()}`, LLM_FIRST_TOKEN_TIMEOUT_MS: "1000" } } },
    });
    try {
      const res = await dead.fetch("/agent/run", {
        method: "POST",
        headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, uid("t"))}`, "content-type": "application/json" },
        body: JSON.stringify({ threadId: uid("th"), runId: uid("run"), messages: [{ id: "m", role: "user", content: "Hi" }], tools: [], context: [] }),
      });
      const frames = parseFrames(await res.text());
      assert.equal(frames[0].data.type, "RUN_STARTED");
      const last = frames.at(-1).data;
      assert.equal(last.type, "RUN_ERROR");
      assert.equal(last.code, "llm_unavailable");
    } finally {
      await dead.dispose();
    }
  });

  test("bad input is refused before any stream: 401, 415, 422", async () => {
    assert.equal((await bundle.fetch("/agent/run", { method: "POST", body: "{}" })).status, 401);
    const auth = { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, uid("t"))}` };
    assert.equal((await bundle.fetch("/agent/run", { method: "POST", headers: auth, body: "{}" })).status, 415);
    const bad = await bundle.fetch("/agent/run", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ threadId: "t", runId: "bad id!", messages: [] }) });
    assert.equal(bad.status, 422);
  });
});

describe("ratelimited-agent", () => {
  const limitedRun = (tenant) =>
    bundle.fetch("/ratelimited-agent/run", {
      method: "POST",
      headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}`, "content-type": "application/json" },
      body: JSON.stringify({ threadId: uid("th"), runId: uid("run"), messages: [{ id: "m", role: "user", content: "Hi" }], tools: [], context: [] }),
    });

  test("the 21st run in a minute → 429 with headers; a Stripe plan change raises the limit within a second", async () => {
    script = () => say("ok");
    const tenant = uid("t");
    // The 20 runs and the 21st in one minute of the sliding window (across a boundary the
    // previous minute counts only in part, and the 21st may rightly be admitted).
    await awayFromMinuteEdge(15_000);
    for (let i = 0; i < 20; i++) {
      const res = await limitedRun(tenant);
      assert.equal(res.status, 200, `run ${i + 1}`);
      assert.equal(res.headers.get("x-ratelimit-limit"), "20");
      await res.text();
    }
    const limited = await limitedRun(tenant);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    assert.match(limited.headers.get("ratelimit-policy"), /"tenant";q=20;w=60/);
    assert.equal((await limited.json()).error.code, "rate_limited");

    // Upgrade through the real webhook path: checkout + subscription to "pro" (120/min).
    const { default: Stripe } = await import("stripe");
    const stripe = new Stripe("sk_test_e2e");
    const customer = uid("cus");
    const send = async (type, object) => {
      const payload = JSON.stringify({ id: uid("evt"), object: "event", created: Math.floor(Date.now() / 1000), type, data: { object } });
      const header = stripe.webhooks.generateTestHeaderString({ payload, secret: "whsec_e2e_current_secret" });
      const res = await bundle.fetch("/webhooks/stripe", { method: "POST", headers: { "stripe-signature": header, "content-type": "application/json" }, body: payload });
      assert.equal(res.status, 200);
    };
    await send("checkout.session.completed", { id: uid("cs"), object: "checkout.session", client_reference_id: tenant, customer });
    const start = Math.floor(Date.now() / 1000);
    await send("customer.subscription.created", {
      id: uid("sub"), object: "subscription", customer, status: "active",
      items: { data: [{ price: { id: "price_pro", lookup_key: "pro" }, current_period_start: start, current_period_end: start + 2592000 }] },
    });
    // A tenant blocked in the last second is refused from the isolate's memory, with the plan
    // it remembers (trusted for PLAN_TRUST_MS = 1 s). After that the limiter's own request
    // brings the new plan, and a refused check is decided again under it.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const upgraded = await limitedRun(tenant);
    assert.equal(upgraded.status, 200);
    assert.equal(upgraded.headers.get("x-ratelimit-limit"), "120");
    await upgraded.text();
  });

  test("runs quota used up → 429 quota_exceeded naming the quota", async () => {
    script = () => say("ok");
    const tenant = uid("t");
    const first = await limitedRun(tenant);
    assert.equal(first.status, 200);
    await first.text();
    await db.query("update usage_periods set agent_runs = 1000000 where tenant_id = $1", [tenant]);
    const res = await limitedRun(tenant);
    assert.equal(res.status, 429);
    const body = await res.json();
    assert.equal(body.error.code, "quota_exceeded");
    assert.equal(body.error.details.quota, "agentRuns");
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
  });
});
