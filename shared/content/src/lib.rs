//! Content changes from BaseHub and what they invalidate.
//!
//! The webhooks Worker reads a BaseHub envelope (`{timestamp, type, data}`, `type` an open
//! set), drops the cache entries we own for the changed blocks (Redis keys and Cache API URLs
//! named here, so readers and invalidators agree), publishes an invalidation message, and
//! queues a `ReingestJob` that kb-ingest consumes; [`api`] reads the changed entries back from
//! BaseHub's content API. Not for: signatures or I/O.

pub mod api;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// Redis channel of invalidation messages for one tenant.
pub fn invalidation_channel(tenant: &str) -> String {
    format!("sba:content:invalidate:{tenant}")
}

/// Redis key of a cached content block.
pub fn block_cache_key(tenant: &str, block_id: &str) -> String {
    format!("sba:content:{tenant}:block:{block_id}")
}

/// Cache API URL (our own origin-less namespace) of a cached content block.
pub fn block_cache_url(tenant: &str, block_id: &str) -> String {
    format!("https://content-cache.sba.internal/{tenant}/blocks/{block_id}")
}

/// A BaseHub webhook body. Unknown fields and types are kept, never rejected.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub timestamp: Option<Value>,
    #[serde(default)]
    pub data: Value,
}

impl Envelope {
    /// Every block id the change names: `data.blockId`, the ids along `data.blockIdPath`
    /// (a dot/slash-separated path or a list), and `data.blockIds` / row ids, deduplicated and
    /// limited to sane ids so nothing odd reaches a cache key.
    pub fn block_ids(&self) -> Vec<String> {
        let mut ids = BTreeSet::new();
        let mut take = |v: &Value| {
            if let Some(s) = v.as_str() {
                for part in s.split(['.', '/', ',']) {
                    let part = part.trim();
                    if is_block_id(part) {
                        ids.insert(part.to_owned());
                    }
                }
            }
        };
        for field in ["blockId", "rowId", "collectionId", "id"] {
            if let Some(v) = self.data.get(field) {
                take(v);
            }
        }
        for field in ["blockIdPath", "blockIds", "ids"] {
            match self.data.get(field) {
                Some(Value::Array(items)) => items.iter().for_each(&mut take),
                Some(v) => take(v),
                None => {}
            }
        }
        ids.into_iter().take(MAX_BLOCKS).collect()
    }
}

/// A change naming more blocks than this is treated as "everything changed" by consumers.
pub const MAX_BLOCKS: usize = 256;

fn is_block_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The durable message from webhooks to kb-ingest: re-read these blocks' documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReingestJob {
    pub tenant: String,
    pub event_id: String,
    pub event_type: String,
    pub block_ids: Vec<String>,
    /// The W3C `traceparent` of the delivery that queued the job, so the consumer's work
    /// joins the same trace (a queue has no headers to carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(data: Value) -> Envelope {
        serde_json::from_value(json!({"timestamp": "2026-11-26T10:00:00Z", "type": "block.updated", "data": data}))
            .unwrap()
    }

    #[test]
    fn collects_block_ids_from_every_known_field() {
        let e = envelope(json!({"blockId": "b3", "blockIdPath": "root.b1.b3", "blockIds": ["b9", "b1"]}));
        assert_eq!(e.block_ids(), vec!["b1", "b3", "b9", "root"]);
    }

    #[test]
    fn odd_ids_never_reach_cache_keys() {
        let e = envelope(json!({"blockId": "a b", "blockIds": ["ok", "../../etc", "x\ny", 7]}));
        // Paths are split into their ids, so traversal dots and slashes never survive.
        assert_eq!(e.block_ids(), vec!["etc", "ok"]);
    }

    #[test]
    fn unknown_types_and_shapes_are_kept() {
        let e: Envelope = serde_json::from_value(json!({"type": "repo.commit", "data": "anything"})).unwrap();
        assert_eq!(e.kind, "repo.commit");
        assert!(e.block_ids().is_empty());
        let bare: Envelope = serde_json::from_value(json!({})).unwrap();
        assert_eq!(bare.kind, "");
    }

    #[test]
    fn keys_are_namespaced_by_tenant() {
        assert_eq!(block_cache_key("t1", "b1"), "sba:content:t1:block:b1");
        assert_eq!(invalidation_channel("t1"), "sba:content:invalidate:t1");
        assert!(block_cache_url("t1", "b1").starts_with("https://content-cache.sba.internal/t1/"));
    }

    #[test]
    fn jobs_round_trip_as_camel_case_json() {
        let job = ReingestJob {
            tenant: "t".into(),
            event_id: "e".into(),
            event_type: "block.updated".into(),
            block_ids: vec!["b".into()],
            traceparent: None,
        };
        let text = serde_json::to_string(&job).unwrap();
        assert!(text.contains("blockIds"));
        assert!(!text.contains("traceparent"), "absent, not null: {text}");
        assert_eq!(serde_json::from_str::<ReingestJob>(&text).unwrap(), job);
        let traced =
            ReingestJob { traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()), ..job };
        let text = serde_json::to_string(&traced).unwrap();
        assert_eq!(serde_json::from_str::<ReingestJob>(&text).unwrap(), traced);
    }
}
