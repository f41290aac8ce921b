//! Rate limits kept in Redis through the Upstash REST protocol (`sba-redis`), for Workers
//! (wasm32) and native services alike.
//!
//! What it is:
//! - **Key-compatible with @upstash/ratelimit 2.2.0**: the same default prefix
//!   (`@upstash/ratelimit`), key names, token-bucket hash fields (`refilledAt`, `tokens`),
//!   window arithmetic, expiries and `reset` in ms, so TypeScript and Rust services
//!   configured alike share one limit (tested against the official package).
//! - **Exact**: a request fits a sliding window only if `weighted + current + rate <= limit`,
//!   and a refused request writes nothing (upstream checks `weighted + current >= limit`
//!   without the rate, so with rate > 1 it increments first and then answers "refused":
//!   9 of 10 used + rate 3 leaves 12 of 10 stored and the last unit burnt; its fixed window
//!   counts every refused request the same way). Check and increment are one atomic script,
//!   so N concurrent requests never admit more than the limit. Refunds (negative rate) skip
//!   the check.
//! - **Several limits, one round trip, all or nothing**: a [`Limiter`] holds several
//!   [`Policy`]s (per tenant, per IP, a burst bucket…); one script checks all and takes
//!   the units from all only if all pass, so a request refused by the IP limit does not
//!   burn the tenant's budget. (With upstream, several limits are several `Ratelimit`
//!   objects called one after another: one round trip each, and each consumes on its own.)
//!   The [`Decision`] names the deciding policy.
//! - **A block cache** ([`BlockCache`], per isolate): an identifier Redis showed to be
//!   exhausted is refused in memory until the earliest time a unit could free up.
//! - **A failure policy** ([`FailPolicy`]) for when Redis errs or exceeds the timeout
//!   (default 3 s from when the request is handed to the runtime): decide in the isolate
//!   ([`LocalLimits`], the default: bounded by each policy's limit per isolate), closed
//!   (refuse), or open (admit, as upstream: unbounded, never the default); the decision says
//!   which happened.
//! - **Headers** ([`headers`]): `RateLimit-Policy` / `RateLimit` (IETF draft), `X-RateLimit-*`
//!   and `Retry-After`.
//!
//! Never reads the clock: every call takes `now_ms` from the caller (in workerd the clock
//! only moves across I/O, and `SystemTime::now()` panics on wasm32).
//!
//! What it is not: a deny list, analytics, dynamic limits (`{prefix}:dynamic:global`) or
//! multi-region limits (upstream features not needed here); nor a local (in-memory) limiter:
//! every admitted request is counted in Redis.
//!
//! ```no_run
//! # async fn example(now_ms: u64) {
//! use sba_ratelimit::{Limiter, Policy};
//! use sba_redis::RedisRest;
//!
//! let limiter = Limiter::new(
//!     RedisRest::new("https://….upstash.io", "token"),
//!     vec![
//!         Policy::sliding_window("tenant", 20, 60_000).with_prefix("rl:tenant"),
//!         Policy::sliding_window("ip", 60, 60_000).with_prefix("rl:ip"),
//!         Policy::token_bucket("burst", 5, 1_000, 1).with_prefix("rl:burst"),
//!     ],
//! );
//! let decision = limiter.check(&["acme", "203.0.113.7", "acme"], 1, now_ms).await;
//! for (name, value) in limiter.headers(&decision, now_ms) {
//!     // add to the response
//! #   let _ = (name, value);
//! }
//! if !decision.success { /* 429 */ }
//! # }
//! ```

mod cache;
mod fixed_window;
mod headers;
mod limiter;
mod local;
mod sliding_window;
mod token_bucket;
mod types;

pub use cache::BlockCache;
pub use headers::headers;
pub use limiter::{limit_script, Limiter};
pub use local::LocalLimits;
pub use types::{Algorithm, Decision, FailPolicy, LimitState, Policy, Reason, DEFAULT_PREFIX};
