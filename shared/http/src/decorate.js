// Every response's headers, set in ONE call from the Wasm: each `headers.set` made from Rust
// crosses into JavaScript and copies both strings through the Wasm memory, and nine of them
// cost a simple request a third of its time (scripts/bench, /healthz). The constant values
// are literals here, so only the three per-response values cross.
// Keep the constants equal to SECURITY_HEADERS in security.rs (a unit test checks it).
export function decorate(headers, serverTiming, requestId, traceresponse) {
  headers.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  headers.set("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload");
  headers.set("X-Content-Type-Options", "nosniff");
  headers.set("Referrer-Policy", "no-referrer");
  headers.set("X-Frame-Options", "DENY");
  headers.set("Cross-Origin-Resource-Policy", "same-origin");
  headers.set("Server-Timing", serverTiming);
  headers.set("X-Request-Id", requestId);
  headers.set("traceresponse", traceresponse);
}
