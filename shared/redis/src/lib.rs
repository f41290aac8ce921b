//! A client for the Upstash Redis REST protocol (one JSON array command per POST, `/pipeline`,
//! `/multi-exec`, bearer token, `Upstash-Encoding: base64`, `upstash-sync-token`), built on
//! `reqwest` so the same code runs in workerd (the runtime's fetch) and natively in tests
//! against the local REST server.
//!
//! What it does: single commands, `/pipeline`, `/multi-exec`; answers requested as
//! `Upstash-Encoding: base64` and decoded into typed [`RedisValue`]s (bytes survive);
//! read-your-writes through the `upstash-sync-token` header; Lua [`Script`]s called by SHA
//! with the `EVAL` fallback; a per-attempt timeout and retries only where they cannot count
//! twice ([`RedisRest::with_retries`]); a round-trip counter for tests and benchmarks.
//!
//! Errors are values that say which side failed: the network, the HTTP exchange, or Redis.
//! Never reads the clock, so it is safe on wasm32.
//!
//! Not for: rate limiting policy (`sba-ratelimit`), connection pooling (there are no
//! connections to manage: every call is one HTTPS request), pub/sub subscriptions (the REST
//! protocol only publishes).

mod client;
mod cmd;
mod error;
mod value;

pub use client::RedisRest;
pub use cmd::{Cmd, Script};
pub use error::RedisError;
pub use value::RedisValue;
