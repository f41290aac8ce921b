//! The BaseHub outbox: what a delivery owes, written with its dedupe record in one
//! transaction, then done effect by effect and recorded (`basehub_*` in
//! `supabase/migrations/20261203000300_basehub_outbox.sql`).
//!
//! A delivery claims its row with a lease ([`accept`]), drops the cached blocks and publishes
//! the invalidation (one Redis pipeline), queues the re-ingest job, and records what
//! succeeded ([`record`]). A failure leaves the row pending: the sender's redelivery claims
//! it again and does only what is missing, and the Worker's cron ([`sweep`]) finishes rows no
//! one is holding. Concurrent identical deliveries: one holds the lease, the others are
//! duplicates.

use sba_content::{block_cache_key, block_cache_url, invalidation_channel, ReingestJob};
use sba_pg::tokio_postgres::types::Type;
use sba_pg::tokio_postgres::Row;
use sba_pg::PgError;
use sba_redis::{Cmd, RedisRest};
use sba_rls::Actor;
use serde_json::{json, Value};
use worker::{console_log, Cache, Env};

/// How long a claim keeps other deliveries (and the cron) off a row: longer than one
/// delivery's effects take, short enough that a Worker that died mid-way is finished soon.
const LEASE_SECS: i32 = 30;
/// The cron leaves rows younger than this to the delivery that wrote them.
const SWEEP_MIN_AGE_SECS: i32 = 10;
const SWEEP_BATCH: i32 = 50;
/// After this many claims a row is reported at error level each time it is retried.
const ATTEMPTS_BEFORE_ALARM: i32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This delivery holds the row: do what is missing.
    Claimed,
    /// Another delivery holds it right now.
    Busy,
    /// Nothing is left to do.
    Done,
}

/// A claim on one event's row.
#[derive(Debug, Clone)]
pub struct Claim {
    pub outcome: Outcome,
    pub invalidated: bool,
    pub queued: bool,
    pub job: Option<ReingestJob>,
}

/// What one attempt achieved.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    pub invalidated: bool,
    pub queued: bool,
    pub error: Option<String>,
}

/// Records the delivery and claims its row (a new event), or claims an earlier delivery's
/// unfinished row: one statement, one round trip.
pub async fn accept(env: &Env, job: &ReingestJob) -> Result<Claim, PgError> {
    let job_json = serde_json::to_value(job).unwrap_or(Value::Null);
    let (id, kind, tenant, blocks) =
        (job.event_id.clone(), job.event_type.clone(), job.tenant.clone(), job.block_ids.clone());
    let lease = LEASE_SECS;
    let rows = sba_config::statement(
        env,
        &Actor::Service,
        "select outcome, invalidated, queued, job from basehub_accept($1, $2, $3, $4, $5, $6)",
        &[
            (&id, Type::TEXT),
            (&kind, Type::TEXT),
            (&tenant, Type::TEXT),
            (&blocks, Type::TEXT_ARRAY),
            (&job_json, Type::JSONB),
            (&lease, Type::INT4),
        ],
    )
    .await?;
    claim_from(rows.first())
}

fn claim_from(row: Option<&Row>) -> Result<Claim, PgError> {
    let Some(row) = row else {
        return Ok(Claim { outcome: Outcome::Done, invalidated: true, queued: true, job: None });
    };
    let outcome = match row.try_get::<_, String>(0)?.as_str() {
        "claimed" => Outcome::Claimed,
        "busy" => Outcome::Busy,
        _ => Outcome::Done,
    };
    let job = row.try_get::<_, Option<Value>>(3)?.and_then(|v| serde_json::from_value(v).ok());
    Ok(Claim {
        outcome,
        invalidated: row.try_get::<_, Option<bool>>(1)?.unwrap_or(true),
        queued: row.try_get::<_, Option<bool>>(2)?.unwrap_or(true),
        job,
    })
}

/// Does what the claim says is missing. The Redis and Cache API work and the queue send run
/// side by side; each reports on its own.
pub async fn apply(env: &Env, redis: Result<RedisRest, String>, claim: &Claim, job: &ReingestJob) -> Effects {
    let invalidate = async {
        if claim.invalidated {
            return Ok(());
        }
        invalidate(redis?, job).await
    };
    let enqueue = async {
        if claim.queued {
            return Ok(());
        }
        let queue = env.queue("REINGEST_QUEUE").map_err(|e| format!("queue binding: {e}"))?;
        queue.send(job).await.map_err(|e| format!("queue send: {e}"))
    };
    let (invalidated, queued) = futures_util::join!(invalidate, enqueue);
    let errors: Vec<String> = [&invalidated, &queued].into_iter().filter_map(|r| r.clone().err()).collect();
    Effects {
        invalidated: invalidated.is_ok(),
        queued: queued.is_ok(),
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    }
}

/// Drops what we cache for the changed blocks (Redis keys, Cache API entries) and tells
/// subscribers, in one Redis pipeline.
async fn invalidate(redis: RedisRest, job: &ReingestJob) -> Result<(), String> {
    let message = json!({ "tenant": job.tenant, "type": job.event_type, "blockIds": job.block_ids });
    let mut commands: Vec<Cmd> = Vec::new();
    if !job.block_ids.is_empty() {
        let mut del = Cmd::new("DEL");
        for id in &job.block_ids {
            del = del.arg(block_cache_key(&job.tenant, id));
        }
        commands.push(del);
    }
    commands.push(Cmd::new("PUBLISH").arg(invalidation_channel(&job.tenant)).arg(message.to_string()));
    redis.pipeline(&commands).await.map_err(|e| format!("content invalidation in Redis: {e}"))?;
    let cache = Cache::default();
    for id in &job.block_ids {
        // The Cache API is per data centre and entries expire: a failed delete is logged, not retried.
        if let Err(e) = cache.delete(block_cache_url(&job.tenant, id), false).await {
            console_log!(
                "{}",
                json!({ "level": "warn", "msg": "Cache API delete failed", "error": e.to_string(), "eventId": job.event_id })
            );
        }
    }
    Ok(())
}

/// Records what an attempt achieved and gives the lease back. True once nothing is left.
pub async fn record(env: &Env, event_id: &str, effects: &Effects) -> Result<bool, PgError> {
    let (id, invalidated, queued, error) =
        (event_id.to_owned(), effects.invalidated, effects.queued, effects.error.clone());
    let rows = sba_config::statement(
        env,
        &Actor::Service,
        "select basehub_progress($1, $2, $3, $4)",
        &[(&id, Type::TEXT), (&invalidated, Type::BOOL), (&queued, Type::BOOL), (&error, Type::TEXT)],
    )
    .await?;
    Ok(rows.first().and_then(|r| r.try_get::<_, bool>(0).ok()).unwrap_or(false))
}

/// The cron: finishes unfinished rows that no delivery holds. Returns how many it finished.
pub async fn sweep(env: &Env) -> Result<usize, PgError> {
    let (age, lease, limit) = (SWEEP_MIN_AGE_SECS, LEASE_SECS, SWEEP_BATCH);
    let rows = sba_config::statement(
        env,
        &Actor::Service,
        "select event_id, invalidated, queued, job, attempts from basehub_due($1, $2, $3)",
        &[(&age, Type::INT4), (&lease, Type::INT4), (&limit, Type::INT4)],
    )
    .await?;
    let mut finished = 0;
    for row in &rows {
        let event_id: String = row.try_get(0)?;
        let attempts: i32 = row.try_get(4)?;
        let claim = Claim {
            outcome: Outcome::Claimed,
            invalidated: row.try_get(1)?,
            queued: row.try_get(2)?,
            job: row.try_get::<_, Value>(3).ok().and_then(|v| serde_json::from_value(v).ok()),
        };
        let Some(job) = claim.job.clone() else { continue };
        let effects = apply(env, sba_config::redis(env).map_err(|e| e.message), &claim, &job).await;
        let done = record(env, &event_id, &effects).await?;
        let level = if done {
            "info"
        } else if attempts >= ATTEMPTS_BEFORE_ALARM {
            "error"
        } else {
            "warn"
        };
        console_log!(
            "{}",
            json!({ "level": level, "msg": if done { "outbox event finished by the sweep" } else { "outbox event still pending" }, "eventId": event_id, "attempts": attempts, "error": effects.error })
        );
        finished += usize::from(done);
    }
    Ok(finished)
}
