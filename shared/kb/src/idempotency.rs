//! `Idempotency-Key`: the first request with a key does the work and stores its response in
//! the SAME statement (`kb_ingest` claims the key, writes, and records the answer; see
//! `store::IngestParams::with_idempotency`); a repeat with the same body replays that response, a repeat with a
//! different body is refused. Keys live 24 hours.
//!
//! Concurrency comes from Postgres itself: a second transaction inserting the same key waits
//! on the first one's uncommitted row, then sees the committed response (or, if the first
//! rolled back, goes ahead as the first).

use sha2::{Digest, Sha256};

pub const MAX_KEY_LEN: usize = 255;

/// A key is 1..=255 visible ASCII characters (what Stripe and the IETF draft allow in practice).
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic())
}

pub fn request_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(is_valid_key("order-123_ABC:x"));
        assert!(!is_valid_key(""));
        assert!(!is_valid_key("has space"));
        assert!(!is_valid_key("ünicode"));
        assert!(!is_valid_key(&"k".repeat(256)));
    }

    #[test]
    fn request_hash_is_sha256_hex() {
        assert_eq!(request_hash(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
