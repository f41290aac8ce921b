//! What the native integration tests share: a connection to the local Postgres that
//! `scripts/test` starts (its URL in `SBA_POSTGRES_URL`), names no other test run uses, and
//! [`without_stack`], which lets a plain `cargo test` (no stack running) skip the tests that
//! need one with one clear line per suite instead of a panic in each.
//! A dev-dependency only; nothing here is built for a Worker.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio_postgres::{Client, NoTls};

/// A client of the suite's Postgres; its connection runs on the test's runtime.
pub async fn postgres() -> Client {
    let url = std::env::var("SBA_POSTGRES_URL").expect("SBA_POSTGRES_URL: run through scripts/test");
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect to the local Postgres");
    tokio::spawn(connection);
    client
}

/// The variables `scripts/test` and `scripts/test --native` export for the local stack.
const STACK_VARS: [&str; 3] = ["SBA_POSTGRES_URL", "SBA_REDIS_REST_URL", "SBA_REDIS_REST_TOKEN"];

/// True when the local stack is not there: the calling test should return at once. The first
/// such test of a suite (a test binary) says so on stderr, past the test harness's capture.
/// Under `scripts/test` (`SBA_REQUIRE_STACK` set) a missing stack is a failure, never a skip.
pub fn without_stack() -> bool {
    let missing: Vec<&str> = STACK_VARS.iter().copied().filter(|name| std::env::var_os(name).is_none()).collect();
    if missing.is_empty() {
        return false;
    }
    if std::env::var_os("SBA_REQUIRE_STACK").is_some() {
        panic!("{} not set although SBA_REQUIRE_STACK is: the local stack did not start", missing.join(", "));
    }
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        let suite = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let suite = suite.rsplit_once('-').map_or(suite.as_str(), |(name, _hash)| name).to_owned();
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the tests of `{suite}` that need the local stack ({} not set); run scripts/test --native",
            missing.join(", ")
        );
    });
    true
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
