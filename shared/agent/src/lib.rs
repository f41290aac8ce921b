//! The agent run, shared by the `agent` and `ratelimited-agent` Workers.
//!
//! `POST …/run` takes an AG-UI `RunAgentInput` and answers a `text/event-stream` of AG-UI
//! events: the orchestrator (`orchestrator`) asks the LLM (`sba-llm`, with failover), streams
//! text and tool calls as they arrive, runs server tools (`sba-agent-tools`, in the tenant's
//! RLS transaction), feeds results back, and always ends with RUN_FINISHED or RUN_ERROR.
//! Every event carries `id: <runId>:<seq>` and is appended to a per-run log in Redis
//! (`emitter`), so `GET …/runs/{runId}/events` with `Last-Event-ID` resumes (`resume`), and a
//! re-POST of the same run replays it instead of running twice. Audit rows are written after
//! the response (`audit`).
//!
//! Admission (`admission`): the plan-aware limits and period quota a run must pass before
//! its stream opens; a Worker calls it before `handle_run`.

pub mod admission;
mod audit;
mod config;
mod emitter;
mod grounding;
mod orchestrator;
mod resume;
mod run;
mod turn;

pub use admission::{admit_run, refuse_if_blocked, Admitted};
pub use resume::handle_resume;
pub use run::{handle_run, read_input};

use sba_http::{routes, ApiError, Call, Params, Route};
use worker::Response;

/// Both agent Workers' routes: a run, admitted first, and the resume of a run's stream.
pub const ROUTES: &[Route] = routes![
    POST "/run" => run,
    GET "/runs/{runId}/events" => events,
];

/// `POST /run`: who (the verified token), whether (refused from memory if blocked a moment
/// ago, before anything is read; a malformed request or a misconfigured model provider
/// before it costs a limit unit or a run), admitted (plan, limits, quotas), then the run's
/// stream.
async fn run(mut call: Call, _: Params) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    refuse_if_blocked(&mut call, &tenant).await?;
    let input = read_input(&mut call).await?;
    let providers = config::providers(&call.env, call.ctx.trace_headers())?;
    let admitted = admit_run(&call, &tenant, &input).await?;
    handle_run(call, tenant, input, providers, Some(admitted)).await
}

/// `GET /runs/{runId}/events`: the run's events after `Last-Event-ID`.
async fn events(call: Call, params: Params) -> Result<Response, ApiError> {
    let tenant = sba_extract::tenant(&call).await?;
    handle_resume(call, tenant, params.get("runId")).await
}
