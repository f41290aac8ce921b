//! Fixed window: key layout and arguments (the Lua is `scripts/fixed_window.lua`).
//!
//! Key as @upstash/ratelimit: `{prefix}:{identifier}:{floor(now_ms / window_ms)}`, expiring
//! `window_ms` after its first increment; reset `(bucket + 1) · window_ms`.

/// The Lua constructor `fixed_window(limit, window, now, rate, key)`.
pub(crate) const LUA: &str = include_str!("scripts/fixed_window.lua");

pub(crate) fn key(base_key: &str, window_ms: u64, now_ms: u64) -> String {
    format!("{base_key}:{}", now_ms / window_ms)
}

pub(crate) fn args(limit: u64, window_ms: u64) -> [String; 4] {
    ["fixed".to_owned(), limit.to_string(), window_ms.to_string(), "0".to_owned()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_upstash_s() {
        assert_eq!(key("@upstash/ratelimit:u1", 60_000, 1_700_000_030_000), "@upstash/ratelimit:u1:28333333");
    }
}
