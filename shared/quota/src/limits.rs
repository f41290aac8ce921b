use sba_errors::ApiError;
use sba_ratelimit::{Decision, FailPolicy, Limiter, Policy, Reason};
use sba_redis::RedisRest;
use serde_json::json;

const MINUTE_MS: u64 = 60_000;

/// The IP window and the burst bucket (the tenant's window comes from its plan).
#[derive(Debug, Clone, PartialEq)]
pub struct LimitConfig {
    pub ip_per_minute: u64,
    /// Tokens in the burst bucket, refilled `burst_refill_per_second` per second.
    pub burst: u64,
    pub burst_refill_per_second: u64,
    pub on_failure: FailPolicy,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self { ip_per_minute: 20, burst: 10, burst_refill_per_second: 1, on_failure: FailPolicy::Open }
    }
}

impl LimitConfig {
    /// `RATE_LIMIT_IP_PER_MINUTE`, `RATE_LIMIT_BURST`, `RATE_LIMIT_BURST_REFILL_PER_SECOND`,
    /// `RATE_LIMIT_ON_REDIS_FAILURE` (`open` | `closed`).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        let d = Self::default();
        let number = |name: &str, default: u64| get(name).and_then(|v| v.trim().parse().ok()).filter(|n: &u64| *n > 0).unwrap_or(default);
        Self {
            ip_per_minute: number("RATE_LIMIT_IP_PER_MINUTE", d.ip_per_minute),
            burst: number("RATE_LIMIT_BURST", d.burst),
            burst_refill_per_second: number("RATE_LIMIT_BURST_REFILL_PER_SECOND", d.burst_refill_per_second),
            on_failure: match get("RATE_LIMIT_ON_REDIS_FAILURE").as_deref().map(str::trim) {
                Some("closed") => FailPolicy::Closed,
                _ => FailPolicy::Open,
            },
        }
    }
}

/// Headers for the response when admitted.
pub type Admission = Vec<(&'static str, String)>;

/// Charges one request against the tenant's window (its plan's per-minute limit), the IP's
/// window and the tenant's burst bucket — one script, one round trip, all or nothing.
/// `record` learns the limiter's outcome (`Decision::outcome`) for metrics.
pub async fn admit(
    redis: RedisRest,
    config: &LimitConfig,
    tenant: &str,
    tenant_per_minute: u64,
    ip: &str,
    now_ms: u64,
    record: impl FnOnce(&'static str),
) -> Result<Admission, ApiError> {
    let limiter = Limiter::new(
        redis,
        vec![
            Policy::sliding_window("tenant", tenant_per_minute.max(1), MINUTE_MS),
            Policy::sliding_window("ip", config.ip_per_minute, MINUTE_MS),
            Policy::token_bucket("burst", config.burst, 1000, config.burst_refill_per_second).with_prefix("sba:burst"),
        ],
    )
    .with_fail_policy(config.on_failure);
    let ids = [format!("tenant:{tenant}"), format!("ip:{ip}"), format!("tenant:{tenant}")];
    let decision = limiter.check(&ids, 1, now_ms).await;
    record(decision.outcome());
    let headers = limiter.headers(&decision, now_ms);
    verdict(decision, headers, now_ms)
}

/// A limiter decision as HTTP: Ok with the `RateLimit*` headers, or the 429 (503 when the
/// limiter failed closed) carrying them and the limiter's own `Retry-After`.
pub fn verdict(decision: Decision, headers: Admission, now_ms: u64) -> Result<Admission, ApiError> {
    if decision.success {
        return Ok(headers);
    }
    let failed_closed = matches!(decision.reason, Some(Reason::Timeout | Reason::RedisError));
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
