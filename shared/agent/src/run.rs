//! `POST …/run`: admission is done by the caller; here the input is validated and claimed
//! (a re-POST of a known run replays its log), then the response streams while the run is
//! driven BY the stream itself — so a client that disconnects drops the run and with it the
//! upstream LLM request.

use crate::audit::Trail;
use crate::emitter::Emitter;
use crate::orchestrator::{self, Run};
use crate::resume::replay_stream;
use futures_channel::{mpsc, oneshot};
use futures_util::{future, stream, StreamExt};
use sba_agui::sse::SSE_HEADERS;
use sba_agui::{Claim, RunAgentInput, RunLog};
use sba_config::DB_BINDING;
use sba_extract::sba_tenant::TenantContext;
use sba_http::{ApiError, Call};
use sba_pg::PgError;
use std::time::Duration;
use worker::Response;

const BODY_LIMIT: usize = 1024 * 1024;
/// `: ping` after this much silence keeps proxies from cutting the stream (`SSE_HEARTBEAT_MS`).
const HEARTBEAT: Duration = Duration::from_secs(15);

/// What the caller wants done around a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunHooks {
    /// Add the run's LLM tokens to the tenant's period quota (ratelimited-agent).
    pub record_tokens: bool,
}

/// The validated `RunAgentInput` of a run request (400/413/415/422 before anything else).
pub async fn read_input(call: &mut Call) -> Result<RunAgentInput, ApiError> {
    sba_extract::json(call, BODY_LIMIT).await
}

pub async fn handle_run(
    call: Call,
    tenant: TenantContext,
    input: RunAgentInput,
    extra_headers: Vec<(&'static str, String)>,
    hooks: RunHooks,
) -> Result<Response, ApiError> {
    let providers = crate::config::providers(&call.env, call.ctx.trace_headers())?;
    // The run log is on the critical path of a run: allow it more than a limiter decision.
    let redis = sba_config::redis_for(&call)?.with_timeout(Duration::from_secs(2));
    let log = RunLog::new(redis.clone(), &tenant.tenant_id, &input.run_id);
    match log.claim(&input.thread_id).await {
        Ok(Claim::Fresh) => {}
        Ok(Claim::Existing { thread_id }) if thread_id == input.thread_id => {
            // The same run posted again (a retry): replay it, never run it twice.
            return sse_response(replay_stream(log, None).boxed_local(), &extra_headers);
        }
        Ok(Claim::Existing { .. }) => {
            return Err(ApiError::new(409, "run_id_conflict", "this runId belongs to another thread"));
        }
        Err(e) => return Err(ApiError::unavailable("run_log_unavailable", "cannot record the run; retry shortly", 2).with_cause(e)),
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
    // The metrics data point of a run is sent when the run ends (or is dropped with the
    // body), so it covers the whole stream and carries the tokens.
    let stream_end = call.ctx.streams_until_end();
    let request_ctx = call.ctx.clone();
    let driver = async move {
        let _stream_end = stream_end;
        let mut emitter = Emitter::new(run.input.run_id.clone(), tx, log);
        orchestrator::run(run, &mut emitter, &mut trail).await;
        drop(emitter);
        let usage = trail.llm_usage();
        request_ctx.set_llm_usage(usage);
        // Only LLM steps carry tokens: the run's total is the usage's.
        let tokens = i64::try_from(usage.input_tokens + usage.output_tokens).unwrap_or(i64::MAX);
        let tenant_id = trail.tenant.clone();
        let audit_env = env.clone();
        request_ctx.wait_until(async move {
            if hooks.record_tokens && tokens > 0 {
                let _ = sba_pg::with_client(&audit_env, DB_BINDING, Duration::from_secs(10), |mut client| async move {
                    let tx = sba_rls::begin_as_service(&mut client).await?;
                    sba_quota::record_tokens(&tx, &tenant_id, tokens).await?;
                    tx.commit().await?;
                    Ok::<_, PgError>(())
                })
                .await;
            }
            trail.write(audit_env, Some(redis)).await;
        });
        let _ = done_tx.send(());
    };
    // The body: events as the run produces them, heartbeats while it is quiet, and the run
    // itself polled as part of the stream (dropping the body drops the run).
    let heartbeat = sba_config::setting(&call.env, "SSE_HEARTBEAT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(HEARTBEAT, Duration::from_millis);
    let pings = stream::unfold((), move |()| async move {
        sba_http::sleep(heartbeat).await;
        Some((sba_agui::sse::PING.to_owned(), ()))
    })
    .take_until(done_rx);
    let driven = stream::once(driver).filter_map(|()| future::ready(None::<String>));
    let body = stream::select(stream::select(rx, driven), pings);
    sse_response(body.boxed_local(), &extra_headers)
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
