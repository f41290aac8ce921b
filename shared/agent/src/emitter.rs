//! Numbers events, frames them for SSE, hands them to the response stream at once, and keeps
//! the per-run log in Redis: flushed at step boundaries and at most [`FLUSH_EVERY`] behind
//! while text streams (a round trip per token would cost more than the LLM).
//!
//! The response stream is only a window on the run: when the client leaves, events keep
//! going to the log, and `client_gone` says so (the run then has a limited time to finish).

use futures_channel::mpsc::UnboundedSender;
use sba_agui::sse::{event_id, frame};
use sba_agui::{Event, RunLog};

/// The longest the log trails the stream while a step is streaming (ms).
const FLUSH_EVERY: f64 = 200.0;

pub struct Emitter {
    run_id: String,
    seq: u64,
    out: UnboundedSender<String>,
    log: RunLog,
    pending: Vec<String>,
    last_flush_ms: f64,
    finished: bool,
}

impl Emitter {
    pub fn new(run_id: String, out: UnboundedSender<String>, log: RunLog) -> Self {
        Self { run_id, seq: 0, out, log, pending: Vec::new(), last_flush_ms: 0.0, finished: false }
    }

    pub fn emit(&mut self, event: Event) {
        if self.finished {
            return; // one terminal event per run, and nothing after it
        }
        self.seq += 1;
        if matches!(event, Event::RunFinished { .. } | Event::RunError { .. }) {
            self.finished = true;
        }
        let text = frame(&event_id(&self.run_id, self.seq), &event);
        // A closed receiver means the client left; the log still records the run.
        let _ = self.out.unbounded_send(text.clone());
        self.pending.push(text);
    }

    /// Writes buffered frames to the run log. A failure keeps them for the next flush (the
    /// log must stay in sequence); it only costs resumability while Redis is away.
    pub async fn flush(&mut self) {
        self.last_flush_ms = js_sys::Date::now();
        if self.pending.is_empty() {
            return;
        }
        let after = self.seq - self.pending.len() as u64;
        if self.log.append(after, &self.pending).await.is_ok() {
            self.pending.clear();
        }
    }

    /// [`Emitter::flush`] when the last one is [`FLUSH_EVERY`] old.
    pub async fn flush_if_due(&mut self) {
        if !self.pending.is_empty() && js_sys::Date::now() - self.last_flush_ms >= FLUSH_EVERY {
            self.flush().await;
        }
    }

    /// A clone of the response stream's sender, to watch whether the client is still there.
    /// Dropped with the run, so it never holds the response open.
    pub fn sender(&self) -> UnboundedSender<String> {
        self.out.clone()
    }
}
