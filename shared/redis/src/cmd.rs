//! Commands as values, and Lua scripts with their SHA-1 computed once.

use std::fmt::Display;
use std::sync::Arc;

use sha1::{Digest, Sha1};

/// A Lua script: its source and the lower-case hex SHA-1 Redis names it by, computed once.
/// Cloning is cheap (shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    source: Arc<str>,
    sha1: Arc<str>,
}

impl Script {
    pub fn new(source: impl Into<String>) -> Script {
        let source: String = source.into();
        let sha1 = Sha1::digest(source.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>();
        Script { source: source.into(), sha1: sha1.into() }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn sha1(&self) -> &str {
        &self.sha1
    }
}

/// One command: its arguments as sent (`["SET", "k", "v"]`), and for a script call the
/// script itself, so that a `NOSCRIPT` answer to `EVALSHA` can be retried as `EVAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    args: Vec<String>,
    script: Option<Script>,
}

impl Cmd {
    pub fn new(name: impl Into<String>) -> Cmd {
        Cmd { args: vec![name.into()], script: None }
    }

    /// A command from all its parts, name first.
    pub fn from_parts<S: AsRef<str>>(parts: &[S]) -> Cmd {
        Cmd { args: parts.iter().map(|p| p.as_ref().to_owned()).collect(), script: None }
    }

    /// Appends one argument (numbers are sent as their decimal text, which Redis parses).
    pub fn arg(mut self, arg: impl Display) -> Cmd {
        self.args.push(arg.to_string());
        self
    }

    pub fn args<I, T>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = T>,
        T: Display,
    {
        self.args.extend(args.into_iter().map(|a| a.to_string()));
        self
    }

    /// `EVALSHA sha numkeys keys… args…`, remembering the script for the `EVAL` fallback.
    pub fn eval<K: AsRef<str>, A: AsRef<str>>(script: &Script, keys: &[K], args: &[A]) -> Cmd {
        let mut parts = Vec::with_capacity(3 + keys.len() + args.len());
        parts.push("EVALSHA".to_owned());
        parts.push(script.sha1().to_owned());
        parts.push(keys.len().to_string());
        parts.extend(keys.iter().map(|k| k.as_ref().to_owned()));
        parts.extend(args.iter().map(|a| a.as_ref().to_owned()));
        Cmd { args: parts, script: Some(script.clone()) }
    }

    pub fn as_args(&self) -> &[String] {
        &self.args
    }

    pub fn name(&self) -> &str {
        self.args.first().map_or("", String::as_str)
    }

    /// The same script call as `EVAL source …`; `None` for a command that is not one.
    pub fn eval_fallback(&self) -> Option<Cmd> {
        let script = self.script.as_ref()?;
        let mut args = self.args.clone();
        args[0] = "EVAL".to_owned();
        args[1] = script.source().to_owned();
        Some(Cmd { args, script: None })
    }

    /// True when running the command twice has the same effect as running it once, so a
    /// network failure after it may have reached the server can be retried. Deliberately a
    /// short list of read-only commands: anything unknown counts as not idempotent.
    pub fn is_idempotent(&self) -> bool {
        const READ_ONLY: &[&str] = &[
            "PING",
            "ECHO",
            "GET",
            "MGET",
            "STRLEN",
            "GETRANGE",
            "EXISTS",
            "TYPE",
            "TTL",
            "PTTL",
            "EXPIRETIME",
            "PEXPIRETIME",
            "HGET",
            "HMGET",
            "HGETALL",
            "HKEYS",
            "HVALS",
            "HLEN",
            "HEXISTS",
            "LRANGE",
            "LLEN",
            "LINDEX",
            "SMEMBERS",
            "SISMEMBER",
            "SMISMEMBER",
            "SCARD",
            "ZRANGE",
            "ZSCORE",
            "ZCARD",
            "ZRANK",
            "ZCOUNT",
            "DBSIZE",
            "TIME",
            "SCAN",
            "KEYS",
            "EVAL_RO",
            "EVALSHA_RO",
            "XRANGE",
            "XLEN",
            "INFO",
        ];
        let name = self.name();
        if name.eq_ignore_ascii_case("SCRIPT") {
            // SCRIPT EXISTS / LOAD; not FLUSH or KILL.
            let sub = self.args.get(1).map_or("", String::as_str);
            return sub.eq_ignore_ascii_case("EXISTS") || sub.eq_ignore_ascii_case("LOAD");
        }
        READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(name))
    }
}

impl<S: AsRef<str>> From<&[S]> for Cmd {
    fn from(parts: &[S]) -> Cmd {
        Cmd::from_parts(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_sha1_is_redis_s() {
        // `redis-cli SCRIPT LOAD "return 1"` answers this SHA.
        assert_eq!(Script::new("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }

    #[test]
    fn eval_and_fallback() {
        let s = Script::new("return KEYS[1]");
        let cmd = Cmd::eval(&s, &["k"], &["1", "2"]);
        assert_eq!(cmd.as_args(), ["EVALSHA", s.sha1(), "1", "k", "1", "2"]);
        let eval = cmd.eval_fallback().unwrap();
        assert_eq!(eval.as_args(), ["EVAL", "return KEYS[1]", "1", "k", "1", "2"]);
        assert!(Cmd::new("GET").eval_fallback().is_none());
    }

    #[test]
    fn builder() {
        let cmd = Cmd::new("SET").arg("k").arg(5).args(["EX", "10"]);
        assert_eq!(cmd.as_args(), ["SET", "k", "5", "EX", "10"]);
        assert_eq!(Cmd::from_parts(&["get", "k"]).as_args(), ["get", "k"]);
    }

    #[test]
    fn idempotency() {
        assert!(Cmd::new("ping").is_idempotent());
        assert!(Cmd::from_parts(&["GET", "k"]).is_idempotent());
        assert!(Cmd::from_parts(&["SCRIPT", "LOAD", "return 1"]).is_idempotent());
        assert!(!Cmd::from_parts(&["SCRIPT", "FLUSH"]).is_idempotent());
        assert!(!Cmd::from_parts(&["INCR", "k"]).is_idempotent());
        assert!(!Cmd::eval(&Script::new("return 1"), &[] as &[&str], &[] as &[&str]).is_idempotent());
        assert!(!Cmd::new("PUBLISH").is_idempotent());
    }
}
