//! The layer every sba-edge handler runs inside, in the spirit of axum's middleware: a function
//! crate hands `serve` its `Service` description and a routing closure; `serve` gives the
//! request an id and a trace span, strips the mount prefix, turns `ApiError`s into the JSON
//! error shape, puts the security headers on every response, writes one JSON log line and
//! exports one metrics data point (OTLP, when a collector is configured).
//!
//! Not for: business logic, authentication (tenant context lives in its own crate) or
//! talking to Redis/Postgres.

mod body;
mod call;
mod health;
mod reply;
mod report;
mod router;
pub mod security;
mod serve;
mod service;
mod settings;

pub use body::read_limited;
pub use call::{Call, RequestContext, StreamEnd};
pub use health::{health, readiness, Probe};
pub use reply::{json, json_text, with_headers};
pub use router::{dispatch, match_pattern, Handler, Params, Reply, Route};
pub use sba_errors::ApiError;
pub use sba_observe::LlmUsage;
pub use sba_sleep::sleep;
pub use serve::serve;
pub use service::{RoutePath, Service};
pub use settings::{outbound_url, setting, OUTBOUND_ALLOWLIST};
