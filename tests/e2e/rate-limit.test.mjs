// The rate limiter inside workerd (fixture Worker route /limited: tenant + IP sliding
// windows), against the local Redis REST server, with the official @upstash/ratelimit 2.2.0
// sharing the same keys: each sees the other's consumption.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Redis } from "@upstash/redis";
import { Ratelimit } from "@upstash/ratelimit";
import { startWorker, stackEnv } from "../support/bundle.mjs";
import { hs256 } from "../support/jwt.mjs";
import { unusedPort } from "../support/ports.mjs";
import { awayFromMinuteEdge } from "../support/wait.mjs";

const SECRET = "e2e-ratelimit-secret-0123456789abcdef";
const stack = stackEnv();
const workers = [];

async function fixture(bindings) {
  const worker = await startWorker("tests/fixture-worker", {
    AUTH_JWT_SECRET: SECRET,
    REDIS_REST_URL: stack.redisRestUrl,
    REDIS_REST_TOKEN: stack.redisRestToken,
    RATE_LIMIT_IP_PER_MINUTE: "100000",
    ...bindings,
  });
  workers.push(worker);
  return worker;
}

const freshTenant = () => `t-${randomBytes(6).toString("hex")}`;
const tokenFor = (tenant) =>
  hs256({ sub: "u", exp: Math.floor(Date.now() / 1000) + 600, app_metadata: { tenant_id: tenant } }, SECRET);
const hit = (worker, tenant) => worker.fetch("/limited", { headers: { authorization: `Bearer ${tokenFor(tenant)}` } });

let five;
before(async () => {
  five = await fixture({ RATE_LIMIT_TENANT_PER_MINUTE: "5" });
});
after(async () => {
  for (const w of workers) await w.dispose();
});

test("within the limit: 200 with RateLimit headers; over it: 429 with Retry-After", async () => {
  await awayFromMinuteEdge(5_000); // the counts below assume one window
  const tenant = freshTenant();
  for (let i = 1; i <= 5; i++) {
    const res = await hit(five, tenant);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-ratelimit-limit"), "5");
    assert.equal(res.headers.get("x-ratelimit-remaining"), String(5 - i));
    assert.match(res.headers.get("ratelimit-policy"), /"tenant";q=5;w=60/);
    assert.match(res.headers.get("ratelimit"), /"tenant";r=\d+;t=\d+/);
    assert.match(res.headers.get("server-timing"), /limit;dur=\d/);
  }
  const res = await hit(five, tenant);
  assert.equal(res.status, 429);
  const retryAfter = Number(res.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  assert.equal(res.headers.get("x-ratelimit-remaining"), "0");
  const body = await res.json();
  assert.equal(body.error.code, "rate_limited");
  assert.equal(body.error.details.policy, "tenant");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
});

test("limits are per tenant", async () => {
  await awayFromMinuteEdge(5_000);
  const [a, b] = [freshTenant(), freshTenant()];
  for (let i = 0; i < 5; i++) assert.equal((await hit(five, a)).status, 200);
  assert.equal((await hit(five, a)).status, 429);
  assert.equal((await hit(five, b)).status, 200);
});

test("the official @upstash/ratelimit and the Worker share one budget", async () => {
  const redis = new Redis({ url: stack.redisRestUrl, token: stack.redisRestToken, enableTelemetry: false });
  const official = new Ratelimit({ redis, limiter: Ratelimit.slidingWindow(5, "60 s"), ephemeralCache: false });
  await awayFromMinuteEdge(5_000);
  const tenant = freshTenant();
  const first = await official.limit(`tenant:${tenant}`);
  const second = await official.limit(`tenant:${tenant}`);
  assert.equal(second.remaining, 3);
  assert.ok(first.success && second.success);
  const ours = await hit(five, tenant);
  assert.equal(ours.status, 200);
  assert.equal(ours.headers.get("x-ratelimit-remaining"), "2", "the Worker saw the official client's two requests");
  const third = await official.limit(`tenant:${tenant}`);
  assert.equal(third.remaining, 1, "the official client saw the Worker's request");
});

test("60 concurrent requests against a limit of 20 → exactly 20 admitted", async () => {
  const twenty = await fixture({ RATE_LIMIT_TENANT_PER_MINUTE: "20" });
  await awayFromMinuteEdge(5_000);
  const tenant = freshTenant();
  const statuses = await Promise.all(Array.from({ length: 60 }, () => hit(twenty, tenant).then((r) => r.status)));
  assert.equal(statuses.filter((s) => s === 200).length, 20);
  assert.equal(statuses.filter((s) => s === 429).length, 40);
});

test("Redis unreachable: fail-closed answers 503; by default the isolate decides, bounded by the limit", async () => {
  const dead = `http://127.0.0.1:${await unusedPort()}`;
  const closed = await fixture({ REDIS_REST_URL: dead, RATE_LIMIT_ON_REDIS_FAILURE: "closed" });
  const res = await hit(closed, freshTenant());
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.error.code, "rate_limiter_unavailable");
  assert.match(body.error.details.reason, /redisError|timeout/);
  // The default (and the older "open") decide from the isolate's own counts: the limit of 5,
  // then 429s — never "everything through".
  for (const setting of [undefined, "open"]) {
    const local = await fixture({ REDIS_REST_URL: dead, RATE_LIMIT_TENANT_PER_MINUTE: "5", ...(setting ? { RATE_LIMIT_ON_REDIS_FAILURE: setting } : {}) });
    const tenant = freshTenant();
    const statuses = await Promise.all(Array.from({ length: 12 }, () => hit(local, tenant).then((r) => r.status)));
    assert.deepEqual([statuses.filter((s) => s === 200).length, statuses.filter((s) => s === 429).length], [5, 7], `${setting}: ${statuses}`);
    const refused = await hit(local, tenant);
    assert.equal(refused.status, 429);
    assert.equal((await refused.json()).error.details.policy, "tenant");
  }
});
