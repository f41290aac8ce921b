// Observability end to end, the Wasm in workerd: one OTLP/HTTP metrics data point per request
// reaches a collector on loopback (the double for a metrics vendor: it records what it is sent
// and answers as a collector does), and the W3C trace context of the request goes out on the
// LLM and Redis requests it makes.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { startBundle, stackEnv, E2E_JWT_SECRET } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { unusedPort } from "../support/ports.mjs";
import { startLlmDouble, textChunks } from "../support/llm-double.mjs";
import { startRecorder, requestPoints } from "../support/http-recorder.mjs";

const OTLP_TOKEN = "e2e-otlp-collector-token";
const uid = (p) => `${p}-${randomBytes(5).toString("hex")}`;
const traceId = () => randomBytes(16).toString("hex");
const traceparent = (trace) => `00-${trace}-${randomBytes(8).toString("hex")}-01`;
let bundle, llm, collector, redisProxy, offListCollector;

before(async () => {
  // Each answer: three deltas 80 ms apart, so a whole stream takes well over its first byte.
  llm = await startLlmDouble(() => ({ chunks: textChunks("Observed answer.", { pieces: 3 }).flatMap((c) => [{ delayMs: 80 }, c]) }));
  collector = await startRecorder();
  redisProxy = await startRecorder({ forwardTo: stackEnv().redisRestUrl });
  // Reachable, but on a loopback address OUTBOUND_ALLOWLIST ("127.0.0.1 localhost") lacks.
  offListCollector = await startRecorder({ host: "127.0.0.2" });
  const otlp = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${OTLP_TOKEN}` };
  const deadCollector = `http://127.0.0.1:${await unusedPort()}`;
  bundle = await startBundle({
    overrides: {
      "ratelimited-agent": {
        bindings: {
          ...otlp,
          LLM_BASE_URLS: llm.url,
          LLM_MODEL: "scripted",
          REDIS_REST_URL: redisProxy.url,
          RATE_LIMIT_IP_PER_MINUTE: "100000",
          RATE_LIMIT_BURST: "1",
          RATE_LIMIT_BURST_REFILL_INTERVAL_MS: "3600000",
        },
      },
      "kb-ingest": { bindings: { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${collector.url}/custom/metrics` } },
      webhooks: { bindings: { OTEL_EXPORTER_OTLP_ENDPOINT: deadCollector } },
      agent: { bindings: { OTEL_EXPORTER_OTLP_ENDPOINT: offListCollector.url } },
    },
  });
});
after(async () => {
  await bundle?.dispose();
  await llm?.close();
  await collector?.close();
  await redisProxy?.close();
  await offListCollector?.close();
});

const pointsOf = (service) => requestPoints(collector.requests).filter((p) => p.resource["service.name"] === service);
async function pointFor(service, match, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = pointsOf(service).find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no data point of ${service} matched in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function runRequest(tenant, trace) {
  return bundle.fetch("/ratelimited-agent/run", {
    method: "POST",
    headers: {
      authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}`,
      "content-type": "application/json",
      accept: "text/event-stream",
      traceparent: traceparent(trace),
    },
    body: JSON.stringify({ threadId: uid("thread"), runId: uid("run"), messages: [{ id: "m1", role: "user", content: "Hi" }], tools: [], context: [], state: {}, forwardedProps: {} }),
  });
}

test("a plain request: one data point with function, route, status, tenant and the trace as exemplar", async () => {
  const tenant = uid("t");
  const trace = traceId();
  const res = await bundle.fetch("/kb/search?q=anything", {
    headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, tenant)}`, traceparent: traceparent(trace) },
  });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const point = await pointFor("kb-ingest", (p) => p.attributes["sba.tenant"] === tenant);
  assert.deepEqual(
    { route: point.attributes["http.route"], method: point.attributes["http.request.method"], status: point.attributes["http.response.status_code"] },
    { route: "/search", method: "GET", status: 200 },
  );
  assert.equal(point.unit, "s");
  assert.equal(point.temporality, 1, "DELTA: each export is this request alone");
  assert.ok(point.seconds > 0 && point.seconds < 30, `duration ${point.seconds}`);
  assert.equal(point.endNs - point.startNs, BigInt(Math.round(point.seconds * 1e9 / 1000) * 1000));
  assert.equal(point.exemplar.traceId, trace, "the exemplar links the point to the caller's trace");
  assert.equal(point.attributes["sba.limit.decision"], undefined, "kb-ingest has no limiter");
  const line = await bundle.waitForLog((l) => l.function === "kb-ingest" && l.tenant === tenant);
  await new Promise((r) => setTimeout(r, 300)); // a duplicate would have arrived by now
  assert.equal(pointsOf("kb-ingest").filter((p) => p.attributes["sba.tenant"] === tenant).length, 1, "exactly one point per request");
  assert.equal(line.firstByteMs, undefined, "a plain response has no separate first byte");
  assert.equal(bundle.logs.filter((l) => l.function === "kb-ingest" && l.tenant === tenant).length, 1, "exactly one log line per request");
  // The metrics-specific endpoint is used as given (no /v1/metrics appended).
  const exported = collector.requests.filter((r) => r.path === "/custom/metrics");
  assert.ok(exported.length >= 1);
  assert.equal(exported[0].headers["content-type"], "application/json");
});

test("an agent run reports at the end of its stream, with tokens, model time and the limiter's decision", async () => {
  const tenant = uid("t");
  const trace = traceId();
  const started = Date.now();
  const res = await runRequest(tenant, trace);
  assert.equal(res.status, 200);
  const firstByteMs = Date.now() - started;
  const body = await res.text();
  assert.match(body, /RUN_FINISHED/);

  const point = await pointFor("ratelimited-agent", (p) => p.attributes["sba.tenant"] === tenant);
  assert.equal(point.attributes["http.route"], "/run");
  assert.equal(point.attributes["http.response.status_code"], 200);
  assert.equal(point.attributes["sba.limit.decision"], "allowed");
  assert.ok(point.seconds >= 0.24, `the point covers the whole stream (3 × 80 ms of model), got ${point.seconds} s`);
  assert.ok(point.seconds * 1000 > firstByteMs, "longer than the time to the first byte");
  assert.deepEqual(point.tokens, { input: 10, output: 3 }, "the double's usage chunk: 10 prompt, 3 completion tokens");
  assert.match(point.resource["service.instance.id"], /^[0-9a-f]{16}$/, "one id per isolate");
  assert.ok(point.modelSeconds >= 0.24 && point.modelSeconds <= point.seconds, `model time ${point.modelSeconds}`);
  // The log line is written at the same moment, with the same facts.
  const line = await bundle.waitForLog((l) => l.function === "ratelimited-agent" && l.tenant === tenant && l.route === "/run");
  assert.equal(line.traceId, trace);
  assert.ok(line.firstByteMs < line.durationMs && line.durationMs >= 240, `first byte ${line.firstByteMs} ms, last ${line.durationMs} ms`);
  assert.deepEqual([line.limitDecision, line.inputTokens, line.outputTokens, line.status], ["allowed", 10, 3, 200]);
  // Exported with the configured headers to the standard path.
  const exportRequest = collector.requests.find((r) => r.body.includes(tenant));
  assert.equal(exportRequest.path, "/v1/metrics");
  assert.equal(exportRequest.headers.authorization, `Bearer ${OTLP_TOKEN}`);
});

test("the trace context goes out on the LLM and Redis requests of a run, naming our span as parent", async () => {
  const tenant = uid("t");
  const trace = traceId();
  const llmBefore = llm.headers.length;
  const redisBefore = redisProxy.requests.length;
  const res = await runRequest(tenant, trace);
  assert.equal(res.status, 200);
  const ourSpan = res.headers.get("traceresponse").split("-")[2];
  await res.text();

  const expected = `00-${trace}-${ourSpan}-01`;
  const llmHeaders = llm.headers.slice(llmBefore);
  assert.ok(llmHeaders.length >= 1);
  for (const h of llmHeaders) assert.equal(h.traceparent, expected, "LLM request");
  const redisRequests = redisProxy.requests.slice(redisBefore).filter((r) => r.headers.traceparent?.includes(trace));
  assert.ok(redisRequests.length >= 2, `limiter + run log requests carry it (${redisRequests.length})`);
  for (const r of redisRequests) assert.equal(r.headers.traceparent, expected, "Redis request");
  assert.equal(redisRequests[0].headers.authorization?.startsWith("Bearer "), true, "the token still goes, next to the trace");
});

test("a refused request: 429 with decision denied_cached; no error.type (a 4xx is not our error)", async () => {
  const tenant = uid("t");
  const first = await runRequest(tenant, traceId());
  assert.equal(first.status, 200);
  await first.text();
  const second = await runRequest(tenant, traceId());
  assert.equal(second.status, 429, "burst of 1");
  await second.arrayBuffer();
  const point = await pointFor("ratelimited-agent", (p) => p.attributes["sba.tenant"] === tenant && p.attributes["http.response.status_code"] === 429);
  // The first run left the burst bucket at 0, so the block cache refused without asking Redis.
  assert.equal(point.attributes["sba.limit.decision"], "denied_cached");
  assert.equal(point.attributes["error.type"], undefined);
  assert.deepEqual(point.tokens, {}, "no run, no token points");
});

test("a collector that is down or not allowed costs the client nothing and is logged", async () => {
  const res = await bundle.fetch("/webhooks/healthz");
  assert.equal(res.status, 200);
  const failed = await bundle.waitForLog((l) => l.event === "metrics_export_failed" && l.function === "webhooks");
  assert.match(failed.detail, /collector unreachable/);

  const refusedRes = await bundle.fetch("/agent/healthz");
  assert.equal(refusedRes.status, 200);
  const refused = await bundle.waitForLog((l) => l.event === "metrics_export_refused");
  assert.match(refused.detail, /127\.0\.0\.2 is not on OUTBOUND_ALLOWLIST/);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(offListCollector.requests.length, 0, "the refused collector was never called");
});
