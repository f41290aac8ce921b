use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value as Json;

use crate::{Cmd, RedisError, RedisValue, Script};
use sba_outbound::http::{self, HttpError, Outgoing};
use sba_sleep::{sleep, within};

const SYNC_TOKEN: &str = "upstash-sync-token";
const ENCODING: &str = "upstash-encoding";

/// One Upstash-compatible endpoint: its base URL and bearer token.
///
/// Cloning is cheap and clones share what the client remembers: the last
/// `upstash-sync-token` (read-your-writes across clones) and the round-trip counter. Natively
/// the client is `Send + Sync` (the shared state is behind a `Mutex` and an atomic); in
/// workerd it is used from the isolate's one thread like everything else.
#[derive(Clone)]
pub struct RedisRest {
    base_url: String,
    token: String,
    timeout: Duration,
    retries: u32,
    /// Sent on every request, e.g. the W3C `traceparent` of the request being served.
    headers: Vec<(String, String)>,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    sync_token: Mutex<Option<String>>,
    round_trips: AtomicU64,
}

/// Which endpoint a request goes to.
#[derive(Clone, Copy)]
enum Endpoint {
    Single,
    Pipeline,
    MultiExec,
}

/// A failed attempt, with whether the request may have reached the server.
struct Failure {
    error: RedisError,
    maybe_sent: bool,
}

impl RedisRest {
    /// Per attempt, from handing the request to the runtime to the end of the answer. A
    /// second: a runtime serving a burst answers late, and that is load, not an outage.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
    /// Further attempts after a network failure (see [`RedisRest::with_retries`]).
    pub const DEFAULT_RETRIES: u32 = 2;
    /// The first pause before a retry; doubled for each further one (25 ms, 50 ms).
    pub const BACKOFF: Duration = Duration::from_millis(25);

    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            token: token.into(),
            timeout: Self::DEFAULT_TIMEOUT,
            retries: Self::DEFAULT_RETRIES,
            headers: Vec::new(),
            shared: Arc::default(),
        }
    }

    /// The time one attempt may take (default 1 s). A call that runs out of it fails with
    /// [`RedisError::Timeout`] and is never retried: the caller's latency budget is spent,
    /// and a write may have been applied.
    ///
    /// The clock starts once the request has been handed to the runtime (fetch called), not
    /// when the call was made, and an answer that is already waiting when the time is up still
    /// counts: a runtime busy with a burst of other requests delays both the timer and the
    /// answer, and that is load, not an outage. (reqwest's own timeout is not used: in workerd
    /// it aborts the fetch with an error that the runtime logs as uncaught.)
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many more attempts a call gets after a network failure (default 2, with a
    /// backoff of 25 ms then 50 ms). Which failures are retried:
    /// - the connection could not be made (natively: `is_connect`): the request was never
    ///   sent, so every call is retried;
    /// - any other network failure (the connection broke after sending, or anything in
    ///   workerd, where fetch does not tell which): only idempotent calls
    ///   ([`Cmd::is_idempotent`]: reads, every command of a pipeline a read). A script or
    ///   `INCR` may already have run, and running it twice would count twice;
    /// - timeouts, HTTP statuses and Redis errors: never.
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Extra headers for every request (the trace context, so the REST server's spans join
    /// the caller's trace). The bearer token is not one of them: it is always set.
    pub fn with_headers(mut self, headers: Vec<(String, String)>) -> Self {
        self.headers = headers;
        self
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// HTTP requests sent so far by this client and its clones, failed attempts included.
    pub fn round_trips(&self) -> u64 {
        self.shared.round_trips.load(Ordering::Relaxed)
    }

    /// The last `upstash-sync-token` the server answered with; sent on every next request.
    pub fn sync_token(&self) -> Option<String> {
        lock(&self.shared.sync_token).clone()
    }

    /// One command, e.g. `["SET", "k", "v"]`; the `result` field of the answer as plain JSON
    /// (strings as UTF-8, invalid bytes replaced). See [`RedisRest::query`] for bytes.
    pub async fn command<S: AsRef<str>>(&self, args: &[S]) -> Result<Json, RedisError> {
        self.query(args).await.map(|v| v.to_json())
    }

    /// One command, typed. A Redis error answer is `Err(RedisError::Redis)`.
    pub async fn query<S: AsRef<str>>(&self, args: &[S]) -> Result<RedisValue, RedisError> {
        self.run(&Cmd::from_parts(args)).await
    }

    /// One command built with [`Cmd`]; a script call ([`Cmd::eval`]) falls back to `EVAL`
    /// when the server does not know the SHA.
    pub async fn run(&self, cmd: &Cmd) -> Result<RedisValue, RedisError> {
        match self.single(cmd).await {
            Err(e) if e.is_noscript() => match cmd.eval_fallback() {
                Some(eval) => self.single(&eval).await,
                None => Err(e),
            },
            other => other,
        }
    }

    /// `EVALSHA`, and on `NOSCRIPT` (the server has not seen the script yet) `EVAL` with the
    /// source: two round trips the first time per server, one afterwards. The script is not
    /// run twice: `NOSCRIPT` means it did not run.
    pub async fn eval_script<K: AsRef<str>, A: AsRef<str>>(
        &self,
        script: &Script,
        keys: &[K],
        args: &[A],
    ) -> Result<RedisValue, RedisError> {
        self.run(&Cmd::eval(script, keys, args)).await
    }

    /// Commands in order, in one request, not atomic. Each answer is a value or
    /// `RedisValue::Error` for a command that failed on its own.
    ///
    /// Script calls ([`Cmd::eval`]) answered `NOSCRIPT` did not run; they are re-sent as
    /// `EVAL` in one follow-up pipeline and their answers put in place. So they run after
    /// the other commands of the first request, which is harmless for independent commands
    /// but means a pipeline must not rely on a script seeing a later command's effect.
    pub async fn pipeline(&self, cmds: &[Cmd]) -> Result<Vec<RedisValue>, RedisError> {
        let idempotent = cmds.iter().all(Cmd::is_idempotent);
        let mut answers = self.batch(Endpoint::Pipeline, cmds, idempotent).await?;
        let missing: Vec<(usize, Cmd)> = answers
            .iter()
            .zip(cmds)
            .enumerate()
            .filter(|(_, (answer, _))| matches!(answer, RedisValue::Error(e) if e.contains("NOSCRIPT")))
            .filter_map(|(i, (_, cmd))| cmd.eval_fallback().map(|eval| (i, eval)))
            .collect();
        if !missing.is_empty() {
            let evals: Vec<Cmd> = missing.iter().map(|(_, c)| c.clone()).collect();
            let retried = self.batch(Endpoint::Pipeline, &evals, false).await?;
            for ((i, _), answer) in missing.into_iter().zip(retried) {
                answers[i] = answer;
            }
        }
        Ok(answers)
    }

    /// Commands as one transaction (`MULTI … EXEC`), all or nothing at the protocol level: a
    /// transaction discarded as a whole (a syntax error, a refused command) is
    /// `Err(RedisError::Redis)`. A command that fails while executing is a
    /// `RedisValue::Error` among the answers (Redis does not roll back).
    ///
    /// Script calls are sent as `EVAL` with the source, never `EVALSHA`: a `NOSCRIPT` inside
    /// `EXEC` would leave the rest of the transaction applied, and a retry would no longer be
    /// atomic with it.
    pub async fn multi_exec(&self, cmds: &[Cmd]) -> Result<Vec<RedisValue>, RedisError> {
        let idempotent = cmds.iter().all(Cmd::is_idempotent);
        let cmds: Vec<Cmd> = cmds.iter().map(|c| c.eval_fallback().unwrap_or_else(|| c.clone())).collect();
        self.batch(Endpoint::MultiExec, &cmds, idempotent).await
    }

    /// `PUBLISH channel message`: how many subscribers received it.
    pub async fn publish(&self, channel: &str, message: &str) -> Result<i64, RedisError> {
        let answer = self.run(&Cmd::new("PUBLISH").arg(channel).arg(message)).await?;
        answer.as_i64().ok_or_else(|| RedisError::Protocol(format!("PUBLISH answered {answer:?}")))
    }

    /// `PING`, for readiness probes.
    pub async fn ping(&self) -> Result<(), RedisError> {
        match self.query(&["PING"]).await? {
            v if v.as_str() == Some("PONG") => Ok(()),
            other => Err(RedisError::Protocol(format!("PING answered {other:?}"))),
        }
    }

    async fn single(&self, cmd: &Cmd) -> Result<RedisValue, RedisError> {
        let body = serde_json::to_vec(cmd.as_args()).map_err(|e| RedisError::Protocol(e.to_string()))?;
        let (status, answer) = self.exchange(Endpoint::Single, body, cmd.is_idempotent()).await?;
        if let Some(error) = error_of(&answer) {
            return Err(refusal(status, error));
        }
        if !(200..300).contains(&status) {
            return Err(RedisError::Http { status, message: snippet(&answer.to_string()) });
        }
        match answer.get("result") {
            Some(result) => RedisValue::from_base64_json(result, true),
            None => Err(RedisError::Protocol(format!("no result in {}", snippet(&answer.to_string())))),
        }
    }

    async fn batch(&self, endpoint: Endpoint, cmds: &[Cmd], idempotent: bool) -> Result<Vec<RedisValue>, RedisError> {
        let args: Vec<&[String]> = cmds.iter().map(Cmd::as_args).collect();
        let body = serde_json::to_vec(&args).map_err(|e| RedisError::Protocol(e.to_string()))?;
        let (status, answer) = self.exchange(endpoint, body, idempotent).await?;
        if let Some(error) = error_of(&answer) {
            return Err(refusal(status, error));
        }
        if !(200..300).contains(&status) {
            return Err(RedisError::Http { status, message: snippet(&answer.to_string()) });
        }
        let entries = answer
            .as_array()
            .ok_or_else(|| RedisError::Protocol(format!("expected an array, got {}", snippet(&answer.to_string()))))?;
        if entries.len() != cmds.len() {
            return Err(RedisError::Protocol(format!("{} answers to {} commands", entries.len(), cmds.len())));
        }
        entries.iter().map(RedisValue::from_entry).collect()
    }

    /// Sends one request, retrying as documented on [`RedisRest::with_retries`]; answers
    /// the HTTP status and the parsed JSON body.
    async fn exchange(&self, endpoint: Endpoint, body: Vec<u8>, idempotent: bool) -> Result<(u16, Json), RedisError> {
        let url = match endpoint {
            Endpoint::Single => self.base_url.clone(),
            Endpoint::Pipeline => format!("{}/pipeline", self.base_url),
            Endpoint::MultiExec => format!("{}/multi-exec", self.base_url),
        };
        let mut attempt = 0;
        loop {
            match self.attempt(&url, body.clone()).await {
                Ok(answer) => return Ok(answer),
                Err(Failure { error, maybe_sent }) => {
                    let retry = attempt < self.retries
                        && matches!(error, RedisError::Network(_))
                        && (!maybe_sent || idempotent);
                    if !retry {
                        return Err(error);
                    }
                    sleep(Self::BACKOFF * 2u32.saturating_pow(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn attempt(&self, url: &str, body: Vec<u8>) -> Result<(u16, Json), Failure> {
        self.shared.round_trips.fetch_add(1, Ordering::Relaxed);
        let mut request = Outgoing::post(url, body)
            .header("authorization", format!("Bearer {}", self.token))
            .header(ENCODING, "base64")
            .header("content-type", "application/json");
        if let Some(token) = self.sync_token() {
            request = request.header(SYNC_TOKEN, token);
        }
        let request = request.headers(&self.headers);
        let exchange = async {
            let reply = http::send(request).await.map_err(failure)?;
            if let Some(token) = reply.header(SYNC_TOKEN) {
                *lock(&self.shared.sync_token) = Some(token.to_owned());
            }
            let status = reply.status;
            let bytes = reply.bytes().await.map_err(failure)?;
            Ok::<_, Failure>((status, bytes))
        };
        let (status, bytes) =
            within(self.timeout, exchange).await.ok_or(Failure { error: RedisError::Timeout, maybe_sent: true })??;
        match serde_json::from_slice::<Json>(&bytes) {
            Ok(answer) => Ok((status, answer)),
            Err(_) => {
                let text = snippet(&String::from_utf8_lossy(&bytes));
                let error = if (200..300).contains(&status) {
                    RedisError::Protocol(format!("not JSON: {text}"))
                } else {
                    RedisError::Http { status, message: text }
                };
                Err(Failure { error, maybe_sent: true })
            }
        }
    }
}

impl fmt::Debug for RedisRest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRest")
            .field("base_url", &self.base_url)
            .field("token", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("round_trips", &self.round_trips())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn failure(e: HttpError) -> Failure {
    Failure { maybe_sent: e.maybe_sent(), error: RedisError::Network(e.to_string()) }
}

fn error_of(answer: &Json) -> Option<String> {
    let error = answer.as_object()?.get("error")?;
    Some(error.as_str().map_or_else(|| error.to_string(), str::to_owned))
}

/// A top-level `{"error"}`: Redis refused the command (400) or the server refused the request.
fn refusal(status: u16, message: String) -> RedisError {
    if status == 400 {
        RedisError::Redis(message)
    } else {
        RedisError::Http { status, message }
    }
}

fn snippet(text: &str) -> String {
    text.chars().take(200).collect()
}
