// Postgres sessions per agent run, counted at a TCP proxy between the Workers' Hyperdrive
// binding and the pooler. A tenant's first run after the plan cache's minute needs its plan
// from Postgres as well as its charge: the session that loads the plan charges the run too,
// so that run opens no more sessions than any later one (each is a login: a SCRAM exchange
// in the isolate, and round trips to a far database).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { startBundle, stackEnv, FUNCTIONS, E2E_JWT_SECRET } from "../support/bundle.mjs";
import { startLlmDouble, textChunks } from "../support/llm-double.mjs";
import { tcpProxy, withTcpNoDelay } from "../support/tcp-proxy.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { sleep, until } from "../support/wait.mjs";

const uid = (p) => `${p}-${randomBytes(5).toString("hex")}`;
let proxy;
let bundle;
let llm;
let db;

before(async () => {
  const { postgresPooledUrl, postgresUrl } = stackEnv();
  const target = new URL(postgresPooledUrl);
  proxy = await tcpProxy({ host: target.hostname, port: Number(target.port) });
  llm = await startLlmDouble(() => ({ chunks: textChunks("All good.") }));
  // Every function through the proxy (Miniflare keeps the first Worker's Hyperdrive host).
  const through = { postgresUrl: proxy.url(postgresPooledUrl) };
  const overrides = Object.fromEntries(FUNCTIONS.map((name) => [name, through]));
  overrides.agent = { ...through, bindings: { LLM_BASE_URLS: llm.url, LLM_MODEL: "scripted" } };
  bundle = await withTcpNoDelay(() => startBundle({ overrides }));
  db = new pg.Client({ connectionString: postgresUrl });
  await db.connect();
});
after(async () => {
  await bundle?.dispose();
  await proxy?.close();
  await llm?.close();
  await db?.end();
});

/** One run to its end and its audit row; the sessions the proxy saw meanwhile. */
async function sessionsOfOneRun(tenant) {
  const before = proxy.stats.accepted;
  const runId = uid("run");
  const res = await bundle.fetch("/agent/run", {
    method: "POST",
    headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}`, "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ threadId: uid("th"), runId, messages: [{ id: "m", role: "user", content: "Is everything fine?" }], tools: [], context: [], state: {}, forwardedProps: {} }),
  });
  assert.equal(res.status, 200);
  assert.match(await res.text(), /RUN_FINISHED/);
  // The audit and the tokens are written after the response (waitUntil): wait for the row,
  // then for the proxy to see no new session for a while.
  await until("the run's audit row", async () => (await db.query("select 1 from agent_audit where run_id = $1 and kind = 'run'", [runId])).rowCount === 1);
  let seen = proxy.stats.accepted;
  for (;;) {
    await sleep(500);
    if (proxy.stats.accepted === seen) break;
    seen = proxy.stats.accepted;
  }
  return seen - before;
}

test("a tenant's first run (plan loaded from Postgres) opens no more Postgres sessions than its later runs", async () => {
  const tenant = uid("t-sessions");
  const first = await sessionsOfOneRun(tenant);
  const later = await sessionsOfOneRun(tenant);
  // Later runs: the charge, the knowledge-base search that grounds the answer, the audit.
  assert.ok(later >= 2, `a later run opened ${later} sessions`);
  assert.equal(first, later, `first run ${first} sessions, a later one ${later}: the plan's load shares the charge's session`);
});
