//! How a Worker calls the hosts the allowlist admits: one request, never a redirect.
//!
//! Every outbound client (Redis REST, LLM providers, JWKS and discovery, BaseHub's content
//! API, revalidate URLs, the metrics exporter) sends through [`send`]. A 3xx is an error and
//! is not followed: an allowlisted host that answers `302 Location: http://elsewhere/` must not
//! make us carry a bearer token, a prompt or an API key to a host the allowlist never saw.
//!
//! In workerd this is the runtime's `fetch` with `redirect: "manual"`; natively (tests, tools)
//! `reqwest` with its redirect policy off. Both give the same [`Reply`].

use futures_util::Stream;
use std::fmt;
use std::pin::Pin;
use std::time::Duration;

/// The chunks of a reply's body as they arrive. Dropping it cancels the upstream request.
#[cfg(not(target_arch = "wasm32"))]
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, HttpError>> + Send>>;
#[cfg(target_arch = "wasm32")]
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, HttpError>>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One outbound request.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Natively, the bound on opening the connection; fetch has none (callers bound the whole
    /// exchange with their own deadline).
    pub connect_timeout: Option<Duration>,
}

impl Outgoing {
    pub fn get(url: impl Into<String>) -> Self {
        Self { method: Method::Get, url: url.into(), headers: Vec::new(), body: None, connect_timeout: None }
    }

    pub fn post(url: impl Into<String>, body: Vec<u8>) -> Self {
        Self { method: Method::Post, url: url.into(), headers: Vec::new(), body: Some(body), connect_timeout: None }
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn headers<'a>(mut self, headers: impl IntoIterator<Item = &'a (String, String)>) -> Self {
        self.headers.extend(headers.into_iter().cloned());
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }
}

/// A reply that is not a redirect: its status, headers (names in lowercase) and body.
pub struct Reply {
    pub status: u16,
    headers: Vec<(String, String)>,
    body: BodyStream,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The whole body.
    pub async fn bytes(self) -> Result<Vec<u8>, HttpError> {
        use futures_util::StreamExt;
        let mut body = self.body;
        let mut all = Vec::new();
        while let Some(chunk) = body.next().await {
            all.extend_from_slice(&chunk?);
        }
        Ok(all)
    }

    pub fn into_stream(self) -> BodyStream {
        self.body
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply").field("status", &self.status).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// No answer came. Natively this means no connection was made; fetch in workerd does
    /// not say how far a failed request got.
    Connect(String),
    /// The host answered with a redirect, which we never follow. `to` is the target's host
    /// (never its path or query, which may carry credentials).
    Redirect { status: u16, to: String },
    /// The request reached the host, but the answer broke off.
    Body(String),
}

impl HttpError {
    /// Whether the host may have received the request (a retry of a write may repeat it).
    pub fn maybe_sent(&self) -> bool {
        match self {
            HttpError::Connect(_) => cfg!(target_arch = "wasm32"),
            HttpError::Redirect { .. } | HttpError::Body(_) => true,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Connect(e) => write!(f, "request failed: {e}"),
            HttpError::Redirect { status, to } => {
                write!(
                    f,
                    "redirect refused: the host answered {status} to {to} (outbound requests never follow redirects)"
                )
            }
            HttpError::Body(e) => write!(f, "reading the answer failed: {e}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// The host of a `Location` value (relative ones stay on the same host), for the error.
fn redirect_target(location: Option<&str>, from: &str) -> String {
    let Some(location) = location else { return "an unnamed location".into() };
    match url::Url::parse(from).and_then(|base| base.join(location)) {
        Ok(to) => to.host_str().map_or_else(
            || "an unnamed location".into(),
            |h| match to.port() {
                Some(port) => format!("{h}:{port}"),
                None => h.to_owned(),
            },
        ),
        Err(_) => "an unparsable location".into(),
    }
}

/// Sends `request` once. A 3xx comes back as [`HttpError::Redirect`], and a warning line
/// saying where it pointed is logged in workerd.
pub async fn send(request: Outgoing) -> Result<Reply, HttpError> {
    let url = request.url.clone();
    let reply = imp::send(request).await?;
    // fetch's "manual" mode may also hand back an opaque redirect (status 0).
    if reply.status == 0 || (300..400).contains(&reply.status) {
        let to = redirect_target(reply.header("location"), &url);
        let refused = HttpError::Redirect { status: reply.status, to };
        imp::warn_redirect(&url, &refused);
        return Err(refused);
    }
    Ok(reply)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{BodyStream, HttpError, Method, Outgoing, Reply};
    use futures_util::StreamExt;
    use worker::{AbortController, Fetch, Headers, Request, RequestInit, RequestRedirect};

    pub async fn send(outgoing: Outgoing) -> Result<Reply, HttpError> {
        let headers = Headers::new();
        for (name, value) in &outgoing.headers {
            headers.set(name, value).map_err(|_| HttpError::Connect(format!("invalid header {name}")))?;
        }
        let mut init = RequestInit::new();
        init.with_method(match outgoing.method {
            Method::Get => worker::Method::Get,
            Method::Post => worker::Method::Post,
        })
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
        if let Some(body) = outgoing.body {
            init.with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
        }
        let request = Request::new_with_init(&outgoing.url, &init).map_err(|e| HttpError::Connect(e.to_string()))?;
        let controller = AbortController::default();
        let mut response = Fetch::Request(request)
            .send_with_signal(&controller.signal())
            .await
            .map_err(|e| HttpError::Connect(e.to_string()))?;
        let headers = response.headers().entries().map(|(n, v)| (n.to_ascii_lowercase(), v)).collect();
        let status = response.status_code();
        let body: BodyStream = match response.stream() {
            Ok(stream) => {
                let abort = Abort(Some(controller));
                Box::pin(stream.map(move |chunk| {
                    let _keep = &abort;
                    chunk.map_err(|e| HttpError::Body(e.to_string()))
                }))
            }
            // No body (e.g. 204): an empty stream.
            Err(_) => Box::pin(futures_util::stream::empty()),
        };
        Ok(Reply { status, headers, body })
    }

    /// Aborts the upstream request when the body is dropped unread.
    struct Abort(Option<AbortController>);

    impl Drop for Abort {
        fn drop(&mut self) {
            if let Some(controller) = self.0.take() {
                controller.abort();
            }
        }
    }

    pub fn warn_redirect(url: &str, refused: &HttpError) {
        let from = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
        worker::console_log!(
            "{}",
            serde_json::json!({ "level": "warn", "event": "outbound_redirect_refused", "host": from, "detail": refused.to_string() })
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{HttpError, Method, Outgoing, Reply};
    use futures_util::StreamExt;
    use std::sync::OnceLock;

    fn client(outgoing: &Outgoing) -> Result<reqwest::Client, HttpError> {
        static DEFAULT: OnceLock<reqwest::Client> = OnceLock::new();
        let build = |connect: Option<std::time::Duration>| {
            let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
            let builder = match connect {
                Some(timeout) => builder.connect_timeout(timeout),
                None => builder,
            };
            builder.build().map_err(|e| HttpError::Connect(e.to_string()))
        };
        match outgoing.connect_timeout {
            Some(timeout) => build(Some(timeout)),
            None => match DEFAULT.get() {
                Some(client) => Ok(client.clone()),
                None => Ok(DEFAULT.get_or_init(|| build(None).expect("a plain reqwest client builds")).clone()),
            },
        }
    }

    pub async fn send(outgoing: Outgoing) -> Result<Reply, HttpError> {
        let http = client(&outgoing)?;
        let mut request = match outgoing.method {
            Method::Get => http.get(&outgoing.url),
            Method::Post => http.post(&outgoing.url),
        };
        for (name, value) in &outgoing.headers {
            request = request.header(name, value);
        }
        if let Some(body) = outgoing.body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(|e| match e.is_connect() {
            true => HttpError::Connect(describe(e)),
            false => HttpError::Body(describe(e)),
        })?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body =
            response.bytes_stream().map(|chunk| chunk.map(|b| b.to_vec()).map_err(|e| HttpError::Body(describe(e))));
        Ok(Reply { status, headers, body: Box::pin(body) })
    }

    /// The error and its causes, without the URL (in odd setups a URL carries credentials).
    fn describe(e: reqwest::Error) -> String {
        let e = e.without_url();
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }

    pub fn warn_redirect(_: &str, _: &HttpError) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_targets_name_the_host_only() {
        let from = "https://redis.example/pipeline";
        assert_eq!(redirect_target(Some("http://169.254.169.254:8080/latest?token=x"), from), "169.254.169.254:8080");
        assert_eq!(redirect_target(Some("/elsewhere"), from), "redis.example");
        assert_eq!(redirect_target(None, from), "an unnamed location");
    }
}
