// The target of scripts/schemathesis: the whole bundle (dev router + every function's Wasm) in
// workerd through Miniflare, wired to the local stack (SBA_* variables, as scripts/test sets
// them) and to a scripted OpenAI-compatible LLM double, so agent runs stream for real.
//
// Prints ONE line of JSON once ready — {"url", "token", "tenant", "stripeSecret",
// "basehubSecret"} — then serves until SIGTERM/SIGINT or until its stdin closes.
//   node tests/schemathesis/serve.mjs

import { randomBytes } from "node:crypto";
import { startBundle, E2E_JWT_SECRET, E2E_WEBHOOK_SECRETS } from "../support/bundle.mjs";
import { tenantToken } from "../support/jwt.mjs";
import { startLlmDouble, textChunks } from "../support/llm-double.mjs";

const llm = await startLlmDouble(() => ({ chunks: textChunks("Schemathesis was here.", { pieces: 3 }) }));
const llmBindings = { LLM_BASE_URLS: llm.url, LLM_MODEL: "scripted", LLM_FIRST_TOKEN_TIMEOUT_MS: "5000" };
const bundle = await startBundle({
  overrides: {
    agent: { bindings: llmBindings },
    // Generous IP and burst limits so that most generated runs get past admission; the
    // tenant's plan (free: per-minute window, period quota) still answers 429 eventually.
    "ratelimited-agent": { bindings: { ...llmBindings, RATE_LIMIT_IP_PER_MINUTE: "100000", RATE_LIMIT_BURST: "1000" } },
  },
});

const tenant = `schemathesis-${randomBytes(4).toString("hex")}`;
// Valid for an hour: longer than any bounded run.
const token = tenantToken(E2E_JWT_SECRET, tenant, { exp: Math.floor(Date.now() / 1000) + 3600 });
console.log(
  JSON.stringify({
    url: bundle.url,
    token,
    tenant,
    stripeSecret: E2E_WEBHOOK_SECRETS.STRIPE_WEBHOOK_SECRETS.split(",").at(-1).trim(),
    basehubSecret: E2E_WEBHOOK_SECRETS.BASEHUB_WEBHOOK_SECRET,
  }),
);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await bundle.dispose().catch(() => {});
  await llm.close().catch(() => {});
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
