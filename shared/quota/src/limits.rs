use crate::{verdict, Admission};
use sba_errors::ApiError;
use sba_ratelimit::{FailPolicy, Limiter, Policy};
use sba_redis::{Cmd, RedisRest, RedisValue};
use std::time::Duration;

const MINUTE_MS: u64 = 60_000;

/// The request limits read from a Worker's vars, in one place: the IP window and the burst
/// bucket (an agent's tenant window comes from its plan), and the tenant window of a route
/// without a plan (`sba_extract::rate_limit`).
#[derive(Debug, Clone, PartialEq)]
pub struct LimitConfig {
    pub ip_per_minute: u64,
    pub tenant_per_minute: u64,
    /// Tokens in the burst bucket, `burst_refill` of them added back every
    /// `burst_refill_interval_ms` (1 s by default).
    pub burst: u64,
    pub burst_refill: u64,
    pub burst_refill_interval_ms: u64,
    /// How long the limiter waits for Redis, from when the call is handed to the runtime.
    pub timeout_ms: u64,
    pub on_failure: FailPolicy,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self {
            ip_per_minute: 20,
            tenant_per_minute: 20,
            burst: 10,
            burst_refill: 1,
            burst_refill_interval_ms: 1000,
            timeout_ms: Limiter::DEFAULT_TIMEOUT.as_millis() as u64,
            on_failure: FailPolicy::Local,
        }
    }
}

impl LimitConfig {
    /// `RATE_LIMIT_IP_PER_MINUTE`, `RATE_LIMIT_TENANT_PER_MINUTE`, `RATE_LIMIT_BURST`, `RATE_LIMIT_BURST_REFILL_PER_SECOND`
    /// (tokens per refill interval), `RATE_LIMIT_BURST_REFILL_INTERVAL_MS` (1000),
    /// `RATE_LIMIT_TIMEOUT_MS` (3000), `RATE_LIMIT_ON_REDIS_FAILURE` ([`fail_policy`]).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        let d = Self::default();
        let number = |name: &str, default: u64| {
            get(name).and_then(|v| v.trim().parse().ok()).filter(|n: &u64| *n > 0).unwrap_or(default)
        };
        Self {
            ip_per_minute: number("RATE_LIMIT_IP_PER_MINUTE", d.ip_per_minute),
            tenant_per_minute: number("RATE_LIMIT_TENANT_PER_MINUTE", d.tenant_per_minute),
            burst: number("RATE_LIMIT_BURST", d.burst),
            burst_refill: number("RATE_LIMIT_BURST_REFILL_PER_SECOND", d.burst_refill),
            burst_refill_interval_ms: number("RATE_LIMIT_BURST_REFILL_INTERVAL_MS", d.burst_refill_interval_ms),
            timeout_ms: number("RATE_LIMIT_TIMEOUT_MS", d.timeout_ms),
            on_failure: fail_policy(get("RATE_LIMIT_ON_REDIS_FAILURE").as_deref()),
        }
    }
}

/// `RATE_LIMIT_ON_REDIS_FAILURE`: `closed` refuses (503) while Redis cannot be asked;
/// anything else, `local` (the default) and the older `open` included, decides from the
/// isolate's own counts — bounded, never "admit everything".
pub fn fail_policy(value: Option<&str>) -> FailPolicy {
    match value.map(str::trim) {
        Some("closed") => FailPolicy::Closed,
        _ => FailPolicy::Local,
    }
}

/// Charges one request against the tenant's window (its plan's per-minute limit), the IP's
/// window and the tenant's burst bucket — one script, one round trip, all or nothing.
/// `record` learns the limiter's outcome (`Decision::outcome`) for metrics.
pub async fn admit(
    redis: RedisRest,
    config: &LimitConfig,
    check: Check<'_>,
    record: impl FnOnce(&'static str),
) -> Result<Admission, ApiError> {
    admit_alongside(redis, config, check, &[], record).await.0
}

/// One admission check (see [`admit_alongside`]).
pub struct Check<'a> {
    pub tenant: &'a str,
    pub tenant_per_minute: u64,
    pub ip: &'a str,
    pub now_ms: u64,
    /// Ask Redis even when a block is cached (the plan the block was cached under may be
    /// out of date).
    pub refresh_cache: bool,
}

/// The 429 a client blocked by the isolate's cache gets right now, with no round trip;
/// `None` when Redis would have to be asked.
pub fn refused_from_memory(
    redis: RedisRest,
    config: &LimitConfig,
    check: Check<'_>,
    record: impl FnOnce(&'static str),
) -> Option<ApiError> {
    let (limiter, ids) = run_limiter(redis, config, &check);
    let decision = limiter.blocked(&ids, check.now_ms)?;
    record(decision.outcome());
    let headers = limiter.headers(&decision, check.now_ms);
    verdict(decision, headers, check.now_ms).err()
}

/// [`admit`], with `alongside` commands in the same Redis request (one round trip), whose
/// answers come back too (`None` when Redis was not asked). See
/// `sba_ratelimit::Limiter::check_alongside`.
pub async fn admit_alongside(
    redis: RedisRest,
    config: &LimitConfig,
    check: Check<'_>,
    alongside: &[Cmd],
    record: impl FnOnce(&'static str),
) -> (Result<Admission, ApiError>, Option<Vec<RedisValue>>) {
    let (limiter, ids) = run_limiter(redis, config, &check);
    let limiter = if check.refresh_cache { limiter.refreshing_cache() } else { limiter };
    let (decision, answers) = limiter.check_alongside(&ids, 1, check.now_ms, alongside).await;
    record(decision.outcome());
    let headers = limiter.headers(&decision, check.now_ms);
    (verdict(decision, headers, check.now_ms), answers)
}

/// Gives back what [`admit`] took, for a run that was admitted but then failed on our side
/// (the database down): the client's retry should not find its budget spent by our outage.
/// Never for a quota refusal — those must keep costing, or an exhausted tenant could hammer
/// the database at will — and the caller refunds only the first failure of an outage (see
/// `sba_agent::admission`). Best effort: a failed refund is the same as none. `check` is the
/// admitting check's: the same policies, limit and clock.
pub async fn refund(redis: RedisRest, config: &LimitConfig, check: Check<'_>) {
    let (limiter, ids) = run_limiter(redis, config, &check);
    limiter.check(&ids, -1, check.now_ms).await;
}

fn run_limiter(redis: RedisRest, config: &LimitConfig, check: &Check<'_>) -> (Limiter, [String; 3]) {
    let Check { tenant, tenant_per_minute, ip, .. } = *check;
    let limiter = Limiter::new(
        redis,
        vec![
            Policy::sliding_window("tenant", tenant_per_minute.max(1), MINUTE_MS),
            Policy::sliding_window("ip", config.ip_per_minute, MINUTE_MS),
            Policy::token_bucket("burst", config.burst, config.burst_refill_interval_ms, config.burst_refill)
                .with_prefix("sba:burst"),
        ],
    )
    .with_fail_policy(config.on_failure)
    .with_timeout(Duration::from_millis(config.timeout_ms));
    (limiter, [format!("tenant:{tenant}"), format!("ip:{ip}"), format!("tenant:{tenant}")])
}
