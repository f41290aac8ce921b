//! The tenant knowledge base that the agent's tools read.
//!
//! - `model`: the request types and their limits (what a client may send),
//! - `prepare`: turning a request into stored text, a dedupe hash and chunks (pure),
//! - `store`: the SQL, one statement per route, always run as the tenant through `sba-rls`,
//!   so row-level security scopes every statement,
//! - `idempotency`: `Idempotency-Key` rules (the claim and replay happen in `kb_ingest`).
//!
//! Not for: HTTP (the kb-ingest Worker wires these to routes) or connecting to Postgres.

pub mod idempotency;
pub mod model;
pub mod prepare;
pub mod store;

pub use model::{Batch, NewDocument, Source};
pub use prepare::{prepare, Prepared};
