//! A function's route table: each route's method, pattern and handler written once.
//!
//! `/healthz`, `/readyz` and `/openapi.json` are every function's, answered by the serve
//! layer from its [`Service`](crate::Service); a function lists only its own routes:
//!
//! ```ignore
//! const ROUTES: &[Route] = routes![
//!     POST "/run" => run,
//!     GET "/runs/{runId}/events" => events,
//! ];
//! async fn events(call: Call, params: Params) -> Result<Response, ApiError> { … params.get("runId") … }
//! ```
//!
//! A path that matches a pattern under another method is a 405 naming the allowed ones (GET
//! allows HEAD); a path no pattern matches is a 404.

use crate::{ApiError, Call};
use std::future::Future;
use std::pin::Pin;
use worker::{Method, Response};

pub type Reply = Pin<Box<dyn Future<Output = Result<Response, ApiError>>>>;
pub type Handler = fn(Call, Params) -> Reply;

pub struct Route {
    pub method: Method,
    /// `/runs/{runId}/events`: literal segments, and `{name}` for one segment of any text.
    pub pattern: &'static str,
    pub handler: Handler,
}

/// The `{name}` segments of the matched pattern.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    /// The segment named `name` in the pattern ("" if the pattern has none: a programming error
    /// that a test of the route shows at once).
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v.as_str())
    }
}

/// Fills a route table: `routes![METHOD "pattern" => handler, …]`, a handler being an
/// `async fn(Call, Params) -> Result<Response, ApiError>`.
#[macro_export]
macro_rules! routes {
    ($($method:ident $pattern:literal => $handler:path),* $(,)?) => {
        &[$($crate::Route {
            method: $crate::route_method!($method),
            pattern: $pattern,
            handler: |call, params| ::std::boxed::Box::pin($handler(call, params)),
        }),*]
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! route_method {
    (GET) => {
        ::worker::Method::Get
    };
    (POST) => {
        ::worker::Method::Post
    };
    (PUT) => {
        ::worker::Method::Put
    };
    (PATCH) => {
        ::worker::Method::Patch
    };
    (DELETE) => {
        ::worker::Method::Delete
    };
}

/// The segments of `pattern` matched against `segments`: the captures, or `None`.
pub fn match_pattern(pattern: &'static str, segments: &[&str]) -> Option<Params> {
    let parts: Vec<&'static str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => params.push((name, (*segment).to_owned())),
            None if part == segment => {}
            None => return None,
        }
    }
    Some(Params(params))
}

/// Hands the call to the route its path and method pick.
pub async fn dispatch(call: Call, routes: &'static [Route]) -> Result<Response, ApiError> {
    let matched = {
        let segments = call.path.segments();
        routes.iter().find_map(|r| match_pattern(r.pattern, &segments).map(|params| (r.pattern, params)))
    };
    let Some((pattern, params)) = matched else {
        return Err(call.not_found());
    };
    let allowed: Vec<Method> = routes.iter().filter(|r| r.pattern == pattern).map(|r| r.method.clone()).collect();
    call.route(pattern, &allowed)?;
    let method = call.req.method();
    let route = routes
        .iter()
        .filter(|r| r.pattern == pattern)
        .find(|r| r.method == method || (method == Method::Head && r.method == Method::Get))
        .ok_or_else(|| ApiError::method_not_allowed(&[]))?;
    (route.handler)(call, params).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_paths_and_capture_named_segments() {
        assert_eq!(match_pattern("/runs/{runId}/events", &["runs", "r-1", "events"]).unwrap().get("runId"), "r-1");
        assert!(match_pattern("/runs/{runId}/events", &["runs", "r-1"]).is_none());
        assert!(match_pattern("/documents:batch", &["documents"]).is_none());
        assert_eq!(match_pattern("/documents:batch", &["documents:batch"]), Some(Params::default()));
        assert!(match_pattern("/search", &["search", "x"]).is_none());
        assert_eq!(match_pattern("/", &[]), Some(Params::default()));
    }
}
