// Secrets never appear in responses or logs: drive every function through its failure paths
// (bad tokens, bad signatures, unreachable dependencies, LLM errors) and search everything the
// runtime printed, and every response body, for each configured secret.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBundle, stackEnv, E2E_JWT_SECRET, E2E_WEBHOOK_SECRETS } from "../support/bundle.mjs";
import { tenantToken, hs256 } from "../support/jwt.mjs";
import { unusedPort } from "../support/ports.mjs";

const LLM_KEY = "sk-e2e-llm-key-must-never-leak-0123456789";
const OTLP_TOKEN = "otlp-collector-token-must-never-leak";
let bundle;
const bodies = [];

before(async () => {
  const dead = `http://127.0.0.1:${await unusedPort()}`;
  bundle = await startBundle({
    overrides: {
      agent: { bindings: { LLM_BASE_URLS: dead, LLM_API_KEY: LLM_KEY, LLM_FIRST_TOKEN_TIMEOUT_MS: "500" } },
      "kb-ingest": { bindings: { REDIS_REST_TOKEN: "wrong-redis-token-must-not-leak" } },
      // A metrics collector that is down: every export fails and is logged.
      webhooks: { bindings: { OTEL_EXPORTER_OTLP_ENDPOINT: dead, OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${OTLP_TOKEN}` } },
    },
  });
});
after(async () => {
  await bundle?.dispose();
});

async function hit(path, init) {
  const res = await bundle.fetch(path, init);
  bodies.push(`${res.status} ${[...res.headers].map((h) => h.join(": ")).join("\n")}\n${await res.text()}`);
}

test("failure paths leak no secret into responses or logs", async () => {
  const token = tenantToken(E2E_JWT_SECRET, "t-secrets");
  const forged = hs256({ sub: "x", exp: Math.floor(Date.now() / 1000) + 60, app_metadata: { tenant_id: "t" } }, "guess");
  await hit("/kb/search?q=x", { headers: { authorization: `Bearer ${forged}` } });
  await hit("/kb/readyz");
  await hit("/kb/documents", { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{bad" });
  await hit("/webhooks/stripe", { method: "POST", headers: { "stripe-signature": `t=${Math.floor(Date.now() / 1000)},v1=${"0".repeat(64)}` }, body: "{}" });
  await hit("/webhooks/basehub", { method: "POST", headers: { "x-basehub-webhook-signature": "0".repeat(64) }, body: "{}" });
  await hit("/agent/run", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ threadId: "th-s", runId: "run-secrets", messages: [{ id: "m", role: "user", content: "hi" }], tools: [], context: [] }),
  });
  await new Promise((r) => setTimeout(r, 300));

  const stack = stackEnv();
  const secrets = {
    E2E_JWT_SECRET,
    LLM_KEY,
    OTLP_TOKEN,
    REDIS_REST_TOKEN: stack.redisRestToken,
    WRONG_REDIS_TOKEN: "wrong-redis-token-must-not-leak",
    POSTGRES_PASSWORD: new URL(stack.postgresUrl).password,
    ...Object.fromEntries(
      Object.entries(E2E_WEBHOOK_SECRETS)
        .filter(([k]) => k !== "BASEHUB_TENANT_ID")
        .flatMap(([k, v]) => v.split(/[,\s]+/).filter(Boolean).map((s, i) => [`${k}_${i}`, s])),
    ),
  };
  // The part after "bshb_workflow_…:" is the BaseHub key itself.
  secrets.BASEHUB_KEY = E2E_WEBHOOK_SECRETS.BASEHUB_WEBHOOK_SECRET.split(":").slice(1).join(":");
  const output = bundle.rawOutput();
  assert.ok(output.includes("requestId"), "the runtime's log output was captured");
  assert.ok(output.includes("metrics_export_failed"), "the failing metrics exports were logged (and are searched too)");
  assert.ok(bodies.length >= 6);
  for (const [name, secret] of Object.entries(secrets)) {
    assert.ok(secret && secret.length >= 6, `${name} is a real secret`);
    assert.ok(!output.includes(secret), `${name} appears in the logs`);
    for (const body of bodies) assert.ok(!body.includes(secret), `${name} appears in a response: ${body.slice(0, 200)}`);
  }
});
