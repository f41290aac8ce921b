//! One run's event log and its start-once claim, in Redis (Upstash REST):
//!
//! - `sba:agui:{tenant}:run:{runId}:claim` — the thread id, `SET NX`: the first POST of a run
//!   starts it, a re-POST finds it already claimed and replays instead of running twice;
//! - `sba:agui:{tenant}:run:{runId}:events` — a list of SSE frames in sequence order, seq 1 at
//!   index 0, so a client reconnecting with `Last-Event-ID: {runId}:{n}` gets `LRANGE n -1`.
//!
//! Both keys live one hour ([`RUN_TTL_MS`]), renewed on every append.

use crate::event::is_terminal_type;
use crate::sse::frame_data;
use sba_redis::{Cmd, RedisError, RedisRest, RedisValue};
use serde_json::Value;

/// How long a run's claim and log are kept after the last append: one hour.
pub const RUN_TTL_MS: u64 = 3_600_000;

/// The log of one run of one tenant.
#[derive(Debug, Clone)]
pub struct RunLog {
    redis: RedisRest,
    events_key: String,
    claim_key: String,
}

/// What [`RunLog::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nobody had started this run: the caller runs it.
    Fresh,
    /// The run was already started, for `thread_id`: replay it if that is the caller's
    /// thread, answer 409 if not.
    Existing { thread_id: String },
}

impl RunLog {
    pub fn new(redis: RedisRest, tenant: &str, run_id: &str) -> RunLog {
        let base = format!("sba:agui:{tenant}:run:{run_id}");
        RunLog {
            redis,
            events_key: format!("{base}:events"),
            claim_key: format!("{base}:claim"),
        }
    }

    pub fn events_key(&self) -> &str {
        &self.events_key
    }

    pub fn claim_key(&self) -> &str {
        &self.claim_key
    }

    /// Claims the run for `thread_id` (`SET NX PX`), atomically with reading who holds it.
    pub async fn claim(&self, thread_id: &str) -> Result<Claim, RedisError> {
        let answers = self
            .redis
            .multi_exec(&[
                Cmd::new("SET")
                    .arg(&self.claim_key)
                    .arg(thread_id)
                    .arg("NX")
                    .arg("PX")
                    .arg(RUN_TTL_MS),
                Cmd::new("GET").arg(&self.claim_key),
            ])
            .await?;
        let mut answers = answers.into_iter().map(RedisValue::into_result);
        let set = answers.next().ok_or_else(|| short("claim"))??;
        let holder = answers.next().ok_or_else(|| short("claim"))??;
        if set.as_str() == Some("OK") {
            return Ok(Claim::Fresh);
        }
        Ok(Claim::Existing {
            thread_id: holder.into_string().unwrap_or_default(),
        })
    }

    /// Appends frames (in sequence order) and renews both keys' TTL, in one round trip.
    /// Nothing to append costs nothing.
    pub async fn append(&self, frames: &[String]) -> Result<(), RedisError> {
        if frames.is_empty() {
            return Ok(());
        }
        let answers = self
            .redis
            .pipeline(&[
                Cmd::new("RPUSH").arg(&self.events_key).args(frames),
                Cmd::new("PEXPIRE").arg(&self.events_key).arg(RUN_TTL_MS),
                Cmd::new("PEXPIRE").arg(&self.claim_key).arg(RUN_TTL_MS),
            ])
            .await?;
        for answer in answers {
            answer.into_result()?;
        }
        Ok(())
    }

    /// The frames with a sequence number greater than `seq` (all of them for `None`).
    pub async fn read_after(&self, seq: Option<u64>) -> Result<Vec<String>, RedisError> {
        let start = match i64::try_from(seq.unwrap_or(0)) {
            Ok(start) => start,
            Err(_) => return Ok(Vec::new()),
        };
        let answer = self
            .redis
            .run(&Cmd::new("LRANGE").arg(&self.events_key).arg(start).arg(-1))
            .await?;
        strings(answer)
    }

    /// How many frames are stored, which is the sequence number of the last one (0: none).
    pub async fn last_seq(&self) -> Result<u64, RedisError> {
        let answer = self
            .redis
            .run(&Cmd::new("LLEN").arg(&self.events_key))
            .await?;
        answer
            .as_i64()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| RedisError::Protocol(format!("LLEN answered {answer:?}")))
    }

    /// Whether the last stored frame is RUN_FINISHED or RUN_ERROR.
    pub async fn is_finished(&self) -> Result<bool, RedisError> {
        let last = strings(
            self.redis
                .run(&Cmd::new("LRANGE").arg(&self.events_key).arg(-1).arg(-1))
                .await?,
        )?;
        Ok(last.first().is_some_and(|frame| is_terminal_frame(frame)))
    }
}

/// Whether a stored frame's data line is a terminal event.
pub fn is_terminal_frame(frame: &str) -> bool {
    frame_data(frame)
        .and_then(|data| serde_json::from_str::<Value>(data).ok())
        .and_then(|event| {
            event
                .get("type")
                .and_then(Value::as_str)
                .map(is_terminal_type)
        })
        .unwrap_or(false)
}

fn strings(answer: RedisValue) -> Result<Vec<String>, RedisError> {
    match answer {
        RedisValue::Nil => Ok(Vec::new()),
        RedisValue::Array(items) => items
            .into_iter()
            .map(|item| {
                item.into_string()
                    .ok_or_else(|| RedisError::Protocol("a stored frame is not text".into()))
            })
            .collect(),
        other => Err(RedisError::Protocol(format!("LRANGE answered {other:?}"))),
    }
}

fn short(what: &str) -> RedisError {
    RedisError::Protocol(format!("{what}: fewer answers than commands"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::sse::frame;

    #[test]
    fn terminal_frames() {
        let finished = frame(
            "r:3",
            &Event::RunFinished {
                thread_id: "t".into(),
                run_id: "r".into(),
                result: None,
            },
        );
        let error = frame(
            "r:3",
            &Event::RunError {
                message: "x".into(),
                code: None,
            },
        );
        let step = frame(
            "r:2",
            &Event::StepStarted {
                step_name: "RUN_FINISHED".into(),
            },
        );
        assert!(is_terminal_frame(&finished) && is_terminal_frame(&error));
        assert!(!is_terminal_frame(&step));
        assert!(!is_terminal_frame(": ping\n\n") && !is_terminal_frame("data: {not json\n\n"));
    }
}
