//! The in-memory cache of blocked identifiers (upstream's "ephemeral cache"): a key Redis
//! showed to be exhausted is refused without a round trip until the earliest time a unit
//! could free up. Per process (in workerd: per isolate); time is the caller's `now_ms`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Entries beyond which expired ones are dropped (and everything, if still too many).
const MAX_ENTRIES: usize = 10_000;

/// Blocked keys until a time. Cloning shares the cache.
#[derive(Debug, Clone, Default)]
pub struct BlockCache {
    entries: Arc<Mutex<HashMap<String, Blocked>>>,
}

/// Refused until `until_ms`; `reset_ms` is the window's reset to report meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blocked {
    pub until_ms: u64,
    pub reset_ms: u64,
}

impl BlockCache {
    pub fn new() -> BlockCache {
        BlockCache::default()
    }

    /// One cache for the whole process — in workerd, the isolate: limiters built per request
    /// (as a Worker does) still share what earlier requests learned.
    pub fn shared() -> BlockCache {
        static SHARED: OnceLock<BlockCache> = OnceLock::new();
        SHARED.get_or_init(BlockCache::new).clone()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The block on `key` if it still holds at `now_ms` (an expired one is removed).
    pub(crate) fn blocked(&self, key: &str, now_ms: u64) -> Option<Blocked> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some(b) if now_ms < b.until_ms => Some(*b),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn block(&self, key: String, blocked: Blocked, now_ms: u64) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, b| now_ms < b.until_ms);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, blocked);
    }

    pub(crate) fn unblock(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Blocked>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_until_the_time_then_forgets() {
        let cache = BlockCache::new();
        cache.block("k".into(), Blocked { until_ms: 100, reset_ms: 200 }, 10);
        assert_eq!(cache.blocked("k", 99), Some(Blocked { until_ms: 100, reset_ms: 200 }));
        assert_eq!(cache.blocked("other", 99), None);
        assert_eq!(cache.blocked("k", 100), None);
        assert!(cache.is_empty(), "expired entry removed on read");
    }

    #[test]
    fn unblock_and_bounded_size() {
        let cache = BlockCache::new();
        cache.block("k".into(), Blocked { until_ms: 100, reset_ms: 100 }, 0);
        cache.unblock("k");
        assert_eq!(cache.blocked("k", 1), None);
        for i in 0..MAX_ENTRIES {
            cache.block(format!("old{i}"), Blocked { until_ms: 5, reset_ms: 5 }, 0);
        }
        cache.block("new".into(), Blocked { until_ms: 100, reset_ms: 100 }, 10);
        assert_eq!(cache.len(), 1, "expired entries dropped when full");
    }

    #[test]
    fn shared_is_one_cache() {
        let a = BlockCache::shared();
        a.block("shared-test".into(), Blocked { until_ms: u64::MAX, reset_ms: 1 }, 0);
        assert!(BlockCache::shared().blocked("shared-test", 1).is_some());
        a.unblock("shared-test");
    }
}
