//! Postgres from a Worker, through a Hyperdrive binding and `tokio-postgres`.
//!
//! `with_client` is the only way in: it connects, lets the caller run its queries, then drops
//! the client and drives the connection to its end BEFORE returning. The local Hyperdrive
//! proxy kills the whole `wrangler dev` process when a handler returns with its connection
//! task still running (README, "Traps already found"), and in production a leaked
//! connection holds a pooled slot; so there is no API that hands out a connection.
//!
//! Not for: tenancy (transactions with the request's claims live in their own crate) or SQL.

use futures_util::future::{self, Either};
use sba_errors::ApiError;
use std::fmt;
use std::future::Future;
use std::time::Duration;
use tokio_postgres::{Client, Config};
use worker::postgres_tls::PassthroughTls;
use worker::{Env, SecureTransport, Socket};

pub use tokio_postgres;

#[derive(Debug)]
pub enum PgError {
    /// The binding is missing from the Worker's configuration.
    Config(String),
    /// Could not reach the database (or it went away while we logged in).
    Connect(String),
    /// The database answered and refused us: bad credentials (SQLSTATE class 28) or no such
    /// database (3D000). Retrying cannot help; the deployment's configuration is wrong.
    Refused(String),
    /// The work (or the connection) took longer than allowed.
    Timeout,
    /// A query failed; the database answered.
    Query(tokio_postgres::Error),
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "postgres: configuration: {e}"),
            Self::Connect(e) => write!(f, "postgres: cannot connect: {e}"),
            Self::Refused(e) => write!(f, "postgres: login refused: {e}"),
            Self::Timeout => write!(f, "postgres: timed out"),
            Self::Query(e) => write!(f, "postgres: {e}"),
        }
    }
}

impl std::error::Error for PgError {}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Query(e)
    }
}

/// Connects through the Hyperdrive binding `binding`, runs `work`, closes the connection and
/// returns `work`'s result; everything bounded by `timeout`.
///
/// `work` may fail with its own error type (e.g. an HTTP error decided inside the
/// transaction); the connection is closed either way.
pub async fn with_client<T, E, F, Fut>(env: &Env, binding: &str, timeout: Duration, work: F) -> Result<T, E>
where
    E: From<PgError>,
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    // The session itself is one non-generic function: every caller's `work` would otherwise
    // get its own copy of the connect, login and close code in the Wasm.
    let mut outcome: Option<Result<T, E>> = None;
    let slot = &mut outcome;
    let work: Work<'_> = Box::new(move |client| Box::pin(async move { *slot = Some(work(client).await) }));
    let session = session(env, binding, timeout, work).await;
    match (outcome, session) {
        // `work`'s own error comes first, as if the session had ended with it.
        (Some(Err(e)), _) => Err(e),
        (_, Err(e)) => Err(e.into()),
        (Some(Ok(value)), Ok(())) => Ok(value),
        (None, Ok(())) => Err(PgError::Timeout.into()),
    }
}

/// A caller's work on the client, its result kept by the caller.
type Work<'a> = Box<dyn FnOnce(Client) -> futures_util::future::LocalBoxFuture<'a, ()> + 'a>;

async fn session(env: &Env, binding: &str, timeout: Duration, work: Work<'_>) -> Result<(), PgError> {
    let hyperdrive = env.hyperdrive(binding).map_err(|e| PgError::Config(e.to_string()))?;
    let config: Config =
        hyperdrive.connection_string().parse().map_err(|e: tokio_postgres::Error| PgError::Config(e.to_string()))?;
    // Waiting for one of the isolate's sessions is load, not an outage: the deadline starts
    // once the session is ours (a burst of thousands queues here instead of failing), and the
    // wait has its own, longer bound.
    let Some(slot) = sba_sleep::within(SLOT_WAIT, Slot::taken()).await else {
        return Err(PgError::Timeout);
    };
    let session = async {
        let _slot = slot;
        let socket = Socket::builder()
            .secure_transport(SecureTransport::StartTls)
            .connect(hyperdrive.host(), hyperdrive.port())
            .map_err(|e| PgError::Connect(e.to_string()))?;
        let (client, connection) = config.connect_raw(socket, PassthroughTls).await.map_err(connect_error)?;
        // `work` owns the client and drops it when done, which lets `connection` send
        // Terminate and finish; joining both means nothing outlives this function.
        let ((), closed) = future::join(work(client), connection).await;
        closed.map_err(PgError::Query)
    };
    // Not worker::Delay: it wakes a stale task when this runs inside a streamed body.
    let deadline = Box::pin(sba_sleep::sleep(timeout));
    futures_util::pin_mut!(session);
    match future::select(session, deadline).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(PgError::Timeout),
    }
}

/// Sessions one isolate holds open at once. Beyond this, a session waits for a slot (within
/// its own timeout): a burst of thousands of runs must not open thousands of connections
/// (Postgres forks a process per connection; Hyperdrive pools a few), so connections stay
/// bounded however many requests an isolate serves.
pub const MAX_OPEN_SESSIONS: u32 = 32;

/// The longest a request waits for one of those sessions before it is answered 503.
pub const SLOT_WAIT: Duration = Duration::from_secs(30);

thread_local!(static OPEN_SESSIONS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });

/// One of the isolate's [`MAX_OPEN_SESSIONS`], given back when dropped.
struct Slot;

impl Slot {
    /// Waits for a free slot, polling on this request's own timer (never on another
    /// request's I/O), backing off from 1 ms to 20 ms.
    async fn taken() -> Slot {
        let mut pause = 1;
        loop {
            let free = OPEN_SESSIONS.with(|open| {
                let free = open.get() < MAX_OPEN_SESSIONS;
                if free {
                    open.set(open.get() + 1);
                }
                free
            });
            if free {
                return Slot;
            }
            sba_sleep::sleep(Duration::from_millis(pause)).await;
            pause = (pause * 2).min(20);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        OPEN_SESSIONS.with(|open| open.set(open.get().saturating_sub(1)));
    }
}

impl From<PgError> for ApiError {
    /// Unreachable or slow database → 503 with `Retry-After` (the client may retry); a
    /// serialization failure or deadlock (SQLSTATE class 40), a connection failure reported
    /// on a query (class 08: a pooler whose server is down answers so) and a server shutting
    /// down or restarting (57P01–57P03) → 503 too. A refused login is
    /// our misconfiguration → 500 without `Retry-After` (clients retrying cannot fix it);
    /// anything else is a bug.
    fn from(e: PgError) -> Self {
        let transient = match &e {
            PgError::Connect(_) | PgError::Timeout => true,
            PgError::Query(q) => {
                q.code().is_some_and(|c| {
                    matches!(c.code(), "57P01" | "57P02" | "57P03")
                        || c.code().starts_with("40")
                        || c.code().starts_with("08")
                }) || q.is_closed()
            }
            PgError::Config(_) | PgError::Refused(_) => false,
        };
        if let PgError::Refused(_) = e {
            return ApiError::new(500, "store_misconfigured", "the service cannot log in to its database")
                .with_cause(e);
        }
        if transient {
            ApiError::unavailable("store_unavailable", "the database is unavailable; retry shortly", 5).with_cause(e)
        } else {
            ApiError::internal(e)
        }
    }
}

/// A failed login: refused by the server (its SQLSTATE says so) or not reached at all.
fn connect_error(e: tokio_postgres::Error) -> PgError {
    let refused = e.code().is_some_and(|c| c.code().starts_with("28") || c.code() == "3D000");
    if refused {
        PgError::Refused(e.to_string())
    } else {
        PgError::Connect(e.to_string())
    }
}

/// A readiness check: one round trip, reporting the server version. Unprepared, like every
/// statement here: through a transaction-mode pooler a named statement prepared outside a
/// transaction is gone (or on another server connection) by the time it runs.
pub async fn probe(env: &Env, binding: &str) -> Result<String, PgError> {
    with_client(env, binding, Duration::from_secs(3), |client| async move {
        let row = client.query_typed_one("select current_setting('server_version')", &[]).await?;
        Ok(row.try_get::<_, String>(0)?)
    })
    .await
}
