//! Token bucket: key layout and arguments (the Lua is `scripts/token_bucket.lua`).
//!
//! Key as @upstash/ratelimit: the hash `{prefix}:{identifier}` with fields `refilledAt` and
//! `tokens` (the Python SDK's `refilled_at` is not shared); reset `refilledAt + interval`.

/// The Lua constructor `token_bucket(max_tokens, interval, refill_rate, now, rate, key)`.
pub(crate) const LUA: &str = include_str!("scripts/token_bucket.lua");

pub(crate) fn key(base_key: &str) -> String {
    base_key.to_owned()
}

pub(crate) fn args(max_tokens: u64, interval_ms: u64, refill_rate: u64) -> [String; 4] {
    ["token".to_owned(), max_tokens.to_string(), interval_ms.to_string(), refill_rate.to_string()]
}

/// For `RateLimit-Policy: w=`: the time an empty bucket takes to fill, in whole seconds.
pub(crate) fn window_secs(max_tokens: u64, interval_ms: u64, refill_rate: u64) -> u64 {
    let refills = max_tokens.div_ceil(refill_rate);
    (refills.saturating_mul(interval_ms)).div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_the_base() {
        assert_eq!(key("@upstash/ratelimit:u1"), "@upstash/ratelimit:u1");
    }

    #[test]
    fn window_is_the_time_to_fill() {
        assert_eq!(window_secs(10, 1000, 5), 2);
        assert_eq!(window_secs(10, 60_000, 10), 60);
        assert_eq!(window_secs(1, 10, 1), 1);
    }
}
