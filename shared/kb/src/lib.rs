//! The tenant knowledge base that the agent's tools read.
//!
//! - `model`: the request types and their limits (what a client may send),
//! - `prepare`: turning a request into stored text, a dedupe hash and chunks (pure),
//! - `store`: the SQL, always run on a transaction opened by `sba-rls` as the tenant,
//!   so row-level security scopes every statement,
//! - `idempotency`: `Idempotency-Key` claims and replays, in the same transaction as the work.
//!
//! Not for: HTTP (the kb-ingest Worker wires these to routes) or connecting to Postgres.

pub mod idempotency;
pub mod model;
pub mod prepare;
pub mod store;

pub use model::{Batch, NewDocument, Source};
pub use prepare::{prepare, Prepared};
