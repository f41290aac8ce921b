//! `GET …/runs/{runId}/events` with `Last-Event-ID: <runId>:<seq>`: the events after that
//! one, exactly once, from the run's log — following it live until the run's terminal event
//! when the run is still going.

use crate::run::sse_response;
use futures_util::{stream, Stream, StreamExt};
use sba_agui::sse::parse_event_id;
use sba_agui::RunLog;
use sba_extract::sba_tenant::TenantContext;
use sba_http::{ApiError, Call};
use std::time::Duration;
use worker::Response;

const POLL: Duration = Duration::from_millis(250);
const FOLLOW_LIMIT: u32 = 4 * 60 * 10; // ten minutes of polling at most

pub async fn handle_resume(call: Call, tenant: TenantContext, run_id: &str) -> Result<Response, ApiError> {
    let last = call.req.headers().get("last-event-id").ok().flatten();
    let after = match last.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(id) => match parse_event_id(id) {
            Some((run, seq)) if run == run_id => Some(seq),
            _ => return Err(ApiError::bad_request("invalid_last_event_id", "Last-Event-ID must be <runId>:<seq> of this run")),
        },
    };
    let redis = sba_config::redis_for(&call)?.with_timeout(Duration::from_secs(2));
    let log = RunLog::new(redis, &tenant.tenant_id, run_id);
    // A run this tenant never started is a 404 (RLS-like: no existence leak across tenants).
    match log.read_after(Some(0)).await {
        Ok(frames) if frames.is_empty() => return Err(ApiError::not_found("no such run")),
        Ok(_) => {}
        Err(e) => return Err(ApiError::unavailable("run_log_unavailable", "cannot read the run; retry shortly", 2).with_cause(e)),
    }
    sse_response(replay_stream(log, after).boxed_local(), &[])
}

/// The log after `after` (None: from the start), then new frames as they are appended, until
/// a terminal event has been sent.
pub(crate) fn replay_stream(log: RunLog, after: Option<u64>) -> impl Stream<Item = String> {
    stream::unfold((log, after.unwrap_or(0), false, 0u32), |(log, sent, finished, polls)| async move {
        if finished || polls > FOLLOW_LIMIT {
            return None;
        }
        if polls > 0 {
            sba_http::sleep(POLL).await;
        }
        let frames = log.read_after(Some(sent)).await.unwrap_or_default();
        let terminal = frames.iter().any(|f| f.contains("\"type\":\"RUN_FINISHED\"") || f.contains("\"type\":\"RUN_ERROR\""));
        let next = sent + frames.len() as u64;
        Some((stream::iter(frames), (log, next, terminal, polls + 1)))
    })
    .flatten()
}
