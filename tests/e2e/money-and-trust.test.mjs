// Money and trust: every route that spends model tokens is admitted and charged, a run whose
// client aborts still pays for what was streamed, a model that stalls cannot hang a run,
// delinquent billing stops runs with 402, and the plan's document quota holds on ingest.
// Everything against the built Wasm in workerd, the local Redis and Postgres (through the
// pooler), and the LLM double speaking the OpenAI streaming format.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, createHash } from "node:crypto";
import { E2E_JWT_SECRET } from "../support/bundle.mjs";
import { sleep, until } from "../support/wait.mjs";
import { startAgentHarness } from "../support/agent-harness.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { textChunks } from "../support/llm-double.mjs";

const uid = (p) => `${p}-${randomBytes(5).toString("hex")}`;
const IDLE_MS = 400;
const DEADLINE_MS = 8000;
const DETACHED_MS = 600;

let bundle;
let llm;
let db;
let script = () => ({ status: 500, body: "no script for this request" });

let harness;
before(async () => {
  harness = await startAgentHarness((body, i) => script(body, i), {
    LLM_FIRST_TOKEN_TIMEOUT_MS: "5000",
    LLM_IDLE_TIMEOUT_MS: String(IDLE_MS),
    RUN_DEADLINE_MS: String(DEADLINE_MS),
    RUN_DETACHED_LIMIT_MS: String(DETACHED_MS),
  });
  ({ bundle, llm, db } = harness);
});
after(() => harness?.close());

const auth = (tenant) => ({ authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}` });
const runBody = (text = "Hi") =>
  JSON.stringify({ threadId: uid("th"), runId: uid("run"), messages: [{ id: "m1", role: "user", content: text }], tools: [], context: [], state: {}, forwardedProps: {} });
const post = (path, tenant, body = runBody()) =>
  bundle.fetch(path, { method: "POST", headers: { ...auth(tenant), "content-type": "application/json", accept: "text/event-stream" }, body });
const events = (text) =>
  text
    .split("\n\n")
    .map((frame) => frame.split("\n").find((l) => l.startsWith("data: ")))
    .filter(Boolean)
    .map((l) => JSON.parse(l.slice(6)));
/** `{delayMs}` before every chunk; `pauses[i]` replaces the delay before chunk i. */
const paced = (chunks, delayMs, pauses = {}) => chunks.flatMap((chunk, i) => [{ delayMs: pauses[i] ?? delayMs }, chunk]);
const say = (text, opts) => ({ chunks: textChunks(text, opts) });

/** The tenant's tokens and runs of the current period (0 when it has none yet). */
async function usage(tenant) {
  const { rows } = await db.query(
    "select coalesce(sum(llm_tokens), 0)::int as tokens, coalesce(sum(agent_runs), 0)::int as runs from usage_periods where tenant_id = $1 and period_start <= now() and now() < period_end",
    [tenant],
  );
  return rows[0];
}


async function audit(tenant, kind) {
  const { rows } = await db.query("select kind, name, status, prompt_tokens, completion_tokens from agent_audit where tenant_id = $1 and kind = $2 order by created_at", [tenant, kind]);
  return rows;
}

/** A Stripe customer of `tenant` with one subscription in `status`, period started `startedDaysAgo`. */
async function subscription(tenant, status, startedDaysAgo) {
  const customer = uid("cus");
  await db.query("insert into billing_customers (stripe_customer_id, tenant_id) values ($1, $2)", [customer, tenant]);
  await db.query(
    `insert into billing_subscriptions (stripe_subscription_id, stripe_customer_id, status, price_id, price_lookup_key, cancel_at_period_end,
       current_period_start, current_period_end, source_event_id, source_event_created)
     values ($1, $2, $3, 'price_pro', 'pro', false, now() - make_interval(days => $4), now() - make_interval(days => $4) + interval '30 days', $5, extract(epoch from now())::bigint)`,
    [uid("sub"), customer, status, startedDaysAgo, uid("evt")],
  );
}

test("the plain agent is admitted like the rate-limited one: its runs are counted and refused at the period quota", async () => {
  script = () => say("charged");
  const tenant = uid("t-plain");
  const first = await post("/agent/run", tenant);
  assert.equal(first.status, 200);
  assert.ok(first.headers.get("ratelimit-policy"), "the limiter's headers are on the plain agent too");
  await first.text();
  assert.equal((await usage(tenant)).runs, 1, "the run was charged to the period");
  // The free plan allows 200 runs a period: use them up.
  await db.query("update usage_periods set agent_runs = 200 where tenant_id = $1 and period_start <= now() and now() < period_end", [tenant]);
  const asked = llm.requests.length;
  const refused = await post("/agent/run", tenant);
  assert.equal(refused.status, 429);
  assert.match(refused.headers.get("content-type"), /application\/json/, "no stream opened");
  const body = await refused.json();
  assert.equal(body.error.code, "quota_exceeded");
  assert.equal(body.error.details.quota, "agentRuns");
  assert.equal(llm.requests.length, asked, "the model was not asked");
});

test("a client that aborts mid-stream still pays: the tokens streamed are charged and the run is audited as aborted", async () => {
  // A long answer, one piece every 100 ms, no usage reported (the stream never finishes).
  const pieces = textChunks("word ".repeat(200), { pieces: 100 }).slice(0, 60);
  script = () => ({ chunks: paced(pieces, 100) });
  const tenant = uid("t-abort");
  const controller = new AbortController();
  const res = await bundle.fetch("/agent/run", {
    method: "POST",
    headers: { ...auth(tenant), "content-type": "application/json", accept: "text/event-stream" },
    body: runBody(),
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let seen = "";
  while (!seen.includes("TEXT_MESSAGE_CONTENT")) {
    const { done, value } = await reader.read();
    assert.ok(!done, `the stream ended before any text: ${seen}`);
    seen += new TextDecoder().decode(value);
  }
  controller.abort();
  // The run goes on without its client for RUN_DETACHED_LIMIT_MS, then ends as abandoned;
  // its step's tokens (estimated: the provider reported none) go to the period.
  const charged = await until("the aborted run's tokens", async () => ((await usage(tenant)).tokens > 0 ? usage(tenant) : null), 15_000);
  assert.ok(charged.tokens > 10, `tokens charged: ${charged.tokens}`);
  const runs = await audit(tenant, "run");
  assert.equal(runs.length, 1);
  assert.equal(runs[0].status, "aborted");
  const steps = await audit(tenant, "llm");
  assert.equal(steps.at(-1).status, "aborted");
  assert.ok(steps.at(-1).completion_tokens > 0, "the streamed part is counted");
});

test("a model that stalls after its first chunk ends the run with RUN_ERROR llm_stalled, and what it streamed is charged", async () => {
  const chunks = textChunks("one two three four", { pieces: 4 });
  // The first chunk, then silence far longer than LLM_IDLE_TIMEOUT_MS.
  script = () => ({ chunks: [chunks[0], { delayMs: 20_000 }, ...chunks.slice(1)] });
  const tenant = uid("t-stall");
  const started = Date.now();
  const res = await post("/ratelimited-agent/run", tenant);
  assert.equal(res.status, 200);
  const all = events(await res.text());
  const elapsed = Date.now() - started;
  const last = all.at(-1);
  assert.equal(last.type, "RUN_ERROR");
  assert.equal(last.code, "llm_stalled");
  assert.ok(all.some((e) => e.type === "TEXT_MESSAGE_CONTENT"), "the first chunk was streamed");
  assert.ok(elapsed < 5_000, `ended by the idle timeout (${elapsed} ms), not by the model`);
  await until("the stalled run's tokens", async () => (await usage(tenant)).tokens > 0);
  assert.equal((await audit(tenant, "run"))[0]?.status, "error");
});

test("a run that outlasts RUN_DEADLINE_MS ends with RUN_ERROR run_deadline_exceeded", async () => {
  // A model that keeps talking, slowly (never idle long enough to stall).
  const pieces = textChunks("slow ".repeat(100), { pieces: 100 });
  script = () => ({ chunks: paced(pieces, 150) });
  const tenant = uid("t-deadline");
  const started = Date.now();
  const res = await post("/agent/run", tenant);
  const all = events(await res.text());
  const elapsed = Date.now() - started;
  assert.equal(all.at(-1).type, "RUN_ERROR");
  assert.equal(all.at(-1).code, "run_deadline_exceeded");
  assert.ok(elapsed >= DEADLINE_MS - 200 && elapsed < DEADLINE_MS + 3_000, `ended at the deadline: ${elapsed} ms`);
  await until("the cut run's audit row", async () => (await audit(tenant, "run")).length === 1);
  assert.equal((await audit(tenant, "run"))[0].status, "error");
});

test("billing that no longer pays stops runs with 402 payment_required; past due within its 7-day grace still runs", async () => {
  script = () => say("ok");
  for (const [status, daysAgo, expected] of [
    ["unpaid", 1, 402],
    ["canceled", 1, 402],
    ["past_due", 9, 402],
    ["past_due", 2, 200],
    ["active", 40, 200],
  ]) {
    const tenant = uid(`t-${status}`);
    await subscription(tenant, status, daysAgo);
    const asked = llm.requests.length;
    const res = await post("/agent/run", tenant);
    assert.equal(res.status, expected, `${status}, period started ${daysAgo} days ago`);
    if (expected === 402) {
      assert.match(res.headers.get("content-type"), /application\/json/, "no stream opened");
      const body = await res.json();
      assert.equal(body.error.code, "payment_required");
      assert.match(body.error.message, /update the payment method/);
      assert.equal(llm.requests.length, asked, "the model was not asked");
      assert.equal((await usage(tenant)).runs, 0, "nothing charged");
    } else {
      await res.text();
    }
  }
});

test("the plan's document quota holds on ingest: one more document → 429 quota_exceeded, a batch is all or nothing", async () => {
  const tenant = uid("t-docs");
  // 99 of the free plan's 100 documents, written directly.
  await db.query(
    `insert into kb_documents (tenant_id, title, content, content_type, content_sha256)
     select $1, 'seed ' || i, 'seed content ' || i, 'text', encode(sha256(convert_to($1 || i, 'UTF8')), 'hex') from generate_series(1, 99) as i`,
    [tenant],
  );
  const ingest = (path, body) =>
    bundle.fetch(path, { method: "POST", headers: { ...auth(tenant), "content-type": "application/json" }, body: JSON.stringify(body) });
  const doc = (n) => ({ title: `Doc ${n}`, content: `content number ${n} ${randomBytes(4).toString("hex")}`, contentType: "text" });
  const count = async () => Number((await db.query("select count(*) from kb_documents where tenant_id = $1", [tenant])).rows[0].count);

  const hundredthDoc = doc(100);
  const hundredth = await ingest("/kb/documents", hundredthDoc);
  assert.equal(hundredth.status, 201, "the 100th fits");
  const batch = await ingest("/kb/documents:batch", { documents: [doc(101), doc(102)] });
  assert.equal(batch.status, 429);
  const body = await batch.json();
  assert.equal(body.error.code, "quota_exceeded");
  assert.deepEqual(body.error.details, { quota: "kbDocuments", limit: 100 });
  assert.equal(await count(), 100, "the batch stored nothing");
  const one = await ingest("/kb/documents", doc(103));
  assert.equal(one.status, 429);
  await one.arrayBuffer();
  // Sending a stored document again adds nothing: still answered (unchanged), at the quota.
  const again = await ingest("/kb/documents", hundredthDoc);
  assert.equal(again.status, 200);
  assert.equal((await again.json()).change, "unchanged");
  assert.equal(await count(), 100);
});
