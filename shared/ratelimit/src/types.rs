//! Every type of the crate's API: policies in, decisions out.

use serde::Serialize;

/// The key prefix @upstash/ratelimit uses when none is given.
pub const DEFAULT_PREFIX: &str = "@upstash/ratelimit";

/// One limit a request must pass: a label (shown in headers and in [`Decision::which`]), the
/// key prefix, and the algorithm with its numbers.
///
/// Keys are `{prefix}:{identifier}…` exactly as @upstash/ratelimit builds them, so a
/// TypeScript service configured with the same prefix and algorithm shares the limit. Two
/// policies of one limiter must not share keys: give them different prefixes (or identifier
/// namespaces such as `tenant:acme` and `ip:1.2.3.4`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub label: String,
    pub prefix: String,
    pub algorithm: Algorithm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Algorithm {
    /// `limit` units per sliding window of `window_ms` (`Ratelimit.slidingWindow`).
    #[serde(rename_all = "camelCase")]
    SlidingWindow { limit: u64, window_ms: u64 },
    /// `limit` units per fixed window of `window_ms` (`Ratelimit.fixedWindow`).
    #[serde(rename_all = "camelCase")]
    FixedWindow { limit: u64, window_ms: u64 },
    /// A bucket of `max_tokens`, refilled by `refill_rate` every `interval_ms`
    /// (`Ratelimit.tokenBucket(refillRate, interval, maxTokens)`).
    #[serde(rename_all = "camelCase")]
    TokenBucket { max_tokens: u64, interval_ms: u64, refill_rate: u64 },
}

impl Policy {
    /// # Panics
    /// If `limit` or `window_ms` is 0.
    pub fn sliding_window(label: impl Into<String>, limit: u64, window_ms: u64) -> Policy {
        assert!(limit > 0 && window_ms > 0, "sliding window needs limit > 0 and window_ms > 0");
        Policy::with(label, Algorithm::SlidingWindow { limit, window_ms })
    }

    /// # Panics
    /// If `limit` or `window_ms` is 0.
    pub fn fixed_window(label: impl Into<String>, limit: u64, window_ms: u64) -> Policy {
        assert!(limit > 0 && window_ms > 0, "fixed window needs limit > 0 and window_ms > 0");
        Policy::with(label, Algorithm::FixedWindow { limit, window_ms })
    }

    /// # Panics
    /// If any number is 0.
    pub fn token_bucket(label: impl Into<String>, max_tokens: u64, interval_ms: u64, refill_rate: u64) -> Policy {
        assert!(
            max_tokens > 0 && interval_ms > 0 && refill_rate > 0,
            "token bucket needs max_tokens, interval_ms and refill_rate > 0"
        );
        Policy::with(label, Algorithm::TokenBucket { max_tokens, interval_ms, refill_rate })
    }

    fn with(label: impl Into<String>, algorithm: Algorithm) -> Policy {
        Policy { label: label.into(), prefix: DEFAULT_PREFIX.to_owned(), algorithm }
    }

    /// The key prefix (default [`DEFAULT_PREFIX`], as @upstash/ratelimit's `prefix`).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Policy {
        self.prefix = prefix.into();
        self
    }

    /// The most units a request can have: the window's limit or the bucket's size.
    pub fn limit(&self) -> u64 {
        match self.algorithm {
            Algorithm::SlidingWindow { limit, .. } | Algorithm::FixedWindow { limit, .. } => limit,
            Algorithm::TokenBucket { max_tokens, .. } => max_tokens,
        }
    }

    /// The window in whole seconds (at least 1), for `RateLimit-Policy: w=`. For a token
    /// bucket: the time an empty bucket takes to fill up.
    pub fn window_secs(&self) -> u64 {
        match self.algorithm {
            Algorithm::SlidingWindow { window_ms, .. } | Algorithm::FixedWindow { window_ms, .. } => {
                window_ms.div_ceil(1000).max(1)
            }
            Algorithm::TokenBucket { max_tokens, interval_ms, refill_rate } => {
                crate::token_bucket::window_secs(max_tokens, interval_ms, refill_rate)
            }
        }
    }

    /// `{prefix}:{identifier}`, the base every key of this policy starts with.
    pub fn base_key(&self, identifier: &str) -> String {
        format!("{}:{}", self.prefix, identifier)
    }
}

/// What to answer when Redis cannot be asked (network error, timeout, HTTP or Redis error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FailPolicy {
    /// Decide in the isolate ([`crate::LocalLimits`]): the same policies over what this
    /// isolate admitted in the window, so admissions stay bounded by each policy's limit per
    /// isolate while Redis is away. The default.
    #[default]
    Local,
    /// Allow the request (what @upstash/ratelimit does on its timeout): unbounded while
    /// Redis is away. For parity tests; never the default.
    Open,
    /// Refuse the request (503): for routes where an unchecked request costs real money.
    Closed,
}

/// Why a decision was not (only) counted in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Reason {
    /// Redis did not answer in time; the [`FailPolicy`] decided.
    Timeout,
    /// Redis (or the REST server, or the network) failed; the [`FailPolicy`] decided.
    RedisError,
    /// Known blocked from an earlier answer: decided in memory, no round trip.
    CacheBlock,
}

/// The state of one policy after a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitState {
    pub label: String,
    /// Whether this request fitted this policy (with all-or-nothing, a request can fit one
    /// policy and still be refused because of another; then nothing was consumed here).
    pub success: bool,
    pub limit: u64,
    pub remaining: u64,
    /// When the window ends / the bucket next refills (ms since the epoch), as upstream.
    pub reset_ms: u64,
    /// Earliest time a request of the same rate may fit (ms since the epoch), assuming no
    /// other traffic; `now` when it fits already.
    pub retry_at_ms: u64,
}

/// The answer for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub success: bool,
    /// Limit, remaining and reset of the deciding policy ([`Decision::which`]): the one that
    /// refused (the latest to allow a retry if several did), else the one with the least
    /// remaining. On a failure decided by the [`FailPolicy`]: the first policy's limit,
    /// remaining 0, reset 0 (as upstream on timeout).
    pub limit: u64,
    pub remaining: u64,
    pub reset_ms: u64,
    /// When refused: the earliest time the request may fit (ms since the epoch); 0 when
    /// unknown (Redis failed) or when allowed.
    pub retry_at_ms: u64,
    pub reason: Option<Reason>,
    /// Label of the deciding policy.
    pub which: String,
    /// True when Redis could not be asked and the [`FailPolicy`] allowed the request.
    pub allowed_by_policy: bool,
    /// True when Redis could not be asked and the isolate's own counts decided
    /// ([`FailPolicy::Local`]): a refusal then is a 429 like any other.
    pub decided_locally: bool,
    /// Every policy's state when Redis answered; the blocked one for a cache block; empty
    /// when Redis failed.
    pub limits: Vec<LimitState>,
    /// What went wrong when Redis could not be asked (for logs).
    pub error: Option<String>,
}

impl Decision {
    /// Labels of the policies that refused the request (the draft's "violated-policies").
    pub fn violated(&self) -> Vec<&str> {
        self.limits.iter().filter(|l| !l.success).map(|l| l.label.as_str()).collect()
    }

    /// The outcome in one word, for metrics and logs: `allowed`, `denied`, `denied_cached`
    /// (refused from the block cache, no round trip), and when Redis could not be asked:
    /// `allowed_local` / `denied_local` (decided by the isolate's counts), `allowed_fail_open`
    /// or `failed_closed`.
    pub fn outcome(&self) -> &'static str {
        match (self.success, self.reason) {
            (true, Some(Reason::Timeout | Reason::RedisError)) if self.decided_locally => "allowed_local",
            (false, Some(Reason::Timeout | Reason::RedisError)) if self.decided_locally => "denied_local",
            (true, Some(Reason::Timeout | Reason::RedisError)) => "allowed_fail_open",
            (true, _) => "allowed",
            (false, Some(Reason::CacheBlock)) => "denied_cached",
            (false, Some(Reason::Timeout | Reason::RedisError)) => "failed_closed",
            (false, None) => "denied",
        }
    }
}
