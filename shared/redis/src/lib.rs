//! A client for the Upstash Redis REST protocol (`../shared/reference/upstash.md`), built on
//! `reqwest` so the same code runs in workerd (the runtime's fetch) and natively in tests
//! against the local REST server.
//!
//! Errors are values that say which side failed: the network, the HTTP exchange, or Redis.
//! Not for: rate limiting policy (its own crate) or connection pooling (there are no
//! connections: every call is one HTTPS request).

mod client;
mod error;

pub use client::RedisRest;
pub use error::RedisError;
