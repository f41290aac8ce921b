//! The in-isolate stand-in for Redis when it cannot be asked ([`crate::FailPolicy::Local`]).
//!
//! Every unit a limiter takes through Redis is also counted here (the mirror), so when Redis
//! times out or fails, this isolate decides with the same algorithm, the same numbers and
//! what it has itself admitted in the window: one isolate never admits more than the
//! policy's limit per window, whether Redis answered or not. Across isolates the bound is
//! the limit per isolate (each counts only its own admissions); units other isolates took
//! through Redis are not known here.
//!
//! Requests still waiting for Redis count too (as reserved units): when some calls of a
//! burst time out while others' answers are still on their way, the ones deciding here
//! leave room for every unit Redis may yet grant, so the isolate stays within the limit.
//!
//! Per process (in workerd: per isolate); time is the caller's `now_ms`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::types::Algorithm;

/// Keys beyond which idle ones are dropped (and everything, if still too many).
const MAX_ENTRIES: usize = 10_000;

/// Local counts per key. Cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct LocalLimits {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Count>,
    /// Units of requests whose Redis call is under way, per key.
    pending: HashMap<String, u64>,
}

/// Units reserved while a Redis call is under way; given back when dropped (answered,
/// failed or abandoned alike).
#[derive(Debug)]
pub(crate) struct Reservation {
    limits: LocalLimits,
    keys: Vec<String>,
    rate: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut inner = self.limits.lock();
        for key in &self.keys {
            if let Some(n) = inner.pending.get_mut(key) {
                *n = n.saturating_sub(self.rate);
                if *n == 0 {
                    inner.pending.remove(key);
                }
            }
        }
    }
}

/// What one key has used: a window's counts (`window` is `now / window_ms`), or a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    Window { window: u64, window_ms: u64, current: u64, previous: u64 },
    Bucket { tokens: u64, refilled_at: u64 },
}

/// One policy's local answer: whether `rate` fits, what would remain, and when the window
/// resets (ms since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Local {
    pub fits: bool,
    pub remaining: u64,
    pub reset_ms: u64,
}

impl LocalLimits {
    pub fn new() -> LocalLimits {
        LocalLimits::default()
    }

    /// One set of counts for the whole process (the isolate), shared by the limiters built
    /// per request.
    pub fn shared() -> LocalLimits {
        static SHARED: OnceLock<LocalLimits> = OnceLock::new();
        SHARED.get_or_init(LocalLimits::new).clone()
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.pending.clear();
    }

    /// Reserves `rate` units on every key while a Redis call decides them.
    pub(crate) fn reserve(&self, policies: &[(Algorithm, &str)], rate: u64) -> Reservation {
        let mut inner = self.lock();
        for (_, key) in policies {
            *inner.pending.entry((*key).to_owned()).or_default() += rate;
        }
        Reservation { limits: self.clone(), keys: policies.iter().map(|(_, k)| (*k).to_owned()).collect(), rate }
    }

    /// Decides `rate` units under every `(algorithm, key)` at once, all or nothing: the units
    /// are taken from every key only if they fit every one, counting what is reserved.
    pub(crate) fn decide(&self, policies: &[(Algorithm, &str)], rate: u64, now_ms: u64) -> Vec<Local> {
        let mut inner = self.lock();
        let answers: Vec<Local> = policies
            .iter()
            .map(|(a, key)| {
                let reserved = inner.pending.get(*key).copied().unwrap_or(0);
                look(a, inner.entries.get(*key).copied(), rate.saturating_add(reserved), now_ms).1
            })
            .collect();
        if answers.iter().all(|a| a.fits) {
            take(&mut inner.entries, policies, rate as i64, now_ms);
        }
        answers
    }

    /// Counts units Redis already decided (a negative `rate` gives them back).
    pub(crate) fn record(&self, policies: &[(Algorithm, &str)], rate: i64, now_ms: u64) {
        take(&mut self.lock().entries, policies, rate, now_ms);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn take(entries: &mut HashMap<String, Count>, policies: &[(Algorithm, &str)], rate: i64, now_ms: u64) {
    if entries.len() >= MAX_ENTRIES {
        entries.retain(|_, count| !idle(count, now_ms));
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
    }
    for (algorithm, key) in policies {
        let (count, _) = look(algorithm, entries.get(*key).copied(), 0, now_ms);
        let next = match count {
            Count::Window { window, window_ms, current, previous } => {
                Count::Window { window, window_ms, current: current.saturating_add_signed(rate), previous }
            }
            Count::Bucket { tokens, refilled_at } => {
                let max = match algorithm {
                    Algorithm::TokenBucket { max_tokens, .. } => *max_tokens,
                    _ => u64::MAX,
                };
                Count::Bucket { tokens: tokens.saturating_add_signed(-rate).min(max), refilled_at }
            }
        };
        entries.insert((*key).to_owned(), next);
    }
}

/// A count that no longer weighs anything: a window two behind, a bucket untouched for an
/// hour (long enough to have refilled for any sensible policy).
fn idle(count: &Count, now_ms: u64) -> bool {
    match *count {
        Count::Window { window, window_ms, .. } => now_ms / window_ms > window + 1,
        Count::Bucket { refilled_at, .. } => now_ms.saturating_sub(refilled_at) > 3_600_000,
    }
}

/// The count brought up to `now_ms` (windows rolled, bucket refilled) and whether `rate` fits.
fn look(algorithm: &Algorithm, count: Option<Count>, rate: u64, now_ms: u64) -> (Count, Local) {
    match *algorithm {
        Algorithm::SlidingWindow { limit, window_ms } | Algorithm::FixedWindow { limit, window_ms } => {
            let sliding = matches!(algorithm, Algorithm::SlidingWindow { .. });
            let window = now_ms / window_ms;
            let (current, previous) = match count {
                Some(Count::Window { window: w, current, previous, .. }) if w == window => (current, previous),
                Some(Count::Window { window: w, current, .. }) if w + 1 == window => (0, current),
                _ => (0, 0),
            };
            // As the Redis script: the previous window weighs what is left of it.
            let weighted = if sliding { previous * (window_ms - now_ms % window_ms) / window_ms } else { 0 };
            let used = weighted + current;
            let fits = used + rate <= limit;
            let remaining = limit.saturating_sub(used + if fits { rate } else { 0 });
            (
                Count::Window { window, window_ms, current, previous },
                Local { fits, remaining, reset_ms: (window + 1) * window_ms },
            )
        }
        Algorithm::TokenBucket { max_tokens, interval_ms, refill_rate } => {
            let (tokens, refilled_at) = match count {
                Some(Count::Bucket { tokens, refilled_at }) => {
                    let intervals = now_ms.saturating_sub(refilled_at) / interval_ms;
                    let tokens = tokens.saturating_add(intervals.saturating_mul(refill_rate)).min(max_tokens);
                    (tokens, refilled_at + intervals * interval_ms)
                }
                _ => (max_tokens, now_ms),
            };
            let fits = tokens >= rate;
            let remaining = if fits { tokens - rate } else { tokens };
            (Count::Bucket { tokens, refilled_at }, Local { fits, remaining, reset_ms: refilled_at + interval_ms })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLIDING: Algorithm = Algorithm::SlidingWindow { limit: 10, window_ms: 10_000 };

    #[test]
    fn a_window_admits_its_limit_then_refuses() {
        let local = LocalLimits::new();
        let now = 1_000_000_000;
        let admitted = (0..15).filter(|_| local.decide(&[(SLIDING, "k")], 1, now)[0].fits).count();
        assert_eq!(admitted, 10);
        assert_eq!(
            local.decide(&[(SLIDING, "k")], 1, now)[0],
            Local { fits: false, remaining: 0, reset_ms: 1_000_010_000 }
        );
    }

    #[test]
    fn the_previous_window_weighs_as_in_redis() {
        // Half way into the next window, 10 used before weigh 5: five more fit.
        let local = LocalLimits::new();
        local.record(&[(SLIDING, "k")], 10, 1_000_000_000);
        let admitted = (0..10).filter(|_| local.decide(&[(SLIDING, "k")], 1, 1_000_015_000)[0].fits).count();
        assert_eq!(admitted, 5);
        // Two windows later everything is forgotten.
        assert_eq!(local.decide(&[(SLIDING, "k")], 10, 1_000_030_000)[0].remaining, 0);
    }

    #[test]
    fn units_counted_through_redis_count_here_and_refunds_give_back() {
        let local = LocalLimits::new();
        local.record(&[(SLIDING, "k")], 9, 1_000_000_000);
        local.record(&[(SLIDING, "k")], -1, 1_000_000_000);
        let answers: Vec<bool> = (0..3).map(|_| local.decide(&[(SLIDING, "k")], 1, 1_000_000_001)[0].fits).collect();
        assert_eq!(answers, [true, true, false]);
    }

    #[test]
    fn units_reserved_by_calls_under_way_leave_room_for_them() {
        let local = LocalLimits::new();
        let now = 1_000_000_000;
        local.record(&[(SLIDING, "k")], 4, now);
        let waiting: Vec<Reservation> = (0..5).map(|_| local.reserve(&[(SLIDING, "k")], 1)).collect();
        // 4 taken + 5 under way: one more fits, not two.
        assert!(local.decide(&[(SLIDING, "k")], 1, now)[0].fits);
        assert!(!local.decide(&[(SLIDING, "k")], 1, now)[0].fits);
        drop(waiting); // answered (refused by Redis, say): the room comes back
        assert!(local.decide(&[(SLIDING, "k")], 1, now)[0].fits);
        assert!(local.lock().pending.is_empty());
    }

    #[test]
    fn all_or_nothing_across_policies_and_buckets_refill() {
        let bucket = Algorithm::TokenBucket { max_tokens: 2, interval_ms: 1000, refill_rate: 1 };
        let local = LocalLimits::new();
        let both = [(SLIDING, "w"), (bucket, "b")];
        assert!(local.decide(&both, 1, 5_000).iter().all(|a| a.fits));
        assert!(local.decide(&both, 1, 5_000).iter().all(|a| a.fits));
        let third = local.decide(&both, 1, 5_000);
        assert!(third[0].fits && !third[1].fits, "the bucket refuses");
        // Nothing was taken from the window by the refused request: 8 left of 10.
        assert_eq!(local.decide(&[(SLIDING, "w")], 0, 5_000)[0].remaining, 8);
        assert!(local.decide(&both, 1, 6_000)[1].fits, "one token back after one interval");
    }
}
