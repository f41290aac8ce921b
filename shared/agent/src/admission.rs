//! Admission of one run, decided before any stream opens: plan → limits → period quota.
//!
//! - **Over-limit runs are cheap.** With the plan in the Redis cache (the usual case), the
//!   limiter decides from Redis alone and a refused run never opens a Postgres connection.
//!   Postgres is opened only to charge an admitted run.
//! - **One plan load per isolate.** A tenant whose plan is not cached yet has its plan loaded
//!   by ONE request of the isolate; concurrent first requests wait for that load (polling
//!   the isolate's memory on their own timers, so no request awaits another's I/O) instead
//!   of sending N identical queries. A failed load fails its waiters too (503), so an outage
//!   costs one connection attempt, not one per request.
//! - **Refunds never feed a storm.** An admitted run that then fails on our side (the database
//!   down) gets its limiter units back, so our outage does not spend the client's budget —
//!   but only for the first such failure in an outage: while the store keeps failing
//!   ([`REFUND_QUIET`] since the last failure), nothing is refunded, so refunds cannot turn
//!   a burst into a retry loop against a dead database.

use sba_billing::TenantPlan;
use sba_config::DB_BINDING;
use sba_extract::sba_tenant::TenantContext;
use sba_http::{ApiError, Call, RequestContext};
use sba_pg::PgError;
use sba_quota::{admit, charge_params, charged, load_plan, plan_from_cache, refund, Admission, LimitConfig, CHARGE_RUN};
use sba_redis::RedisRest;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

const DB_TIMEOUT: Duration = Duration::from_secs(5);
/// A refund is given only when the store had not failed for this long before.
pub const REFUND_QUIET: Duration = Duration::from_secs(30);
/// How long a finished plan load serves the requests that waited for it (and any arriving
/// just after): short, so a plan change seen through Redis applies at once.
const LOAD_SERVES_FOR_MS: f64 = 1_000.0;

/// The `RateLimit*` headers for the response, or the 429/503 to answer instead.
pub async fn admit_run(call: &Call, tenant: &TenantContext) -> Result<Admission, ApiError> {
    let config = LimitConfig::from_vars(|name| sba_config::setting(&call.env, name).ok());
    // The cached plan is read under the limiter's deadline too: a plan read that times out
    // under load would send the request to Postgres for nothing.
    let redis = sba_config::redis_for(call)?.with_timeout(Duration::from_millis(config.timeout_ms));
    let limits = Limits {
        config,
        ip: call.req.headers().get("cf-connecting-ip").ok().flatten().unwrap_or_else(|| "unknown".to_owned()),
        tenant: tenant.tenant_id.clone(),
        now_ms: js_sys::Date::now() as u64,
        checked_per_minute: Cell::new(None),
        checked_at_ms: Cell::new(0),
        ctx: call.ctx.clone(),
    };
    let result = admit_and_charge(call, &redis, &limits).await;
    call.ctx.record_timing("limit", js_sys::Date::now() - limits.now_ms as f64);
    let admitted_then_failed = call.ctx.limit_decision().is_some_and(|d| d.starts_with("allowed"))
        && result.as_ref().is_err_and(|e: &ApiError| e.status >= 500);
    if let (true, Some(per_minute)) = (admitted_then_failed, limits.checked_per_minute.get()) {
        if first_failure_of_an_outage() {
            let (config, tenant, ip, now_ms) = (limits.config.clone(), limits.tenant.clone(), limits.ip.clone(), limits.checked_at_ms.get());
            call.ctx.wait_until(async move { refund(redis, &config, &tenant, per_minute, &ip, now_ms).await });
        }
    }
    result
}

async fn admit_and_charge(call: &Call, redis: &RedisRest, limits: &Limits) -> Result<Admission, ApiError> {
    let plan = match plan_from_cache(redis, &limits.tenant).await {
        Some(plan) => plan,
        None => plan_loaded_once(call, redis, &limits.tenant).await?,
    };
    let headers = limits.check(redis.clone(), &plan).await?;
    // The charge is one pipelined statement: one round trip once connected.
    let (tenant, runs, tokens) = (limits.tenant.as_str(), i64::from(plan.agent_runs_per_period), plan.llm_tokens_per_period);
    let rows = sba_pg::with_client(&call.env, DB_BINDING, DB_TIMEOUT, |client| async move {
        sba_rls::one_statement(&client, &sba_rls::Actor::Service, CHARGE_RUN, &charge_params(&tenant, &runs, &tokens)).await.map_err(PgError::from)
    })
    .await?;
    match charged(&rows) {
        Ok(()) => Ok(headers),
        Err(e) => Err(e.into_api_error((limits.now_ms / 1000) as i64).map_err(PgError::from)?),
    }
}

/// Whether this failure starts an outage (none in the last [`REFUND_QUIET`]); remembers it.
fn first_failure_of_an_outage() -> bool {
    thread_local!(static LAST_FAILURE_MS: Cell<f64> = const { Cell::new(f64::NEG_INFINITY) });
    let now = js_sys::Date::now();
    let last = LAST_FAILURE_MS.replace(now);
    now - last > REFUND_QUIET.as_millis() as f64
}

/// A plan load in this isolate: going on, or finished (at a time) with a plan or a failure.
#[derive(Clone)]
enum PlanLoad {
    Loading,
    Done { at_ms: f64, plan: Option<TenantPlan> },
}

thread_local!(static PLAN_LOADS: RefCell<HashMap<String, PlanLoad>> = RefCell::new(HashMap::new()));

/// The tenant's plan from Postgres (then cached in Redis), loaded by one request of the
/// isolate at a time; the others wait for its result.
async fn plan_loaded_once(call: &Call, redis: &RedisRest, tenant: &str) -> Result<TenantPlan, ApiError> {
    let started = js_sys::Date::now();
    let mut pause = 2u64;
    loop {
        let now = js_sys::Date::now();
        let seen = PLAN_LOADS.with_borrow_mut(|loads| {
            loads.retain(|_, l| !matches!(l, PlanLoad::Done { at_ms, .. } if now - *at_ms > LOAD_SERVES_FOR_MS));
            let seen = loads.get(tenant).cloned();
            if seen.is_none() {
                loads.insert(tenant.to_owned(), PlanLoad::Loading);
            }
            seen
        });
        match seen {
            None => break,
            Some(PlanLoad::Done { plan: Some(plan), .. }) => return Ok(plan),
            Some(PlanLoad::Done { plan: None, .. }) => return Err(plan_unavailable()),
            Some(PlanLoad::Loading) if now - started > (DB_TIMEOUT.as_millis() + 1_000) as f64 => return Err(plan_unavailable()),
            Some(PlanLoad::Loading) => {
                sba_http::sleep(Duration::from_millis(pause)).await;
                pause = (pause * 2).min(50);
            }
        }
    }
    // This request loads; whatever happens, the waiters learn the outcome.
    let loaded = sba_pg::with_client(&call.env, DB_BINDING, DB_TIMEOUT, |client| async move {
        load_plan(redis, &client, tenant).await.map_err(PgError::from)
    })
    .await;
    let plan = loaded.as_ref().ok().cloned();
    PLAN_LOADS.with_borrow_mut(|loads| loads.insert(tenant.to_owned(), PlanLoad::Done { at_ms: js_sys::Date::now(), plan }));
    loaded.map_err(ApiError::from)
}

fn plan_unavailable() -> ApiError {
    ApiError::unavailable("store_unavailable", "the plan of this tenant cannot be read right now; retry shortly", 2)
}

struct Limits {
    config: LimitConfig,
    ip: String,
    tenant: String,
    /// When admission started (for Server-Timing and the quota's Retry-After).
    now_ms: u64,
    /// The plan's per-minute limit the check used (a refund must use the same policies).
    checked_per_minute: Cell<Option<u64>>,
    /// The clock the limiter was given: read right before its call, not when the request
    /// arrived. A request that waited (for the isolate, for a plan load) with an old time
    /// could otherwise be counted in a window that has already closed — a burst across a
    /// minute boundary would fill two windows at once.
    checked_at_ms: Cell<u64>,
    /// Learns the limiter's outcome (for the log line and metrics).
    ctx: Rc<RequestContext>,
}

impl Limits {
    /// The plan's per-minute window, the IP window and the burst bucket: one Redis round trip.
    async fn check(&self, redis: RedisRest, plan: &TenantPlan) -> Result<Admission, ApiError> {
        let per_minute = u64::try_from(plan.agent_requests_per_minute).unwrap_or(1);
        self.checked_per_minute.set(Some(per_minute));
        let now_ms = js_sys::Date::now() as u64;
        self.checked_at_ms.set(now_ms);
        admit(redis, &self.config, &self.tenant, per_minute, &self.ip, now_ms, |outcome| self.ctx.set_limit_decision(outcome)).await
    }
}
