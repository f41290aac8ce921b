use sba_errors::ApiError;
use sba_limits::{verdict, Admission};
use sba_ratelimit::{FailPolicy, Limiter, Policy};
use sba_redis::RedisRest;

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
