//! The core every algorithm plugs into: one script call per request for all policies, the
//! block cache in front of it, the failure policy behind it.

use std::sync::LazyLock;
use std::time::Duration;

use sba_redis::{Cmd, RedisError, RedisRest, RedisValue, Script};

use crate::cache::{BlockCache, Blocked};
use crate::local::LocalLimits;
use crate::types::{Algorithm, Decision, FailPolicy, LimitState, Policy, Reason};
use crate::{fixed_window, sliding_window, token_bucket};

const PRELUDE: &str = include_str!("scripts/prelude.lua");
const DRIVER: &str = include_str!("scripts/limit.lua");

/// The one script: the prelude (its first line is the `#!lua` shebang), the three algorithm
/// constructors, then the driver. Its SHA-1 is computed once per process.
static LIMIT_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(format!("{PRELUDE}\n{}\n{}\n{}\n{DRIVER}", sliding_window::LUA, fixed_window::LUA, token_bucket::LUA))
});

/// The Lua source every decision runs (for reading, or loading ahead with `SCRIPT LOAD`).
pub fn limit_script() -> &'static Script {
    &LIMIT_SCRIPT
}

/// Integers the script answers per policy: passed, remaining, reset, retry at, unblocked at.
const PER_LIMIT: usize = 5;

/// A set of policies every request must pass, decided in one round trip to Redis.
#[derive(Debug, Clone)]
pub struct Limiter {
    client: RedisRest,
    policies: Vec<Policy>,
    fail_policy: FailPolicy,
    cache: Option<BlockCache>,
    /// Whether a cached block may answer without Redis (see [`Limiter::refreshing_cache`]).
    consult_cache: bool,
    /// Every unit taken through Redis, counted in the isolate too: the decider when Redis
    /// cannot be asked ([`FailPolicy::Local`]).
    local: LocalLimits,
    /// Per policy: what, besides the key, makes two cached blocks the same (server, algorithm
    /// and numbers), so limiters sharing [`BlockCache::shared`] never mix up their blocks.
    cache_tags: Vec<String>,
}

impl Limiter {
    /// How long a decision may wait for Redis before the [`FailPolicy`] decides, counted
    /// from when the request is handed to the runtime. Generous on purpose: a runtime busy
    /// with a burst answers late, and that is load, not an outage; deciding without Redis
    /// then would be less exact than waiting. A Redis that refuses connections fails at once.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

    /// A limiter with the defaults: 3 s timeout, [`FailPolicy::Local`], and the process-wide
    /// (per isolate) [`BlockCache::shared`] and [`LocalLimits::shared`].
    ///
    /// # Panics
    /// If `policies` is empty.
    pub fn new(client: RedisRest, policies: Vec<Policy>) -> Limiter {
        assert!(!policies.is_empty(), "a limiter needs at least one policy");
        let cache_tags = policies
            .iter()
            .map(|p| {
                let numbers = match p.algorithm {
                    Algorithm::SlidingWindow { limit, window_ms } => format!("sliding:{limit}:{window_ms}"),
                    Algorithm::FixedWindow { limit, window_ms } => format!("fixed:{limit}:{window_ms}"),
                    Algorithm::TokenBucket { max_tokens, interval_ms, refill_rate } => {
                        format!("token:{max_tokens}:{interval_ms}:{refill_rate}")
                    }
                };
                format!("{}|{numbers}", client.base_url())
            })
            .collect();
        Limiter {
            client: client.with_timeout(Self::DEFAULT_TIMEOUT),
            policies,
            fail_policy: FailPolicy::default(),
            cache: Some(BlockCache::shared()),
            consult_cache: true,
            local: LocalLimits::shared(),
            cache_tags,
        }
    }

    /// Time allowed per attempt to reach Redis (see [`RedisRest::with_timeout`]). The first
    /// decision against a server that has not seen the script makes two calls
    /// (`EVALSHA` → `NOSCRIPT` → `EVAL`), so it may take up to twice this.
    pub fn with_timeout(mut self, timeout: Duration) -> Limiter {
        self.client = self.client.with_timeout(timeout);
        self
    }

    pub fn with_fail_policy(mut self, fail_policy: FailPolicy) -> Limiter {
        self.fail_policy = fail_policy;
        self
    }

    /// Use this cache of blocked identifiers (e.g. [`BlockCache::new`] for one of its own).
    pub fn with_cache(mut self, cache: BlockCache) -> Limiter {
        self.cache = Some(cache);
        self
    }

    /// Count in these local limits instead of the isolate's shared ones.
    pub fn with_local(mut self, local: LocalLimits) -> Limiter {
        self.local = local;
        self
    }

    /// Ask Redis every time.
    pub fn without_cache(mut self) -> Limiter {
        self.cache = None;
        self
    }

    /// Ask Redis this time even if the cache holds a block, and remember its answer: for a
    /// caller whose policies may have changed since the block was cached (a new plan).
    pub fn refreshing_cache(mut self) -> Limiter {
        self.consult_cache = false;
        self
    }

    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// The client (with the limiter's timeout); its [`RedisRest::round_trips`] counts calls.
    pub fn client(&self) -> &RedisRest {
        &self.client
    }

    /// `RateLimit-Policy`, `RateLimit`, `X-RateLimit-*` and `Retry-After` for a decision of
    /// this limiter (see [`crate::headers`]).
    pub fn headers(&self, decision: &Decision, now_ms: u64) -> Vec<(&'static str, String)> {
        crate::headers(&self.policies, decision, now_ms)
    }

    /// Decides one request taking `rate` units (1 for one request; negative to refund, 0 to
    /// look without taking) under every policy at once: `identifiers[i]` is the identifier
    /// for `policies[i]` (a tenant id, an IP…). `now_ms` is the caller's clock (ms since the
    /// epoch): in workerd, `Date.now()`; this crate never reads a clock.
    ///
    /// All or nothing: the units are taken from every policy or from none, in one atomic
    /// script, one round trip (two on the first call to a server that does not know the
    /// script yet). A request refused by a block cached from an earlier answer makes none.
    ///
    /// # Panics
    /// If there is not exactly one identifier per policy.
    pub async fn check<S: AsRef<str>>(&self, identifiers: &[S], rate: i64, now_ms: u64) -> Decision {
        self.check_alongside(identifiers, rate, now_ms, &[]).await.0
    }

    /// The refusal a cached block gives right now, without asking Redis (`None`: Redis
    /// would have to be asked). For a caller that wants to refuse a blocked client before
    /// doing any other work for it.
    pub fn blocked<S: AsRef<str>>(&self, identifiers: &[S], now_ms: u64) -> Option<Decision> {
        let cache_keys: Vec<String> = self
            .cache_tags
            .iter()
            .zip(self.policies.iter().zip(identifiers))
            .map(|(tag, (p, id))| format!("{tag}|{}", p.base_key(id.as_ref())))
            .collect();
        self.cached_block(&cache_keys, now_ms)
    }

    /// [`check`](Self::check), with `alongside` commands sent in the SAME request as the
    /// limiter's script (a pipeline: one round trip for both), for a caller that needs other
    /// answers before it can go on (a plan to refresh, a claim to take). Their answers come
    /// back in order, or `None` when Redis was not asked (a cached block, a failed call).
    /// They run whatever the decision: a caller whose work is refused undoes them itself.
    pub async fn check_alongside<S: AsRef<str>>(
        &self,
        identifiers: &[S],
        rate: i64,
        now_ms: u64,
        alongside: &[Cmd],
    ) -> (Decision, Option<Vec<RedisValue>>) {
        assert_eq!(
            identifiers.len(),
            self.policies.len(),
            "one identifier per policy ({} policies)",
            self.policies.len()
        );
        let base_keys: Vec<String> =
            self.policies.iter().zip(identifiers).map(|(p, id)| p.base_key(id.as_ref())).collect();
        let cache_keys: Vec<String> =
            self.cache_tags.iter().zip(&base_keys).map(|(tag, key)| format!("{tag}|{key}")).collect();

        if rate > 0 && self.consult_cache {
            if let Some(decision) = self.cached_block(&cache_keys, now_ms) {
                return (decision, None);
            }
        }

        let (keys, args) = self.script_input(&base_keys, rate, now_ms);
        let local_keys: Vec<(Algorithm, &str)> =
            self.policies.iter().map(|p| p.algorithm).zip(cache_keys.iter().map(String::as_str)).collect();
        let reserved = (rate > 0).then(|| self.local.reserve(&local_keys, rate.unsigned_abs()));
        let (answer, others) = if alongside.is_empty() {
            (self.client.eval_script(limit_script(), &keys, &args).await, None)
        } else {
            let mut commands = Vec::with_capacity(1 + alongside.len());
            commands.push(Cmd::eval(limit_script(), &keys, &args));
            commands.extend_from_slice(alongside);
            match self.client.pipeline(&commands).await {
                Ok(mut answers) => {
                    let others = answers.split_off(1);
                    (
                        answers.pop().map_or_else(
                            || Err(RedisError::Protocol("empty pipeline answer".into())),
                            RedisValue::into_result,
                        ),
                        Some(others),
                    )
                }
                Err(e) => (Err(e), None),
            }
        };
        drop(reserved);
        let decision = match answer.and_then(|v| parse(v, self.policies.len())) {
            Ok((all_ok, results)) => {
                let decision = self.counted(all_ok, &results);
                self.remember(&cache_keys, &results, rate, now_ms);
                if all_ok || rate < 0 {
                    self.local.record(&local_keys, rate, now_ms);
                }
                decision
            }
            Err(e) if self.fail_policy == FailPolicy::Local => self.decided_locally(e, &local_keys, rate, now_ms),
            Err(e) => self.failed(e),
        };
        (decision, others)
    }

    /// Redis could not be asked: the isolate's own counts decide, all or nothing.
    fn decided_locally(&self, error: RedisError, local_keys: &[(Algorithm, &str)], rate: i64, now_ms: u64) -> Decision {
        let reason = Some(if error.is_timeout() { Reason::Timeout } else { Reason::RedisError });
        if rate <= 0 {
            // A refund Redis did not take is not given back here either: Redis still holds
            // the unit, and the isolate must not admit more than Redis will count.
            return Decision { decided_locally: true, ..self.failed(error) };
        }
        let answers = self.local.decide(local_keys, rate.unsigned_abs(), now_ms);
        let all_ok = answers.iter().all(|a| a.fits);
        let results: Vec<LimitResult> = answers
            .iter()
            .map(|a| LimitResult {
                passed: a.fits,
                remaining: a.remaining,
                reset_ms: a.reset_ms,
                retry_at_ms: if a.fits { now_ms } else { a.reset_ms },
                unblocked_at_ms: a.reset_ms,
            })
            .collect();
        Decision { reason, decided_locally: true, error: Some(error.to_string()), ..self.counted(all_ok, &results) }
    }

    fn script_input(&self, base_keys: &[String], rate: i64, now_ms: u64) -> (Vec<String>, Vec<String>) {
        let mut keys = Vec::with_capacity(base_keys.len() * 2);
        let mut args = Vec::with_capacity(2 + base_keys.len() * 4);
        args.push(now_ms.to_string());
        args.push(rate.to_string());
        for (policy, base) in self.policies.iter().zip(base_keys) {
            match policy.algorithm {
                Algorithm::SlidingWindow { limit, window_ms } => {
                    keys.extend(sliding_window::keys(base, window_ms, now_ms));
                    args.extend(sliding_window::args(limit, window_ms));
                }
                Algorithm::FixedWindow { limit, window_ms } => {
                    keys.push(fixed_window::key(base, window_ms, now_ms));
                    args.extend(fixed_window::args(limit, window_ms));
                }
                Algorithm::TokenBucket { max_tokens, interval_ms, refill_rate } => {
                    keys.push(token_bucket::key(base));
                    args.extend(token_bucket::args(max_tokens, interval_ms, refill_rate));
                }
            }
        }
        (keys, args)
    }

    /// A refusal from the cache: the blocked policy that frees up last.
    fn cached_block(&self, cache_keys: &[String], now_ms: u64) -> Option<Decision> {
        let cache = self.cache.as_ref()?;
        let (i, blocked) = cache_keys
            .iter()
            .enumerate()
            .filter_map(|(i, key)| cache.blocked(key, now_ms).map(|b| (i, b)))
            .fold(None, |worst: Option<(usize, Blocked)>, (i, b)| match worst {
                Some((_, w)) if w.until_ms >= b.until_ms => worst,
                _ => Some((i, b)),
            })?;
        let policy = &self.policies[i];
        Some(Decision {
            success: false,
            limit: policy.limit(),
            remaining: 0,
            reset_ms: blocked.reset_ms,
            retry_at_ms: blocked.until_ms,
            reason: Some(Reason::CacheBlock),
            which: policy.label.clone(),
            allowed_by_policy: false,
            decided_locally: false,
            limits: vec![LimitState {
                label: policy.label.clone(),
                success: false,
                limit: policy.limit(),
                remaining: 0,
                reset_ms: blocked.reset_ms,
                retry_at_ms: blocked.until_ms,
            }],
            error: None,
        })
    }

    /// The decision from the script's answer: the deciding policy is the refusing one that
    /// frees up last, or, when all passed, the one with the least remaining (first wins ties).
    fn counted(&self, all_ok: bool, results: &[LimitResult]) -> Decision {
        let limits: Vec<LimitState> = self
            .policies
            .iter()
            .zip(results)
            .map(|(p, r)| LimitState {
                label: p.label.clone(),
                success: r.passed,
                limit: p.limit(),
                remaining: r.remaining,
                reset_ms: r.reset_ms,
                retry_at_ms: r.retry_at_ms,
            })
            .collect();
        let decider = if all_ok {
            (0..limits.len()).min_by_key(|&i| (limits[i].remaining, i))
        } else {
            (0..limits.len())
                .filter(|&i| !limits[i].success)
                .max_by_key(|&i| (limits[i].retry_at_ms, std::cmp::Reverse(i)))
        }
        .unwrap_or(0);
        let d = &limits[decider];
        Decision {
            success: all_ok,
            limit: d.limit,
            remaining: d.remaining,
            reset_ms: d.reset_ms,
            retry_at_ms: if all_ok { 0 } else { d.retry_at_ms },
            reason: None,
            which: d.label.clone(),
            allowed_by_policy: false,
            decided_locally: false,
            limits,
            error: None,
        }
    }

    /// Updates the cache from what Redis said: a refund lifts blocks (as upstream); a policy
    /// left with nothing is blocked until a unit could free up. Blocking right after the
    /// request that used the last unit is exact too: Redis would refuse the next one.
    fn remember(&self, cache_keys: &[String], results: &[LimitResult], rate: i64, now_ms: u64) {
        let Some(cache) = &self.cache else { return };
        for (key, r) in cache_keys.iter().zip(results) {
            if r.remaining == 0 && r.unblocked_at_ms > now_ms {
                cache.block(key.clone(), Blocked { until_ms: r.unblocked_at_ms, reset_ms: r.reset_ms }, now_ms);
            } else if rate < 0 {
                cache.unblock(key);
            }
        }
    }

    fn failed(&self, error: RedisError) -> Decision {
        let first = &self.policies[0];
        let success = self.fail_policy == FailPolicy::Open;
        Decision {
            success,
            limit: first.limit(),
            remaining: 0,
            reset_ms: 0,
            retry_at_ms: 0,
            reason: Some(if error.is_timeout() { Reason::Timeout } else { Reason::RedisError }),
            which: first.label.clone(),
            allowed_by_policy: success,
            decided_locally: false,
            limits: Vec::new(),
            error: Some(error.to_string()),
        }
    }
}

/// One policy's part of the script's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LimitResult {
    passed: bool,
    remaining: u64,
    reset_ms: u64,
    retry_at_ms: u64,
    unblocked_at_ms: u64,
}

/// `{all passed, then per limit: passed, remaining, reset, retry at, unblocked at}`.
fn parse(answer: RedisValue, policies: usize) -> Result<(bool, Vec<LimitResult>), RedisError> {
    let unexpected = || RedisError::Protocol(format!("rate limit script answered {answer:?}"));
    let numbers: Vec<i64> = match &answer {
        RedisValue::Array(items) => {
            items.iter().map(RedisValue::as_i64).collect::<Option<_>>().ok_or_else(unexpected)?
        }
        _ => return Err(unexpected()),
    };
    if numbers.len() != 1 + PER_LIMIT * policies {
        return Err(unexpected());
    }
    let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
    let results = numbers[1..]
        .chunks_exact(PER_LIMIT)
        .map(|c| LimitResult {
            passed: c[0] == 1,
            remaining: unsigned(c[1]),
            reset_ms: unsigned(c[2]),
            retry_at_ms: unsigned(c[3]),
            unblocked_at_ms: unsigned(c[4]),
        })
        .collect();
    Ok((numbers[0] == 1, results))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(policies: Vec<Policy>) -> Limiter {
        Limiter::new(RedisRest::new("http://127.0.0.1:9", "t"), policies).with_cache(BlockCache::new())
    }

    fn result(passed: bool, remaining: u64, reset_ms: u64, retry_at_ms: u64) -> LimitResult {
        LimitResult { passed, remaining, reset_ms, retry_at_ms, unblocked_at_ms: retry_at_ms }
    }

    #[test]
    fn the_script_starts_with_its_shebang_and_has_every_algorithm() {
        let source = limit_script().source();
        assert!(source.starts_with("#!lua flags=allow-key-locking\n"));
        for f in ["local function sliding_window(", "local function fixed_window(", "local function token_bucket("] {
            assert!(source.contains(f), "{f}");
        }
        assert_eq!(limit_script().sha1().len(), 40);
    }

    #[test]
    fn script_input_lays_out_keys_and_args() {
        let l = limiter(vec![
            Policy::sliding_window("tenant", 20, 60_000).with_prefix("rl:tenant"),
            Policy::fixed_window("ip", 5, 1000),
            Policy::token_bucket("burst", 10, 1000, 5),
        ]);
        let base: Vec<String> =
            vec!["rl:tenant:acme".into(), "@upstash/ratelimit:1.2.3.4".into(), "@upstash/ratelimit:b".into()];
        let (keys, args) = l.script_input(&base, 1, 120_500);
        assert_eq!(
            keys,
            ["rl:tenant:acme:2", "rl:tenant:acme:1", "@upstash/ratelimit:1.2.3.4:120", "@upstash/ratelimit:b"]
        );
        assert_eq!(
            args,
            ["120500", "1", "sliding", "20", "60000", "0", "fixed", "5", "1000", "0", "token", "10", "1000", "5"]
        );
    }

    #[test]
    fn parses_the_answer_or_refuses_it() {
        let ints = |v: &[i64]| RedisValue::Array(v.iter().map(|&i| RedisValue::Int(i)).collect());
        let (ok, r) = parse(ints(&[1, 1, 4, 100, 50, 60]), 1).unwrap();
        assert!(ok);
        assert_eq!(
            r,
            vec![LimitResult { passed: true, remaining: 4, reset_ms: 100, retry_at_ms: 50, unblocked_at_ms: 60 }]
        );
        assert!(parse(ints(&[1, 1, 4, 100, 50]), 1).is_err());
        assert!(parse(RedisValue::Nil, 1).is_err());
    }

    #[test]
    fn the_deciding_policy() {
        let l = limiter(vec![
            Policy::sliding_window("a", 10, 1000),
            Policy::sliding_window("b", 5, 1000),
            Policy::sliding_window("c", 5, 1000),
        ]);
        // all passed: least remaining, first on ties
        let d = l.counted(true, &[result(true, 3, 1000, 0), result(true, 1, 2000, 0), result(true, 1, 3000, 0)]);
        assert_eq!((d.success, d.which.as_str(), d.remaining, d.reset_ms, d.limit), (true, "b", 1, 2000, 5));
        assert_eq!(d.retry_at_ms, 0);
        // refused: among the refusing ones, the one that frees up last
        let d =
            l.counted(false, &[result(false, 0, 1000, 900), result(true, 4, 1000, 0), result(false, 0, 5000, 4000)]);
        assert_eq!((d.success, d.which.as_str(), d.retry_at_ms), (false, "c", 4000));
        assert_eq!(d.violated(), ["a", "c"]);
    }

    #[test]
    fn remembers_exhausted_policies_and_forgets_on_refund() {
        let l = limiter(vec![Policy::fixed_window("a", 1, 1000), Policy::fixed_window("b", 9, 1000)]);
        let keys = vec!["ka".to_owned(), "kb".to_owned()];
        l.remember(&keys, &[result(true, 0, 2000, 2000), result(true, 3, 2000, 1500)], 1, 1500);
        let cache = l.cache.as_ref().unwrap();
        assert_eq!(cache.blocked("ka", 1999), Some(Blocked { until_ms: 2000, reset_ms: 2000 }));
        assert_eq!(cache.blocked("kb", 1999), None);
        let d = l.cached_block(&keys, 1600).unwrap();
        assert_eq!(
            (d.success, d.reason, d.which.as_str(), d.retry_at_ms),
            (false, Some(Reason::CacheBlock), "a", 2000)
        );
        l.remember(&keys, &[result(true, 1, 2000, 1600), result(true, 4, 2000, 1600)], -1, 1600);
        assert!(l.cached_block(&keys, 1600).is_none());
    }

    #[test]
    fn failures_follow_the_fail_policy() {
        let open = limiter(vec![Policy::fixed_window("a", 3, 1000)]).with_fail_policy(FailPolicy::Open);
        let d = open.failed(RedisError::Timeout);
        assert_eq!((d.success, d.reason, d.allowed_by_policy), (true, Some(Reason::Timeout), true));
        let closed = open.with_fail_policy(FailPolicy::Closed);
        let d = closed.failed(RedisError::Network("refused".into()));
        assert_eq!((d.success, d.reason, d.allowed_by_policy), (false, Some(Reason::RedisError), false));
        assert!(d.error.unwrap().contains("refused"));
    }

    #[test]
    fn natively_everything_is_send_and_sync() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: &T) {}
        let l = limiter(vec![Policy::fixed_window("a", 3, 1000)]);
        send_sync(&l);
        send_sync(l.client());
        send_sync(&BlockCache::new());
        send(&l.check(&["x"], 1, 0)); // so tokio::spawn can run a decision
    }

    #[test]
    #[should_panic(expected = "one identifier per policy")]
    fn identifiers_must_match_policies() {
        let l = limiter(vec![Policy::fixed_window("a", 3, 1000)]);
        let _ = futures_util::FutureExt::now_or_never(l.check(&["x", "y"], 1, 0));
    }
}
