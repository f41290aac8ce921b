// The JS reference Worker of scripts/bench: the same work as two of our paths, written the way
// a user of the official libraries would write it, so the throughput table can put ours beside
// it (both run in the same workerd, against the same Redis REST server):
//
//   POST /run              a tenant token verified with `jose` (HS256, audience), the body read
//                          and checked as a run request, then `@upstash/ratelimit` (sliding
//                          window, 20 a minute per tenant, its default in-memory cache of
//                          blocked identifiers) over `@upstash/redis`: 429 `rate_limited` when
//                          over, else 200 (no run: only the refusal is compared);
//   POST /webhooks/stripe  `stripe`'s constructEventAsync with WebCrypto
//                          (Stripe.createSubtleCryptoProvider()), each configured secret tried in
//                          turn as ours does: 400 `signature_mismatch` when none verifies, else 200.
//
// Bundled into one ES module by tests/bench/js-reference/build.mjs (esbuild, from node_modules)
// at bench time; bindings: REDIS_REST_URL, REDIS_REST_TOKEN, AUTH_JWT_SECRET, AUTH_AUDIENCE,
// STRIPE_WEBHOOK_SECRETS (comma-separated).

import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis/cloudflare";
import { jwtVerify } from "jose";
import Stripe from "stripe";

const json = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const problem = (status, code, message, headers) => json(status, { error: { code, message } }, headers);

// Per isolate, built on first use (bindings only exist inside a request).
let state = null;
function init(env) {
  if (state) return state;
  const redis = new Redis({ url: env.REDIS_REST_URL, token: env.REDIS_REST_TOKEN });
  state = {
    ratelimit: new Ratelimit({ redis, limiter: Ratelimit.slidingWindow(20, "1 m"), prefix: "jsref" }),
    jwtKey: new TextEncoder().encode(env.AUTH_JWT_SECRET),
    stripe: new Stripe("sk_test_js_reference_not_a_real_key", { httpClient: Stripe.createFetchHttpClient() }),
    crypto: Stripe.createSubtleCryptoProvider(),
    secrets: env.STRIPE_WEBHOOK_SECRETS.split(",").map((s) => s.trim()).filter(Boolean),
  };
  return state;
}

async function run(request, env, ctx) {
  const s = init(env);
  const bearer = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
  if (!bearer) return problem(401, "unauthenticated", "a bearer token is required");
  let tenant;
  try {
    const { payload } = await jwtVerify(bearer, s.jwtKey, { algorithms: ["HS256"], audience: env.AUTH_AUDIENCE });
    tenant = payload.app_metadata?.tenant_id;
  } catch {
    return problem(401, "unauthenticated", "the token is not valid");
  }
  if (typeof tenant !== "string" || !tenant) return problem(403, "no_tenant", "the token names no tenant");
  let input;
  try {
    input = await request.json();
  } catch {
    return problem(400, "invalid_json", "the body is not JSON");
  }
  if (typeof input?.threadId !== "string" || typeof input?.runId !== "string" || !Array.isArray(input?.messages)) {
    return problem(422, "validation_failed", "threadId, runId and messages are required");
  }
  const { success, limit, remaining, reset, pending } = await s.ratelimit.limit(`tenant:${tenant}`);
  ctx.waitUntil(pending);
  const headers = { "ratelimit-limit": String(limit), "ratelimit-remaining": String(remaining) };
  if (!success) {
    const retryAfter = Math.max(1, Math.ceil((reset - Date.now()) / 1000));
    return problem(429, "rate_limited", "the tenant is over its limit", { ...headers, "retry-after": String(retryAfter) });
  }
  return json(200, { admitted: true }, headers);
}

async function stripeWebhook(request, env) {
  const s = init(env);
  const body = await request.text();
  const signature = request.headers.get("stripe-signature");
  if (!signature) return problem(400, "signature_missing", "Stripe-Signature header is required");
  for (const secret of s.secrets) {
    try {
      const event = await s.stripe.webhooks.constructEventAsync(body, signature, secret, undefined, s.crypto);
      return json(200, { received: true, type: event.type });
    } catch {
      // the next secret (rotation), then 400
    }
  }
  return problem(400, "signature_mismatch", "no configured secret verifies the signature");
}

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (request.method === "POST" && pathname === "/run") return run(request, env, ctx);
    if (request.method === "POST" && pathname === "/webhooks/stripe") return stripeWebhook(request, env);
    return problem(404, "not_found", "no such route");
  },
};
