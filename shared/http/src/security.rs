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

pub fn apply(headers: &worker::Headers) -> worker::Result<()> {
    for (name, value) in SECURITY_HEADERS {
        headers.set(name, value)?;
    }
    Ok(())
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
    fn hsts_lasts_at_least_a_year() {
        let hsts = SECURITY_HEADERS.iter().find(|(n, _)| *n == "Strict-Transport-Security").unwrap().1;
        let max_age: u64 = hsts.split(';').next().unwrap().trim_start_matches("max-age=").parse().unwrap();
        assert!(max_age >= 31_536_000);
    }
}
