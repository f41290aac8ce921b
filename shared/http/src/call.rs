use crate::{ApiError, RoutePath};
use sba_observe::{RequestId, TraceContext};
use std::cell::RefCell;
use std::rc::Rc;
use worker::{Env, Method, Request};

/// Facts about the request in flight that the layer needs back after the handler ran: the
/// route it matched and the tenant it acted for (both go into the log line).
#[derive(Debug)]
pub struct RequestContext {
    pub request_id: RequestId,
    pub trace: TraceContext,
    route: RefCell<&'static str>,
    tenant: RefCell<Option<String>>,
    timings: RefCell<Vec<(&'static str, f64)>>,
}

impl RequestContext {
    pub fn new(request_id: RequestId, trace: TraceContext) -> Self {
        Self { request_id, trace, route: RefCell::new("unmatched"), tenant: RefCell::new(None), timings: RefCell::new(Vec::new()) }
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
