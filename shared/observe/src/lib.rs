//! Observability values: who a request is (`X-Request-Id`), where it sits in a distributed
//! trace (W3C `traceparent`), the one JSON log line written when it ends, and the one
//! metrics data point (OTLP JSON) it produces.
//!
//! Everything here is plain data built from header strings and caller-supplied random bytes,
//! so it runs natively in tests; `sba-http` feeds it from the Worker's request and
//! `crypto.getRandomValues`. Not for: writing logs or reading headers itself.

mod log_line;
mod metrics;
mod request_id;
mod trace;

pub use log_line::LogLine;
pub use metrics::{parse_otlp_headers, LlmUsage, RequestPoint};
pub use request_id::RequestId;
pub use trace::TraceContext;

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    out
}
