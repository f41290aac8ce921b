//! The limiter against real Redis through the local Upstash-compatible server (started by
//! scripts/test, found through SBA_REDIS_REST_URL / SBA_REDIS_REST_TOKEN): the reference
//! test vectors, exactness, all-or-nothing, concurrency, the cache and the failure policy.

use std::time::Duration;

use futures_util::future::join_all;
use sba_ratelimit::{BlockCache, Decision, FailPolicy, Limiter, LocalLimits, Policy, Reason};
use sba_redis::{RedisRest, RedisValue};
use tokio::net::TcpListener;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run through scripts/test or set SBA_REDIS_REST_URL and SBA_REDIS_REST_TOKEN")
    })
}

fn rest() -> RedisRest {
    RedisRest::new(env("SBA_REDIS_REST_URL"), env("SBA_REDIS_REST_TOKEN")).with_timeout(Duration::from_secs(10))
}

/// An identifier no other test, run or process uses.
fn unique(name: &str) -> String {
    sba_testkit::unique(&format!("rl-test:{name}"))
}

/// A limiter that asks Redis every time (no cache) and waits long enough for a busy machine.
fn exact(policies: Vec<Policy>) -> Limiter {
    Limiter::new(rest(), policies).with_timeout(Duration::from_secs(10)).without_cache()
}

async fn get(r: &RedisRest, key: &str) -> RedisValue {
    r.query(&["GET", key]).await.unwrap()
}

fn counted(d: &Decision) -> (bool, u64) {
    assert_eq!(d.reason, None, "decided by Redis: {d:?}");
    (d.success, d.remaining)
}

#[tokio::test]
async fn sliding_window_reference_vector() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    let id = unique("sliding-vector");
    let base = format!("@upstash/ratelimit:{id}");
    // now = 1000005000 is 50 % into window 100000; the previous window holds 10.
    let now = 1_000_005_000;
    r.query(&["SET", &format!("{base}:99999"), "10", "EX", "60"]).await.unwrap();
    let l = exact(vec![Policy::sliding_window("sliding", 10, 10_000)]);
    let mut seen = Vec::new();
    for _ in 0..6 {
        let d = l.check(&[&id], 1, now).await;
        assert_eq!((d.limit, d.reset_ms, d.which.as_str()), (10, 1_000_010_000, "sliding"));
        seen.push(counted(&d));
        if seen.len() == 1 {
            let pttl = r.query(&["PTTL", &format!("{base}:100000")]).await.unwrap().as_i64().unwrap();
            assert!((20_000..=21_000).contains(&pttl), "PTTL {pttl} ≈ 2 · window + 1000");
        }
    }
    assert_eq!(seen, [(true, 4), (true, 3), (true, 2), (true, 1), (true, 0), (false, 0)]);
    assert_eq!(get(&r, &format!("{base}:100000")).await.as_i64(), Some(5), "the refused one wrote nothing");
}

#[tokio::test]
async fn token_bucket_reference_vector() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    let id = unique("token-vector");
    let key = format!("@upstash/ratelimit:{id}");
    let t = 1_000_000_000_000;
    let l = exact(vec![Policy::token_bucket("bucket", 10, 1000, 5)]);
    let d = l.check(&[&id], 4, t).await;
    assert_eq!((counted(&d), d.reset_ms), ((true, 6), t + 1000));
    assert_eq!(counted(&l.check(&[&id], 4, t).await), (true, 2));
    let d = l.check(&[&id], 4, t).await;
    assert_eq!(counted(&d), (false, 2), "refused; reports the 2 tokens still there");
    assert_eq!(d.outcome(), "denied");
    assert_eq!(d.retry_at_ms, t + 1000, "one refill of 5 makes room for 4");
    let hash = r.query(&["HGETALL", &key]).await.unwrap();
    assert_eq!(
        hash,
        RedisValue::Array(vec!["refilledAt".into(), "1000000000000".into(), "tokens".into(), "2".into()]),
        "the refused request consumed nothing"
    );
    let d = l.check(&[&id], 1, t + 1500).await;
    assert_eq!((counted(&d), d.reset_ms), ((true, 6), t + 2000));
    let pttl = r.query(&["PTTL", &key]).await.unwrap().as_i64().unwrap();
    // ceil((10 - 6) / 5) · 1000: gone when it would be full again anyway.
    assert!((900..=1_000).contains(&pttl), "{pttl}");
}

#[tokio::test]
async fn fixed_window_reference_vector() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    let id = unique("fixed-vector");
    let now = 1_700_000_030_000;
    let l = exact(vec![Policy::fixed_window("fixed", 2, 60_000)]);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let d = l.check(&[&id], 1, now).await;
        assert_eq!(d.reset_ms, (now / 60_000 + 1) * 60_000);
        seen.push(counted(&d).0);
    }
    assert_eq!(seen, [true, true, false]);
    let key = format!("@upstash/ratelimit:{id}:{}", now / 60_000);
    assert_eq!(get(&r, &key).await.as_i64(), Some(2), "unlike upstream, the refused one is not counted");
    let pttl = r.query(&["PTTL", &key]).await.unwrap().as_i64().unwrap();
    assert!((50_000..=60_000).contains(&pttl), "{pttl}");
}

#[tokio::test]
async fn a_rate_that_does_not_fit_is_refused() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    let now = 1_000_005_000;
    let l = exact(vec![Policy::sliding_window("s", 10, 10_000)]);

    // 9 of 10 used in the current window: rate 3 would make 12.
    let id = unique("rate3");
    assert_eq!(counted(&l.check(&[&id], 9, now).await), (true, 1));
    let d = l.check(&[&id], 3, now).await;
    assert_eq!(counted(&d), (false, 1), "refused, and 1 unit is still there");
    assert_eq!(counted(&l.check(&[&id], 1, now).await), (true, 0));

    // 9 of 10 used with the weight: previous 10 at 50 % (5) + current 4. Upstream checks
    // 5 + 4 >= 10 → false, increments to 7 and answers refused with the units counted;
    // we refuse and count nothing.
    let id = unique("rate3-weighted");
    r.query(&["SET", &format!("@upstash/ratelimit:{id}:99999"), "10", "EX", "60"]).await.unwrap();
    assert_eq!(counted(&l.check(&[&id], 4, now).await), (true, 1));
    assert_eq!(counted(&l.check(&[&id], 3, now).await), (false, 1));
    assert_eq!(get(&r, &format!("@upstash/ratelimit:{id}:100000")).await.as_i64(), Some(4));

    // Fixed window and token bucket too.
    let id = unique("rate3-fixed");
    let fixed = exact(vec![Policy::fixed_window("f", 10, 60_000)]);
    assert_eq!(counted(&fixed.check(&[&id], 9, now).await), (true, 1));
    assert_eq!(counted(&fixed.check(&[&id], 3, now).await), (false, 1));
    let id = unique("rate3-token");
    let bucket = exact(vec![Policy::token_bucket("t", 10, 60_000, 1)]);
    assert_eq!(counted(&bucket.check(&[&id], 9, now).await), (true, 1));
    assert_eq!(counted(&bucket.check(&[&id], 3, now).await), (false, 1));
}

#[tokio::test]
async fn refunds_skip_the_check_and_give_back() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    let now = 1_700_000_030_000;

    let id = unique("refund-fixed");
    let fixed = exact(vec![Policy::fixed_window("f", 2, 60_000)]);
    fixed.check(&[&id], 2, now).await;
    assert_eq!(counted(&fixed.check(&[&id], 1, now).await), (false, 0));
    assert_eq!(counted(&fixed.check(&[&id], -1, now).await), (true, 1));
    assert_eq!(counted(&fixed.check(&[&id], 1, now).await), (true, 0));

    let id = unique("refund-sliding");
    let sliding = exact(vec![Policy::sliding_window("s", 3, 60_000)]);
    sliding.check(&[&id], 3, now).await;
    assert_eq!(counted(&sliding.check(&[&id], -2, now).await), (true, 2));
    let key = format!("@upstash/ratelimit:{id}:{}", now / 60_000);
    assert_eq!(get(&r, &key).await.as_i64(), Some(1));

    // A refund never fills a bucket above its size.
    let id = unique("refund-token");
    let bucket = exact(vec![Policy::token_bucket("t", 5, 60_000, 1)]);
    assert_eq!(counted(&bucket.check(&[&id], 1, now).await), (true, 4));
    assert_eq!(counted(&bucket.check(&[&id], -3, now).await), (true, 5));

    // Rate 0 looks without taking.
    assert_eq!(counted(&bucket.check(&[&id], 0, now).await), (true, 5));
    assert_eq!(counted(&fixed.check(&[unique("look")], 0, now).await), (true, 2));
}

#[tokio::test]
async fn several_limits_are_all_or_nothing_in_one_round_trip() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    let now = 1_700_000_030_000;
    let tenant = unique("tenant");
    let (ip1, ip2) = (unique("ip1"), unique("ip2"));
    let l = exact(vec![
        Policy::sliding_window("tenant", 5, 60_000).with_prefix("rl-test:tenant"),
        Policy::fixed_window("ip", 2, 60_000).with_prefix("rl-test:ip"),
        Policy::token_bucket("burst", 10, 60_000, 10).with_prefix("rl-test:burst"),
    ]);
    // Warm-up: the first call may need EVALSHA → NOSCRIPT → EVAL.
    let before = l.client().round_trips();
    let d = l.check(&[&tenant, &ip1, &tenant], 1, now).await;
    assert!(l.client().round_trips() - before <= 2);
    assert!(d.success);
    assert_eq!((d.which.as_str(), d.remaining), ("ip", 1), "the least remaining decides");

    let before = l.client().round_trips();
    let d = l.check(&[&tenant, &ip1, &tenant], 1, now).await;
    assert_eq!(l.client().round_trips() - before, 1, "three limits, one round trip");
    assert!(d.success);

    // The IP is out: refused by "ip", and the tenant and the bucket keep their units.
    let d = l.check(&[&tenant, &ip1, &tenant], 1, now).await;
    assert_eq!((d.success, d.which.as_str(), d.remaining), (false, "ip", 0));
    assert_eq!(d.violated(), ["ip"]);
    let tenant_state = &d.limits[0];
    assert_eq!((tenant_state.success, tenant_state.remaining), (true, 3), "tenant would have allowed it");
    let tenant_key = format!("rl-test:tenant:{tenant}:{}", now / 60_000);
    assert_eq!(get(&r, &tenant_key).await.as_i64(), Some(2), "not burnt by the IP refusal");
    let tokens = r.query(&["HGET", &format!("rl-test:burst:{tenant}"), "tokens"]).await.unwrap();
    assert_eq!(tokens.as_i64(), Some(8));

    // Other IPs of the same tenant go through and use the tenant's budget, until it is out.
    let ip3 = unique("ip3");
    let d = l.check(&[&tenant, &ip2, &tenant], 2, now).await;
    assert_eq!((d.success, d.which.as_str(), d.remaining), (true, "ip", 0));
    let d = l.check(&[&tenant, &ip3, &tenant], 1, now).await;
    assert_eq!((d.success, d.which.as_str(), d.remaining), (true, "tenant", 0));
    let d = l.check(&[&tenant, &unique("ip4"), &tenant], 1, now).await;
    assert_eq!((d.success, d.violated()), (false, vec!["tenant"]));
    assert_eq!(get(&r, &tenant_key).await.as_i64(), Some(5));
    assert_eq!(get(&r, &format!("rl-test:ip:{ip3}:{}", now / 60_000)).await.as_i64(), Some(1));
}

/// 1,000 decisions at once through the REST server: exactly `limit` admitted.
async fn thousand_at_once(policy: Policy, limit: usize) {
    let id = unique("concurrent");
    let l = Limiter::new(rest(), vec![policy])
        .with_timeout(Duration::from_secs(30))
        .with_fail_policy(FailPolicy::Closed)
        .with_cache(BlockCache::new());
    let now = 1_700_000_030_000;
    let ids = [id.as_str()];
    let decisions = join_all((0..1000).map(|_| l.check(&ids, 1, now))).await;
    let failures: Vec<&Decision> =
        decisions.iter().filter(|d| matches!(d.reason, Some(Reason::Timeout | Reason::RedisError))).collect();
    assert!(failures.is_empty(), "{} failed, e.g. {:?}", failures.len(), failures.first());
    let admitted = decisions.iter().filter(|d| d.success).count();
    assert_eq!(admitted, limit);
    let cached = decisions.iter().filter(|d| d.reason == Some(Reason::CacheBlock)).count();
    eprintln!("1000 concurrent: {admitted} admitted, {cached} refused from the cache");
}

#[tokio::test]
async fn a_thousand_concurrent_sliding_window_decisions_admit_exactly_the_limit() {
    if sba_testkit::without_stack() {
        return;
    }
    thousand_at_once(Policy::sliding_window("s", 20, 60_000), 20).await;
}

#[tokio::test]
async fn a_thousand_concurrent_token_bucket_decisions_admit_exactly_the_bucket() {
    if sba_testkit::without_stack() {
        return;
    }
    thousand_at_once(Policy::token_bucket("t", 20, 60_000, 1), 20).await;
}

#[tokio::test]
async fn a_cached_block_costs_no_round_trip() {
    if sba_testkit::without_stack() {
        return;
    }
    let now = 1_700_000_030_000;
    let reset = (now / 60_000 + 1) * 60_000;
    let id = unique("cache");
    let l = Limiter::new(rest(), vec![Policy::fixed_window("f", 2, 60_000)])
        .with_timeout(Duration::from_secs(10))
        .with_cache(BlockCache::new());
    let rt = || l.client().round_trips();

    let before = rt();
    assert!(l.check(&[&id], 1, now).await.success);
    assert!(rt() - before <= 2, "warm-up: EVALSHA, maybe EVAL");
    let before = rt();
    let d = l.check(&[&id], 1, now).await;
    assert_eq!((counted(&d), rt() - before), ((true, 0), 1), "one round trip after warm-up");
    assert_eq!(d.outcome(), "allowed");

    // Redis said 0 remaining: the next ones are refused in memory until the reset.
    let before = rt();
    for at in [now, now + 1, reset - 1] {
        let d = l.check(&[&id], 1, at).await;
        assert_eq!(
            (d.success, d.reason, d.remaining, d.reset_ms, d.retry_at_ms),
            (false, Some(Reason::CacheBlock), 0, reset, reset)
        );
        assert_eq!(d.outcome(), "denied_cached");
        let h = l.headers(&d, at);
        assert!(h.iter().any(|(n, v)| *n == "Retry-After" && v.parse::<u64>().unwrap() >= 1));
    }
    assert_eq!(rt() - before, 0, "cached blocks: zero round trips");

    // Another identifier is not blocked; a new window asks Redis again.
    let before = rt();
    assert!(l.check(&[unique("cache-other")], 1, now).await.success);
    assert!(l.check(&[&id], 1, reset).await.success);
    assert_eq!(rt() - before, 2);

    // A refund is never answered from the cache, and lifts the block.
    let id = unique("cache-refund");
    l.check(&[&id], 2, now).await;
    assert_eq!(l.check(&[&id], 1, now).await.reason, Some(Reason::CacheBlock));
    assert_eq!(counted(&l.check(&[&id], -1, now).await), (true, 1));
    assert_eq!(counted(&l.check(&[&id], 1, now).await), (true, 0));
}

#[tokio::test]
async fn a_sliding_window_block_lasts_exactly_until_a_unit_frees_up() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    let id = unique("cache-sliding");
    // previous = 10, weighted 5 at now: 5 more fit; then a unit frees up once the weight
    // drops to 4, at 5001 ms into the window (floor(0.4999 · 10) = 4).
    let now = 1_000_005_000;
    r.query(&["SET", &format!("@upstash/ratelimit:{id}:99999"), "10", "EX", "60"]).await.unwrap();
    let l = Limiter::new(rest(), vec![Policy::sliding_window("s", 10, 10_000)])
        .with_timeout(Duration::from_secs(10))
        .with_cache(BlockCache::new());
    let d = l.check(&[&id], 5, now).await;
    assert_eq!(counted(&d), (true, 0));
    let d = l.check(&[&id], 1, now).await;
    assert_eq!((d.reason, d.retry_at_ms, d.reset_ms), (Some(Reason::CacheBlock), now + 1, 1_000_010_000));
    // Redis agrees: refused 1 ms before, admitted at that time.
    let uncached = exact(vec![Policy::sliding_window("s", 10, 10_000)]);
    let d = uncached.check(&[&id], 1, now).await;
    assert_eq!((counted(&d), d.retry_at_ms), ((false, 0), now + 1));
    assert_eq!(counted(&l.check(&[&id], 1, now + 1).await), (true, 0));
}

#[tokio::test]
async fn unreachable_redis_follows_the_fail_policy() {
    // Bind then drop: nothing listens there.
    let addr = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let client = RedisRest::new(format!("http://{addr}"), "t");
    let policies = vec![Policy::sliding_window("tenant", 20, 60_000)];

    let open =
        Limiter::new(client.clone(), policies.clone()).with_cache(BlockCache::new()).with_fail_policy(FailPolicy::Open);
    let d = open.check(&["x"], 1, 1_000).await;
    assert_eq!((d.success, d.reason, d.allowed_by_policy), (true, Some(Reason::RedisError), true));
    assert_eq!(d.outcome(), "allowed_fail_open");
    assert!(d.error.as_deref().unwrap().contains("network"), "{d:?}");

    let closed = open.clone().with_fail_policy(FailPolicy::Closed);
    let d = closed.check(&["x"], 1, 1_000).await;
    assert_eq!((d.success, d.reason, d.allowed_by_policy), (false, Some(Reason::RedisError), false));
    assert_eq!(d.outcome(), "failed_closed");
    let h = closed.headers(&d, 1_000);
    assert!(h.contains(&("Retry-After", "1".to_owned())), "{h:?}");
}

#[tokio::test]
async fn a_silent_redis_is_a_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream); // accept, never answer
        }
    });
    let client = RedisRest::new(format!("http://{addr}"), "t");
    let l = Limiter::new(client, vec![Policy::fixed_window("f", 5, 1000)])
        .with_timeout(Duration::from_millis(150))
        .with_cache(BlockCache::new())
        .with_fail_policy(FailPolicy::Open);
    let d = l.check(&["x"], 1, 1_000).await;
    assert_eq!((d.success, d.reason, d.allowed_by_policy), (true, Some(Reason::Timeout), true));
    assert_eq!(l.client().round_trips(), 1, "a timed-out script call is not retried");
    let d = l.with_fail_policy(FailPolicy::Closed).check(&["x"], 1, 1_000).await;
    assert_eq!((d.success, d.reason), (false, Some(Reason::Timeout)));
}

#[tokio::test]
async fn default_timeout_is_3_s_and_the_default_policy_decides_locally() {
    if sba_testkit::without_stack() {
        return;
    }
    let l = Limiter::new(rest(), vec![Policy::fixed_window("f", 5, 1000)]);
    assert_eq!(l.client().timeout(), Duration::from_secs(3));
    assert_eq!(FailPolicy::default(), FailPolicy::Local);
}

/// Without Redis, the local policy admits the limit per window and no more — counting what
/// was already admitted through Redis in this process.
#[tokio::test]
async fn without_redis_the_isolate_decides_within_the_limit() {
    if sba_testkit::without_stack() {
        return;
    }
    // The same server refusing us (a wrong token): Redis cannot be asked.
    let refusing = RedisRest::new(env("SBA_REDIS_REST_URL"), "not-the-token");
    let local = LocalLimits::new();
    let policies = vec![Policy::sliding_window("tenant", 5, 60_000), Policy::sliding_window("ip", 100, 60_000)];
    let id = unique("local");
    let now = 1_000_000_000_000;
    // Two admitted while Redis answers...
    let live = exact(policies.clone()).with_local(local.clone());
    for _ in 0..2 {
        assert!(live.check(&[&id, &id], 1, now).await.success);
    }
    // ...then Redis goes away: three more, then refusals (a 429, not a 503).
    let away = Limiter::new(refusing, policies).with_cache(BlockCache::new()).with_local(local.clone());
    let ids = [id.clone(), id.clone()];
    let decisions = join_all((0..10).map(|_| away.check(&ids, 1, now + 10))).await;
    let admitted = decisions.iter().filter(|d| d.success).count();
    assert_eq!(admitted, 3, "{decisions:?}");
    assert!(decisions.iter().all(|d| d.reason == Some(Reason::RedisError) && d.decided_locally));
    let refused = decisions.iter().find(|d| !d.success).unwrap();
    assert_eq!((refused.outcome(), refused.which.as_str()), ("denied_local", "tenant"));
    assert_eq!(decisions.iter().find(|d| d.success).unwrap().outcome(), "allowed_local");
    // The next window starts afresh (the previous one still weighs: 5 × ¾ → 3 used).
    let later = away.check(&[&id, &id], 1, now + 75_000).await;
    assert!(later.success && later.decided_locally, "{later:?}");
}
