// Development-only front door: serves every sba-edge function on ONE local origin by
// forwarding each path prefix to that function's Worker over a service binding. In
// production the same split is done by Workers routes on the zone (example.com/kb/* →
// sba-kb-ingest, …), so this file is never deployed and the paths it forwards are unchanged.
// It also serves the OpenAPI document of the whole origin at GET /openapi.json, and the
// playground (tools/playground, README "Playground") at GET / with the dev-only helpers it
// calls: GET /dev/token and POST /dev/stripe-event.
//
// NEVER DEPLOYED. /dev/token mints a tenant token for any tenant and /dev/stripe-event signs
// Stripe events with the webhook secret: both exist only for a local origin, and answer 404
// unless the binding SBA_DEV_TOOLS is "1" (scripts/dev passes `--var SBA_DEV_TOOLS:1`, the
// test bundle binds it). Nothing of this file may be copied into a deployed Worker.

// wrangler (esbuild) turns a .json import into the parsed object; Miniflare, as
// tests/support/bundle.mjs configures it, loads it as a Text module (a string). Both work.
import openapiSource from "../../openapi/openapi.json";
// The playground as `node tools/playground/build.mjs` writes it (scripts/dev and the test
// bundle run it first), imported as Text modules: a `[[rules]]` entry of the top-level
// wrangler.toml for wrangler, a modulesRules entry of tests/support/bundle.mjs for Miniflare.
import PLAYGROUND_HTML from "../../target/playground/index.html";
import PLAYGROUND_CSS from "../../target/playground/app.css";
import PLAYGROUND_JS from "../../target/playground/app.js";

const OPENAPI_BODY = typeof openapiSource === "string" ? openapiSource : JSON.stringify(openapiSource);

const ROUTES = [
  ["/ratelimited-agent", "RATELIMITED_AGENT"],
  ["/agent/limited", "RATELIMITED_AGENT"],
  ["/agent", "AGENT"],
  ["/kb", "KB_INGEST"],
  ["/webhooks", "WEBHOOKS"],
];

// The same set as shared/http/src/security.rs puts on every function's responses.
const SECURITY_HEADERS = {
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
  "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Resource-Policy": "same-origin",
};

// The playground's page: its own script and stylesheet only, no inline code, no other host.
const PLAYGROUND_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PLAYGROUND = {
  "/": [PLAYGROUND_HTML, "text/html; charset=utf-8"],
  "/index.html": [PLAYGROUND_HTML, "text/html; charset=utf-8"],
  "/app.css": [PLAYGROUND_CSS, "text/css; charset=utf-8"],
  "/app.js": [PLAYGROUND_JS, "text/javascript; charset=utf-8"],
};

// As shared/observe: an incoming X-Request-Id is echoed only when short and made of safe
// characters; anything else gets a fresh UUID.
function requestIdOf(request) {
  const incoming = request.headers.get("x-request-id")?.trim();
  return incoming && /^[A-Za-z0-9._:/+=-]{1,128}$/.test(incoming) ? incoming : crypto.randomUUID();
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const randomHex = (n) => hex(crypto.getRandomValues(new Uint8Array(n)));

// As shared/observe: W3C Trace Context Level 2 `traceresponse` naming this span, in the
// caller's trace when its `traceparent` is valid, else in a new one.
function traceresponseOf(request) {
  const parent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(request.headers.get("traceparent")?.trim() ?? "");
  const valid = parent && !/^0+$/.test(parent[1]) && !/^0+$/.test(parent[2]);
  return `00-${valid ? parent[1] : randomHex(16)}-${randomHex(8)}-${valid ? parent[3] : "01"}`;
}

/** The router's own answers carry what every function's do: request id, traceresponse, security headers. */
function jsonResponse(request, status, body, extraHeaders = {}) {
  const requestId = requestIdOf(request);
  const text = typeof body === "function" ? body(requestId) : body;
  return new Response(request.method === "HEAD" ? null : text, {
    status,
    headers: {
      "Content-Type": "application/json",
      "X-Request-Id": requestId,
      traceresponse: traceresponseOf(request),
      ...SECURITY_HEADERS,
      ...extraHeaders,
    },
  });
}

function errorResponse(request, status, code, message, extraHeaders = {}) {
  return jsonResponse(request, status, (requestId) => JSON.stringify({ error: { code, message, requestId } }), extraHeaders);
}

function openapi(request) {
  if (request.method === "GET" || request.method === "HEAD") return jsonResponse(request, 200, OPENAPI_BODY, { "Cache-Control": "no-cache" });
  return methodNotAllowed(request, "GET, HEAD");
}

function methodNotAllowed(request, allow) {
  return errorResponse(request, 405, "method_not_allowed", `method not allowed; use ${allow}`, { Allow: allow });
}

function notMounted(request, pathname) {
  const mounts = ROUTES.map(([p]) => p + "/healthz").join(", ");
  return errorResponse(request, 404, "not_found", `no function is mounted at ${pathname}; try ${mounts} or /openapi.json`);
}

function playgroundAsset(request, [body, contentType]) {
  if (request.method !== "GET" && request.method !== "HEAD") return methodNotAllowed(request, "GET, HEAD");
  return new Response(request.method === "HEAD" ? null : body, {
    status: 200,
    headers: {
      "Content-Type": contentType,
      "Cache-Control": "no-cache",
      "X-Request-Id": requestIdOf(request),
      traceresponse: traceresponseOf(request),
      ...SECURITY_HEADERS,
      "Content-Security-Policy": PLAYGROUND_CSP,
    },
  });
}

// ---- dev tools (SBA_DEV_TOOLS = "1" only) ----

const TENANT_ID = /^[A-Za-z0-9_-]{1,128}$/;
const PLAN_KEY = /^[a-z0-9_]{1,64}$/;
const TOKEN_TTL_SECS = 3600;
const encoder = new TextEncoder();

const base64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

async function hmacSha256(secret, message) {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
}

function unconfigured(request, name) {
  return errorResponse(request, 503, "dev_tools_unconfigured", `the dev router has no ${name} binding (scripts/dev exports it)`);
}

/**
 * GET /dev/token?tenant=<id>: an HS256 tenant token signed with AUTH_JWT_SECRET, the claims
 * scripts/dev-token writes (aud "authenticated", the tenant in app_metadata.tenant_id).
 */
async function devToken(request, env, url) {
  if (request.method !== "GET") return methodNotAllowed(request, "GET");
  const tenant = url.searchParams.get("tenant") ?? "";
  if (!TENANT_ID.test(tenant)) {
    return errorResponse(request, 422, "validation_failed", "tenant must be 1 to 128 letters, digits, _ or -");
  }
  if (!env.AUTH_JWT_SECRET) return unconfigured(request, "AUTH_JWT_SECRET");
  const now = Math.floor(Date.now() / 1000);
  const json = (value) => base64url(encoder.encode(JSON.stringify(value)));
  const input = `${json({ alg: "HS256", typ: "JWT" })}.${json({
    sub: "playground",
    role: "authenticated",
    aud: "authenticated",
    iat: now,
    exp: now + TOKEN_TTL_SECS,
    app_metadata: { tenant_id: tenant },
  })}`;
  const token = `${input}.${base64url(await hmacSha256(env.AUTH_JWT_SECRET, input))}`;
  return jsonResponse(request, 200, JSON.stringify({ tenant, token, expiresAt: now + TOKEN_TTL_SECS }), { "Cache-Control": "no-store" });
}

/** Stripe's test header: `t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<payload>">` with the whsec_ string as key. */
async function stripeSignature(secret, payload, t) {
  const signature = Array.from(await hmacSha256(secret, `${t}.${payload}`), (b) => b.toString(16).padStart(2, "0")).join("");
  return `t=${t},v1=${signature}`;
}

/**
 * The two events a Stripe Checkout for a subscription delivers, in the shape Stripe sends:
 * checkout.session.completed (links the customer to the tenant through client_reference_id)
 * and customer.subscription.created (an active subscription whose price's lookup_key names a
 * row of the `plans` table). One customer and one subscription per tenant, so a later plan
 * is a newer state of the same subscription (the newest state wins).
 */
function checkoutEvents(tenant, plan, created) {
  const customer = `cus_dev_${tenant}`;
  const subscription = `sub_dev_${tenant}`;
  const event = (type, object) => ({
    id: `evt_dev_${randomHex(12)}`,
    object: "event",
    api_version: "2025-03-31.basil",
    created,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  });
  return [
    event("checkout.session.completed", {
      id: `cs_test_dev_${randomHex(12)}`,
      object: "checkout.session",
      mode: "subscription",
      status: "complete",
      payment_status: "paid",
      client_reference_id: tenant,
      customer,
      subscription,
      livemode: false,
    }),
    event("customer.subscription.created", {
      id: subscription,
      object: "subscription",
      customer,
      status: "active",
      cancel_at_period_end: false,
      livemode: false,
      items: {
        object: "list",
        data: [
          {
            id: `si_dev_${randomHex(8)}`,
            object: "subscription_item",
            price: { id: `price_dev_${plan}`, object: "price", lookup_key: plan },
            current_period_start: created,
            current_period_end: created + 30 * 24 * 3600,
          },
        ],
      },
    }),
  ];
}

/**
 * POST /dev/stripe-event {tenant, plan}: builds the checkout's events, signs each with the
 * current local secret (the last of STRIPE_WEBHOOK_SECRETS, as the webhooks Worker rotates)
 * and delivers them, in order, to the webhooks Worker's POST /webhooks/stripe. Answers what
 * each delivery answered; 502 when one was refused.
 */
async function devStripeEvent(request, env) {
  if (request.method !== "POST") return methodNotAllowed(request, "POST");
  // JSON only: another site's page cannot send it without a CORS preflight, which this router
  // never grants (the page is same-origin).
  if (!/^application\/json\b/i.test(request.headers.get("content-type") ?? "")) {
    return errorResponse(request, 415, "unsupported_media_type", "send the body as application/json");
  }
  let input;
  try {
    input = await request.json();
  } catch {
    return errorResponse(request, 400, "invalid_json", "the body must be a JSON object {tenant, plan}");
  }
  const issues = [];
  if (typeof input?.tenant !== "string" || !TENANT_ID.test(input.tenant)) issues.push({ path: ["tenant"], code: "invalid_string", message: "1 to 128 letters, digits, _ or -" });
  if (typeof input?.plan !== "string" || !PLAN_KEY.test(input.plan)) issues.push({ path: ["plan"], code: "invalid_string", message: "a plan lookup_key, e.g. free, pro, business" });
  if (issues.length) {
    return jsonResponse(request, 422, (requestId) => JSON.stringify({ error: { code: "validation_failed", message: "the body failed validation", issues, requestId } }));
  }
  const secret = (env.STRIPE_WEBHOOK_SECRETS ?? "").split(",").map((s) => s.trim()).filter(Boolean).at(-1);
  if (!secret) return unconfigured(request, "STRIPE_WEBHOOK_SECRETS");
  const created = Math.floor(Date.now() / 1000);
  const deliveries = [];
  for (const event of checkoutEvents(input.tenant, input.plan, created)) {
    const payload = JSON.stringify(event, null, 2);
    const res = await env.WEBHOOKS.fetch(new URL("/webhooks/stripe", request.url), {
      method: "POST",
      headers: { "Content-Type": "application/json", "Stripe-Signature": await stripeSignature(secret, payload, Math.floor(Date.now() / 1000)) },
      body: payload,
    });
    const text = await res.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    deliveries.push({ type: event.type, eventId: event.id, status: res.status, body });
  }
  const refused = deliveries.find((d) => d.status < 200 || d.status > 299);
  if (refused) {
    return jsonResponse(request, 502, (requestId) =>
      JSON.stringify({ error: { code: "webhook_refused", message: `the webhooks Worker answered ${refused.status} to ${refused.type}`, details: { deliveries }, requestId } }),
    );
  }
  const applied = deliveries.every((d) => d.body?.outcome === "applied");
  return jsonResponse(request, 200, JSON.stringify({ tenant: input.tenant, plan: input.plan, applied, deliveries }), { "Cache-Control": "no-store" });
}

const DEV_TOOLS = { "/dev/token": devToken, "/dev/stripe-event": devStripeEvent };

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const { pathname } = url;
    if (pathname === "/openapi.json") return openapi(request);
    for (const [prefix, binding] of ROUTES) {
      if (pathname === prefix || pathname.startsWith(prefix + "/")) {
        return env[binding].fetch(request);
      }
    }
    if (Object.hasOwn(PLAYGROUND, pathname)) return playgroundAsset(request, PLAYGROUND[pathname]);
    if (Object.hasOwn(DEV_TOOLS, pathname) && env.SBA_DEV_TOOLS === "1") return DEV_TOOLS[pathname](request, env, url);
    return notMounted(request, pathname);
  },
};
