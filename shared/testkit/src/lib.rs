//! What the native integration tests share: a connection to the local Postgres that
//! `scripts/test` starts (its URL in `SBA_POSTGRES_URL`), and names no other test run uses.
//! A dev-dependency only; nothing here is built for a Worker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio_postgres::{Client, NoTls};

/// A client of the suite's Postgres; its connection runs on the test's runtime.
pub async fn postgres() -> Client {
    let url = std::env::var("SBA_POSTGRES_URL").expect("SBA_POSTGRES_URL: run through scripts/test");
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect to the local Postgres");
    tokio::spawn(connection);
    client
}

/// `prefix-<pid>-<nanos>-<n>`: distinct across tests, runs and processes sharing the stack
/// (the counter covers two calls within one clock tick).
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_never_repeat() {
        let names: std::collections::HashSet<String> = (0..1000).map(|_| super::unique("t")).collect();
        assert_eq!(names.len(), 1000);
        assert!(names.iter().all(|n| n.starts_with(&format!("t-{}-", std::process::id()))));
    }
}
