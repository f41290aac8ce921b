//! The HTTP side: routes `/`, `/pipeline`, `/multi-exec` and the path form (`/set/foo/bar`),
//! auth, body limit, encodings, status codes and the `upstash-sync-token` header.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value as Json};
use tokio::net::TcpListener;

use crate::args::{parse_command, parse_commands, Command};
use crate::auth::Token;
use crate::resp_json::{entry, Encoding, Entry};
use crate::upstream::{Discarded, Outcome, Upstream};
use crate::url::path_command;

/// Larger request bodies are refused with 413.
pub const BODY_LIMIT: usize = 10 * 1024 * 1024;
/// How much of an oversized body is read before giving up on the connection.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

const SYNC_TOKEN: HeaderName = HeaderName::from_static("upstash-sync-token");
const ENCODING: HeaderName = HeaderName::from_static("upstash-encoding");

pub struct App {
    token: Token,
    upstream: Upstream,
    /// Handed out in `upstash-sync-token`. Every answer is sent only after Redis applied the
    /// request, and there is one Redis, so any token a client echoes is already satisfied.
    sync: AtomicU64,
}

type Answer = (StatusCode, Json);

impl App {
    pub fn new(token: Token, upstream: Upstream) -> App {
        App { token, upstream, sync: AtomicU64::new(0) }
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (status, body) = self.route(req).await;
        let sync = self.sync.fetch_add(1, Ordering::SeqCst) + 1;
        let mut res = Response::new(Full::new(Bytes::from(body.to_string())));
        *res.status_mut() = status;
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(SYNC_TOKEN, HeaderValue::from(sync));
        res
    }

    async fn route(&self, req: Request<Incoming>) -> Answer {
        let method = req.method().clone();
        if method != Method::GET && method != Method::POST {
            return error(StatusCode::METHOD_NOT_ALLOWED, format!("ERR method not allowed: {method}"));
        }
        let authorization = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
        if !self.token.allows(authorization, req.uri().query()) {
            return error(StatusCode::UNAUTHORIZED, "Unauthorized".to_owned());
        }
        let enc = match req.headers().get(ENCODING) {
            Some(v) if v.as_bytes().eq_ignore_ascii_case(b"base64") => Encoding::Base64,
            _ => Encoding::Plain,
        };
        let path = req.uri().path().to_owned();
        let body = match read_body(req).await {
            Ok(body) => body,
            Err(answer) => return answer,
        };
        let post = method == Method::POST;
        match path.as_str() {
            "/pipeline" | "/multi-exec" if !post => {
                error(StatusCode::METHOD_NOT_ALLOWED, format!("ERR method not allowed: {method}"))
            }
            "/pipeline" => match parse_commands(&body) {
                Ok(cmds) => {
                    let outcomes = self.upstream.pipeline(cmds).await;
                    (StatusCode::OK, entries(outcomes, enc))
                }
                Err(e) => error(StatusCode::BAD_REQUEST, e),
            },
            "/multi-exec" => match parse_commands(&body) {
                Ok(cmds) => match self.upstream.multi_exec(cmds).await {
                    Ok(outcomes) => (StatusCode::OK, entries(outcomes, enc)),
                    Err(Discarded::Error(e)) => error(StatusCode::BAD_REQUEST, e),
                    Err(Discarded::Unavailable(e)) => error(StatusCode::BAD_GATEWAY, e),
                },
                Err(e) => error(StatusCode::BAD_REQUEST, e),
            },
            "/" if post => match parse_command(&body) {
                Ok(cmd) => self.single(cmd, enc).await,
                Err(e) => error(StatusCode::BAD_REQUEST, e),
            },
            _ => {
                let mut cmd: Command = path_command(&path);
                if post && !body.is_empty() {
                    cmd.push(body.to_vec());
                }
                if cmd.is_empty() {
                    return error(StatusCode::BAD_REQUEST, "ERR empty command".to_owned());
                }
                self.single(cmd, enc).await
            }
        }
    }

    async fn single(&self, cmd: Command, enc: Encoding) -> Answer {
        match self.upstream.run(cmd).await {
            Outcome::Reply(value) => match entry(&value, enc) {
                e @ Entry::Result(_) => (StatusCode::OK, e.to_json()),
                e @ Entry::Error(_) => (StatusCode::BAD_REQUEST, e.to_json()),
            },
            Outcome::Error(e) => error(StatusCode::BAD_REQUEST, e),
            Outcome::Unavailable(e) => error(StatusCode::BAD_GATEWAY, e),
        }
    }
}

fn entries(outcomes: Vec<Outcome>, enc: Encoding) -> Json {
    Json::Array(
        outcomes
            .into_iter()
            .map(|o| match o {
                Outcome::Reply(value) => entry(&value, enc),
                Outcome::Error(e) | Outcome::Unavailable(e) => Entry::Error(e),
            })
            .map(|e| e.to_json())
            .collect(),
    )
}

fn error(status: StatusCode, message: String) -> Answer {
    (status, json!({ "error": message }))
}

/// The body, or 413 when it is over the limit. An oversized body is still read (and dropped)
/// up to `DRAIN_LIMIT`, so that the client, still sending, gets the 413 instead of a reset.
async fn read_body(req: Request<Incoming>) -> Result<Bytes, Answer> {
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let mut too_large = declared.is_some_and(|n| n > BODY_LIMIT as u64);
    let mut body = req.into_body();
    let mut buf: Vec<u8> = Vec::new();
    let mut seen: usize = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| error(StatusCode::BAD_REQUEST, format!("ERR cannot read request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > DRAIN_LIMIT {
            break;
        }
        if seen > BODY_LIMIT {
            too_large = true;
            buf = Vec::new();
        }
        if !too_large {
            buf.extend_from_slice(&data);
        }
    }
    if too_large || seen > BODY_LIMIT {
        return Err(error(StatusCode::PAYLOAD_TOO_LARGE, format!("ERR request body larger than {BODY_LIMIT} bytes")));
    }
    Ok(Bytes::from(buf))
}

/// Accepts connections until the process ends.
pub async fn serve(listener: TcpListener, app: Arc<App>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                eprintln!("redis-rest-server: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = Arc::clone(&app);
                async move { Ok::<_, Infallible>(app.handle(req).await) }
            });
            // A client that goes away mid-request is not an error worth reporting.
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
