//! One run's event log and its start-once claim, in Redis (Upstash REST):
//!
//! - `sba:agui:{tenant}:run:{runId}:claim` — the thread id, `SET NX`: the first POST of a run
//!   starts it, a re-POST finds it already claimed and replays instead of running twice;
//! - `sba:agui:{tenant}:run:{runId}:events` — a list of SSE frames in sequence order, seq 1 at
//!   index 0, so a client reconnecting with `Last-Event-ID: {runId}:{n}` gets `LRANGE n -1`;
//! - `sba:agui:{tenant}:run:{runId}:lease` — present while the run is alive: every append and
//!   a ticker of the run renew it ([`LEASE_MS`]). A reader that finds the log without a
//!   terminal event and the lease gone knows the run died with its isolate, and ends the log
//!   with RUN_ERROR `run_lost` itself ([`RunLog::end_if_lost`]), so every reader of a run
//!   sees exactly one terminal event.
//!
//! Claim and log live one hour ([`RUN_TTL_MS`]), renewed on every append.

use crate::event::{is_terminal_type, Event};
use crate::sse::frame_data;
use sba_redis::{Cmd, RedisError, RedisRest, RedisValue, Script};
use serde_json::Value;
use std::sync::LazyLock;

/// How long a run's claim and log are kept after the last append: one hour.
pub const RUN_TTL_MS: u64 = 3_600_000;
/// How long a run counts as alive after its last append or lease renewal.
pub const LEASE_MS: u64 = 20_000;

/// `{1 if claimed now (and the lease taken) else 0, the holder's thread id}`.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {1, ARGV[1]}
end
return {0, redis.call('GET', KEYS[1])}"#,
    )
});

/// Gives a claim back (the run never started: its admission was refused) when `ARGV[1]` still
/// holds it and nothing was logged; answers 1 if it did.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1"#,
    )
});

/// Appends `ARGV[4..]` when the log holds exactly `ARGV[1]` frames (or does nothing when it
/// already holds them), renews the TTLs and the lease.
static APPEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"local n = redis.call('LLEN', KEYS[1])
local after = tonumber(ARGV[1])
if n == after then
  for i = 4, #ARGV, 500 do redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV))) end
elseif n ~= after + #ARGV - 3 then
  return redis.error_reply('ERR run log holds ' .. n .. ' frames, expected ' .. after)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
return n"#,
    )
});

/// Appends the terminal frame `ARGV[1] .. seq .. ARGV[2]` (seq = the next sequence number)
/// when the run was claimed, its lease is gone and its last frame (if any) is not terminal;
/// answers 1 if it did.
static END_IF_LOST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
local n = redis.call('LLEN', KEYS[1])
if n > 0 then
  local last = redis.call('LINDEX', KEYS[1], -1)
  if string.find(last, '"type":"RUN_FINISHED"', 1, true) or string.find(last, '"type":"RUN_ERROR"', 1, true) then return 0 end
end
redis.call('RPUSH', KEYS[1], ARGV[1] .. (n + 1) .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1"#,
    )
});

/// The log of one run of one tenant.
#[derive(Debug, Clone)]
pub struct RunLog {
    redis: RedisRest,
    events_key: String,
    claim_key: String,
    lease_key: String,
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
            lease_key: format!("{base}:lease"),
        }
    }

    pub fn events_key(&self) -> &str {
        &self.events_key
    }

    pub fn claim_key(&self) -> &str {
        &self.claim_key
    }

    /// Claims the run for `thread_id`, atomically with reading who holds it. A fresh claim
    /// also takes the run's lease, so a run that dies before its first event is still seen
    /// as lost once the lease lapses.
    ///
    /// `attempt` names this request's claim (random per request): a claim sent again after a
    /// timeout that did reach Redis finds its own name and is still [`Claim::Fresh`], so a
    /// claim can be retried without turning the run into a replay of itself.
    pub async fn claim(&self, thread_id: &str, attempt: &str) -> Result<Claim, RedisError> {
        let answer = self.redis.run(&self.claim_command(thread_id, attempt)).await?;
        Self::claimed(thread_id, attempt, answer)
    }

    /// The claim as a command, for a caller that sends it with others in one request (see
    /// `sba_ratelimit::Limiter::check_alongside`); its answer is read by [`RunLog::claimed`].
    pub fn claim_command(&self, thread_id: &str, attempt: &str) -> Cmd {
        let value = format!("{thread_id}\n{attempt}");
        Cmd::eval(&CLAIM, &[&self.claim_key, &self.lease_key], &[value, RUN_TTL_MS.to_string(), LEASE_MS.to_string()])
    }

    /// What a [`RunLog::claim_command`] answered.
    pub fn claimed(thread_id: &str, attempt: &str, answer: RedisValue) -> Result<Claim, RedisError> {
        let value = format!("{thread_id}\n{attempt}");
        match answer.into_result()? {
            RedisValue::Array(mut items) if items.len() == 2 => {
                let holder = items.pop().and_then(RedisValue::into_string).unwrap_or_default();
                let fresh = items.pop().and_then(|v| v.as_i64()) == Some(1) || holder == value;
                let thread = holder.split_once('\n').map_or(holder.as_str(), |(thread, _)| thread).to_owned();
                Ok(if fresh { Claim::Fresh } else { Claim::Existing { thread_id: thread } })
            }
            other => Err(RedisError::Protocol(format!("claim answered {other:?}"))),
        }
    }

    /// Gives back a fresh claim whose run will not start (refused after the claim was
    /// taken): a retry of the same run is then fresh again instead of following a log that
    /// never gets an event. Does nothing if the claim is another attempt's or events exist.
    pub async fn release(&self, thread_id: &str, attempt: &str) -> Result<bool, RedisError> {
        let value = format!("{thread_id}\n{attempt}");
        let answer =
            self.redis.eval_script(&RELEASE, &[&self.claim_key, &self.lease_key, &self.events_key], &[value]).await?;
        Ok(answer.as_i64() == Some(1))
    }

    /// Appends frames (in sequence order) after the first `after` frames, renews the keys'
    /// TTL and the run's lease: one round trip, exactly once. Appending again what is already
    /// there (a retry after a timeout that did reach Redis) changes nothing; a log of any
    /// other length is refused, so a gap or a duplicate can never enter it. Nothing to append
    /// costs nothing.
    pub async fn append(&self, after: u64, frames: &[String]) -> Result<(), RedisError> {
        if frames.is_empty() {
            return Ok(());
        }
        let mut args = vec![after.to_string(), RUN_TTL_MS.to_string(), LEASE_MS.to_string()];
        args.extend(frames.iter().cloned());
        self.redis
            .eval_script(&APPEND, &[&self.events_key, &self.claim_key, &self.lease_key], &args)
            .await?
            .into_result()
            .map(drop)
    }

    /// The client this log writes through.
    pub fn redis(&self) -> &RedisRest {
        &self.redis
    }

    /// The key of the run's lease (for [`renew_leases`], which renews many runs at once).
    pub fn lease_key(&self) -> &str {
        &self.lease_key
    }

    /// Ends the log with `terminal` (numbered after the last frame) when the run is dead: it
    /// was claimed, has no lease, and its last frame (if any) is not terminal. Answers
    /// whether it did. Atomic: a run still appending keeps its lease, so it is never cut.
    pub async fn end_if_lost(&self, run_id: &str, terminal: &Event) -> Result<bool, RedisError> {
        let (head, tail) = (format!("id: {run_id}:"), format!("\ndata: {}\n\n", terminal.to_json()));
        let answer = self
            .redis
            .eval_script(
                &END_IF_LOST,
                &[&self.events_key, &self.lease_key, &self.claim_key],
                &[head, tail, RUN_TTL_MS.to_string()],
            )
            .await?;
        Ok(answer.as_i64() == Some(1))
    }

    /// The frames with a sequence number greater than `seq` (all of them for `None`).
    pub async fn read_after(&self, seq: Option<u64>) -> Result<Vec<String>, RedisError> {
        let start = match i64::try_from(seq.unwrap_or(0)) {
            Ok(start) => start,
            Err(_) => return Ok(Vec::new()),
        };
        let answer = self.redis.run(&Cmd::new("LRANGE").arg(&self.events_key).arg(start).arg(-1)).await?;
        strings(answer)
    }

    /// How many frames are stored, which is the sequence number of the last one (0: none).
    pub async fn last_seq(&self) -> Result<u64, RedisError> {
        let answer = self.redis.run(&Cmd::new("LLEN").arg(&self.events_key)).await?;
        answer
            .as_i64()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| RedisError::Protocol(format!("LLEN answered {answer:?}")))
    }

    /// Whether the last stored frame is RUN_FINISHED or RUN_ERROR.
    pub async fn is_finished(&self) -> Result<bool, RedisError> {
        let last = strings(self.redis.run(&Cmd::new("LRANGE").arg(&self.events_key).arg(-1).arg(-1)).await?)?;
        Ok(last.first().is_some_and(|frame| is_terminal_frame(frame)))
    }
}

/// Renews the leases of many runs in one request per 500 (an isolate holding thousands of
/// quiet streams renews them all with a handful of requests, not one each).
pub async fn renew_leases(redis: &RedisRest, lease_keys: &[String]) -> Result<(), RedisError> {
    for chunk in lease_keys.chunks(500) {
        let commands: Vec<Cmd> =
            chunk.iter().map(|key| Cmd::new("SET").arg(key).arg("1").arg("PX").arg(LEASE_MS)).collect();
        redis.pipeline(&commands).await?;
    }
    Ok(())
}

/// Whether a stored frame's data line is a terminal event.
pub fn is_terminal_frame(frame: &str) -> bool {
    frame_data(frame)
        .and_then(|data| serde_json::from_str::<Value>(data).ok())
        .and_then(|event| event.get("type").and_then(Value::as_str).map(is_terminal_type))
        .unwrap_or(false)
}

fn strings(answer: RedisValue) -> Result<Vec<String>, RedisError> {
    match answer {
        RedisValue::Nil => Ok(Vec::new()),
        RedisValue::Array(items) => items
            .into_iter()
            .map(|item| item.into_string().ok_or_else(|| RedisError::Protocol("a stored frame is not text".into())))
            .collect(),
        other => Err(RedisError::Protocol(format!("LRANGE answered {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::frame;

    #[test]
    fn terminal_frames() {
        let finished = frame("r:3", &Event::RunFinished { thread_id: "t".into(), run_id: "r".into(), result: None });
        let error = frame("r:3", &Event::RunError { message: "x".into(), code: None });
        let step = frame("r:2", &Event::StepStarted { step_name: "RUN_FINISHED".into() });
        assert!(is_terminal_frame(&finished) && is_terminal_frame(&error));
        assert!(!is_terminal_frame(&step));
        assert!(!is_terminal_frame(": ping\n\n") && !is_terminal_frame("data: {not json\n\n"));
    }
}
