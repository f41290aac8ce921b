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
mod orchestrator;
mod resume;
mod run;
mod turn;

pub use admission::{admit_run, refuse_if_blocked, Admitted};
pub use resume::handle_resume;
pub use run::{handle_run, read_input};
