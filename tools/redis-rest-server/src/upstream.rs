//! Running commands on the real redis-server: plain ones and pipelines on a shared multiplexed
//! connection, a transaction or a blocking command on a connection of its own.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, Cmd, RedisError, Value};

use crate::args::Command;
use crate::resp_json::server_error_text;
use crate::scripts::{After, Scripts};

const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_ATTEMPTS: u32 = 50;
const CONNECT_PAUSE: Duration = Duration::from_millis(100);

/// What became of one command.
#[derive(Debug)]
pub enum Outcome {
    /// Redis answered (possibly with `Value::ServerError`).
    Reply(Value),
    /// Refused here or by Redis, as one error line (`ERR …`).
    Error(String),
    /// Redis could not be reached or the connection broke.
    Unavailable(String),
}

/// A transaction that Redis or this server discarded as a whole.
#[derive(Debug)]
pub enum Discarded {
    Error(String),
    Unavailable(String),
}

pub struct Upstream {
    client: Client,
    shared: ConnectionManager,
    scripts: Scripts,
}

impl Upstream {
    /// Connects once (so a wrong URL fails at start-up); reconnects by itself afterwards.
    pub async fn connect(url: &str) -> Result<Upstream, String> {
        let client = Client::open(url).map_err(|e| format!("bad redis URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECTION_TIMEOUT));
        // A dev script may start redis-server alongside this server: give it a few seconds.
        let mut attempt = 0;
        let shared = loop {
            match ConnectionManager::new_with_config(client.clone(), config.clone()).await {
                Ok(shared) => break shared,
                Err(_) if attempt < CONNECT_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(CONNECT_PAUSE).await;
                }
                Err(e) => return Err(format!("cannot connect to redis: {e}")),
            }
        };
        Ok(Upstream { client, shared, scripts: Scripts::default() })
    }

    /// One command, not in a transaction.
    pub async fn run(&self, cmd: Command) -> Outcome {
        if let Some(refusal) = refuse(&cmd) {
            return Outcome::Error(refusal);
        }
        let (cmd, after) = self.scripts.prepare(cmd);
        let packed = pack(&cmd);
        let result = if is_blocking(&cmd) {
            match self.dedicated(None).await {
                Ok(mut con) => con.req_packed_command(&packed).await,
                Err(e) => Err(e),
            }
        } else {
            self.shared.clone().req_packed_command(&packed).await
        };
        outcome(result, &after)
    }

    /// Each command in order, each answered on its own; not atomic.
    pub async fn pipeline(&self, cmds: Vec<Command>) -> Vec<Outcome> {
        let mut out = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            out.push(self.run(cmd).await);
        }
        out
    }

    /// MULTI, the commands, EXEC on a connection of its own.
    pub async fn multi_exec(&self, cmds: Vec<Command>) -> Result<Vec<Outcome>, Discarded> {
        if let Some(refusal) = cmds.iter().find_map(|c| refuse(c)) {
            return Err(Discarded::Error(refusal));
        }
        let unavailable = |e: RedisError| Discarded::Unavailable(e.to_string());
        let mut con = self.dedicated(Some(RESPONSE_TIMEOUT)).await.map_err(unavailable)?;
        expect_ok(con.req_packed_command(&pack(&[b"MULTI".to_vec()])).await)?;
        let mut afters = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            let (cmd, after) = self.scripts.prepare(cmd);
            match con.req_packed_command(&pack(&cmd)).await {
                Ok(Value::ServerError(e)) => return Err(Discarded::Error(server_error_text(&e))),
                Ok(_) => afters.push(after),
                Err(e) => return Err(error_or_unavailable(e)),
            }
        }
        // Dropping the connection after an early return above discards the transaction.
        match con.req_packed_command(&pack(&[b"EXEC".to_vec()])).await {
            Ok(Value::Array(replies)) => {
                Ok(replies.into_iter().zip(afters.iter()).map(|(reply, after)| outcome(Ok(reply), after)).collect())
            }
            Ok(Value::ServerError(e)) => Err(Discarded::Error(server_error_text(&e))),
            Ok(Value::Nil) => Err(Discarded::Error("EXECABORT Transaction aborted".to_owned())),
            Ok(other) => Err(Discarded::Error(format!("ERR unexpected EXEC reply: {other:?}"))),
            Err(e) => Err(error_or_unavailable(e)),
        }
    }

    async fn dedicated(&self, timeout: Option<Duration>) -> Result<MultiplexedConnection, RedisError> {
        let config =
            AsyncConnectionConfig::new().set_response_timeout(timeout).set_connection_timeout(Some(CONNECTION_TIMEOUT));
        self.client.get_multiplexed_async_connection_with_config(&config).await
    }
}

fn pack(cmd: &[Vec<u8>]) -> Cmd {
    let mut packed = Cmd::new();
    for arg in cmd {
        packed.arg(arg.as_slice());
    }
    packed
}

fn outcome(result: Result<Value, RedisError>, after: &After) -> Outcome {
    match result {
        Ok(value) => Outcome::Reply(after.apply(value)),
        Err(e) => match error_or_unavailable(e) {
            Discarded::Error(e) => Outcome::Error(e),
            Discarded::Unavailable(e) => Outcome::Unavailable(e),
        },
    }
}

fn expect_ok(result: Result<Value, RedisError>) -> Result<(), Discarded> {
    match result {
        Ok(Value::Okay) => Ok(()),
        Ok(Value::ServerError(e)) => Err(Discarded::Error(server_error_text(&e))),
        Ok(other) => Err(Discarded::Error(format!("ERR unexpected reply: {other:?}"))),
        Err(e) => Err(error_or_unavailable(e)),
    }
}

/// A Redis error that reached us as `Err` keeps its `CODE detail` text; anything else is I/O.
fn error_or_unavailable(e: RedisError) -> Discarded {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => Discarded::Error(format!("{code} {detail}")),
        (Some(code), None) => Discarded::Error(code.to_owned()),
        _ => Discarded::Unavailable(format!("ERR redis unavailable: {e}")),
    }
}

/// Commands that would change the state of a shared connection (or break it) are refused.
fn refuse(cmd: &[Vec<u8>]) -> Option<String> {
    let name = cmd.first()?.to_ascii_uppercase();
    let refused = matches!(
        name.as_slice(),
        b"MULTI"
            | b"EXEC"
            | b"DISCARD"
            | b"WATCH"
            | b"UNWATCH"
            | b"SELECT"
            | b"SWAPDB"
            | b"SUBSCRIBE"
            | b"PSUBSCRIBE"
            | b"SSUBSCRIBE"
            | b"UNSUBSCRIBE"
            | b"PUNSUBSCRIBE"
            | b"SUNSUBSCRIBE"
            | b"MONITOR"
            | b"QUIT"
            | b"RESET"
            | b"HELLO"
            | b"AUTH"
            | b"SYNC"
            | b"PSYNC"
            | b"REPLCONF"
            | b"SHUTDOWN"
    ) || (name == b"CLIENT"
        && cmd.get(1).is_some_and(|s| {
            let s = s.to_ascii_uppercase();
            s == b"REPLY" || s == b"KILL" || s == b"PAUSE"
        }));
    refused.then(|| {
        format!("ERR Command is not allowed by redis-rest-server: '{}'", String::from_utf8_lossy(&name).to_lowercase())
    })
}

fn is_blocking(cmd: &[Vec<u8>]) -> bool {
    let Some(name) = cmd.first().map(|n| n.to_ascii_uppercase()) else {
        return false;
    };
    match name.as_slice() {
        b"BLPOP" | b"BRPOP" | b"BRPOPLPUSH" | b"BLMOVE" | b"BLMPOP" | b"BZPOPMIN" | b"BZPOPMAX" | b"BZMPOP"
        | b"WAIT" | b"WAITAOF" => true,
        b"XREAD" | b"XREADGROUP" => cmd.iter().skip(1).any(|a| a.eq_ignore_ascii_case(b"BLOCK")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(parts: &[&str]) -> Command {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn refuses_connection_state_commands() {
        assert!(refuse(&cmd(&["multi"])).is_some());
        assert!(refuse(&cmd(&["Subscribe", "ch"])).is_some());
        assert!(refuse(&cmd(&["client", "reply", "off"])).is_some());
        assert!(refuse(&cmd(&["client", "id"])).is_none());
        assert!(refuse(&cmd(&["get", "multi"])).is_none());
        assert_eq!(
            refuse(&cmd(&["select", "1"])).as_deref(),
            Some("ERR Command is not allowed by redis-rest-server: 'select'")
        );
    }

    #[test]
    fn knows_blocking_commands() {
        assert!(is_blocking(&cmd(&["blpop", "q", "0"])));
        assert!(is_blocking(&cmd(&["XREAD", "block", "0", "STREAMS", "s", "$"])));
        assert!(!is_blocking(&cmd(&["XREAD", "STREAMS", "s", "0"])));
        assert!(!is_blocking(&cmd(&["lpop", "q"])));
    }
}
