//! `admit` and `refund` against the suite's Redis REST server: three limits in one round
//! trip, and a refund that gives back exactly what an admission took.

use sba_quota::{admit, refund, Check, LimitConfig};
use sba_redis::RedisRest;
use sba_testkit::unique;

fn redis() -> RedisRest {
    let url = std::env::var("SBA_REDIS_REST_URL").expect("SBA_REDIS_REST_URL: run through scripts/test");
    let token = std::env::var("SBA_REDIS_REST_TOKEN").expect("SBA_REDIS_REST_TOKEN");
    RedisRest::new(url, token).with_timeout(std::time::Duration::from_secs(5))
}

/// A burst of 2 that never refills during the test; generous windows.
fn config() -> LimitConfig {
    LimitConfig {
        ip_per_minute: 1000,
        burst: 2,
        burst_refill: 1,
        burst_refill_interval_ms: 3_600_000,
        ..LimitConfig::default()
    }
}

#[tokio::test]
async fn a_refund_gives_back_the_admission_and_nothing_more() {
    if sba_testkit::without_stack() {
        return;
    }
    let (tenant, ip) = (unique("adm"), unique("ip"));
    let (now, config) = (1_000_000_000_000, config());
    let check = || Check { tenant: &tenant, tenant_per_minute: 100, ip: &ip, now_ms: now, refresh_cache: false };
    let go = || admit(redis(), &config, check(), |_| {});
    assert!(go().await.is_ok());
    assert!(go().await.is_ok());
    let refused = go().await.unwrap_err();
    assert_eq!((refused.status, refused.code.as_ref()), (429, "rate_limited"), "the burst of 2 is spent");

    refund(redis(), &config, check()).await;
    assert!(go().await.is_ok(), "one refund, one more admission");
    assert_eq!(go().await.unwrap_err().status, 429, "and not two");
}

#[tokio::test]
async fn the_outcome_is_recorded() {
    if sba_testkit::without_stack() {
        return;
    }
    let (tenant, ip) = (unique("adm-outcome"), unique("ip"));
    let mut seen = Vec::new();
    for _ in 0..3 {
        let check =
            Check { tenant: &tenant, tenant_per_minute: 100, ip: &ip, now_ms: 1_000_000_000_000, refresh_cache: false };
        let _ = admit(redis(), &config(), check, |o| seen.push(o)).await;
    }
    // The second admission left the burst at 0: the isolate's block cache refuses the third
    // without asking Redis.
    assert_eq!(seen, ["allowed", "allowed", "denied_cached"]);
}

#[test]
fn the_burst_refill_interval_is_configurable() {
    let config = LimitConfig::from_vars(|name| match name {
        "RATE_LIMIT_BURST" => Some("1".into()),
        "RATE_LIMIT_BURST_REFILL_INTERVAL_MS" => Some("60000".into()),
        _ => None,
    });
    assert_eq!((config.burst, config.burst_refill, config.burst_refill_interval_ms), (1, 1, 60_000));
    assert_eq!(LimitConfig::from_vars(|_| None).burst_refill_interval_ms, 1000);
}

#[test]
fn every_limit_var_is_read_here_and_nonsense_keeps_the_default() {
    let config = LimitConfig::from_vars(|name| match name {
        "RATE_LIMIT_TENANT_PER_MINUTE" => Some("100".into()),
        "RATE_LIMIT_IP_PER_MINUTE" => Some("zero".into()),
        "RATE_LIMIT_ON_REDIS_FAILURE" => Some("closed".into()),
        _ => None,
    });
    assert_eq!((config.tenant_per_minute, config.ip_per_minute), (100, 20));
    assert_eq!(config.on_failure, sba_ratelimit::FailPolicy::Closed);
    assert_eq!(LimitConfig::from_vars(|_| None), LimitConfig::default());
}
