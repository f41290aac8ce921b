//! HTTP response headers for a decision: pure, no clock (the caller passes `now_ms`).
//!
//! - `RateLimit-Policy` and `RateLimit` as in draft-ietf-httpapi-ratelimit-headers (-09 to
//!   -11): Structured Field Lists whose items are Strings naming the policy, e.g.
//!   `RateLimit-Policy: "tenant";q=20;w=60, "ip";q=5;w=1` and
//!   `RateLimit: "tenant";r=3;t=12, "ip";r=4;t=1`. `q` is the limit (a token bucket's size),
//!   `w` the window in seconds (a token bucket's time to fill up), `r` the remaining units,
//!   `t` the seconds until the window resets (bucket: its next refill).
//! - The older de-facto `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
//!   for the deciding policy. `X-RateLimit-Reset` is **seconds until** the reset (like `t`
//!   and `Retry-After`), not an epoch time: it needs no clock agreement with the client.
//! - `Retry-After` (whole seconds, at least 1) when the request is refused: the earliest
//!   time it may fit, or 1 when Redis could not be asked.
//!
//! `RateLimit-Policy` lists every policy on every response (it describes the server, not
//! the request); the others appear only when their numbers are known (not when Redis
//! failed; only the blocked policy for a cached block).

use crate::types::{Decision, Policy};

/// The headers for `decision`, in a stable order.
pub fn headers(policies: &[Policy], decision: &Decision, now_ms: u64) -> Vec<(&'static str, String)> {
    let mut out = Vec::with_capacity(6);
    if !policies.is_empty() {
        let items: Vec<String> =
            policies.iter().map(|p| format!("{};q={};w={}", sf_string(&p.label), p.limit(), p.window_secs())).collect();
        out.push(("RateLimit-Policy", items.join(", ")));
    }
    if !decision.limits.is_empty() {
        let items: Vec<String> = decision
            .limits
            .iter()
            .map(|l| format!("{};r={};t={}", sf_string(&l.label), l.remaining, secs_until(l.reset_ms, now_ms)))
            .collect();
        out.push(("RateLimit", items.join(", ")));
        out.push(("X-RateLimit-Limit", decision.limit.to_string()));
        out.push(("X-RateLimit-Remaining", decision.remaining.to_string()));
        out.push(("X-RateLimit-Reset", secs_until(decision.reset_ms, now_ms).to_string()));
    }
    if !decision.success {
        out.push(("Retry-After", secs_until(decision.retry_at_ms, now_ms).max(1).to_string()));
    }
    out
}

/// Whole seconds from `now_ms` to `at_ms`, rounded up; 0 if it has passed.
fn secs_until(at_ms: u64, now_ms: u64) -> u64 {
    at_ms.saturating_sub(now_ms).div_ceil(1000)
}

/// A Structured Field String (RFC 8941 §3.3.3): printable ASCII, `"` and `\` escaped;
/// anything else (which sf-string cannot carry) becomes `?`.
fn sf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{LimitState, Reason};

    const NOW: u64 = 1_700_000_000_000;

    fn policies() -> Vec<Policy> {
        vec![
            Policy::sliding_window("tenant", 20, 60_000),
            Policy::fixed_window("ip", 5, 500),
            Policy::token_bucket("burst", 10, 1000, 5),
        ]
    }

    fn state(label: &str, success: bool, limit: u64, remaining: u64, reset_in_ms: u64) -> LimitState {
        LimitState {
            label: label.into(),
            success,
            limit,
            remaining,
            reset_ms: NOW + reset_in_ms,
            retry_at_ms: if success { NOW } else { NOW + reset_in_ms },
        }
    }

    fn decision(success: bool, limits: Vec<LimitState>, which: usize, retry_at_ms: u64) -> Decision {
        let d = limits[which].clone();
        Decision {
            success,
            limit: d.limit,
            remaining: d.remaining,
            reset_ms: d.reset_ms,
            retry_at_ms,
            reason: None,
            which: d.label,
            allowed_by_policy: false,
            decided_locally: false,
            limits,
            error: None,
        }
    }

    fn get<'a>(h: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn allowed_request() {
        let limits =
            vec![state("tenant", true, 20, 3, 11_200), state("ip", true, 5, 4, 300), state("burst", true, 10, 9, 1000)];
        let h = headers(&policies(), &decision(true, limits, 0, 0), NOW);
        assert_eq!(
            h,
            vec![
                ("RateLimit-Policy", r#""tenant";q=20;w=60, "ip";q=5;w=1, "burst";q=10;w=2"#.to_owned()),
                ("RateLimit", r#""tenant";r=3;t=12, "ip";r=4;t=1, "burst";r=9;t=1"#.to_owned()),
                ("X-RateLimit-Limit", "20".to_owned()),
                ("X-RateLimit-Remaining", "3".to_owned()),
                ("X-RateLimit-Reset", "12".to_owned()),
            ]
        );
    }

    #[test]
    fn refused_request_has_retry_after() {
        let limits = vec![
            state("tenant", true, 20, 3, 11_200),
            state("ip", false, 5, 0, 300),
            state("burst", true, 10, 9, 1000),
        ];
        let h = headers(&policies(), &decision(false, limits, 1, NOW + 300), NOW);
        assert_eq!(get(&h, "X-RateLimit-Limit"), Some("5"));
        assert_eq!(get(&h, "X-RateLimit-Remaining"), Some("0"));
        assert_eq!(get(&h, "Retry-After"), Some("1"), "rounded up, at least 1");
        let limits = vec![state("tenant", false, 20, 0, 42_001)];
        let h = headers(&policies()[..1], &decision(false, limits, 0, NOW + 42_001), NOW);
        assert_eq!(get(&h, "Retry-After"), Some("43"));
        assert_eq!(get(&h, "RateLimit"), Some(r#""tenant";r=0;t=43"#));
    }

    #[test]
    fn redis_failure_shows_only_the_policy() {
        let failed = |success| Decision {
            success,
            limit: 20,
            remaining: 0,
            reset_ms: 0,
            retry_at_ms: 0,
            reason: Some(Reason::Timeout),
            which: "tenant".into(),
            allowed_by_policy: success,
            decided_locally: false,
            limits: vec![],
            error: Some("redis: timed out".into()),
        };
        let h = headers(&policies()[..1], &failed(true), NOW);
        assert_eq!(h, vec![("RateLimit-Policy", r#""tenant";q=20;w=60"#.to_owned())]);
        let h = headers(&policies()[..1], &failed(false), NOW);
        assert_eq!(get(&h, "Retry-After"), Some("1"));
        assert_eq!(get(&h, "RateLimit"), None);
    }

    #[test]
    fn labels_are_valid_sf_strings() {
        assert_eq!(sf_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(sf_string("tenant é\n"), r#""tenant ??""#);
        assert_eq!(secs_until(NOW - 5, NOW), 0);
        assert_eq!(secs_until(NOW + 1000, NOW), 1);
        assert_eq!(secs_until(NOW + 1001, NOW), 2);
    }
}
