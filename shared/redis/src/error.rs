use std::fmt;

/// Why a Redis call failed. `Timeout` and `Network` mean the command may or may not have run;
/// `Http` and `Redis` mean the server answered.
#[derive(Debug, Clone, PartialEq)]
pub enum RedisError {
    Timeout,
    Network(String),
    /// The REST server refused the request (401 bad token, 405, 5xx …).
    Http {
        status: u16,
        message: String,
    },
    /// Redis itself answered with an error (`ERR …`, `NOSCRIPT …`, `WRONGTYPE …`).
    Redis(String),
    /// The answer was not the JSON shape the protocol promises.
    Protocol(String),
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => write!(f, "redis: timed out"),
            Self::Network(e) => write!(f, "redis: network error: {e}"),
            Self::Http { status, message } => write!(f, "redis: HTTP {status}: {message}"),
            Self::Redis(e) => write!(f, "redis: {e}"),
            Self::Protocol(e) => write!(f, "redis: unexpected answer: {e}"),
        }
    }
}

impl std::error::Error for RedisError {}

impl RedisError {
    /// Redis does not know the script SHA (`EVALSHA` before any `EVAL`/`SCRIPT LOAD`).
    pub fn is_noscript(&self) -> bool {
        matches!(self, Self::Redis(e) if e.contains("NOSCRIPT"))
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout)
    }
}
