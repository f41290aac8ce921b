// Outbound requests never follow a redirect. Each client the Workers have (Redis REST, the
// LLM providers, the JWKS fetch, BaseHub's revalidate URL) is pointed at an allowlisted host
// that answers every request with `302 Location: <a host NOT on the allowlist>`. That host
// must never see a request (it would have received the bearer token, the prompt or the API
// key), the request we served fails the way an unreachable dependency fails, and a log line
// says which redirect was refused.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { randomBytes } from "node:crypto";
import { basehubSignature } from "../support/signers.mjs";
import { startBundle, E2E_JWT_SECRET } from "../support/bundle.mjs";
import { startRecorder } from "../support/http-recorder.mjs";
import { signingKey, signWith, tenantToken } from "../support/jwt.mjs";

const uid = (p) => `${p}-${randomBytes(5).toString("hex")}`;

let bundle;
let trap; // on 127.0.0.2: loopback, but not on the allowlist ("127.0.0.1 localhost")
let redirector;
const redirected = [];

before(async () => {
  trap = await startRecorder({ host: "127.0.0.2" });
  redirector = http.createServer((req, res) => {
    redirected.push(req.url);
    req.resume();
    res.writeHead(302, { location: `${trap.url}/stolen${req.url}?token=secret` });
    res.end();
  });
  await new Promise((r) => redirector.listen(0, "127.0.0.1", r));
  const to = (path) => `http://127.0.0.1:${redirector.address().port}${path}`;
  bundle = await startBundle({
    overrides: {
      agent: { bindings: { LLM_BASE_URLS: to("/llm/v1"), LLM_MODEL: "any", LLM_FIRST_TOKEN_TIMEOUT_MS: "3000" } },
      // A model it never reaches (runs are refused at admission), configured so that the
      // providers' check (before admission) passes and the run gets as far as Redis.
      "ratelimited-agent": { bindings: { REDIS_REST_URL: to("/redis"), LLM_BASE_URLS: "http://127.0.0.1:9" } },
      "kb-ingest": { bindings: { AUTH_JWKS_URL: to("/jwks.json") } },
      webhooks: { bindings: { BASEHUB_REVALIDATE_URL: to("/revalidate") } },
    },
  });
});

after(async () => {
  await bundle?.dispose();
  await trap?.close();
  await new Promise((r) => (redirector ? redirector.close(r) : r()));
});

const refusedLine = (path) => (l) => l.event === "outbound_redirect_refused" && l.detail?.includes("127.0.0.2") && l.detail?.includes("302");

function runBody() {
  return JSON.stringify({ threadId: uid("th"), runId: uid("run"), messages: [{ id: "m1", role: "user", content: "Hi" }], tools: [], context: [], state: {}, forwardedProps: {} });
}

test("an LLM provider that redirects is not followed: the run ends in RUN_ERROR and the prompt goes nowhere else", async () => {
  const res = await bundle.fetch("/agent/run", {
    method: "POST",
    headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, uid("t"))}`, "content-type": "application/json", accept: "text/event-stream" },
    body: runBody(),
  });
  const text = await res.text();
  const error = text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6))).find((e) => e.type === "RUN_ERROR");
  assert.ok(error, `a RUN_ERROR ends the run: ${text.slice(0, 300)}`);
  assert.equal(error.code, "llm_unavailable");
  assert.ok(redirected.some((u) => u.startsWith("/llm/v1/chat/completions")), "the provider was asked");
  await bundle.waitForLog(refusedLine());
  assert.equal(trap.requests.length, 0, "the redirect target never saw the prompt");
});

test("a Redis REST endpoint that redirects is not followed: the run is refused as an outage, the token goes nowhere else", async () => {
  const before = redirected.length;
  const res = await bundle.fetch("/ratelimited-agent/run", {
    method: "POST",
    headers: { authorization: `Bearer ${tenantToken(E2E_JWT_SECRET, uid("t"))}`, "content-type": "application/json", accept: "text/event-stream" },
    body: runBody(),
  });
  const body = await res.text();
  assert.ok(res.status === 503 || res.status === 429 || res.status === 200, `no 500: ${res.status} ${body.slice(0, 200)}`);
  assert.ok(redirected.slice(before).some((u) => u.startsWith("/redis")), "Redis was asked");
  await bundle.waitForLog(refusedLine());
  assert.equal(trap.requests.length, 0, "the redirect target never saw the Redis token");
});

test("a JWKS URL that redirects is not followed: RS256 tokens are refused with 503 and no key is fetched elsewhere", async () => {
  const key = signingKey("RS256", uid("kid"));
  const now = Math.floor(Date.now() / 1000);
  const token = signWith(key, { sub: "u", role: "authenticated", aud: "authenticated", iat: now, exp: now + 600, app_metadata: { tenant_id: uid("t") } });
  const res = await bundle.fetch("/kb/search?q=x", { headers: { authorization: `Bearer ${token}` } });
  const body = await res.json();
  assert.equal(res.status, 503, JSON.stringify(body));
  assert.equal(body.error.code, "auth_unavailable", JSON.stringify(body));
  assert.ok(redirected.includes("/jwks.json"));
  await bundle.waitForLog(refusedLine());
  assert.equal(trap.requests.length, 0, "the redirect target was never asked for keys");
});

test("a revalidate URL that redirects is not followed after a BaseHub delivery", async () => {
  const body = JSON.stringify({ timestamp: new Date().toISOString(), type: "block.updated", data: { blockId: uid("blk") } });
  const res = await bundle.fetch("/webhooks/basehub", {
    method: "POST",
    headers: { "content-type": "application/json", "x-basehub-webhook-signature": basehubSignature(body) },
    body,
  });
  assert.equal(res.status, 200, await res.text());
  const deadline = Date.now() + 5000;
  while (!redirected.includes("/revalidate") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(redirected.includes("/revalidate"), "the revalidate URL was called");
  await bundle.waitForLog(refusedLine());
  assert.equal(trap.requests.length, 0, "the redirect target never saw the revalidate call");
});
