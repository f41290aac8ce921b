//! AG-UI 1.0 (the Agent–User Interaction protocol) as the edge speaks it: the events a run
//! streams ([`Event`]), their Server-Sent-Events framing ([`sse`]), the validated request body
//! ([`RunAgentInput`]), and a per-run event log in Redis ([`RunLog`]) so that a client can
//! reconnect with `Last-Event-ID` and a re-POST of the same run does not start it twice.
//!
//! Wire rules (what `@ag-ui/client` accepts, checked by the e2e suite): `type` in
//! SCREAMING_SNAKE_CASE, camelCase fields, optional fields omitted (never `null`), LF-only
//! frames.
//!
//! Not for: talking to an LLM, deciding the order of events (the agent does that), holding
//! the HTTP response stream (the Worker does), or reading the clock (callers pass time in).
//! Everything here is pure except [`RunLog`], and nothing panics on any input.

pub mod event;
pub mod input;
pub mod message;
pub mod run_log;
pub mod sse;

pub use event::Event;
pub use input::{FrontendTool, RunAgentInput};
pub use message::{FunctionCall, Message, ToolCall, UserContent};
pub use run_log::{Claim, RunLog};
