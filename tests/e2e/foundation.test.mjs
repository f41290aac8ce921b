// The foundation, end to end: every function's Wasm answers from workerd behind the one-origin
// router, with the security headers, a request id, trace propagation, JSON errors and a JSON
// log line; and a Worker reaches Postgres (Hyperdrive) and Redis (REST) from inside workerd.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBundle } from "../support/bundle.mjs";

const MOUNTS = {
  agent: "/agent",
  "ratelimited-agent": "/ratelimited-agent",
  "kb-ingest": "/kb",
  webhooks: "/webhooks",
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let bundle;
before(async () => {
  bundle = await startBundle();
});
after(async () => {
  await bundle?.dispose();
});

function assertSecurityHeaders(res) {
  assert.equal(res.headers.get("content-security-policy"), "default-src 'none'; frame-ancestors 'none'");
  assert.match(res.headers.get("strict-transport-security") ?? "", /^max-age=\d{8,}/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
}

function assertErrorShape(body, code, requestId) {
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, "string");
  assert.ok(body.error.message.length > 0);
  assert.equal(body.error.requestId, requestId);
}

for (const [name, mount] of Object.entries(MOUNTS)) {
  test(`${name}: GET ${mount}/healthz answers from workerd with headers and request id, and no log line`, async () => {
    const res = await bundle.fetch(`${mount}/healthz`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^application\/json/);
    assertSecurityHeaders(res);
    const requestId = res.headers.get("x-request-id");
    assert.match(requestId, UUID);
    assert.match(res.headers.get("server-timing"), /(^|, )total;dur=\d+(\.\d+)?$/);
    const body = await res.json();
    assert.equal(body.function, name);
    assert.equal(body.status, "ok");
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.ok(body.buildId && body.buildId.length >= 3, "build id present");

    // A successful probe writes no log line (probes come every few seconds per location);
    // the request after it does, so once that line is in, the probe's would have been too.
    const after = `after-probe-${name}-${Date.now()}`;
    await (await bundle.fetch(`${mount}/no/such/route`, { headers: { "x-request-id": after } })).arrayBuffer();
    const line = await bundle.waitForLog((l) => l.requestId === after);
    assert.equal(line.function, name);
    assert.equal(line.method, "GET");
    assert.equal(typeof line.durationMs, "number");
    assert.match(line.traceId, /^[0-9a-f]{32}$/);
    assert.ok(!Number.isNaN(Date.parse(line.ts)));
    assert.equal(bundle.logs.filter((l) => l.requestId === requestId).length, 0, "no log line for a successful probe");
  });

  test(`${name}: unknown route → JSON 404 with the error shape and security headers`, async () => {
    const res = await bundle.fetch(`${mount}/no/such/route`, { headers: { "x-request-id": `probe-${name}` } });
    assert.equal(res.status, 404);
    assertSecurityHeaders(res);
    assert.equal(res.headers.get("x-request-id"), `probe-${name}`);
    assertErrorShape(await res.json(), "not_found", `probe-${name}`);
    const line = await bundle.waitForLog((l) => l.requestId === `probe-${name}`);
    assert.equal(line.status, 404);
    assert.equal(line.route, "unmatched");
    assert.equal(line.errorCode, "not_found");
  });

  test(`${name}: readyz reaches Postgres over Hyperdrive and Redis over REST from inside workerd`, async () => {
    const res = await bundle.fetch(`${mount}/readyz`);
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.status, "ready");
    assert.equal(body.checks.postgres.ok, true);
    assert.match(body.checks.postgres.detail.serverVersion, /^\d+/);
    assert.deepEqual(body.checks.redis, { ok: true, detail: "PONG" });
  });
}

test("the same function answers without its mount prefix (deployed on its own hostname)", async () => {
  // Through the router only prefixed paths reach a function, so call the prefix twice:
  // /kb/healthz is stripped to /healthz, /kb/kb/healthz to /kb/healthz which is a 404.
  assert.equal((await bundle.fetch("/kb/healthz")).status, 200);
  assert.equal((await bundle.fetch("/kb/kb/healthz")).status, 404);
});

test("an incoming traceparent is continued: same trace id, a new span, logged", async () => {
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  // A logged request (a successful probe writes no log line).
  const res = await bundle.fetch("/webhooks/no-such-route", {
    headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, "x-request-id": "trace-probe" },
  });
  assert.equal(res.status, 404);
  await res.arrayBuffer();
  const [version, tid, span, flags] = res.headers.get("traceresponse").split("-");
  assert.equal(version, "00");
  assert.equal(tid, traceId);
  assert.notEqual(span, "00f067aa0ba902b7");
  assert.equal(flags, "01");
  const line = await bundle.waitForLog((l) => l.requestId === "trace-probe");
  assert.equal(line.traceId, traceId);
  assert.equal(line.spanId, span);
});

test("a malformed traceparent starts a new trace and an unsafe request id is replaced", async () => {
  const res = await bundle.fetch("/agent/healthz", {
    headers: { traceparent: "00-zzzz-00f067aa0ba902b7-01", "x-request-id": "bad id with spaces" },
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("x-request-id"), UUID);
  assert.match(res.headers.get("traceresponse"), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.doesNotMatch(res.headers.get("traceresponse"), /zzzz/);
});

test("a known path with the wrong method → 405 with Allow", async () => {
  const res = await bundle.fetch("/kb/healthz", { method: "POST", body: "{}" });
  assert.equal(res.status, 405);
  assertSecurityHeaders(res);
  assert.equal(res.headers.get("allow"), "GET, HEAD");
  const body = await res.json();
  assert.equal(body.error.code, "method_not_allowed");
});

test("a path no function is mounted at → JSON 404 from the router", async () => {
  const res = await bundle.fetch("/nowhere");
  assert.equal(res.status, 404);
  assertSecurityHeaders(res);
  const body = await res.json();
  assert.equal(body.error.code, "not_found");
  assert.equal(body.error.requestId, res.headers.get("x-request-id"));
});

test("/agent/limited/* reaches the rate-limited agent", async () => {
  const res = await bundle.fetch("/agent/limited/healthz");
  assert.equal(res.status, 200);
  assert.equal((await res.json()).function, "ratelimited-agent");
});
