//! The names under which every function finds its dependencies, in one place: the Hyperdrive
//! binding `DB` and the secrets `REDIS_REST_URL` and `REDIS_REST_TOKEN`. Functions ask
//! this crate for typed clients instead of reading `env` by string, and every outbound URL
//! (Redis REST, LLM providers, JWKS, revalidate) passes `outbound_url` — the allowlist in
//! `OUTBOUND_ALLOWLIST` — before any client is built for it.
//!
//! SQL goes through [`statement`]: one pipelined transaction as a tenant
//! (RLS) or as `service_role`, on a session from the `DB` binding, under one timeout.
//!
//! Not for: the clients themselves (`sba-redis`, `sba-pg`).

use sba_http::{ApiError, Call, Probe};
use sba_pg::tokio_postgres::types::{ToSql, Type};
use sba_pg::tokio_postgres::Row;
use sba_pg::PgError;
use sba_redis::RedisRest;
use sba_rls::Actor;
use serde_json::json;
use std::time::Duration;
use worker::Env;

/// The Hyperdrive binding every function that stores data uses.
pub const DB_BINDING: &str = "DB";
pub const REDIS_URL: &str = "REDIS_REST_URL";
pub const REDIS_TOKEN: &str = "REDIS_REST_TOKEN";

/// How long a Worker's database work may take, from the session being ours to the last row:
/// one policy for every route (a slow database is an outage to report, not to wait out).
pub const DB_TIMEOUT: Duration = Duration::from_secs(8);

/// One statement as `actor` in a transaction of its own: one round trip once connected.
pub async fn statement(
    env: &Env,
    actor: &Actor<'_>,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> Result<Vec<Row>, PgError> {
    sba_pg::with_client(env, DB_BINDING, DB_TIMEOUT, |client| async move {
        sba_rls::one_statement(&client, actor, sql, params).await.map_err(PgError::from)
    })
    .await
}

/// The Redis REST client, or a 503 naming what is missing (a deploy without the secret
/// should say so, not crash).
pub fn redis(env: &Env) -> Result<RedisRest, ApiError> {
    let url = outbound_url(env, &setting(env, REDIS_URL)?)?;
    Ok(RedisRest::new(url, setting(env, REDIS_TOKEN)?))
}

/// The Redis REST client for serving `call`: its requests carry the call's trace context.
pub fn redis_for(call: &Call) -> Result<RedisRest, ApiError> {
    Ok(redis(&call.env)?.with_headers(call.ctx.trace_headers()))
}

pub use sba_http::{outbound_url, setting, OUTBOUND_ALLOWLIST};

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
