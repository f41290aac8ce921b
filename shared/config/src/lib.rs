//! The names under which every function finds its dependencies, in one place: the Hyperdrive
//! binding `DB` and the secrets `REDIS_REST_URL` and `REDIS_REST_TOKEN`. Functions ask
//! this crate for typed clients instead of reading `env` by string.
//!
//! Not for: the clients themselves (`sba-redis`, `sba-pg`).

use sba_http::{ApiError, Probe};
use sba_redis::RedisRest;
use serde_json::json;
use worker::Env;

/// The Hyperdrive binding every function that stores data uses.
pub const DB_BINDING: &str = "DB";
pub const REDIS_URL: &str = "REDIS_REST_URL";
pub const REDIS_TOKEN: &str = "REDIS_REST_TOKEN";

/// The Redis REST client, or a 503 naming what is missing (a deploy without the secret
/// should say so, not crash).
pub fn redis(env: &Env) -> Result<RedisRest, ApiError> {
    Ok(RedisRest::new(setting(env, REDIS_URL)?, setting(env, REDIS_TOKEN)?))
}

/// A string setting, whether bound as a secret or as a plain var (the runtime does not care;
/// a deploy may choose either).
pub fn setting(env: &Env, name: &str) -> Result<String, ApiError> {
    env.secret(name)
        .or_else(|_| env.var(name))
        .map(|v| v.to_string())
        .map_err(|_| ApiError::unavailable("not_configured", format!("{name} is not set"), 30))
}

/// Readiness probes for Postgres (through Hyperdrive) and Redis (REST).
pub fn probes(env: &Env) -> Vec<Probe> {
    let pg_env = env.clone();
    let postgres = Probe::new("postgres", async move {
        sba_pg::probe(&pg_env, DB_BINDING)
            .await
            .map(|version| json!({ "serverVersion": version }))
            .map_err(|e| e.to_string())
    });
    let redis_client = redis(env);
    let redis = Probe::new("redis", async move {
        let client = redis_client.map_err(|e| e.message)?;
        client.ping().await.map(|()| json!("PONG")).map_err(|e| e.to_string())
    });
    vec![postgres, redis]
}
