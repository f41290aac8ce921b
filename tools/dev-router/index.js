// Development-only front door: serves every sba-edge function on ONE local origin by
// forwarding each path prefix to that function's Worker over a service binding. In
// production the same split is done by Workers routes on the zone (example.com/kb/* →
// sba-kb-ingest, …), so this file is never deployed and the paths it forwards are unchanged.
// It also serves the OpenAPI document of the whole origin at GET /openapi.json.

// wrangler (esbuild) turns a .json import into the parsed object; Miniflare, as
// tests/support/bundle.mjs configures it, loads it as a Text module (a string). Both work.
import openapiSource from "../../openapi/openapi.json";

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
  return errorResponse(request, 405, "method_not_allowed", "method not allowed; use GET, HEAD", { Allow: "GET, HEAD" });
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/openapi.json") return openapi(request);
    for (const [prefix, binding] of ROUTES) {
      if (pathname === prefix || pathname.startsWith(prefix + "/")) {
        return env[binding].fetch(request);
      }
    }
    const mounts = ROUTES.map(([p]) => p + "/healthz").join(", ");
    return errorResponse(request, 404, "not_found", `no function is mounted at ${pathname}; try ${mounts} or /openapi.json`);
  },
};
