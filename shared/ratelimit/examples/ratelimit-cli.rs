//! The limiter as a long-lived child process, for the Node differential tests
//! (tests/ratelimit/): one JSON request per stdin line, one JSON answer per stdout line.
//!
//! ```text
//! cargo build -p sba-ratelimit --example ratelimit-cli
//! SBA_REDIS_REST_URL=… SBA_REDIS_REST_TOKEN=… target/debug/examples/ratelimit-cli
//! → {"algorithm":"slidingWindow","limit":5,"window_ms":60000,"identifier":"u1","rate":1}
//! ← {"success":true,"limit":5,"remaining":4,"reset":1700000040000,"reason":null,"which":"slidingWindow","retryAt":0,"roundTrips":1}
//! ```
//!
//! Request fields: `algorithm` (`slidingWindow` | `fixedWindow` | `tokenBucket`), `limit`
//! (a bucket's size), `window_ms` (a bucket's interval), `refill_rate` (buckets), `identifier`,
//! `rate` (default 1), `now_ms` (default: this machine's clock), `prefix` (default
//! `@upstash/ratelimit`), `cache` (default false: every answer comes from Redis),
//! `timeout_ms` (default 5000). A bad line answers `{"error": …}`. Native only.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sba_ratelimit::{BlockCache, Limiter, Policy, DEFAULT_PREFIX};
use sba_redis::RedisRest;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Request {
    algorithm: String,
    limit: u64,
    window_ms: u64,
    #[serde(default)]
    refill_rate: u64,
    identifier: String,
    #[serde(default = "one")]
    rate: i64,
    now_ms: Option<u64>,
    prefix: Option<String>,
    #[serde(default)]
    cache: bool,
    timeout_ms: Option<u64>,
}

fn one() -> i64 {
    1
}

fn policy(req: &Request) -> Result<Policy, String> {
    let label = req.algorithm.clone();
    let policy = match req.algorithm.as_str() {
        _ if req.limit == 0 || req.window_ms == 0 => return Err("limit and window_ms must be > 0".into()),
        "slidingWindow" => Policy::sliding_window(label, req.limit, req.window_ms),
        "fixedWindow" => Policy::fixed_window(label, req.limit, req.window_ms),
        "tokenBucket" if req.refill_rate > 0 => Policy::token_bucket(label, req.limit, req.window_ms, req.refill_rate),
        "tokenBucket" => return Err("tokenBucket needs refill_rate > 0".into()),
        other => return Err(format!("unknown algorithm {other:?}")),
    };
    Ok(policy.with_prefix(req.prefix.clone().unwrap_or_else(|| DEFAULT_PREFIX.to_owned())))
}

fn main() {
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let client = RedisRest::new(env("SBA_REDIS_REST_URL"), env("SBA_REDIS_REST_TOKEN"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let cache = BlockCache::new();
    let mut limiters: HashMap<String, Limiter> = HashMap::new();
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Request>(&line).map_err(|e| e.to_string()) {
            Err(e) => json!({ "error": e }),
            Ok(req) => match policy(&req) {
                Err(e) => json!({ "error": e }),
                Ok(policy) => {
                    let timeout = Duration::from_millis(req.timeout_ms.unwrap_or(5000));
                    let config = format!("{policy:?}|{}|{timeout:?}", req.cache);
                    let limiter = limiters.entry(config).or_insert_with(|| {
                        let l = Limiter::new(client.clone(), vec![policy]).with_timeout(timeout);
                        if req.cache {
                            l.with_cache(cache.clone())
                        } else {
                            l.without_cache()
                        }
                    });
                    let now_ms = req.now_ms.unwrap_or_else(|| {
                        SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as u64
                    });
                    let before = client.round_trips();
                    let d = runtime.block_on(limiter.check(&[&req.identifier], req.rate, now_ms));
                    json!({
                        "success": d.success,
                        "limit": d.limit,
                        "remaining": d.remaining,
                        "reset": d.reset_ms,
                        "reason": d.reason,
                        "which": d.which,
                        "retryAt": d.retry_at_ms,
                        "failure": d.error,
                        "nowMs": now_ms,
                        "roundTrips": client.round_trips() - before,
                    })
                }
            },
        };
        let mut out = stdout.lock();
        if writeln!(out, "{answer}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
}
