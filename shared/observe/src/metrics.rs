//! One metrics data point per request, encoded as an OTLP/HTTP JSON `ExportMetricsServiceRequest`
//! (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) with OpenTelemetry
//! semantic-convention names, so any OTLP collector or vendor endpoint accepts it as is.
//!
//! Why OTLP and not Workers Analytics Engine: workerd's local Analytics Engine binding drops
//! every data point (Miniflare's `writeDataPoint` is an empty function), so nothing could be
//! checked before production; OTLP is vendor-neutral and testable against a collector on
//! loopback. Each request becomes one DELTA histogram point with count 1 — the standard way to
//! report a single measurement — so a collector aggregates it like any SDK's output.

use serde_json::{json, Value};

/// The facts of one finished request. Strings borrow from the request's context.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestPoint<'a> {
    pub function: &'a str,
    pub version: &'a str,
    /// `service.instance.id`: one per isolate, so a backend can tell apart the many writers
    /// of the same DELTA series.
    pub instance: &'a str,
    pub method: &'a str,
    /// The route pattern, never the raw path (ids stay out of metric attributes).
    pub route: &'a str,
    pub status: u16,
    pub tenant: Option<&'a str>,
    /// `allowed`, `denied`, `denied_cached`, `allowed_local`, `denied_local`,
    /// `allowed_fail_open`, `failed_closed`, or none
    /// when no limiter ran.
    pub limit_decision: Option<&'a str>,
    /// The error code of a failed request; reported as `error.type` for 5xx only (the
    /// conventions' rule for servers: a 4xx is the client's outcome, not our error).
    pub error_code: Option<&'a str>,
    pub start_ms: f64,
    pub duration_ms: f64,
    /// LLM usage of a run, when one ran.
    pub llm: Option<LlmUsage>,
    pub trace_id: &'a str,
    pub span_id: &'a str,
    /// Exemplars only for sampled traces: otherwise they would name a span nobody records.
    pub sampled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LlmUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Wall time spent waiting on the model during the run.
    pub duration_ms: f64,
}

/// The semantic conventions' advisory buckets for `http.server.request.duration` (seconds).
const DURATION_BOUNDS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
/// Token buckets (the conventions' advisory ones for token counts).
const TOKEN_BOUNDS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
    67108864.0,
];
/// OTLP `AggregationTemporality`: each export carries only this request.
const DELTA: u8 = 1;

impl RequestPoint<'_> {
    /// The OTLP/HTTP JSON body to POST to a collector's `/v1/metrics`.
    pub fn to_otlp(&self) -> Value {
        let start = nanos(self.start_ms);
        let end = nanos(self.start_ms + self.duration_ms);
        let attributes = self.attributes();
        let mut metrics = vec![json!({
            "name": "http.server.request.duration",
            "description": "Duration of HTTP server requests (for a stream: until its last byte).",
            "unit": "s",
            "histogram": {
                "aggregationTemporality": DELTA,
                "dataPoints": [self.histogram_point(&attributes, &start, &end, self.duration_ms / 1000.0, &DURATION_BOUNDS)],
            },
        })];
        if let Some(llm) = self.llm {
            let mut points = Vec::new();
            for (kind, tokens) in [("input", llm.input_tokens), ("output", llm.output_tokens)] {
                let mut with_kind = attributes.clone();
                with_kind.push(string_attribute("gen_ai.token.type", kind));
                points.push(self.histogram_point(&with_kind, &start, &end, tokens as f64, &TOKEN_BOUNDS));
            }
            // Per RUN, hence our own names: the `gen_ai.client.*` conventions are per model
            // call, with provider and model attributes a run does not have.
            metrics.push(json!({
                "name": "sba.agent.run.token.usage",
                "description": "Tokens used by the model calls of one agent run.",
                "unit": "{token}",
                "histogram": { "aggregationTemporality": DELTA, "dataPoints": points },
            }));
            metrics.push(json!({
                "name": "sba.agent.run.model.duration",
                "description": "Time spent waiting on the model during one agent run.",
                "unit": "s",
                "histogram": {
                    "aggregationTemporality": DELTA,
                    "dataPoints": [self.histogram_point(&attributes, &start, &end, llm.duration_ms / 1000.0, &DURATION_BOUNDS)],
                },
            }));
        }
        json!({
            "resourceMetrics": [{
                "resource": { "attributes": [
                    string_attribute("service.name", self.function),
                    string_attribute("service.namespace", "sba-edge"),
                    string_attribute("service.version", self.version),
                    string_attribute("service.instance.id", self.instance),
                ]},
                "scopeMetrics": [{
                    "scope": { "name": "sba-edge", "version": self.version },
                    "metrics": metrics,
                }],
            }],
        })
    }

    fn attributes(&self) -> Vec<Value> {
        let mut attributes = vec![
            string_attribute("http.request.method", self.method),
            string_attribute("http.route", self.route),
            json!({ "key": "http.response.status_code", "value": { "intValue": self.status.to_string() } }),
        ];
        if let Some(tenant) = self.tenant {
            attributes.push(string_attribute("sba.tenant", tenant));
        }
        if let Some(decision) = self.limit_decision {
            attributes.push(string_attribute("sba.limit.decision", decision));
        }
        if let Some(code) = self.error_code.filter(|_| self.status >= 500) {
            attributes.push(string_attribute("error.type", code));
        }
        attributes
    }

    /// A histogram point holding one measurement, with an exemplar linking it to the trace.
    fn histogram_point(&self, attributes: &[Value], start: &str, end: &str, value: f64, bounds: &[f64]) -> Value {
        let value = if value.is_finite() { value.max(0.0) } else { 0.0 };
        let bucket = bounds.iter().position(|b| value <= *b).unwrap_or(bounds.len());
        let counts: Vec<String> = (0..=bounds.len()).map(|i| if i == bucket { "1" } else { "0" }.to_owned()).collect();
        let exemplars = if self.sampled {
            json!([{ "timeUnixNano": end, "asDouble": value, "traceId": self.trace_id, "spanId": self.span_id }])
        } else {
            json!([])
        };
        json!({
            "attributes": attributes,
            "startTimeUnixNano": start,
            "timeUnixNano": end,
            "count": "1",
            "sum": value,
            "min": value,
            "max": value,
            "bucketCounts": counts,
            "explicitBounds": bounds,
            "exemplars": exemplars,
        })
    }
}

fn string_attribute(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": { "stringValue": value } })
}

/// OTLP JSON carries 64-bit integers as decimal strings.
fn nanos(epoch_ms: f64) -> String {
    let ms = if epoch_ms.is_finite() { epoch_ms.max(0.0) } else { 0.0 };
    // Whole microseconds are all a Worker's clock gives; avoid float noise in the digits.
    let micros = (ms * 1000.0).round() as u64;
    format!("{}", u128::from(micros) * 1000)
}

/// `OTEL_EXPORTER_OTLP_HEADERS`: `key=value` pairs separated by commas, values
/// percent-decoded (the OpenTelemetry SDK environment-variable format). Malformed pairs are
/// skipped, as the specification asks.
pub fn parse_otlp_headers(spec: &str) -> Vec<(String, String)> {
    spec.split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            let key = key.trim();
            let value = percent_decode(value.trim())?;
            let valid_key = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
            valid_key.then(|| (key.to_owned(), value))
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().filter(|v| !v.contains(['\r', '\n']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point() -> RequestPoint<'static> {
        RequestPoint {
            function: "kb-ingest",
            version: "0.1.0",
            instance: "isolate-1",
            method: "GET",
            route: "/search",
            status: 200,
            tenant: Some("t-1"),
            limit_decision: None,
            error_code: None,
            start_ms: 1_764_150_000_123.456,
            duration_ms: 42.5,
            llm: None,
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
            span_id: "00f067aa0ba902b7",
            sampled: true,
        }
    }

    fn attribute<'v>(point: &'v Value, key: &str) -> Option<&'v Value> {
        point["attributes"].as_array()?.iter().find(|a| a["key"] == key).map(|a| &a["value"])
    }

    #[test]
    fn one_request_is_one_delta_histogram_point_with_the_request_dimensions() {
        let body = point().to_otlp();
        let resource = &body["resourceMetrics"][0];
        assert_eq!(resource["resource"]["attributes"][0]["value"]["stringValue"], "kb-ingest");
        let metrics = resource["scopeMetrics"][0]["metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 1, "no LLM metrics without a run");
        assert_eq!(metrics[0]["name"], "http.server.request.duration");
        assert_eq!(metrics[0]["histogram"]["aggregationTemporality"], 1);
        let points = metrics[0]["histogram"]["dataPoints"].as_array().unwrap();
        assert_eq!(points.len(), 1);
        let p = &points[0];
        assert_eq!(p["count"], "1");
        assert_eq!(p["sum"], 0.0425);
        assert_eq!(p["startTimeUnixNano"], "1764150000123456000");
        assert_eq!(p["timeUnixNano"], "1764150000165956000");
        assert_eq!(attribute(p, "http.route").unwrap()["stringValue"], "/search");
        assert_eq!(attribute(p, "http.response.status_code").unwrap()["intValue"], "200");
        assert_eq!(attribute(p, "sba.tenant").unwrap()["stringValue"], "t-1");
        assert!(attribute(p, "sba.limit.decision").is_none());
        assert_eq!(p["exemplars"][0]["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        let instance = &resource["resource"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == "service.instance.id")
            .unwrap()["value"];
        assert_eq!(instance["stringValue"], "isolate-1");
        let unsampled = RequestPoint { sampled: false, ..point() }.to_otlp();
        assert_eq!(
            unsampled["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["histogram"]["dataPoints"][0]["exemplars"],
            json!([])
        );
    }

    #[test]
    fn the_measurement_lands_in_exactly_one_bucket() {
        for (ms, bucket) in [(0.0, 0), (5.0, 0), (5.1, 1), (42.5, 3), (10_000.0, 13), (60_000.0, 14)] {
            let body = RequestPoint { duration_ms: ms, ..point() }.to_otlp();
            let p = &body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["histogram"]["dataPoints"][0];
            let counts: Vec<&str> = p["bucketCounts"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
            assert_eq!(counts.len(), DURATION_BOUNDS.len() + 1);
            assert_eq!(counts.iter().filter(|c| **c == "1").count(), 1, "{ms} ms");
            assert_eq!(counts[bucket], "1", "{ms} ms");
        }
    }

    #[test]
    fn a_run_adds_token_and_model_time_points_and_limit_and_error_attributes() {
        let body = RequestPoint {
            status: 429,
            limit_decision: Some("denied"),
            error_code: Some("rate_limited"),
            llm: Some(LlmUsage { input_tokens: 120, output_tokens: 7, duration_ms: 300.0 }),
            ..point()
        }
        .to_otlp();
        let metrics = body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"].as_array().unwrap();
        let names: Vec<&str> = metrics.iter().map(|m| m["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["http.server.request.duration", "sba.agent.run.token.usage", "sba.agent.run.model.duration"]
        );
        let tokens = metrics[1]["histogram"]["dataPoints"].as_array().unwrap();
        assert_eq!(tokens[0]["sum"], 120.0);
        assert_eq!(attribute(&tokens[0], "gen_ai.token.type").unwrap()["stringValue"], "input");
        assert_eq!(tokens[1]["sum"], 7.0);
        let request = &metrics[0]["histogram"]["dataPoints"][0];
        assert_eq!(attribute(request, "sba.limit.decision").unwrap()["stringValue"], "denied");
        assert!(attribute(request, "error.type").is_none(), "a 429 is the client's outcome, not our error");
        let failed = RequestPoint { status: 503, error_code: Some("store_unavailable"), ..point() }.to_otlp();
        let failed = &failed["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["histogram"]["dataPoints"][0];
        assert_eq!(attribute(failed, "error.type").unwrap()["stringValue"], "store_unavailable");
        assert_eq!(metrics[2]["histogram"]["dataPoints"][0]["sum"], 0.3);
    }

    #[test]
    fn nonsense_times_do_not_produce_invalid_numbers() {
        let body = RequestPoint { start_ms: f64::NAN, duration_ms: -3.0, ..point() }.to_otlp();
        let p = &body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["histogram"]["dataPoints"][0];
        assert_eq!(p["sum"], 0.0);
        assert!(p["startTimeUnixNano"].as_str().unwrap().bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn otlp_headers_follow_the_sdk_environment_format() {
        assert_eq!(
            parse_otlp_headers("authorization=Bearer%20abc, x-team = edge,broken,=v,bad key=1,nl=a%0Ab"),
            vec![("authorization".to_owned(), "Bearer abc".to_owned()), ("x-team".to_owned(), "edge".to_owned())]
        );
        assert!(parse_otlp_headers("").is_empty());
        assert!(parse_otlp_headers("k=%zz").is_empty());
        assert!(parse_otlp_headers("k=%+1").is_empty(), "a sign is not a hex digit");
    }
}
