use serde::Serialize;

/// The one structured line written per request. Field names are stable: dashboards and
/// `wrangler tail | jq` filters depend on them.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogLine<'a> {
    /// RFC 3339 UTC time the request started.
    pub ts: String,
    pub level: &'static str,
    pub function: &'a str,
    pub method: &'a str,
    /// The matched route pattern (`/kb/documents/{id}`), never the raw path, so ids and
    /// query strings with personal data stay out of the logs.
    pub route: &'a str,
    pub status: u16,
    /// Until the last byte: for a stream, its whole length.
    pub duration_ms: f64,
    /// For a stream only: until the response headers left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<f64>,
    pub request_id: &'a str,
    pub trace_id: &'a str,
    pub span_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<&'a str>,
    /// The rate limiter's outcome, when one ran (`allowed`, `denied`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_decision: Option<&'a str>,
    /// LLM tokens of an agent run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'a str>,
    /// Cause of a 5xx, for operators only (clients see a generic message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

impl LogLine<'_> {
    pub fn level_for(status: u16) -> &'static str {
        match status {
            500.. => "error",
            400..=499 => "warn",
            _ => "info",
        }
    }

    pub fn to_json(&self) -> String {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_to_one_json_line_with_camel_case_fields() {
        let line = LogLine {
            ts: "2026-11-26T10:00:00.000Z".into(),
            level: LogLine::level_for(404),
            function: "kb-ingest",
            method: "GET",
            route: "unmatched",
            status: 404,
            duration_ms: 1.5,
            first_byte_ms: None,
            request_id: "r1",
            trace_id: "t",
            span_id: "s",
            tenant: None,
            limit_decision: Some("allowed"),
            input_tokens: None,
            output_tokens: None,
            error_code: Some("not_found"),
            detail: Some("line\nbreak"),
        };
        let json = line.to_json();
        assert!(!json.contains('\n'), "a log record must stay on one line");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["level"], "warn");
        assert_eq!(value["durationMs"], 1.5);
        assert_eq!(value["requestId"], "r1");
        assert_eq!(value["errorCode"], "not_found");
        assert!(value.get("tenant").is_none());
        assert_eq!(value["limitDecision"], "allowed");
        assert!(value.get("firstByteMs").is_none() && value.get("inputTokens").is_none());
    }

    #[test]
    fn levels_follow_status_classes() {
        assert_eq!(LogLine::level_for(200), "info");
        assert_eq!(LogLine::level_for(429), "warn");
        assert_eq!(LogLine::level_for(503), "error");
    }
}
