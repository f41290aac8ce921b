//! Admission of one run, decided before any stream opens: plan → limits → period quota.
//!
//! - **Over-limit runs are cheap.** With the plan in the Redis cache (the usual case), the
//!   limiter decides from Redis alone and a refused run never opens a Postgres connection.
//!   Postgres is opened only to charge an admitted run.
//! - **One plan load per isolate.** A tenant whose plan is not cached yet has its plan loaded
//!   by ONE request of the isolate; concurrent first requests wait for that load (polling
//!   the isolate's memory on their own timers, so no request awaits another's I/O) instead
//!   of sending N identical queries. A failed load fails its waiters too (503), so an outage
//!   costs one connection attempt, not one per request. The loader's session then charges
//!   its own run too: a tenant's first run after the plan cache's minute logs in to
//!   Postgres once, not twice.
//! - **Refunds never feed a storm.** An admitted run that then fails on our side (the database
//!   down) gets its limiter units back, so our outage does not spend the client's budget —
//!   but only for the first such failure in an outage: while the store keeps failing
//!   ([`REFUND_QUIET`] since the last failure), nothing is refunded, so refunds cannot turn
//!   a burst into a retry loop against a dead database.

use sba_agui::{Claim, RunAgentInput, RunLog};
use sba_billing::plans::{cache_key, from_cache, CACHE_TTL_SECS};
use sba_billing::TenantPlan;
use sba_config::DB_BINDING;
use sba_extract::sba_tenant::TenantContext;
use sba_http::{ApiError, Call, RequestContext};
use sba_pg::tokio_postgres::Client;
use sba_pg::PgError;
use sba_quota::limits::{admit_alongside, refused_from_memory, Check};
use sba_quota::{charge_params, charged, load_plan, plan_from_cache, refund, Admission, LimitConfig, CHARGE_RUN};
use sba_redis::{Cmd, RedisRest, RedisValue};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// A refund is given only when the store had not failed for this long before.
pub const REFUND_QUIET: Duration = Duration::from_secs(30);
/// How long a finished plan load serves the requests that waited for it (and any arriving
/// just after): short, so a plan change seen through Redis applies at once.
const LOAD_SERVES_FOR_MS: f64 = 1_000.0;

/// An admitted run: the `RateLimit*` headers for its response and, when it was taken in the
/// limiter's request, the run's claim (`None`: the run claims itself as usual).
pub struct Admitted {
    pub headers: Admission,
    pub claim: Option<Claim>,
}

/// What admission did so far, so that a refusal or failure can undo it.
#[derive(Default)]
struct Progress {
    /// The limiter admitted the run: the per-minute limit and clock it checked with (a
    /// refund must use the same policies).
    admitted: Option<(u64, u64)>,
    /// The run's claim, when the limiter's request took it fresh.
    claimed_fresh: bool,
}

/// Admits one run, or answers the 429/402/503 to send instead. In the usual case this costs
/// ONE Redis round trip (the limiter's script, the plan's cache entry and the run's claim in
/// one pipeline) and ONE Postgres round trip (the charge); a tenant blocked in the last
/// second costs none (see [`PLAN_TRUST_MS`]).
pub async fn admit_run(call: &Call, tenant: &TenantContext, input: &RunAgentInput) -> Result<Admitted, ApiError> {
    let config = LimitConfig::from_vars(|name| sba_config::setting(&call.env, name).ok());
    // The cached plan is read under the limiter's deadline too: a plan read that times out
    // under load would send the request to Postgres for nothing.
    let redis = sba_config::redis_for(call)?.with_timeout(Duration::from_millis(config.timeout_ms));
    let limits = Limits {
        config,
        ip: client_ip(call),
        tenant: tenant.tenant_id.clone(),
        now_ms: js_sys::Date::now() as u64,
        ctx: call.ctx.clone(),
        checked: Cell::new(None),
    };
    let claim = RunClaim {
        log: RunLog::new(redis.clone(), &tenant.tenant_id, &input.run_id),
        thread_id: input.thread_id.clone(),
        attempt: attempt_name(),
    };
    let mut progress = Progress::default();
    let result = admit_and_charge(call, &redis, &limits, &claim, &mut progress).await;
    call.ctx.record_timing("limit", js_sys::Date::now() - limits.now_ms as f64);
    if let Err(refusal) = &result {
        if progress.claimed_fresh {
            // The run will not start: a retry of it must find it fresh, not follow an empty log.
            call.ctx.wait_until(async move {
                let _ = claim.log.release(&claim.thread_id, &claim.attempt).await;
            });
        }
        if let (Some((per_minute, checked_at_ms)), true) = (progress.admitted, refusal.status >= 500) {
            if first_failure_of_an_outage() {
                let (config, tenant, ip) = (limits.config.clone(), limits.tenant.clone(), limits.ip.clone());
                call.ctx.wait_until(async move {
                    let check = Check {
                        tenant: &tenant,
                        tenant_per_minute: per_minute,
                        ip: &ip,
                        now_ms: checked_at_ms,
                        refresh_cache: false,
                    };
                    refund(redis, &config, check).await
                });
            }
        }
    }
    result
}

/// Refuses a tenant its limits blocked within the last [`PLAN_TRUST_MS`], from the
/// isolate's memory: no round trip, and before the request's body is parsed or validated (a
/// blocked client gets its 429 whatever it sent). The body is still read to its end: an
/// answer sent with the body unread makes the runtime drop the connection, and a keep-alive
/// client's next request on it fails. Anything else goes on to [`admit_run`].
pub async fn refuse_if_blocked(call: &mut Call, tenant: &TenantContext) -> Result<(), ApiError> {
    let Err(refusal) = blocked_now(call, tenant) else { return Ok(()) };
    let _ = sba_http::read_limited(&mut call.req, crate::run::BODY_LIMIT).await;
    Err(refusal)
}

fn blocked_now(call: &Call, tenant: &TenantContext) -> Result<(), ApiError> {
    let Some((plan, age_ms)) = remembered_plan(&tenant.tenant_id) else { return Ok(()) };
    if age_ms > PLAN_TRUST_MS {
        return Ok(());
    }
    let config = LimitConfig::from_vars(|name| sba_config::setting(&call.env, name).ok());
    let redis = sba_config::redis_for(call)?;
    let ip = client_ip(call);
    let check = Check {
        tenant: &tenant.tenant_id,
        tenant_per_minute: u64::try_from(plan.agent_requests_per_minute).unwrap_or(1),
        ip: &ip,
        now_ms: js_sys::Date::now() as u64,
        refresh_cache: false,
    };
    match refused_from_memory(redis, &config, check, |outcome| call.ctx.set_limit_decision(outcome)) {
        Some(refusal) => Err(refusal),
        None => Ok(()),
    }
}

fn client_ip(call: &Call) -> String {
    call.req.headers().get("cf-connecting-ip").ok().flatten().unwrap_or_else(|| "unknown".to_owned())
}

/// The run's claim, sent with the limiter's script.
struct RunClaim {
    log: RunLog,
    thread_id: String,
    attempt: String,
}

/// A name for this request's claim: a retry after an attempt that did reach Redis still
/// finds the run fresh (its own name is on it).
pub(crate) fn attempt_name() -> String {
    let mut name = [0u8; 8];
    let _ = getrandom::fill(&mut name);
    hex::encode(name)
}

async fn admit_and_charge(
    call: &Call,
    redis: &RedisRest,
    limits: &Limits,
    claim: &RunClaim,
    progress: &mut Progress,
) -> Result<Admitted, ApiError> {
    let remembered = remembered_plan(&limits.tenant);
    let trusted = remembered.as_ref().is_some_and(|(_, age_ms)| *age_ms <= PLAN_TRUST_MS);
    let plan = match remembered {
        Some((plan, _)) => plan,
        None => match plan_from_cache(redis, &limits.tenant).await {
            Some(plan) => remembered_now(plan),
            None => match plan_load_turn(&limits.tenant).await? {
                PlanLoadTurn::Loaded(plan) => remembered_now(plan),
                PlanLoadTurn::Mine(mut turn) => {
                    // This request loads the plan, and its session then charges the run: one
                    // Postgres login for both (the first run of a tenant not seen for the
                    // cache's minute would otherwise open two).
                    let session = |client: Client| async move {
                        let loaded = load_plan(redis, &client, &limits.tenant).await;
                        turn.plan = loaded.as_ref().ok().cloned();
                        drop(turn); // the requests waiting for the plan go on now
                        let plan = loaded.map_err(PgError::from)?;
                        remember_plan(&plan);
                        decide_and_charge(redis, limits, claim, progress, plan, false, Charger::Session(&client)).await
                    };
                    return sba_pg::with_client(&call.env, DB_BINDING, sba_config::DB_TIMEOUT, session).await;
                }
            },
        },
    };
    decide_and_charge(redis, limits, claim, progress, plan, trusted, Charger::Connect(&call.env)).await
}

fn remembered_now(plan: TenantPlan) -> TenantPlan {
    remember_plan(&plan);
    plan
}

/// Where the run's charge goes: the session admission already holds, or a new one.
enum Charger<'a> {
    Session(&'a Client),
    Connect(&'a worker::Env),
}

/// The limits under `plan` (checked against the plan Redis holds now), then the charge.
async fn decide_and_charge(
    redis: &RedisRest,
    limits: &Limits,
    claim: &RunClaim,
    progress: &mut Progress,
    mut plan: TenantPlan,
    trusted: bool,
    charger: Charger<'_>,
) -> Result<Admitted, ApiError> {
    payment_check(&plan)?;
    // One request: the limiter's script, the plan as Redis has it now, the run's claim.
    let alongside =
        [Cmd::new("GET").arg(cache_key(&limits.tenant)), claim.log.claim_command(&claim.thread_id, &claim.attempt)];
    let (mut verdict, answers) = limits.check(redis.clone(), &plan, !trusted, &alongside).await;
    let mut claimed = None;
    if let Some([current_plan, claim_answer]) = answers.and_then(|a| <[RedisValue; 2]>::try_from(a).ok()) {
        claimed = RunLog::claimed(&claim.thread_id, &claim.attempt, claim_answer).ok();
        progress.claimed_fresh = claimed == Some(Claim::Fresh);
        if let Some(current) = current_plan.as_str().and_then(|text| from_cache(&limits.tenant, text)) {
            remember_plan(&current);
            if current != plan {
                // The plan changed since it was remembered. A refused check took nothing:
                // decide again under the new limits (one more round trip, once per change).
                if verdict.as_ref().is_err_and(|e| e.status == 429) {
                    verdict = limits.check(redis.clone(), &current, true, &[]).await.0;
                }
                plan = current;
            }
        }
    }
    let headers = verdict?;
    progress.admitted = limits.checked.get();
    // The plan Redis holds may say what the remembered one did not.
    payment_check(&plan)?;
    if let Some(Claim::Existing { .. }) = claimed {
        // A re-POST of a known run: it is replayed, not run (or charged) again.
        return Ok(Admitted { headers, claim: claimed });
    }
    // The charge is one pipelined statement: one round trip once connected.
    let (tenant, runs, tokens) =
        (limits.tenant.as_str(), i64::from(plan.agent_runs_per_period), plan.llm_tokens_per_period);
    let params = charge_params(&tenant, &runs, &tokens);
    let rows = match charger {
        Charger::Session(client) => sba_rls::one_statement(client, &sba_rls::Actor::Service, CHARGE_RUN, &params)
            .await
            .map_err(PgError::from)?,
        Charger::Connect(env) => sba_config::statement(env, &sba_rls::Actor::Service, CHARGE_RUN, &params).await?,
    };
    match charged(&rows) {
        Ok(()) => Ok(Admitted { headers, claim: claimed }),
        Err(e) => Err(e.into_api_error((limits.now_ms / 1000) as i64).map_err(PgError::from)?),
    }
}

/// 402 when the tenant's billing no longer pays for runs (the rule is `plan_of_tenant`'s:
/// an unpaid, canceled or expired subscription, or past due beyond 7 days).
fn payment_check(plan: &TenantPlan) -> Result<(), ApiError> {
    match &plan.payment_required {
        None => Ok(()),
        Some(reason) => Err(ApiError::new(
            402,
            "payment_required",
            format!(
                "runs are paused for this workspace: {reason}; update the payment method or the subscription to resume"
            ),
        )
        .with_details(serde_json::json!({ "reason": reason, "plan": plan.plan, "status": plan.status }))),
    }
}

/// How long a plan remembered in the isolate is trusted on its own: a tenant blocked by its
/// limits within this time is refused from memory, with no round trip at all. Older, the
/// plan is still used, but checked against Redis in the limiter's own request (and a
/// changed plan decides again), so a plan change applies within this time.
pub const PLAN_TRUST_MS: f64 = 1_000.0;
/// Plans remembered per isolate; beyond this, the ones older than the cache TTL go.
const PLANS_REMEMBERED: usize = 10_000;

thread_local!(static PLANS: RefCell<HashMap<String, (TenantPlan, f64)>> = RefCell::new(HashMap::new()));

/// The plan this isolate last saw for the tenant, with its age in ms.
fn remembered_plan(tenant: &str) -> Option<(TenantPlan, f64)> {
    let now = js_sys::Date::now();
    PLANS.with_borrow(|plans| plans.get(tenant).map(|(plan, at)| (plan.clone(), now - at)))
}

fn remember_plan(plan: &TenantPlan) {
    let now = js_sys::Date::now();
    PLANS.with_borrow_mut(|plans| {
        if plans.len() >= PLANS_REMEMBERED {
            plans.retain(|_, (_, at)| now - *at < (CACHE_TTL_SECS * 1000) as f64);
        }
        plans.insert(plan.tenant.clone(), (plan.clone(), now));
    });
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

/// A tenant's plan, not cached anywhere: loaded by one request of the isolate at a time.
enum PlanLoadTurn {
    /// Another request loaded it while this one waited.
    Loaded(TenantPlan),
    /// This request loads it.
    Mine(LoadTurn),
}

/// One request's turn to load a tenant's plan. When it ends — loaded, failed, or dropped
/// because its session never came (a timeout) — the requests waiting for it learn the
/// outcome (`plan`, `None` meaning failed).
struct LoadTurn {
    tenant: String,
    plan: Option<TenantPlan>,
}

impl Drop for LoadTurn {
    fn drop(&mut self) {
        let done = PlanLoad::Done { at_ms: js_sys::Date::now(), plan: self.plan.take() };
        PLAN_LOADS.with_borrow_mut(|loads| loads.insert(std::mem::take(&mut self.tenant), done));
    }
}

/// Waits while another request of the isolate loads the tenant's plan, or takes the turn.
async fn plan_load_turn(tenant: &str) -> Result<PlanLoadTurn, ApiError> {
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
            None => return Ok(PlanLoadTurn::Mine(LoadTurn { tenant: tenant.to_owned(), plan: None })),
            Some(PlanLoad::Done { plan: Some(plan), .. }) => return Ok(PlanLoadTurn::Loaded(plan)),
            Some(PlanLoad::Done { plan: None, .. }) => return Err(plan_unavailable()),
            Some(PlanLoad::Loading) if now - started > (sba_config::DB_TIMEOUT.as_millis() + 1_000) as f64 => {
                return Err(plan_unavailable())
            }
            Some(PlanLoad::Loading) => {
                sba_http::sleep(Duration::from_millis(pause)).await;
                pause = (pause * 2).min(50);
            }
        }
    }
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
    /// Learns the limiter's outcome (for the log line and metrics).
    ctx: Rc<RequestContext>,
    /// The per-minute limit and clock of the last check that admitted.
    checked: Cell<Option<(u64, u64)>>,
}

impl Limits {
    /// The plan's per-minute window, the IP window and the burst bucket: one Redis round trip
    /// (with `alongside` commands in the same request). The limiter's clock is read right
    /// before its call, not when the request arrived: a request that waited (for the isolate,
    /// for a plan load) with an old time could otherwise be counted in a window that has
    /// already closed — a burst across a minute boundary would fill two windows at once.
    async fn check(
        &self,
        redis: RedisRest,
        plan: &TenantPlan,
        refresh_cache: bool,
        alongside: &[Cmd],
    ) -> (Result<Admission, ApiError>, Option<Vec<RedisValue>>) {
        let tenant_per_minute = u64::try_from(plan.agent_requests_per_minute).unwrap_or(1);
        let now_ms = js_sys::Date::now() as u64;
        let check = Check { tenant: &self.tenant, tenant_per_minute, ip: &self.ip, now_ms, refresh_cache };
        let (verdict, answers) =
            admit_alongside(redis, &self.config, check, alongside, |outcome| self.ctx.set_limit_decision(outcome))
                .await;
        if verdict.is_ok() {
            self.checked.set(Some((tenant_per_minute, now_ms)));
        }
        (verdict, answers)
    }
}
