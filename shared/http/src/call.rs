use crate::report::{Report, StreamState};
use crate::{ApiError, RoutePath};
use sba_observe::{LlmUsage, RequestId, TraceContext};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use worker::{Context, Env, Method, Request};

/// Facts about the request in flight that the layer needs back after the handler ran: the
/// route it matched, the tenant it acted for, the limiter's decision and the run's LLM usage
/// (all go into the log line and the metrics data point); and the runtime's `waitUntil`.
#[derive(Debug)]
pub struct RequestContext {
    pub request_id: RequestId,
    pub trace: TraceContext,
    route: RefCell<&'static str>,
    tenant: RefCell<Option<String>>,
    timings: RefCell<Vec<(&'static str, f64)>>,
    limit_decision: Cell<Option<&'static str>>,
    llm: Cell<Option<LlmUsage>>,
    pub(crate) stream: RefCell<StreamState>,
    runtime: Context,
}

impl RequestContext {
    pub fn new(request_id: RequestId, trace: TraceContext, runtime: Context) -> Self {
        Self {
            request_id,
            trace,
            route: RefCell::new("unmatched"),
            tenant: RefCell::new(None),
            timings: RefCell::new(Vec::new()),
            limit_decision: Cell::new(None),
            llm: Cell::new(None),
            stream: RefCell::new(StreamState::NotStreaming),
            runtime,
        }
    }

    /// Work that must finish even though the response is already sent (the runtime's
    /// `waitUntil`): audit rows, cache purges, the metrics export.
    pub fn wait_until(&self, work: impl Future<Output = ()> + 'static) {
        let promise = wasm_bindgen_futures::future_to_promise(async move {
            work.await;
            Ok(wasm_bindgen::JsValue::UNDEFINED)
        });
        // `worker::Context::wait_until` panics if the runtime refuses (the request's context
        // already ended, e.g. reached from a Drop after a client disconnect); the promise
        // still runs on the isolate's queue then, best effort.
        let _ = self.runtime.as_ref().wait_until(&promise);
    }

    /// The `traceparent` (and `tracestate`) every outgoing request of this one carries, so
    /// the LLM provider, Redis and revalidate calls join the caller's trace as our children.
    pub fn trace_headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![("traceparent".to_owned(), self.trace.traceparent())];
        if let Some(state) = &self.trace.tracestate {
            headers.push(("tracestate".to_owned(), state.clone()));
        }
        headers
    }

    /// What the rate limiter decided (`sba_ratelimit::Decision::outcome`).
    pub fn set_limit_decision(&self, outcome: &'static str) {
        self.limit_decision.set(Some(outcome));
    }

    pub fn limit_decision(&self) -> Option<&'static str> {
        self.limit_decision.get()
    }

    /// The LLM usage of the run this request drove.
    pub fn set_llm_usage(&self, usage: LlmUsage) {
        self.llm.set(Some(usage));
    }

    pub fn llm_usage(&self) -> Option<LlmUsage> {
        self.llm.get()
    }

    /// Declares that the response is a stream whose end the handler signals by dropping the
    /// returned guard (keep it inside the stream's body: finished, failed or cancelled by a
    /// client that left, the guard drops). The metrics data point then measures the whole
    /// stream and includes what was learnt while streaming (tokens), not only the time to
    /// the first byte.
    pub fn streams_until_end(self: &Rc<Self>) -> StreamEnd {
        let mut state = self.stream.borrow_mut();
        if matches!(*state, StreamState::NotStreaming) {
            *state = StreamState::Open;
        }
        StreamEnd(self.clone())
    }

    fn end_stream(&self) {
        let previous = std::mem::replace(&mut *self.stream.borrow_mut(), StreamState::Ended);
        if let StreamState::Parked(report) = previous {
            report.finish(self, js_sys::Date::now());
        }
    }

    /// The handler failed after declaring a stream: there is no stream to wait for, so the
    /// request reports as soon as `serve` hands the report over.
    pub(crate) fn forget_stream(&self) {
        let mut state = self.stream.borrow_mut();
        if matches!(*state, StreamState::Open) {
            *state = StreamState::Ended;
        }
    }

    /// Called by `serve` once the response is built: a plain response reports now, a stream
    /// that is still open waits for [`RequestContext::end_stream`].
    pub(crate) fn report(&self, report: Report, now_ms: f64) {
        let mut state = self.stream.borrow_mut();
        match *state {
            StreamState::Open => *state = StreamState::Parked(report),
            _ => {
                drop(state);
                report.finish(self, now_ms);
            }
        }
    }

    pub fn route(&self) -> &'static str {
        *self.route.borrow()
    }

    pub fn tenant(&self) -> Option<String> {
        self.tenant.borrow().clone()
    }

    /// Adds a `Server-Timing` metric (e.g. `limit`, `db`) for this response.
    pub fn record_timing(&self, name: &'static str, millis: f64) {
        self.timings.borrow_mut().push((name, millis));
    }

    /// `name;dur=ms` entries recorded so far.
    pub fn timings(&self) -> Vec<(&'static str, f64)> {
        self.timings.borrow().clone()
    }

    /// Called by the tenant-context extractor once the token is verified.
    pub fn set_tenant(&self, tenant: impl Into<String>) {
        *self.tenant.borrow_mut() = Some(tenant.into());
    }
}

/// Ends a stream declared with [`RequestContext::streams_until_end`] when dropped: its data
/// point is sent then.
#[derive(Debug)]
pub struct StreamEnd(Rc<RequestContext>);

impl Drop for StreamEnd {
    fn drop(&mut self) {
        self.0.end_stream();
    }
}

/// Everything a handler receives: the request, the Worker's bindings, the routed path and the
/// shared request context.
pub struct Call {
    pub req: Request,
    pub env: Env,
    pub path: RoutePath,
    pub ctx: Rc<RequestContext>,
}

impl Call {
    /// Names the route for logs and checks the method in one step: a known path with the
    /// wrong method is a 405 with `Allow`, not a 404.
    pub fn route(&self, pattern: &'static str, allowed: &[Method]) -> Result<(), ApiError> {
        *self.ctx.route.borrow_mut() = pattern;
        let method = self.req.method();
        // worker 0.8 maps methods it does not know (QUERY, PROPFIND …) to GET: compare the
        // method as sent, so those get a 405 instead of being served as a GET.
        let sent = self.req.inner().method().to_ascii_uppercase();
        let known = sent == method.as_ref();
        if known && (allowed.contains(&method) || (method == Method::Head && allowed.contains(&Method::Get))) {
            return Ok(());
        }
        let mut names: Vec<&str> = allowed.iter().map(|m| m.as_ref()).collect();
        if allowed.contains(&Method::Get) && !allowed.contains(&Method::Head) {
            names.push("HEAD");
        }
        Err(ApiError::method_not_allowed(&names))
    }

    /// The fallback for paths no route matched.
    pub fn not_found(&self) -> ApiError {
        ApiError::not_found(format!("no route for {} {}", self.req.method().as_ref(), self.path.as_str()))
    }
}
