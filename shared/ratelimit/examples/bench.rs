//! Decisions per second of the limiter against the local stack, next to the baseline of the
//! same run: single-command round trips (`PING`) through the same REST client and server.
//!
//! ```text
//! SBA_REDIS_REST_URL=… SBA_REDIS_REST_TOKEN=… cargo run --release -p sba-ratelimit --example bench
//! ```
//!
//! Bounded: every phase stops after `SBA_BENCH_OPS` operations (default 3000) or
//! `SBA_BENCH_SECS` seconds (default 1.0), whichever comes first; concurrency is
//! `SBA_BENCH_CONCURRENCY` (default 16). Exits 1 if a decision took other than one round
//! trip, a cached block took any, or a decision that should pass did not.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use sba_ratelimit::{BlockCache, Limiter, Policy, Reason};
use sba_redis::RedisRest;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as u64
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Bounds {
    ops: u64,
    time: Duration,
    concurrency: usize,
}

struct Measured {
    ops: u64,
    secs: f64,
    round_trips: u64,
    failures: u64,
}

impl Measured {
    fn per_sec(&self) -> f64 {
        self.ops as f64 / self.secs
    }
    fn trips_per_op(&self) -> f64 {
        self.round_trips as f64 / self.ops.max(1) as f64
    }
}

/// Runs `op` from `workers` concurrent loops until the bounds; `op` answers whether it went
/// as expected.
async fn measure<F, Fut>(client: &RedisRest, bounds: &Bounds, workers: usize, op: F) -> Measured
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    let trips_before = client.round_trips();
    let issued = Cell::new(0u64);
    let failures = Cell::new(0u64);
    let worker = || async {
        loop {
            let n = issued.get();
            if n >= bounds.ops || started.elapsed() >= bounds.time {
                break;
            }
            issued.set(n + 1);
            if !op(n).await {
                failures.set(failures.get() + 1);
            }
        }
    };
    join_all((0..workers).map(|_| worker())).await;
    Measured {
        ops: issued.get(),
        secs: started.elapsed().as_secs_f64(),
        round_trips: client.round_trips() - trips_before,
        failures: failures.get(),
    }
}

fn row(name: &str, m: &Measured) {
    println!("{name:<44} {:>7} {:>7.2} {:>10.0} {:>10.2}", m.ops, m.secs, m.per_sec(), m.trips_per_op());
}

fn main() {
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let url = env("SBA_REDIS_REST_URL");
    let client = RedisRest::new(&url, env("SBA_REDIS_REST_TOKEN")).with_timeout(Duration::from_secs(5));
    let bounds = Bounds {
        ops: setting("SBA_BENCH_OPS", 3000),
        time: Duration::from_secs_f64(setting("SBA_BENCH_SECS", 1.0)),
        concurrency: setting("SBA_BENCH_CONCURRENCY", 16),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let ok = runtime.block_on(run(&client, &bounds, &url));
    std::process::exit(if ok { 0 } else { 1 });
}

async fn run(client: &RedisRest, bounds: &Bounds, url: &str) -> bool {
    let run_id = format!("{}:{}", std::process::id(), now_ms());
    let big = 1_000_000_000; // limits no benchmark reaches: every decision passes
    let one = Limiter::new(
        client.clone(),
        vec![Policy::sliding_window("tenant", big, 60_000).with_prefix("rl-bench:tenant")],
    )
    .with_timeout(Duration::from_secs(5))
    .without_cache();
    let three = Limiter::new(
        client.clone(),
        vec![
            Policy::sliding_window("tenant", big, 60_000).with_prefix("rl-bench:tenant"),
            Policy::fixed_window("ip", big, 60_000).with_prefix("rl-bench:ip"),
            Policy::token_bucket("burst", big, 1000, big).with_prefix("rl-bench:burst"),
        ],
    )
    .with_timeout(Duration::from_secs(5))
    .without_cache();
    let cached =
        Limiter::new(client.clone(), vec![Policy::fixed_window("blocked", 1, 60_000).with_prefix("rl-bench:blocked")])
            .with_timeout(Duration::from_secs(5))
            .with_cache(BlockCache::new());

    // Warm-up: connections open, the script known to the server (EVALSHA → NOSCRIPT → EVAL).
    for _ in 0..20 {
        client.ping().await.expect("PING: is the local stack up?");
    }
    let id = format!("{run_id}:warm");
    one.check(&[&id], 1, now_ms()).await;
    three.check(&[&id, &id, &id], 1, now_ms()).await;
    let blocked_id = format!("{run_id}:blocked");
    cached.check(&[&blocked_id], 1, now_ms()).await;
    let d = cached.check(&[&blocked_id], 1, now_ms()).await;
    assert_eq!(d.reason, Some(Reason::CacheBlock), "the identifier is blocked in the cache");

    let ping = || async { client.ping().await.is_ok() };
    let decide1 = |n: u64| {
        let id = format!("{run_id}:{}", n % 64);
        let one = &one;
        async move {
            let d = one.check(&[&id], 1, now_ms()).await;
            d.success && d.reason.is_none()
        }
    };
    let decide3 = |n: u64| {
        let (tenant, ip) = (format!("{run_id}:t{}", n % 8), format!("{run_id}:ip{}", n % 64));
        let three = &three;
        async move {
            let d = three.check(&[&tenant, &ip, &tenant], 1, now_ms()).await;
            d.success && d.reason.is_none()
        }
    };
    let blocked = |_n: u64| {
        let cached = &cached;
        let id = &blocked_id;
        async move { cached.check(&[id], 1, now_ms()).await.reason == Some(Reason::CacheBlock) }
    };

    let c = bounds.concurrency;
    println!(
        "sba-ratelimit bench — {url}; at most {} ops or {:.1} s per phase; concurrency {c}",
        bounds.ops,
        bounds.time.as_secs_f64()
    );
    println!("1 policy: sliding window. 3 policies: sliding window + fixed window + token bucket.\n");
    println!("{:<44} {:>7} {:>7} {:>10} {:>10}", "phase", "ops", "secs", "ops/s", "trips/op");
    let ping_seq = measure(client, bounds, 1, |_| ping()).await;
    row("baseline: PING, sequential", &ping_seq);
    let one_seq = measure(client, bounds, 1, decide1).await;
    row("limiter, 1 policy, sequential", &one_seq);
    let three_seq = measure(client, bounds, 1, decide3).await;
    row("limiter, 3 policies, sequential", &three_seq);
    let ping_con = measure(client, bounds, c, |_| ping()).await;
    row(&format!("baseline: PING, {c} concurrent"), &ping_con);
    let one_con = measure(client, bounds, c, decide1).await;
    row(&format!("limiter, 1 policy, {c} concurrent"), &one_con);
    let three_con = measure(client, bounds, c, decide3).await;
    row(&format!("limiter, 3 policies, {c} concurrent"), &three_con);
    let cache_seq = measure(client, bounds, 1, blocked).await;
    row("limiter, cached block, sequential", &cache_seq);

    println!();
    println!("ratio decisions/s ÷ PING/s (same run):");
    println!("  1 policy,   sequential    {:.2}", one_seq.per_sec() / ping_seq.per_sec());
    println!("  3 policies, sequential    {:.2}", three_seq.per_sec() / ping_seq.per_sec());
    println!("  1 policy,   {c} concurrent {:.2}", one_con.per_sec() / ping_con.per_sec());
    println!("  3 policies, {c} concurrent {:.2}", three_con.per_sec() / ping_con.per_sec());
    println!("Redis round trips per decision:");
    let decisions = [&one_seq, &three_seq, &one_con, &three_con];
    let trips: u64 = decisions.iter().map(|m| m.round_trips).sum();
    let count: u64 = decisions.iter().map(|m| m.ops).sum();
    println!(
        "  counted in Redis          {:.2} ({trips} round trips / {count} decisions)",
        trips as f64 / count as f64
    );
    println!(
        "  cached block              {:.2} ({} round trips / {} decisions)",
        cache_seq.trips_per_op(),
        cache_seq.round_trips,
        cache_seq.ops
    );

    let failures: u64 = decisions.iter().chain([&cache_seq, &ping_seq, &ping_con].iter()).map(|m| m.failures).sum();
    let mut ok = true;
    if trips != count {
        println!("FAIL: a decision took other than exactly one round trip");
        ok = false;
    }
    if cache_seq.round_trips != 0 {
        println!("FAIL: a cached block made a round trip");
        ok = false;
    }
    if failures != 0 {
        println!("FAIL: {failures} operations did not answer as expected");
        ok = false;
    }
    ok
}
