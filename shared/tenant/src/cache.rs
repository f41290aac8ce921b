//! The key cache of this isolate, one entry per JWKS URL or OIDC issuer, and when it may
//! call the IdP again. An issuer's entry holds the keys found through its discovery
//! document: both are fetched together and share the TTL.
//!
//! - Fresh (younger than `jwks_ttl_secs`): keys are served from memory; an unknown `kid`
//!   refetches, but at most once per `jwks_min_refetch_secs` per entry, so a flood of made-up
//!   kids costs the IdP one request (or one discovery + one JWKS) per window.
//! - Stale or empty: refetch, unless the last attempt failed within the window (then no new
//!   attempt: answer from stale keys or with 503).
//! - A failed fetch falls back to stale keys for one more TTL; past that it is a 503.
//!
//! Time is the caller's `now`. The lock is never held across the fetch.

use crate::config::AuthConfig;
use crate::header::Alg;
use crate::jwks::{LoadError, VerifyKey};
use crate::signature::Key;
use sba_errors::ApiError;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct Entry {
    /// The last good key set and when it was fetched.
    keys: Option<(Arc<Vec<VerifyKey>>, u64)>,
    last_attempt: Option<u64>,
    /// The client-facing message of the last attempt, when it failed.
    last_failure: Option<&'static str>,
}

/// workerd runs one thread per isolate; natively, tests share it across threads.
static CACHE: Mutex<BTreeMap<String, Entry>> = Mutex::new(BTreeMap::new());

fn cache() -> MutexGuard<'static, BTreeMap<String, Entry>> {
    // A panic elsewhere cannot leave an entry half-written: every write is a plain store.
    CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

enum Miss {
    UnknownKid,
    OtherAlg,
}

fn find(keys: &[VerifyKey], kid: &str, alg: Alg) -> Result<Key, Miss> {
    let mut same_kid = keys.iter().filter(|k| k.kid == kid).peekable();
    if same_kid.peek().is_none() {
        return Err(Miss::UnknownKid);
    }
    same_kid.find(|k| k.alg == alg).map(|k| k.key.clone()).ok_or(Miss::OtherAlg)
}

fn rejected(miss: Miss) -> ApiError {
    match miss {
        Miss::UnknownKid => ApiError::unauthorized("invalid_token", "token signing key (kid) is unknown"),
        Miss::OtherAlg => ApiError::unauthorized("invalid_token", "token algorithm does not match its signing key"),
    }
}

fn unavailable(config: &AuthConfig, failure: LoadError) -> ApiError {
    ApiError::unavailable("auth_unavailable", failure.message, config.jwks_min_refetch_secs).with_cause(failure.cause)
}

enum Decision {
    Use(Key),
    Reject(ApiError),
    Fetch,
}

fn decide(config: &AuthConfig, entry: &Entry, kid: &str, alg: Alg, now: u64) -> Decision {
    let window_open = entry.last_attempt.is_none_or(|t| now >= t.saturating_add(config.jwks_min_refetch_secs));
    let fresh = entry.keys.as_ref().filter(|(_, at)| now < at.saturating_add(config.jwks_ttl_secs));
    if let Some((keys, _)) = fresh {
        return match find(keys, kid, alg) {
            Ok(key) => Decision::Use(key),
            Err(Miss::UnknownKid) if window_open => Decision::Fetch,
            Err(miss) => Decision::Reject(rejected(miss)),
        };
    }
    match entry.last_failure {
        Some(message) if !window_open => {
            let cause = "last fetch failed; waiting before the next attempt".to_string();
            match fallback(config, entry, kid, alg, now, LoadError { message, cause }) {
                Ok(key) => Decision::Use(key),
                Err(err) => Decision::Reject(err),
            }
        }
        _ => Decision::Fetch,
    }
}

/// After a failure: stale keys within one more TTL, else 503.
fn fallback(
    config: &AuthConfig,
    entry: &Entry,
    kid: &str,
    alg: Alg,
    now: u64,
    failure: LoadError,
) -> Result<Key, ApiError> {
    let grace = config.jwks_ttl_secs.saturating_mul(2);
    let stale = entry.keys.as_ref().filter(|(_, at)| now < at.saturating_add(grace));
    match stale.map(|(keys, _)| find(keys, kid, alg)) {
        Some(Ok(key)) => Ok(key),
        Some(Err(Miss::OtherAlg)) => Err(rejected(Miss::OtherAlg)),
        Some(Err(Miss::UnknownKid)) | None => Err(unavailable(config, failure)),
    }
}

/// The key for (`kid`, `alg`) from the cache entry `name`, awaiting `load` (which fetches
/// the key set; it does nothing unless awaited) when the policy allows.
pub(crate) async fn key_for(
    config: &AuthConfig,
    name: &str,
    kid: &str,
    alg: Alg,
    now: u64,
    load: impl Future<Output = Result<Vec<VerifyKey>, LoadError>>,
) -> Result<Key, ApiError> {
    {
        let mut map = cache();
        let entry = map.entry(name.to_string()).or_default();
        match decide(config, entry, kid, alg, now) {
            Decision::Use(key) => return Ok(key),
            Decision::Reject(err) => return Err(err),
            Decision::Fetch => entry.last_attempt = Some(now),
        }
    }
    let fetched = load.await;
    let mut map = cache();
    let entry = map.entry(name.to_string()).or_default();
    match fetched {
        Ok(keys) => {
            let keys = Arc::new(keys);
            entry.keys = Some((keys.clone(), now));
            entry.last_failure = None;
            find(&keys, kid, alg).map_err(rejected)
        }
        Err(failure) => {
            entry.last_failure = Some(failure.message);
            fallback(config, entry, kid, alg, now, failure)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwks::{self, JwksError, JwksSource};
    use serde_json::{json, Value};
    use std::cell::RefCell;

    /// Serves the queued documents in order (the last one forever); counts calls.
    struct Fake {
        answers: RefCell<Vec<Result<Value, JwksError>>>,
        calls: RefCell<usize>,
    }

    impl Fake {
        fn new(answers: Vec<Result<Value, JwksError>>) -> Self {
            Self { answers: RefCell::new(answers), calls: RefCell::new(0) }
        }
        fn calls(&self) -> usize {
            *self.calls.borrow()
        }
    }

    impl JwksSource for Fake {
        async fn fetch(&self, _url: &str) -> Result<Value, JwksError> {
            *self.calls.borrow_mut() += 1;
            let mut answers = self.answers.borrow_mut();
            if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            }
        }
    }

    fn ec(kid: &str) -> Value {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&[1; 32]), "y": b64(&[2; 32])})
    }

    fn config() -> AuthConfig {
        AuthConfig { jwks_ttl_secs: 100, jwks_min_refetch_secs: 5, ..AuthConfig::default() }
    }

    fn down() -> Result<Value, JwksError> {
        Err(JwksError("connection refused".into()))
    }

    async fn get(fake: &Fake, url: &str, kid: &str, now: u64) -> Result<(), (u16, String)> {
        key_for(&config(), url, kid, Alg::Es256, now, jwks::load(fake, url))
            .await
            .map(|_| ())
            .map_err(|e| (e.status, e.message))
    }

    #[tokio::test]
    async fn fresh_keys_are_served_from_memory_until_the_ttl() {
        let url = "test://cache/fresh";
        let fake = Fake::new(vec![Ok(json!({"keys": [ec("a")]}))]);
        get(&fake, url, "a", 1000).await.unwrap();
        get(&fake, url, "a", 1099).await.unwrap();
        assert_eq!(fake.calls(), 1);
        get(&fake, url, "a", 1100).await.unwrap();
        assert_eq!(fake.calls(), 2, "expired after the TTL");
    }

    #[tokio::test]
    async fn unknown_kid_refetches_once_per_window() {
        let url = "test://cache/flood";
        let fake = Fake::new(vec![Ok(json!({"keys": [ec("a")]}))]);
        get(&fake, url, "a", 1000).await.unwrap();
        for i in 0..50 {
            assert_eq!(get(&fake, url, &format!("bogus-{i}"), 1005 + i % 5).await.unwrap_err().0, 401);
        }
        assert_eq!(fake.calls(), 2, "one refetch in [1005, 1010)");
        assert_eq!(get(&fake, url, "bogus", 1010).await.unwrap_err().0, 401);
        assert_eq!(fake.calls(), 3, "the next window allows one more");
    }

    #[tokio::test]
    async fn unknown_kid_refetch_picks_up_rotation() {
        let url = "test://cache/rotation";
        let fake = Fake::new(vec![Ok(json!({"keys": [ec("a")]})), Ok(json!({"keys": [ec("a"), ec("b")]}))]);
        get(&fake, url, "a", 1000).await.unwrap();
        assert_eq!(get(&fake, url, "b", 1001).await.unwrap_err().0, 401, "inside the window of the first fetch");
        get(&fake, url, "b", 1005).await.unwrap();
        assert_eq!(fake.calls(), 2);
    }

    #[tokio::test]
    async fn kid_with_another_algorithm_does_not_refetch() {
        let url = "test://cache/alg";
        let fake = Fake::new(vec![Ok(json!({"keys": [ec("a")]}))]);
        get(&fake, url, "a", 1000).await.unwrap();
        let err = key_for(&config(), url, "a", Alg::Rs256, 1010, jwks::load(&fake, url)).await.unwrap_err();
        assert_eq!((err.status, err.message.as_str()), (401, "token algorithm does not match its signing key"));
        assert_eq!(fake.calls(), 1);
    }

    #[tokio::test]
    async fn failure_without_cache_is_503_and_backs_off() {
        let url = "test://cache/down";
        let fake = Fake::new(vec![down()]);
        let err = key_for(&config(), url, "a", Alg::Es256, 1000, jwks::load(&fake, url)).await.unwrap_err();
        assert_eq!((err.status, err.code.as_ref()), (503, "auth_unavailable"));
        assert!(err.cause.unwrap().contains("connection refused"));
        assert_eq!(err.headers, vec![("Retry-After", "5".to_string())]);
        assert_eq!(get(&fake, url, "a", 1004).await.unwrap_err().0, 503);
        assert_eq!(fake.calls(), 1, "no new attempt inside the window after a failure");
        assert_eq!(get(&fake, url, "a", 1005).await.unwrap_err().0, 503);
        assert_eq!(fake.calls(), 2);
    }

    #[tokio::test]
    async fn failure_with_stale_keys_serves_them_for_one_more_ttl() {
        let url = "test://cache/stale";
        let fake = Fake::new(vec![Ok(json!({"keys": [ec("a")]})), down()]);
        get(&fake, url, "a", 1000).await.unwrap();
        get(&fake, url, "a", 1150).await.unwrap();
        assert_eq!(fake.calls(), 2, "stale → refetch (failed) → stale key used");
        assert_eq!(get(&fake, url, "b", 1150).await.unwrap_err().0, 503, "unknown kid while the IdP is down");
        assert_eq!(get(&fake, url, "a", 1200).await.unwrap_err().0, 503, "past TTL + grace");
    }

    #[tokio::test]
    async fn a_broken_document_counts_as_a_failure() {
        let url = "test://cache/broken";
        let fake = Fake::new(vec![Ok(json!({"error": "nope"}))]);
        assert_eq!(get(&fake, url, "a", 1000).await.unwrap_err().0, 503);
    }
}
