//! `GET …/runs/{runId}/events` with `Last-Event-ID: <runId>:<seq>`: the events after that
//! one, exactly once, from the run's log — following it live until the run's terminal event
//! when the run is still going.

use crate::run::{heartbeat, sse_response, RUN_LOG_TIMEOUT};
use futures_util::{stream, Stream, StreamExt};
use sba_agui::run_log::is_terminal_frame;
use sba_agui::sse::parse_event_id;
use sba_agui::{Event, RunLog};
use sba_extract::sba_tenant::TenantContext;
use sba_http::{ApiError, Call};
use std::time::Duration;
use worker::Response;

const POLL: Duration = Duration::from_millis(250);
const FOLLOW_LIMIT: u32 = 4 * 60 * 10; // ten minutes of polling at most
/// Polls between two looks at whether a quiet run is still alive (every 2 s).
const LOST_CHECK_EVERY: u32 = 8;

pub async fn handle_resume(call: Call, tenant: TenantContext, run_id: &str) -> Result<Response, ApiError> {
    let last = call.req.headers().get("last-event-id").ok().flatten();
    let after = match last.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(id) => match parse_event_id(id) {
            Some((run, seq)) if run == run_id => Some(seq),
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_last_event_id",
                    "Last-Event-ID must be <runId>:<seq> of this run",
                ))
            }
        },
    };
    let redis = sba_config::redis_for(&call)?.with_timeout(RUN_LOG_TIMEOUT);
    let log = RunLog::new(redis, &tenant.tenant_id, run_id);
    // A run this tenant never started is a 404 (RLS-like: no existence leak across tenants).
    match log.read_after(Some(0)).await {
        Ok(frames) if frames.is_empty() => return Err(ApiError::not_found("no such run")),
        Ok(_) => {}
        Err(e) => {
            return Err(
                ApiError::unavailable("run_log_unavailable", "cannot read the run; retry shortly", 2).with_cause(e)
            )
        }
    }
    let heartbeat = heartbeat(&call);
    sse_response(replay_stream(log, run_id.to_owned(), after, heartbeat).boxed_local(), &[])
}

/// The log after `after` (None: from the start), then new frames as they are appended, until
/// a terminal event has been sent; `: ping` every `heartbeat` while waiting. A run whose lease
/// lapsed without a terminal event (its isolate died) is ended here with RUN_ERROR
/// `run_lost`, in the log itself, so every reader sees the same single end.
pub(crate) fn replay_stream(
    log: RunLog,
    run_id: String,
    after: Option<u64>,
    heartbeat: Duration,
) -> impl Stream<Item = String> {
    let state = Follow { log, run_id, sent: after.unwrap_or(0), finished: false, polls: 0, quiet_since: now_ms() };
    stream::unfold(state, move |mut f| async move {
        if f.finished || f.polls > FOLLOW_LIMIT {
            return None;
        }
        if f.polls > 0 {
            sba_http::sleep(POLL).await;
        }
        f.polls += 1;
        let frames = f.log.read_after(Some(f.sent)).await.unwrap_or_default();
        if frames.is_empty() {
            let quiet = now_ms() - f.quiet_since;
            if f.polls % LOST_CHECK_EVERY == 0 {
                let lost = Event::RunError {
                    message: "the run stopped without finishing (its worker went away)".into(),
                    code: Some("run_lost".into()),
                };
                let _ = f.log.end_if_lost(&f.run_id, &lost).await;
            }
            if quiet >= heartbeat.as_millis() as f64 {
                f.quiet_since = now_ms();
                return Some((stream::iter(vec![sba_agui::sse::PING.to_owned()]), f));
            }
            return Some((stream::iter(Vec::new()), f));
        }
        f.finished = frames.iter().any(|frame| is_terminal_frame(frame));
        f.sent += frames.len() as u64;
        f.quiet_since = now_ms();
        Some((stream::iter(frames), f))
    })
    .flatten()
}

struct Follow {
    log: RunLog,
    run_id: String,
    sent: u64,
    finished: bool,
    polls: u32,
    quiet_since: f64,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}
