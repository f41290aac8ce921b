//! Headers that make a JSON/SSE API safe to open in a browser by accident: nothing may be
//! framed, sniffed, scripted or leak a referrer, and HTTPS is sticky.

/// Set on every response, errors included. The API serves no HTML, so the CSP allows nothing.
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
];

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/decorate.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = decorate)]
    fn decorate_js(
        headers: &wasm_bindgen::JsValue,
        server_timing: &str,
        request_id: &str,
        traceresponse: &str,
    ) -> Result<(), wasm_bindgen::JsValue>;
}

/// Sets [`SECURITY_HEADERS`] and the per-response `Server-Timing`, `X-Request-Id` and
/// `traceresponse` in one call into JavaScript (`decorate.js`).
pub fn apply(
    headers: &worker::Headers,
    server_timing: &str,
    request_id: &str,
    traceresponse: &str,
) -> worker::Result<()> {
    decorate_js(headers.as_ref(), server_timing, request_id, traceresponse).map_err(worker::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_forbids_everything_including_framing() {
        let csp = SECURITY_HEADERS.iter().find(|(n, _)| *n == "Content-Security-Policy").unwrap().1;
        assert!(csp.contains("default-src 'none'"));
        assert!(csp.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn decorate_js_sets_exactly_these_headers() {
        let js = include_str!("decorate.js");
        for (name, value) in SECURITY_HEADERS {
            assert!(
                js.contains(&format!("headers.set(\"{name}\", \"{value}\")")),
                "{name} missing or different in decorate.js"
            );
        }
        assert_eq!(js.matches("headers.set(\"").count(), SECURITY_HEADERS.len() + 3, "no other constant header");
    }

    #[test]
    fn hsts_lasts_at_least_a_year() {
        let hsts = SECURITY_HEADERS.iter().find(|(n, _)| *n == "Strict-Transport-Security").unwrap().1;
        let max_age: u64 = hsts.split(';').next().unwrap().trim_start_matches("max-age=").parse().unwrap();
        assert!(max_age >= 31_536_000);
    }
}
