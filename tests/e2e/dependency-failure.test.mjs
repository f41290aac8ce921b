// When a dependency is down, readiness says which one with a 503 + Retry-After, and the
// Worker (and the runtime around it) keeps serving: a connection that failed is cleaned up.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBundle } from "../support/bundle.mjs";
import { unusedPort } from "../support/ports.mjs";

let bundle;
before(async () => {
  const dead = await unusedPort();
  bundle = await startBundle({
    overrides: {
      "kb-ingest": {
        postgresUrl: `postgres://postgres:x@127.0.0.1:${dead}/sba`,
        bindings: { REDIS_REST_URL: `http://127.0.0.1:${dead}` },
      },
      webhooks: { bindings: { REDIS_REST_TOKEN: "wrong-token" } },
    },
  });
});
after(async () => {
  await bundle?.dispose();
});

test("Postgres and Redis unreachable → 503 naming both, with Retry-After", async () => {
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
    assert.equal((await bundle.fetch("/agent/readyz")).status, 200);
  }
  assert.equal((await bundle.fetch("/kb/healthz")).status, 200);
});
