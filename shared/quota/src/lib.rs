//! Admission control for agent runs, decided BEFORE a stream opens.
//!
//! - `plan`: the tenant's plan, cached in Redis (`sba:plan:{tenant}`, 60 s) in front of
//!   Postgres; the webhooks Worker writes the new plan there when billing changes, so its
//!   limits apply on the next request without a database read.
//! - `limits`: one Redis script decides three limits at once — the tenant's sliding window
//!   (its plan's requests per minute), the client IP's window, and a burst token bucket.
//! - `period`: runs and LLM tokens per billing period (`usage_periods`), charged atomically.
//! - `verdict`: a limiter decision as HTTP (`RateLimit*` headers, or the 429 / 503), for the
//!   admission here and for `sba_extract::rate_limit`.
//!
//! Not for: HTTP or the Workers runtime (callers pass a Redis client, a transaction, the time).

pub mod limits;
pub mod period;
pub mod plan;

pub use limits::{admit, admit_alongside, fail_policy, refund, refused_from_memory, Check, LimitConfig};
mod verdict;
pub use period::{
    charge_params, charge_run, charged, record_tokens, tokens_params, QuotaError, CHARGE_RUN, RECORD_TOKENS,
};
pub use plan::{cache_plan, cached_plan, load_plan, plan_from_cache};
pub use verdict::{verdict, Admission};
