//! The agent's server-side tools: what the LLM may call, and running those calls.
//!
//! - [`specs`]: each tool's name, description and JSON Schema (hand-written constants, every
//!   object closed with `additionalProperties: false`), for the LLM request's `tools` list,
//! - [`call`]: one tool call as the LLM sent it (a name and the arguments as JSON text) →
//!   a [`ToolResult`] whose `content` is the JSON text the LLM sees next.
//!
//! Tools: `searchKb` and `getDocument` (the tenant's knowledge base, `sba-kb`), `createTask`
//! (a row in `public.tasks`) and `render` (fixed HTML templates, auto-escaped). Database tools
//! run on the caller's transaction from `sba_rls::begin_as_tenant`, so row-level security
//! decides what they see and where they write; each runs inside a savepoint, so a failed
//! tool leaves the transaction usable for the rest of the run (and its audit rows).
//!
//! Every failure is a value, never a panic or an `Err`: bad arguments become
//! `{"error": {"code": "invalid_arguments", "issues": [...]}}` (issues as `sba-validate`
//! reports them) for the LLM to correct, an unknown name `unknown_tool`, a missing document
//! `not_found`, and a database failure `tool_failed` with a generic message (no SQL).
//!
//! Not for: talking to the LLM, the run loop, writing `agent_audit` rows (the agent Worker
//! does, from [`ToolResult::summary`]), or client-side tools.

mod create_task;
mod get_document;
mod registry;
mod render;
mod search_kb;

pub use registry::{call, is_server_tool, specs};

use serde::Serialize;
use serde_json::Value;

/// One tool as the LLM is told about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// JSON Schema of the arguments: `type: object`, `required`, `additionalProperties: false`.
    pub parameters: Value,
}

/// Who a call runs for. The tenant is already bound to the transaction; it is here for
/// logs and checks, `subject` (the JWT `sub`) and `run_id` are written with created rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolContext {
    pub tenant_id: String,
    pub subject: String,
    pub run_id: String,
}

/// The outcome of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// JSON text the LLM sees as the tool message.
    pub content: String,
    /// True when `content` is `{"error": {...}}`.
    pub is_error: bool,
    /// A few fields for the audit trail (counts, ids, the error code); never the arguments.
    pub summary: Value,
}
