//! Sliding window: key layout and arguments (the Lua is `scripts/sliding_window.lua`).
//!
//! Keys as @upstash/ratelimit: `{prefix}:{identifier}:{w}` and `…:{w - 1}` with
//! `w = floor(now_ms / window_ms)`; reset `(w + 1) · window_ms`.

/// The Lua constructor `sliding_window(limit, window, now, rate, current_key, previous_key)`.
pub(crate) const LUA: &str = include_str!("scripts/sliding_window.lua");

/// Current then previous window's counter key.
pub(crate) fn keys(base_key: &str, window_ms: u64, now_ms: u64) -> [String; 2] {
    let w = now_ms / window_ms;
    [format!("{base_key}:{w}"), format!("{base_key}:{}", w.wrapping_sub(1))]
}

pub(crate) fn args(limit: u64, window_ms: u64) -> [String; 4] {
    ["sliding".to_owned(), limit.to_string(), window_ms.to_string(), "0".to_owned()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_upstash_s() {
        // Ratelimit.slidingWindow(10, "10 s") at Date.now() = 1000005000
        assert_eq!(
            keys("@upstash/ratelimit:u1", 10_000, 1_000_005_000),
            ["@upstash/ratelimit:u1:100000".to_owned(), "@upstash/ratelimit:u1:99999".to_owned()]
        );
    }
}
