//! `POST …/run`: admission is done by the caller; here the input is validated and claimed
//! (a re-POST of a known run replays its log), then the run is driven in `waitUntil` and the
//! response streams its events as they come.
//!
//! A run outlives its connection: when the client disconnects, the run goes on and writes
//! every event to the run log, so a resume (`Last-Event-ID`) or a re-POST gets the rest. The
//! platform keeps `waitUntil` work alive for a limited time after the client is gone (30 s
//! on Cloudflare), so a run still going [`DETACHED_LIMIT`] after its client left is ended
//! with RUN_ERROR `run_abandoned` — recorded in the log, the audit trail and the usage like
//! any other end. If the isolate dies outright, the run's lease in Redis lapses and the next
//! reader ends the log with RUN_ERROR `run_lost`: every reader sees one terminal event.

use crate::admission::Admitted;
use crate::audit::Trail;
use crate::emitter::Emitter;
use crate::orchestrator::{self, Run};
use crate::resume::replay_stream;
use futures_channel::{mpsc, oneshot};
use futures_util::future::{self, Either};
use futures_util::{stream, StreamExt};
use sba_agui::sse::SSE_HEADERS;
use sba_agui::{Claim, Event, RunAgentInput, RunLog};
use sba_extract::sba_tenant::TenantContext;
use sba_http::{ApiError, Call};
use std::cell::RefCell;
use std::collections::HashSet;
use std::pin::pin;
use std::time::Duration;
use worker::Response;

pub(crate) const BODY_LIMIT: usize = 1024 * 1024;
/// Per run-log call, from when it is handed to the runtime (a burst makes answers late).
pub(crate) const RUN_LOG_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries of the claim before the run is refused with 503 `run_log_unavailable`.
const CLAIM_ATTEMPTS: u32 = 3;
/// `: ping` after this much silence keeps proxies from cutting the stream (`SSE_HEARTBEAT_MS`).
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How long a run may go on after its client left (`RUN_DETACHED_LIMIT_MS`): under the 30 s
/// Cloudflare grants `waitUntil` work after a client disconnects, with room to write the end.
pub const DETACHED_LIMIT: Duration = Duration::from_secs(25);
/// The longest a run may take in all (`RUN_DEADLINE_MS`), client connected or not: then it
/// ends with RUN_ERROR `run_deadline_exceeded`.
pub const RUN_DEADLINE: Duration = Duration::from_secs(300);

/// Why a run was ended before its orchestrator finished.
enum EndedEarly {
    /// Its client left `RUN_DETACHED_LIMIT_MS` ago.
    Abandoned,
    /// `RUN_DEADLINE_MS` passed.
    Deadline,
}

/// How often the run's watcher looks at its client and lease.
const WATCH_EVERY: Duration = Duration::from_secs(2);
/// How often a quiet run renews its lease (well inside `sba_agui::run_log::LEASE_MS`).
const LEASE_RENEWAL: Duration = Duration::from_secs(5);

/// The validated `RunAgentInput` of a run request (400/413/415/422 before anything else).
pub async fn read_input(call: &mut Call) -> Result<RunAgentInput, ApiError> {
    sba_extract::json(call, BODY_LIMIT).await
}

/// `providers`: the models to ask, resolved (and their configuration checked) before
/// admission, so a misconfigured deployment refuses runs without charging them.
/// `admitted`: what admission (`crate::admission`) decided. An admitted run was charged to
/// the tenant's period, and its LLM tokens are added to it when it ends; `None` (a run
/// nobody admits: tests and tools only) charges nothing.
pub async fn handle_run(
    call: Call,
    tenant: TenantContext,
    input: RunAgentInput,
    providers: Vec<sba_llm::Provider>,
    admitted: Option<Admitted>,
) -> Result<Response, ApiError> {
    let charged = admitted.is_some();
    // The run log is on the critical path of a run: allow it more than a limiter decision.
    let redis = sba_config::redis_for(&call)?.with_timeout(RUN_LOG_TIMEOUT);
    let log = RunLog::new(redis.clone(), &tenant.tenant_id, &input.run_id);
    let (extra_headers, claimed) = admitted.map_or((Vec::new(), None), |a| (a.headers, a.claim));
    // Admission usually took the claim in its own Redis request; otherwise take it now.
    let claimed = match claimed {
        Some(claimed) => Ok(claimed),
        None => claim(&log, &input.thread_id).await,
    };
    match claimed {
        Ok(Claim::Fresh) => {}
        Ok(Claim::Existing { thread_id }) if thread_id == input.thread_id => {
            // The same run posted again (a retry): replay it, never run it twice.
            return sse_response(
                replay_stream(log, input.run_id.clone(), None, heartbeat(&call)).boxed_local(),
                &extra_headers,
            );
        }
        Ok(Claim::Existing { .. }) => {
            return Err(ApiError::new(409, "run_id_conflict", "this runId belongs to another thread"));
        }
        Err(e) => {
            return Err(
                ApiError::unavailable("run_log_unavailable", "cannot record the run; retry shortly", 2).with_cause(e)
            )
        }
    }

    let (tx, rx) = mpsc::unbounded::<String>();
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let env = call.env.clone();
    let run = Run {
        env: env.clone(),
        providers,
        input: input.clone(),
        tenant: tenant.tenant_id.clone(),
        subject: tenant.subject.clone(),
        claims: tenant.claims.clone(),
    };
    let mut trail = Trail {
        tenant: tenant.tenant_id.clone(),
        claims: tenant.claims.clone(),
        thread_id: input.thread_id.clone(),
        run_id: input.run_id.clone(),
        entries: Vec::new(),
    };
    let detached_limit = millis_setting(&call, "RUN_DETACHED_LIMIT_MS", DETACHED_LIMIT);
    let run_deadline = millis_setting(&call, "RUN_DEADLINE_MS", RUN_DEADLINE);
    // The metrics data point of a run is sent when the run ends, so it covers the whole run
    // and carries the tokens.
    let stream_end = call.ctx.streams_until_end();
    let request_ctx = call.ctx.clone();
    let client_signal = call.req.inner().signal();
    // The run is driven by waitUntil, not by the response body: a client that disconnects
    // leaves it running, writing every event to the log until its terminal one.
    let driver = async move {
        let _stream_end = stream_end;
        let started = orchestrator::now_ms();
        let mut emitter = Emitter::new(run.input.run_id.clone(), tx, log.clone());
        let ended_early = {
            let client = ClientWatch { events: emitter.sender(), request: client_signal };
            let watch = pin!(watch_run(log.clone(), client, detached_limit));
            let deadline = pin!(sba_http::sleep(run_deadline));
            let orchestrated = pin!(orchestrator::run(run, &mut emitter, &mut trail));
            match future::select(orchestrated, future::select(watch, deadline)).await {
                Either::Left(_) => None,
                Either::Right((Either::Left(_), _)) => Some(EndedEarly::Abandoned),
                Either::Right((Either::Right(_), _)) => Some(EndedEarly::Deadline),
            }
        };
        // The model's stream was dropped with the run: the step it was in stays in the trail
        // as `aborted`, with the tokens streamed so far (the orchestrator keeps that entry
        // current as the answer arrives), so they are charged like any others.
        match ended_early {
            None => {}
            Some(EndedEarly::Abandoned) => {
                // The client left and the run did not finish in the time the platform grants
                // after that.
                emitter.emit(Event::RunError {
                    message: "the client disconnected and the run could not finish in the time allowed after that"
                        .into(),
                    code: Some("run_abandoned".into()),
                });
                trail.entries.push(orchestrator::run_entry("aborted", started));
            }
            Some(EndedEarly::Deadline) => {
                emitter.emit(Event::RunError {
                    message: format!("the run took longer than its deadline ({} s)", run_deadline.as_secs()),
                    code: Some("run_deadline_exceeded".into()),
                });
                trail.entries.push(orchestrator::run_entry("error", started));
            }
        }
        emitter.flush().await;
        // The response ends here (its sender is gone); accounting goes on after it.
        drop(emitter);
        let _ = done_tx.send(());
        let usage = trail.llm_usage();
        request_ctx.set_llm_usage(usage);
        // Only LLM steps carry tokens: the run's total is the usage's.
        let tokens = i64::try_from(usage.input_tokens + usage.output_tokens).unwrap_or(i64::MAX);
        trail.write(env, Some(redis), if charged { tokens } else { 0 }).await;
    };
    call.ctx.wait_until(driver);
    // The body: events as the run produces them (it ends when the run drops its sender),
    // heartbeats while it is quiet.
    let heartbeat = heartbeat(&call);
    let pings = stream::unfold((), move |()| async move {
        sba_http::sleep(heartbeat).await;
        Some((sba_agui::sse::PING.to_owned(), ()))
    })
    .take_until(done_rx);
    let body = stream::select(rx, pings);
    sse_response(body.boxed_local(), &extra_headers)
}

/// Claims the run, retrying a claim that timed out or failed on the way (a burst makes
/// answers late): the claim carries this request's own name, so a retry after an attempt
/// that did reach Redis still finds the run fresh.
async fn claim(log: &RunLog, thread_id: &str) -> Result<Claim, sba_redis::RedisError> {
    let name = crate::admission::attempt_name();
    let mut attempt = 1;
    loop {
        match log.claim(thread_id, &name).await {
            Err(e)
                if attempt < CLAIM_ATTEMPTS
                    && matches!(e, sba_redis::RedisError::Timeout | sba_redis::RedisError::Network(_)) =>
            {
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The silence after which a stream sends `: ping` (`SSE_HEARTBEAT_MS`, default 15 s).
pub(crate) fn heartbeat(call: &Call) -> Duration {
    millis_setting(call, "SSE_HEARTBEAT_MS", HEARTBEAT)
}

/// A `*_MS` var, or the default.
fn millis_setting(call: &Call, name: &str, default: Duration) -> Duration {
    sba_config::setting(&call.env, name)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(default, Duration::from_millis)
}

/// How the watcher tells that the client is gone, without borrowing the emitter.
struct ClientWatch {
    /// Closed once the runtime dropped the response body, which it does when a write to the
    /// dead connection fails: the second write after the client left. The sender's closed
    /// flag is shared by its clones.
    events: mpsc::UnboundedSender<String>,
    /// The incoming request's signal (workerd's `enable_request_signal` compatibility flag),
    /// aborted as soon as the runtime knows the client left — at the latest at its first
    /// write after that — which is also when the platform's 30 s of `waitUntil` grace
    /// start. Going by the closed body alone, a quiet run noticed a heartbeat later and
    /// could be killed before it wrote its end, its audit row and its charge.
    request: worker::worker_sys::web_sys::AbortSignal,
}

impl ClientWatch {
    fn gone(&self) -> bool {
        self.events.is_closed() || self.request.aborted()
    }
}

/// Keeps the run's lease while it lives; resolves only when the client has been gone for
/// `detached_limit` (then the run is cut short). Never resolves while the client is there.
///
/// Leases are renewed per isolate, not per run: every live run is listed in [`LIVE_LEASES`],
/// and whichever watcher finds the last renewal [`LEASE_RENEWAL`] old renews them all in one
/// pipelined request (10,000 quiet streams would otherwise send 2,000 Redis calls a second).
async fn watch_run(log: RunLog, client: ClientWatch, detached_limit: Duration) {
    let _listed = LiveLease::list(log.lease_key());
    let mut gone_since: Option<f64> = None;
    loop {
        sba_http::sleep(WATCH_EVERY).await;
        let now = orchestrator::now_ms();
        if client.gone() {
            let since = *gone_since.get_or_insert(now);
            if now - since >= detached_limit.as_millis() as f64 {
                return;
            }
        }
        if let Some(keys) = LiveLease::due(now) {
            let _ = sba_agui::run_log::renew_leases(log.redis(), &keys).await;
        }
    }
}

thread_local! {
    /// The lease keys of the runs this isolate is driving, and when they were last renewed.
    static LIVE_LEASES: RefCell<(HashSet<String>, f64)> = RefCell::new((HashSet::new(), f64::NEG_INFINITY));
}

/// A run's entry in [`LIVE_LEASES`], removed when the run ends.
struct LiveLease(String);

impl LiveLease {
    fn list(key: &str) -> LiveLease {
        LIVE_LEASES.with_borrow_mut(|(keys, _)| keys.insert(key.to_owned()));
        LiveLease(key.to_owned())
    }

    /// Every live lease key when a renewal is due (and marks it done), else `None`.
    fn due(now: f64) -> Option<Vec<String>> {
        LIVE_LEASES.with_borrow_mut(|(keys, last)| {
            (now - *last >= LEASE_RENEWAL.as_millis() as f64).then(|| {
                *last = now;
                keys.iter().cloned().collect()
            })
        })
    }
}

impl Drop for LiveLease {
    fn drop(&mut self) {
        LIVE_LEASES.with_borrow_mut(|(keys, _)| keys.remove(&self.0));
    }
}

pub(crate) fn sse_response(
    body: futures_util::stream::LocalBoxStream<'static, String>,
    extra_headers: &[(&'static str, String)],
) -> Result<Response, ApiError> {
    let bytes = body.map(|frame| Ok::<Vec<u8>, worker::Error>(frame.into_bytes()));
    let mut response = Response::from_stream(bytes).map_err(ApiError::internal)?;
    let headers = response.headers_mut();
    for (name, value) in SSE_HEADERS {
        headers.set(name, value).map_err(ApiError::internal)?;
    }
    for (name, value) in extra_headers {
        headers.set(name, value).map_err(ApiError::internal)?;
    }
    Ok(response)
}
