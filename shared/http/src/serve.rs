use crate::report::Report;
use crate::{
    dispatch, health, json_text, readiness, security, ApiError, Call, RequestContext, Route, RoutePath, Service,
};
use sba_observe::{RequestId, TraceContext};
use std::rc::Rc;
use worker::{Context, Env, Method, Request, Response};

/// Serves one request: the function's `routes`, and every function's `/healthz`, `/readyz`
/// and `/openapi.json`, inside the cross-cutting layer (ids, trace context, security headers,
/// the log line and metrics). Never returns `Err`: every failure, even a failure to build the
/// error response, ends as a JSON response with the security headers. `runtime` is the fetch
/// event's context; handlers reach its `waitUntil` through `call.ctx.wait_until`.
pub async fn serve(
    service: &Service,
    req: Request,
    env: Env,
    runtime: Context,
    routes: &'static [Route],
) -> worker::Result<Response> {
    let started_ms = js_sys::Date::now();
    let headers = req.headers();
    // One call for both ids' randomness (each call crosses into JavaScript).
    let random = random_bytes::<40>();
    let (id_random, trace_random) = random.split_at(16);
    let request_id = RequestId::from_header_or(header(headers, "x-request-id").as_deref(), || {
        id_random.try_into().unwrap_or_default()
    });
    let trace = TraceContext::from_headers(
        header(headers, "traceparent").as_deref(),
        header(headers, "tracestate").as_deref(),
        trace_random.try_into().unwrap_or_default(),
    );
    let ctx = Rc::new(RequestContext::new(request_id, trace, runtime));
    let method = req.method();
    let path = RoutePath::new(path_of(&req.inner().url()), service.mounts);

    let call = Call { req, env: env.clone(), path, ctx: ctx.clone() };
    let (mut response, mut error) = match answer(service, call, routes).await {
        Ok(response) => (response, None),
        Err(error) => (error_response(&error, ctx.request_id.as_str()), Some(error)),
    };
    let total_ms = (js_sys::Date::now() - started_ms).max(0.0);
    if let Err(e) = decorate(&mut response, &ctx, total_ms) {
        // Only happens if the handler returned a response with immutable headers (a proxied
        // fetch); answer a clean error rather than an undecorated response.
        let failure = ApiError::internal(format!("cannot set response headers: {e}"));
        response = error_response(&failure, ctx.request_id.as_str());
        let _ = decorate(&mut response, &ctx, total_ms);
        error = Some(failure);
    }

    // The log line and the metrics data point: now, or for a stream when it ends. An error
    // answer is never the declared stream (whatever became of it), so it reports now.
    if error.is_some() {
        ctx.forget_stream();
    }
    let now = js_sys::Date::now();
    let report = Report {
        function: service.name,
        version: service.version,
        method: method.as_ref().to_owned(),
        status: response.status_code(),
        error_code: error.as_ref().map(|e| e.code.to_string()),
        detail: error.and_then(|e| e.cause),
        start_ms: started_ms,
        first_byte_ms: now,
        env,
    };
    ctx.report(report, now);
    Ok(response)
}

/// The routes every function has, then the function's own.
async fn answer(service: &Service, call: Call, routes: &'static [Route]) -> Result<Response, ApiError> {
    let builtin = match call.path.segments().as_slice() {
        ["healthz"] => Some("/healthz"),
        ["readyz"] => Some("/readyz"),
        ["openapi.json"] if service.openapi.is_some() => Some("/openapi.json"),
        _ => None,
    };
    let Some(pattern) = builtin else { return dispatch(call, routes).await };
    call.route(pattern, &[Method::Get])?;
    match (pattern, service.openapi) {
        ("/healthz", _) => health(service),
        ("/openapi.json", Some(document)) => json_text(document),
        _ => readiness(service, (service.probes)(&call.env)).await,
    }
}

fn error_response(error: &ApiError, request_id: &str) -> Response {
    let body = error.body(request_id);
    let mut response = Response::from_json(&body)
        .unwrap_or_else(|_| Response::empty().expect("an empty response always builds"))
        .with_status(error.status);
    for (name, value) in &error.headers {
        let _ = response.headers_mut().set(name, value);
    }
    response
}

fn decorate(response: &mut Response, ctx: &RequestContext, total_ms: f64) -> worker::Result<()> {
    // Where the time went, for browsers' devtools and for us (W3C Server Timing). For a
    // stream, `total` is the time to the first byte.
    let mut timing: Vec<String> = ctx.timings().iter().map(|(name, ms)| format!("{name};dur={ms:.1}")).collect();
    timing.push(format!("total;dur={total_ms:.1}"));
    // W3C Trace Context Level 2 (`traceresponse`): tell the caller which span served it.
    security::apply(response.headers_mut(), &timing.join(", "), ctx.request_id.as_str(), &ctx.trace.traceparent())
}

/// The path of a request URL as the runtime serialised it (`scheme://host[:port]/path?query`),
/// without parsing the whole URL: the router needs nothing else, and the runtime has already
/// normalised it (WHATWG URL), so this is what a full parse would answer.
fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(url, |i| &url[i + 3..]);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

fn header(headers: &worker::Headers, name: &str) -> Option<String> {
    headers.get(name).ok().flatten()
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // crypto.getRandomValues cannot fail for these sizes; zeros would still be valid ids.
    let _ = getrandom::fill(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn the_path_is_what_a_url_parser_would_answer() {
        for (url, path) in [
            ("https://api.example.com/kb/search?q=a/b", "/kb/search"),
            ("http://127.0.0.1:8787/", "/"),
            ("http://127.0.0.1:8787", "/"),
            ("https://h/a%20b/c#frag", "/a%20b/c"),
            ("https://h/x?y#z", "/x"),
        ] {
            assert_eq!(path_of(url), path, "{url}");
            if let Ok(parsed) = url::Url::parse(url) {
                assert_eq!(parsed.path(), path, "agrees with the url crate for {url}");
            }
        }
    }
}
