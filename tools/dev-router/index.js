// Development-only front door: serves every sba-edge function on ONE local origin by
// forwarding each path prefix to that function's Worker over a service binding. In
// production the same split is done by Workers routes on the zone (example.com/kb/* →
// sba-kb-ingest, …), so this file is never deployed and the paths it forwards are unchanged.

const ROUTES = [
  ["/ratelimited-agent", "RATELIMITED_AGENT"],
  ["/agent/limited", "RATELIMITED_AGENT"],
  ["/agent", "AGENT"],
  ["/kb", "KB_INGEST"],
  ["/webhooks", "WEBHOOKS"],
];

const SECURITY_HEADERS = {
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
  "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    for (const [prefix, binding] of ROUTES) {
      if (pathname === prefix || pathname.startsWith(prefix + "/")) {
        return env[binding].fetch(request);
      }
    }
    const requestId = request.headers.get("x-request-id") ?? crypto.randomUUID();
    const body = {
      error: {
        code: "not_found",
        message: `no function is mounted at ${pathname}; try ${ROUTES.map(([p]) => p + "/healthz").join(", ")}`,
        requestId,
      },
    };
    return new Response(JSON.stringify(body), {
      status: 404,
      headers: { "Content-Type": "application/json", "X-Request-Id": requestId, ...SECURITY_HEADERS },
    });
  },
};
