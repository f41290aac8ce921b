//! `Idempotency-Key`: the first request with a key does the work and stores its response in
//! the SAME transaction; a repeat with the same body replays that response, a repeat with a
//! different body is refused. Keys live 24 hours.
//!
//! Concurrency comes from Postgres itself: a second transaction inserting the same key waits
//! on the first one's uncommitted row, then sees the committed response (or, if the first
//! rolled back, goes ahead as the first).

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_postgres::{Error, Transaction};

pub const MAX_KEY_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// First use of the key: do the work, then `record` the response.
    Fresh,
    /// Seen before with the same body: answer this.
    Replay { status: u16, body: Value },
    /// Seen before with a different body.
    Reused,
}

/// A key is 1..=255 visible ASCII characters (what Stripe and the IETF draft allow in practice).
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic())
}

pub fn request_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

pub async fn claim(tx: &Transaction<'_>, scope: &str, key: &str, request_hash: &str) -> Result<Claim, Error> {
    let inserted = tx
        .query_opt(
            "insert into idempotency_keys (scope, key, request_hash, status, response)
             values ($1, $2, $3, 0, 'null')
             on conflict (tenant_id, scope, key) do update
               set request_hash = excluded.request_hash, status = 0, response = 'null',
                   created_at = now(), expires_at = now() + interval '24 hours'
               where idempotency_keys.expires_at <= now()
             returning 1",
            &[&scope, &key, &request_hash],
        )
        .await?;
    if inserted.is_some() {
        return Ok(Claim::Fresh);
    }
    let row = tx
        .query_one("select request_hash, status, response from idempotency_keys where scope = $1 and key = $2", &[&scope, &key])
        .await?;
    let stored_hash: String = row.get(0);
    if stored_hash != request_hash {
        return Ok(Claim::Reused);
    }
    let status: i32 = row.get(1);
    Ok(Claim::Replay { status: u16::try_from(status).unwrap_or(200), body: row.get(2) })
}

pub async fn record(tx: &Transaction<'_>, scope: &str, key: &str, status: u16, body: &Value) -> Result<(), Error> {
    tx.execute(
        "update idempotency_keys set status = $3, response = $4 where scope = $1 and key = $2",
        &[&scope, &key, &i32::from(status), body],
    )
    .await?;
    Ok(())
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
