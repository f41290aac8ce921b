//! A rate-limiter decision (`sba_ratelimit::Decision`) as the HTTP answer every limited
//! route gives: the `RateLimit*` headers when admitted, else the 429 — or the 503 when the
//! limiter could not be asked and fails closed — with those headers and the limiter's own
//! `Retry-After`. One mapping, shared by the tenant+IP guard (`sba-extract`) and the
//! plan-aware admission of agent runs (this crate).

use sba_errors::ApiError;
use sba_ratelimit::{Decision, Reason};
use serde_json::json;

/// Headers for the response when admitted.
pub type Admission = Vec<(&'static str, String)>;

/// A limiter decision as HTTP: Ok with the `RateLimit*` headers, or the 429 (503 when the
/// limiter failed closed) carrying them and the limiter's own `Retry-After`.
pub fn verdict(decision: Decision, headers: Admission, now_ms: u64) -> Result<Admission, ApiError> {
    if decision.success {
        return Ok(headers);
    }
    let failed_closed =
        !decision.decided_locally && matches!(decision.reason, Some(Reason::Timeout | Reason::RedisError));
    let mut error = if failed_closed {
        ApiError::unavailable("rate_limiter_unavailable", "the rate limiter cannot be reached; retry shortly", 1)
            .with_cause(decision.error.clone().unwrap_or_default())
    } else {
        let retry_secs = decision.reset_ms.saturating_sub(now_ms).div_ceil(1000);
        ApiError::too_many_requests(format!("rate limit exceeded for {}", decision.which), retry_secs)
    }
    .with_details(json!({
        "limit": decision.limit,
        "remaining": decision.remaining,
        "resetMs": decision.reset_ms,
        "policy": decision.which,
        "reason": decision.reason,
    }));
    // The limiter's own Retry-After (when a unit frees up) beats the generic one.
    error.headers.retain(|(name, _)| !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(name)));
    error.headers.extend(headers);
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(success: bool, reason: Option<Reason>) -> Decision {
        Decision {
            success,
            limit: 20,
            remaining: 0,
            reset_ms: 10_500,
            retry_at_ms: 10_500,
            reason,
            which: "tenant".into(),
            allowed_by_policy: false,
            decided_locally: false,
            limits: Vec::new(),
            error: reason.filter(|r| *r != Reason::CacheBlock).map(|_| "redis down".into()),
        }
    }

    fn headers() -> Admission {
        vec![("X-RateLimit-Limit", "20".into()), ("Retry-After", "7".into())]
    }

    #[test]
    fn admitted_is_the_headers_alone() {
        assert_eq!(verdict(decision(true, None), headers(), 0).unwrap(), headers());
    }

    #[test]
    fn refused_is_a_429_with_the_limiters_retry_after_only() {
        let error = verdict(decision(false, None), headers(), 1_000).unwrap_err();
        assert_eq!((error.status, error.code.as_ref()), (429, "rate_limited"));
        let retry: Vec<&str> = error
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("retry-after"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(retry, ["7"], "the generic Retry-After gives way to the limiter's");
        assert_eq!(error.details.as_ref().unwrap()["policy"], "tenant");
        let cached = verdict(decision(false, Some(Reason::CacheBlock)), headers(), 1_000).unwrap_err();
        assert_eq!(cached.status, 429);
    }

    #[test]
    fn refused_by_the_isolates_own_counts_is_a_429_not_a_503() {
        let mut local = decision(false, Some(Reason::Timeout));
        local.decided_locally = true;
        let error = verdict(local, headers(), 1_000).unwrap_err();
        assert_eq!((error.status, error.code.as_ref()), (429, "rate_limited"));
    }

    #[test]
    fn failing_closed_is_a_503_with_the_cause_for_operators() {
        let error = verdict(decision(false, Some(Reason::Timeout)), headers(), 1_000).unwrap_err();
        assert_eq!((error.status, error.code.as_ref()), (503, "rate_limiter_unavailable"));
        assert_eq!(error.cause.as_deref(), Some("redis down"));
    }
}
