//! What is recorded when a request ends — for a stream, when the stream ends: the one JSON
//! log line, and the one metrics data point exported as OTLP/HTTP JSON after the response
//! (see `sba_observe::RequestPoint` for the format and why OTLP).
//!
//! Settings, as the OpenTelemetry SDKs read them: `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (the
//! full URL) or `OTEL_EXPORTER_OTLP_ENDPOINT` (a base; `/v1/metrics` is appended), and the
//! secret `OTEL_EXPORTER_OTLP_HEADERS` (`authorization=Bearer%20…`). With neither endpoint set,
//! nothing is sent and nothing is paid. The endpoint must pass `OUTBOUND_ALLOWLIST`.

use crate::RequestContext;
use sba_observe::{parse_otlp_headers, LogLine, RequestPoint};
use sba_outbound::http::Outgoing;
use std::fmt;
use std::sync::OnceLock;
use wasm_bindgen::JsValue;
use worker::{console_log, Env};

/// Where a streamed response stands, as far as its data point is concerned.
#[derive(Debug)]
pub(crate) enum StreamState {
    /// A plain response: reported as soon as it is built.
    NotStreaming,
    /// The handler will call `end_stream`; nothing to report yet.
    Open,
    /// The response left; its data point waits for the end of the stream.
    Parked(Report),
    /// The stream ended (possibly before the response was even handed back).
    Ended,
}

/// What `serve` knows once the response is built; the rest comes from the context.
pub(crate) struct Report {
    pub function: &'static str,
    pub version: &'static str,
    pub method: String,
    pub status: u16,
    pub error_code: Option<String>,
    /// The cause of a failure, for operators (never sent to the client).
    pub detail: Option<String>,
    pub start_ms: f64,
    /// When the response (headers, and for a plain response the body) was handed back.
    pub first_byte_ms: f64,
    pub env: Env,
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report").field("function", &self.function).field("status", &self.status).finish_non_exhaustive()
    }
}

impl Report {
    /// Writes the log line, then sends the data point in the background (after the
    /// response; a failed export is logged, never surfaced to the client).
    pub(crate) fn finish(self, ctx: &RequestContext, end_ms: f64) {
        let tenant = ctx.tenant();
        let llm = ctx.llm_usage();
        let streamed = end_ms > self.first_byte_ms;
        // A successful probe is not worth a log line: load balancers probe every few seconds
        // per location, and each line costs the request as much as the rest of its answer
        // (measured in scripts/bench). A failing probe is logged like any other error.
        let quiet_probe = self.status < 400 && matches!(ctx.route(), "/healthz" | "/readyz");
        let line = (!quiet_probe).then(|| LogLine {
            ts: iso_timestamp(self.start_ms),
            level: LogLine::level_for(self.status),
            function: self.function,
            method: &self.method,
            route: ctx.route(),
            status: self.status,
            duration_ms: (end_ms - self.start_ms).max(0.0),
            first_byte_ms: streamed.then(|| (self.first_byte_ms - self.start_ms).max(0.0)),
            request_id: ctx.request_id.as_str(),
            trace_id: &ctx.trace.trace_id,
            span_id: &ctx.trace.span_id,
            tenant: tenant.as_deref(),
            limit_decision: ctx.limit_decision(),
            input_tokens: llm.map(|u| u.input_tokens),
            output_tokens: llm.map(|u| u.output_tokens),
            error_code: self.error_code.as_deref(),
            detail: self.detail.as_deref(),
        });
        if let Some(line) = line {
            console_log!("{}", line.to_json());
        }

        let Some(exporter) = Exporter::from_env(&self.env) else { return };
        let point = RequestPoint {
            function: self.function,
            version: self.version,
            instance: isolate_id(),
            method: &self.method,
            route: ctx.route(),
            status: self.status,
            tenant: tenant.as_deref(),
            limit_decision: ctx.limit_decision(),
            error_code: self.error_code.as_deref(),
            start_ms: self.start_ms,
            duration_ms: (end_ms - self.start_ms).max(0.0),
            llm,
            trace_id: &ctx.trace.trace_id,
            span_id: &ctx.trace.span_id,
            sampled: ctx.trace.sampled(),
        };
        let body = point.to_otlp().to_string();
        let (function, request_id) = (self.function, ctx.request_id.as_str().to_owned());
        ctx.wait_until(async move {
            if let Err(error) = exporter.post(body).await {
                let line = serde_json::json!({
                    "level": "warn", "function": function, "requestId": request_id,
                    "event": "metrics_export_failed", "detail": error,
                });
                console_log!("{line}");
            }
        });
    }
}

/// A random id for this isolate (module globals live as long as the isolate does).
fn isolate_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| crate::serve::random_bytes::<8>().iter().map(|b| format!("{b:02x}")).collect())
}

fn iso_timestamp(epoch_ms: f64) -> String {
    js_sys::Date::new(&JsValue::from_f64(epoch_ms)).to_iso_string().into()
}

#[derive(Clone)]
struct Exporter {
    url: String,
    headers: Vec<(String, String)>,
}

impl Exporter {
    /// The exporter the settings describe, worked out once per isolate (settings do not
    /// change while it lives).
    fn from_env(env: &Env) -> Option<Exporter> {
        thread_local!(static EXPORTER: std::cell::OnceCell<Option<Exporter>> = const { std::cell::OnceCell::new() });
        EXPORTER.with(|exporter| exporter.get_or_init(|| Self::configured(env)).clone())
    }

    fn configured(env: &Env) -> Option<Self> {
        let setting = |name: &str| crate::setting(env, name).ok().filter(|v| !v.trim().is_empty());
        let url = match (setting("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"), setting("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            (Some(url), _) => url.trim().to_owned(),
            (None, Some(base)) => format!("{}/v1/metrics", base.trim().trim_end_matches('/')),
            (None, None) => return None,
        };
        if let Err(refused) = crate::outbound_url(env, &url) {
            console_log!(
                "{}",
                serde_json::json!({ "level": "warn", "event": "metrics_export_refused", "detail": refused.message })
            );
            return None;
        }
        let headers = setting("OTEL_EXPORTER_OTLP_HEADERS").map(|h| parse_otlp_headers(&h)).unwrap_or_default();
        Some(Self { url, headers })
    }

    async fn post(self, body: String) -> Result<(), String> {
        // Like every outbound call, a redirect is refused: it would carry the collector's
        // credentials to a host the allowlist never saw.
        let request = Outgoing::post(self.url, body.into_bytes())
            .header("content-type", "application/json")
            .headers(&self.headers);
        let reply = sba_outbound::http::send(request).await.map_err(|e| format!("collector unreachable: {e}"))?;
        match reply.status {
            200..=299 => Ok(()),
            status => Err(format!("collector answered {status}")),
        }
    }
}
