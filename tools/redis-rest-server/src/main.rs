//! `redis-rest-server`: a local server speaking the Upstash Redis REST protocol in front of a
//! real `redis-server`, so the project's code, `@upstash/redis` and `@upstash/ratelimit` can run
//! against the same data in development and in tests.
//!
//! It is for: local development and the test suites, on loopback only, with one upstream Redis.
//! It is NOT: deployed anywhere, a production proxy, a security boundary, or a complete Upstash
//! (no REST streaming/SSE, no multiple databases, no read replicas; blocking commands get a
//! connection of their own but nothing more).
//!
//! Usage: `REDIS_REST_TOKEN=… redis-rest-server --listen 127.0.0.1:8079 --redis redis://127.0.0.1:6379`
//! (or `REDIS_REST_LISTEN`, `REDIS_URL`). The token is read from the environment only. When ready
//! it prints `redis-rest-server listening on http://ADDR` on stdout, with the real port when
//! asked for port 0.

mod args;
mod auth;
mod http;
mod resp_json;
mod scripts;
mod upstream;
mod url;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;

const DEFAULT_LISTEN: &str = "127.0.0.1:8079";
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";
const USAGE: &str =
    "usage: REDIS_REST_TOKEN=<token> redis-rest-server [--listen 127.0.0.1:PORT] [--redis redis://HOST:PORT]
  --listen  loopback address to serve on (env REDIS_REST_LISTEN, default 127.0.0.1:8079; port 0 = any)
  --redis   upstream redis URL (env REDIS_URL, default redis://127.0.0.1:6379)
  the token comes from the environment variable REDIS_REST_TOKEN only";

#[derive(Debug, PartialEq)]
struct Config {
    listen: SocketAddr,
    redis: String,
}

/// Flags first, then the environment, then the defaults. Loopback only.
fn config(argv: impl IntoIterator<Item = String>, env: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
    let mut listen = None;
    let mut redis = None;
    let mut argv = argv.into_iter();
    while let Some(flag) = argv.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (flag.clone(), None),
        };
        let slot = match name.as_str() {
            "--listen" => &mut listen,
            "--redis" => &mut redis,
            "--token" => return Err("the token is read from REDIS_REST_TOKEN only, never a flag".to_owned()),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        };
        let value = match inline.or_else(|| argv.next()) {
            Some(v) => v,
            None => return Err(format!("{name} needs a value\n{USAGE}")),
        };
        *slot = Some(value);
    }
    let listen = listen.or_else(|| env("REDIS_REST_LISTEN")).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen: SocketAddr = listen.parse().map_err(|_| format!("--listen {listen:?} is not an IP:PORT address"))?;
    if !listen.ip().is_loopback() {
        return Err(format!("refusing to listen on {listen}: loopback addresses only"));
    }
    let redis = redis.or_else(|| env("REDIS_URL")).unwrap_or_else(|| DEFAULT_REDIS.to_owned());
    Ok(Config { listen, redis })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redis-rest-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let config = config(std::env::args().skip(1), |k| std::env::var(k).ok())?;
    let token = std::env::var("REDIS_REST_TOKEN").unwrap_or_default();
    let token = auth::Token::new(&token).ok_or("REDIS_REST_TOKEN is not set (or empty)")?;
    let upstream = upstream::Upstream::connect(&config.redis).await?;
    let listener =
        TcpListener::bind(config.listen).await.map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("redis-rest-server listening on http://{addr}");
    http::serve(listener, Arc::new(http::App::new(token, upstream))).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Config, String> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        config(args.iter().map(|s| s.to_string()), move |k| {
            env.iter().find(|(name, _)| name == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn flags_env_defaults() {
        let c = parse(&["--listen", "127.0.0.1:0", "--redis=redis://127.0.0.1:7000"], &[]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:0".parse().unwrap());
        assert_eq!(c.redis, "redis://127.0.0.1:7000");
        let c = parse(&[], &[("REDIS_REST_LISTEN", "[::1]:9000"), ("REDIS_URL", "redis://x")]).unwrap();
        assert_eq!(c.listen, "[::1]:9000".parse().unwrap());
        assert_eq!(c.redis, "redis://x");
        let c = parse(&["--listen", "127.0.0.2:1"], &[("REDIS_REST_LISTEN", "0.0.0.0:1")]).unwrap();
        assert_eq!(c.listen, "127.0.0.2:1".parse().unwrap());
        assert_eq!(parse(&[], &[]).unwrap().redis, DEFAULT_REDIS);
    }

    #[test]
    fn refuses_non_loopback_and_token_flag() {
        assert!(parse(&["--listen", "0.0.0.0:8079"], &[]).unwrap_err().contains("loopback"));
        assert!(parse(&[], &[("REDIS_REST_LISTEN", "192.168.1.2:1")]).is_err());
        assert!(parse(&["--listen", "localhost:1"], &[]).is_err());
        assert!(parse(&["--token", "x"], &[]).unwrap_err().contains("REDIS_REST_TOKEN"));
        assert!(parse(&["--listen"], &[]).is_err());
        assert!(parse(&["--bogus"], &[]).is_err());
    }
}
