// Smoke test through `wrangler dev`, exactly as a developer runs the bundle (scripts/dev):
// the top-level router config plus each function's wrangler.toml with local overrides applied
// (tools/dev-config, as scripts/dev writes them), secrets from the environment, Hyperdrive
// pointed at the local Postgres through its pooler.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { ROOT, FUNCTIONS, stackEnv, ensurePlayground } from "../support/bundle.mjs";
import { unusedPort } from "../support/ports.mjs";
import { hs256, tenantToken } from "../support/jwt.mjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { writeDevConfigs } from "../../tools/dev-config/write.mjs";
import { startLlmDouble, textChunks } from "../support/llm-double.mjs";

let wrangler;
let origin;
let output = "";
let configDir;
let llm;
const SECRETS = {
  REDIS_REST_URL: stackEnv().redisRestUrl,
  REDIS_REST_TOKEN: stackEnv().redisRestToken,
  AUTH_JWT_SECRET: "e2e-wrangler-dev-secret",
  STRIPE_WEBHOOK_SECRETS: "whsec_smoke",
  BASEHUB_WEBHOOK_SECRET: "bshb_workflow_smoke:smoke",
  BASEHUB_SVIX_SECRET: "whsec_c21va2U=",
  // Set in before(): the LLM double, whose key is an optional secret named by `key=`.
  LLM_BASE_URLS: "",
  E2E_LLM_KEY: "sk-wrangler-dev-e2e",
};
// A local override of one function's var, as a developer writes it in .dev.overrides.
// The agent's IP window is shared with every earlier suite's requests from 127.0.0.1 in the same
// minute (one Redis): out of the way, as the other agent suites do.
const OVERRIDES = "agent.AUTH_AUDIENCE=wrangler-dev-audience\nagent.RATE_LIMIT_IP_PER_MINUTE=100000\n";

before(async () => {
  const stack = stackEnv();
  const port = await unusedPort();
  const inspectorPort = await unusedPort();
  origin = `http://127.0.0.1:${port}`;
  llm = await startLlmDouble(() => ({ chunks: textChunks("Hello from the double.") }));
  SECRETS.LLM_BASE_URLS = `${llm.url}|key=E2E_LLM_KEY`;
  // What scripts/dev does before starting wrangler: each function's config with the overrides
  // (tools/dev-config); the secrets come from the environment below.
  configDir = mkdtempSync(path.join(tmpdir(), "sba-dev-config-"));
  const functionConfigs = writeDevConfigs({ root: ROOT, out: configDir, functions: FUNCTIONS, overridesText: OVERRIDES, env: { ...process.env, ...SECRETS } });
  // The router imports the built playground (scripts/dev runs tools/playground/build.mjs).
  await ensurePlayground();
  const configs = ["wrangler.toml", ...functionConfigs].flatMap((c) => ["-c", c]);
  wrangler = spawn(
    process.execPath,
    [
      path.join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "dev",
      ...configs,
      "--ip", "127.0.0.1",
      "--port", String(port),
      "--inspector-port", String(inspectorPort),
      "--show-interactive-dev-session=false",
      // As scripts/dev: the router's dev tools for the playground.
      "--var", "SBA_DEV_TOOLS:1",
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ...SECRETS,
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        // The pooler, as scripts/dev does (Hyperdrive pools in production).
        CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_DB: stack.postgresPooledUrl,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  wrangler.stdout.on("data", (d) => (output += d));
  wrangler.stderr.on("data", (d) => (output += d));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (wrangler.exitCode !== null) throw new Error(`wrangler dev exited early:\n${output}`);
    try {
      const res = await fetch(`${origin}/kb/healthz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`wrangler dev not ready in 120 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

after(async () => {
  if (configDir) rmSync(configDir, { recursive: true, force: true });
  await llm?.close();
  if (!wrangler || wrangler.exitCode !== null) return;
  const exited = new Promise((r) => wrangler.once("exit", r));
  wrangler.kill("SIGINT");
  const timer = setTimeout(() => wrangler.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
});

test("wrangler dev serves every function on one origin", async () => {
  const mounts = { agent: "/agent", "ratelimited-agent": "/ratelimited-agent", "kb-ingest": "/kb", webhooks: "/webhooks" };
  for (const [name, mount] of Object.entries(mounts)) {
    const res = await fetch(`${origin}${mount}/healthz`);
    assert.equal(res.status, 200, name);
    assert.equal((await res.json()).function, name);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  }
});

test("wrangler dev: a function reaches Postgres and Redis with the environment's secrets", async () => {
  const res = await fetch(`${origin}/kb/readyz`);
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.checks.postgres.ok, true);
  assert.equal(body.checks.redis.ok, true);
});

test("wrangler dev: a var overridden for one function applies, and its secrets still do", async () => {
  const now = Math.floor(Date.now() / 1000);
  const token = (aud) => hs256({ sub: "u", role: "authenticated", aud, iat: now, exp: now + 600, app_metadata: { tenant_id: "t-overrides" } }, SECRETS.AUTH_JWT_SECRET);
  const events = (aud) => fetch(`${origin}/agent/runs/none/events`, { headers: { authorization: `Bearer ${token(aud)}` } });
  const overridden = await events("wrangler-dev-audience");
  assert.equal(overridden.status, 404, `accepted (the run does not exist): ${await overridden.text()}`);
  const stock = await events("authenticated");
  assert.equal(stock.status, 401, "the function's own AUTH_AUDIENCE was replaced");
  // Another function keeps the stock value.
  const kb = await fetch(`${origin}/kb/search?q=hours`, { headers: { authorization: `Bearer ${token("authenticated")}` } });
  assert.equal(kb.status, 200, await kb.text());
});

test("wrangler dev: an optional secret set in the environment (a provider's key=) reaches the Worker", async () => {
  const now = Math.floor(Date.now() / 1000);
  const token = hs256({ sub: "u", role: "authenticated", aud: "wrangler-dev-audience", iat: now, exp: now + 600, app_metadata: { tenant_id: `t-key-${now}` } }, SECRETS.AUTH_JWT_SECRET);
  const res = await fetch(`${origin}/agent/run`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ threadId: `th-${now}`, runId: `run-key-${now}`, messages: [{ id: "m", role: "user", content: "Hi" }], tools: [], context: [] }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get("ratelimit-policy") ?? "", /"ip";q=100000;/, "the IP window of .dev.overrides applies");
  const text = [...(await res.text()).matchAll(/"type":"TEXT_MESSAGE_CONTENT".*"delta":"([^"]*)"/g)].map((m) => m[1]).join("");
  assert.equal(text, "Hello from the double.");
  assert.equal(llm.headers.at(-1).authorization, `Bearer ${SECRETS.E2E_LLM_KEY}`);
});

test("wrangler dev: unknown paths get JSON 404s from the router and from a function", async () => {
  for (const p of ["/nowhere", "/webhooks/nowhere"]) {
    const res = await fetch(`${origin}${p}`);
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.code, "not_found");
  }
});

test("wrangler dev: the router serves the playground under its CSP, and its dev tools work", async () => {
  const page = await fetch(`${origin}/`);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(page.headers.get("content-security-policy"), /^default-src 'none'; script-src 'self';/);
  assert.match(await page.text(), /<script type="module" src="\/app.js"><\/script>/);
  const script = await fetch(`${origin}/app.js`);
  assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.ok((await script.text()).length > 10_000, "the bundled app, served as text (wrangler.toml [[rules]])");
  const tenant = `t-playground-${Date.now()}`;
  const { token } = await (await fetch(`${origin}/dev/token?tenant=${tenant}`)).json();
  const search = await fetch(`${origin}/kb/search?q=hours`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(search.status, 200, "a dev token is a tenant token the functions accept");
  const billing = await fetch(`${origin}/dev/stripe-event`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ tenant, plan: "pro" }) });
  const receipt = await billing.json();
  assert.equal(billing.status, 200, JSON.stringify(receipt));
  assert.deepEqual(receipt.deliveries.map((d) => [d.type, d.status, d.body.outcome]), [
    ["checkout.session.completed", 200, "applied"],
    ["customer.subscription.created", 200, "applied"],
  ]);
});

test("wrangler dev survives repeated database round trips (the connection-close trap)", async () => {
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${origin}/webhooks/readyz`);
    assert.equal(res.status, 200);
  }
  assert.equal(wrangler.exitCode, null, "wrangler dev must still be running");
});

test("wrangler dev: a burst of 500 runs for one tenant is answered in full, no uncaught error", { timeout: 120_000 }, async () => {
  const token = tenantToken("e2e-wrangler-dev-secret", `t-burst-${Date.now()}`);
  const body = (i) => JSON.stringify({ threadId: `th-${i}`, runId: `run-${Date.now()}-${i}`, messages: [{ id: "m", role: "user", content: "Hi" }], tools: [], context: [], state: {}, forwardedProps: {} });
  const started = Date.now();
  const statuses = await Promise.all(
    Array.from({ length: 500 }, async (_, i) => {
      try {
        const res = await fetch(`${origin}/ratelimited-agent/run`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body(i) });
        await res.text();
        return res.status;
      } catch (e) {
        return `reject ${e.cause?.code ?? e.message}`;
      }
    }),
  );
  const counts = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  // The default burst bucket (10, one token back a second) and the IP window of 20 a minute
  // (shared with every other suite calling from this address) bind: at most 10 admitted plus
  // what the bucket refilled while the burst lasted, never more than 20 (their runs end in
  // RUN_ERROR: the model here is unreachable), every other one a 429.
  const refilled = Math.ceil((Date.now() - started) / 1000);
  assert.ok((counts[200] ?? 0) <= Math.min(10 + refilled, 20), `${JSON.stringify(counts)} in ${Date.now() - started} ms`);
  assert.equal((counts[200] ?? 0) + (counts[429] ?? 0), 500, JSON.stringify(counts));
  assert.equal(wrangler.exitCode, null, "wrangler dev must still be running");
  assert.doesNotMatch(output, /Uncaught|panicked/, "no uncaught error in the runtime's output");
});
