//! The one error shape of sba-edge.
//!
//! Every failed request, whatever function it reached, answers
//! `{"error": {"code", "message", "details"?, "requestId"}}` with the status that the
//! error's kind implies. Handlers return `Result<_, ApiError>`; the HTTP layer (`sba-http`)
//! turns the error into a response, so no handler formats an error body by hand.
//!
//! Not for: logging or transport. This crate is plain data and runs natively.

use serde_json::{json, Value};
use std::borrow::Cow;
use std::fmt;

/// An error a client may see: a status, a stable machine-readable `code`, a human message,
/// optional structured `details` and extra response headers (`WWW-Authenticate`, `Retry-After`…).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: Cow<'static, str>,
    pub message: String,
    pub details: Option<Value>,
    pub headers: Vec<(&'static str, String)>,
    /// Why it happened, for the log line only; never sent to the client.
    pub cause: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into(), details: None, headers: Vec::new(), cause: None }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_cause(mut self, cause: impl fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    pub fn bad_request(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    pub fn unauthorized(error: &'static str, message: impl Into<String>) -> Self {
        let message = message.into();
        let challenge = format!("Bearer error=\"{error}\", error_description=\"{}\"", message.replace('"', "'"));
        Self::new(401, "unauthorized", message).with_header("WWW-Authenticate", challenge)
    }

    pub fn forbidden(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(403, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }

    /// `allow` lists the methods the route does accept, as RFC 9110 wants in `Allow`.
    pub fn method_not_allowed(allow: &[&str]) -> Self {
        Self::new(405, "method_not_allowed", format!("method not allowed; use {}", allow.join(", ")))
            .with_header("Allow", allow.join(", "))
    }

    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(413, "payload_too_large", format!("request body exceeds {limit_bytes} bytes"))
            .with_details(json!({ "limitBytes": limit_bytes }))
    }

    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(415, "unsupported_media_type", format!("expected Content-Type: {expected}"))
    }

    pub fn unprocessable(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(422, code, message)
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(429, "rate_limited", message).with_header("Retry-After", retry_after_secs.max(1).to_string())
    }

    /// A dependency (database, Redis) is down or slow: the client may retry later.
    pub fn unavailable(code: impl Into<Cow<'static, str>>, message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(503, code, message).with_header("Retry-After", retry_after_secs.max(1).to_string())
    }

    /// A bug or an unexpected failure. The message shown is generic on purpose: the cause goes
    /// to the log, never to the client.
    pub fn internal(cause: impl fmt::Display) -> Self {
        Self::new(500, "internal", "internal error").with_cause(cause)
    }

    /// The JSON body, stamped with the request id the client can quote to support.
    ///
    /// Validation failures carry `details: {"issues": [...]}`; the issue list is lifted to
    /// `error.issues` (the Zod-style contract clients code against), the rest stays in details.
    pub fn body(&self, request_id: &str) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message, "requestId": request_id });
        if let Some(details) = &self.details {
            let mut details = details.clone();
            if let Some(issues) = details.as_object_mut().and_then(|d| d.remove("issues")) {
                error["issues"] = issues;
            }
            if details.as_object().is_none_or(|d| !d.is_empty()) {
                error["details"] = details;
            }
        }
        json!({ "error": error })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_documented_shape() {
        let body = ApiError::not_found("no route for GET /nope").body("req-1");
        assert_eq!(
            body,
            json!({"error": {"code": "not_found", "message": "no route for GET /nope", "requestId": "req-1"}})
        );
    }

    #[test]
    fn details_appear_only_when_given() {
        let body = ApiError::payload_too_large(1024).body("r");
        assert_eq!(body["error"]["details"]["limitBytes"], 1024);
        assert_eq!(body["error"]["code"], "payload_too_large");
        let internal = ApiError::internal("db password wrong").body("r");
        assert!(internal["error"].get("details").is_none());
        assert!(!internal.to_string().contains("password"), "causes never reach the client");
    }

    #[test]
    fn validation_issues_are_lifted_to_error_issues() {
        let issues = json!([{"path": ["items", 2, "title"], "code": "too_long", "message": "too long"}]);
        let body = ApiError::unprocessable("validation_failed", "1 issue")
            .with_details(json!({ "issues": issues.clone() }))
            .body("r");
        assert_eq!(body["error"]["issues"], issues);
        assert!(body["error"].get("details").is_none());

        let mixed = ApiError::unprocessable("x", "y").with_details(json!({"issues": [], "limit": 3})).body("r");
        assert_eq!(mixed["error"]["details"], json!({"limit": 3}));
    }

    #[test]
    fn unauthorized_carries_a_bearer_challenge() {
        let err = ApiError::unauthorized("invalid_token", "token \"expired\"");
        assert_eq!(err.status, 401);
        let (name, value) = &err.headers[0];
        assert_eq!(*name, "WWW-Authenticate");
        assert_eq!(value, "Bearer error=\"invalid_token\", error_description=\"token 'expired'\"");
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        let err = ApiError::unavailable("store_unavailable", "db down", 0);
        assert_eq!(err.status, 503);
        assert_eq!(err.headers, vec![("Retry-After", "1".to_string())]);
    }

    #[test]
    fn method_not_allowed_lists_allow() {
        let err = ApiError::method_not_allowed(&["GET", "HEAD"]);
        assert_eq!(err.status, 405);
        assert_eq!(err.headers, vec![("Allow", "GET, HEAD".to_string())]);
    }
}
