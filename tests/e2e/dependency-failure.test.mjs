// When a dependency is down, readiness says which one with a 503 + Retry-After, and the
// Worker (and the runtime around it) keeps serving: a connection that failed is cleaned up.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBundle, stackEnv, E2E_JWT_SECRET } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { unusedPort } from "../support/ports.mjs";

let bundle;
before(async () => {
  const dead = await unusedPort();
  // Postgres itself, not the stack's pooler: the refused login below must be Postgres' own
  // answer (SQLSTATE 28P01). PgBouncer 1.18 answers every login it refuses, wrong password or
  // unknown database alike, with 08P01 (protocol violation), which no client can tell from a
  // broken connection. Miniflare keys the Hyperdrive proxy by binding name (the first
  // function's host and port win), so every function gets the direct URL.
  const direct = stackEnv().postgresUrl;
  bundle = await startBundle({
    overrides: {
      "kb-ingest": {
        postgresUrl: `postgres://postgres:x@127.0.0.1:${dead}/sba`,
        bindings: { REDIS_REST_URL: `http://127.0.0.1:${dead}` },
      },
      webhooks: { postgresUrl: direct, bindings: { REDIS_REST_TOKEN: "wrong-token" } },
      agent: { postgresUrl: direct, bindings: { OUTBOUND_ALLOWLIST: "api.example.com", LLM_BASE_URLS: "http://127.0.0.1:9" } },
      "ratelimited-agent": { postgresUrl: direct },
    },
  });
});
after(async () => {
  await bundle?.dispose();
});

// Miniflare keys its Hyperdrive proxy by binding name, so a per-function override changes the
// credentials but not host and port: this Postgres failure is a refused login (the outage of
// an unreachable server is tests/e2e/kb-outage.test.mjs, through a TCP proxy).
test("Postgres refusing the login and Redis unreachable → 503 naming both, with Retry-After", async () => {
  const res = await bundle.fetch("/kb/readyz");
  assert.equal(res.status, 503);
  assert.ok(Number(res.headers.get("retry-after")) > 0);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  const body = await res.json();
  assert.equal(body.status, "unavailable");
  assert.equal(body.checks.postgres.ok, false);
  assert.match(body.checks.postgres.reason, /postgres/);
  assert.equal(body.checks.redis.ok, false);
  assert.match(body.checks.redis.reason, /redis/);
});

test("a data route whose database login is refused is a 500 (our configuration), not a retryable 503", async () => {
  const res = await bundle.fetch("/kb/search?q=anything", { headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, "t-login")}` } });
  const body = await res.json();
  assert.equal(res.status, 500, JSON.stringify(body));
  assert.equal(body.error.code, "store_misconfigured");
  assert.equal(res.headers.get("retry-after"), null, "retrying cannot fix a wrong password");
  assert.doesNotMatch(JSON.stringify(body), /password|28P01/, "the cause stays in the logs");
  const line = await bundle.waitForLog((l) => l.errorCode === "store_misconfigured");
  assert.match(line.detail, /login refused/);
});

test("a wrong Redis token is reported as a refused call, Postgres still fine", async () => {
  const res = await bundle.fetch("/webhooks/readyz");
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.checks.postgres.ok, true);
  assert.match(body.checks.redis.reason, /401/);
});

test("the runtime survives failed and successful connections in turn", async () => {
  for (let i = 0; i < 3; i++) {
    assert.equal((await bundle.fetch("/kb/readyz")).status, 503);
    assert.equal((await bundle.fetch("/ratelimited-agent/readyz")).status, 200);
  }
  assert.equal((await bundle.fetch("/kb/healthz")).status, 200);
});

test("an endpoint not on OUTBOUND_ALLOWLIST is never called: readiness and runs say why", async () => {
  const ready = await (await bundle.fetch("/agent/readyz")).json();
  assert.equal(ready.checks.redis.ok, false);
  assert.match(ready.checks.redis.reason, /OUTBOUND_ALLOWLIST/);
  const { tenantToken } = await import("../support/jwt.mjs");
  const { E2E_JWT_SECRET } = await import("../support/bundle.mjs");
  const res = await bundle.fetch("/agent/run", {
    method: "POST",
    headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, "t-outbound")}`, "content-type": "application/json" },
    body: JSON.stringify({ threadId: "th", runId: "run-outbound", messages: [], tools: [], context: [] }),
  });
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.error.code, "outbound_not_allowed");
  assert.match(body.error.message, /127\.0\.0\.1/);
});
