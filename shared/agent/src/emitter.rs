//! Numbers events, frames them for SSE, hands them to the response stream at once, and keeps
//! the per-run log in Redis (flushed in batches at step boundaries: a round trip per token
//! would cost more than the LLM).

use futures_channel::mpsc::UnboundedSender;
use sba_agui::sse::{event_id, frame};
use sba_agui::{Event, RunLog};

pub struct Emitter {
    run_id: String,
    seq: u64,
    out: UnboundedSender<String>,
    log: RunLog,
    pending: Vec<String>,
    finished: bool,
}

impl Emitter {
    pub fn new(run_id: String, out: UnboundedSender<String>, log: RunLog) -> Self {
        Self { run_id, seq: 0, out, log, pending: Vec::new(), finished: false }
    }

    pub fn emit(&mut self, event: Event) {
        self.seq += 1;
        if matches!(event, Event::RunFinished { .. } | Event::RunError { .. }) {
            self.finished = true;
        }
        let text = frame(&event_id(&self.run_id, self.seq), &event);
        // A closed receiver means the client left; the log still records the run.
        let _ = self.out.unbounded_send(text.clone());
        self.pending.push(text);
    }

    /// Writes buffered frames to the run log. Failures only cost resumability.
    pub async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let frames = std::mem::take(&mut self.pending);
        let _ = self.log.append(&frames).await;
    }
}

impl Drop for Emitter {
    /// The run was cut short (the client went away and the response stream was dropped):
    /// record what was sent plus a terminal RUN_ERROR, so a resuming client sees an end.
    fn drop(&mut self) {
        if self.finished && self.pending.is_empty() {
            return;
        }
        let mut frames = std::mem::take(&mut self.pending);
        if !self.finished {
            self.seq += 1;
            let event = Event::RunError { message: "the run was cancelled: the client disconnected".into(), code: Some("client_disconnected".into()) };
            frames.push(frame(&event_id(&self.run_id, self.seq), &event));
        }
        let log = self.log.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = log.append(&frames).await;
        });
    }
}
