//! The client against the local Upstash-compatible server (started by scripts/test, found
//! through SBA_REDIS_REST_URL / SBA_REDIS_REST_TOKEN), and against tiny fake servers for
//! what a real one cannot be made to do (never answer, drop the connection, show what it got).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sba_redis::{Cmd, RedisError, RedisRest, RedisValue, Script};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run through scripts/test or set SBA_REDIS_REST_URL and SBA_REDIS_REST_TOKEN")
    })
}

fn rest() -> RedisRest {
    RedisRest::new(env("SBA_REDIS_REST_URL"), env("SBA_REDIS_REST_TOKEN")).with_timeout(Duration::from_secs(5))
}

/// A key (or script nonce) no other test, run or process uses.
fn unique(name: &str) -> String {
    sba_testkit::unique(&format!("sba-redis-test:{name}"))
}

fn s(text: &str) -> RedisValue {
    RedisValue::from(text)
}

#[tokio::test]
async fn set_get_and_the_json_compatible_command() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    let key = unique("set-get");
    assert_eq!(r.query(&["SET", &key, "bar", "EX", "60"]).await.unwrap(), s("OK"));
    assert_eq!(r.query(&["GET", &key]).await.unwrap(), s("bar"));
    assert_eq!(r.command(&["GET", &key]).await.unwrap(), json!("bar"));
    assert_eq!(r.command(&["INCRBY", &unique("n"), "5"]).await.unwrap(), json!(5));
    assert_eq!(r.query(&["GET", &unique("missing")]).await.unwrap(), RedisValue::Nil);
    r.ping().await.unwrap();
}

#[tokio::test]
async fn base64_round_trip_keeps_every_byte() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    let key = unique("utf8");
    let value = "hé😀 \u{0} \"quoted\" \\ OK";
    r.run(&Cmd::new("SET").arg(&key).arg(value).args(["EX", "60"])).await.unwrap();
    assert_eq!(r.query(&["GET", &key]).await.unwrap().as_str(), Some(value));
    // The first byte of "é" alone is not UTF-8: without base64 it would arrive as U+FFFD.
    assert_eq!(r.query(&["GETRANGE", &key, "1", "1"]).await.unwrap(), RedisValue::Str(vec![0xc3]));
    // A stored "OK" inside an array is encoded like any string and decodes back.
    r.query(&["RPUSH", &format!("{key}:l"), "OK", "é"]).await.unwrap();
    assert_eq!(
        r.query(&["LRANGE", &format!("{key}:l"), "0", "-1"]).await.unwrap(),
        RedisValue::Array(vec![s("OK"), s("é")])
    );
    r.query(&["DEL", &format!("{key}:l")]).await.unwrap();
}

#[tokio::test]
async fn pipeline_answers_in_order_with_errors_in_place() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    let key = unique("pipe");
    let before = r.round_trips();
    let answers = r
        .pipeline(&[
            Cmd::new("SET").arg(&key).arg("a").args(["EX", "60"]),
            Cmd::new("INCR").arg(&key),
            Cmd::new("APPEND").arg(&key).arg("é"),
            Cmd::new("GET").arg(&key),
        ])
        .await
        .unwrap();
    assert_eq!(r.round_trips() - before, 1);
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[0], s("OK"));
    assert!(matches!(&answers[1], RedisValue::Error(e) if e.contains("not an integer")), "{:?}", answers[1]);
    assert_eq!(answers[2], RedisValue::Int(3));
    assert_eq!(answers[3], s("aé"));
}

#[tokio::test]
async fn multi_exec_is_atomic_and_a_discarded_one_is_an_error() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    let key = unique("multi");
    let answers = r
        .multi_exec(&[
            Cmd::new("SET").arg(&key).arg("1").args(["EX", "60"]),
            Cmd::new("INCR").arg(&key),
            Cmd::new("GET").arg(&key),
        ])
        .await
        .unwrap();
    assert_eq!(answers, vec![s("OK"), RedisValue::Int(2), s("2")]);

    // An unknown command discards the whole transaction: the SET before it never happens.
    let other = unique("multi-discarded");
    let err =
        r.multi_exec(&[Cmd::new("SET").arg(&other).arg("x"), Cmd::new("NOSUCHCOMMAND").arg(&other)]).await.unwrap_err();
    assert!(matches!(&err, RedisError::Redis(m) if m.contains("unknown command")), "{err:?}");
    assert_eq!(r.query(&["EXISTS", &other]).await.unwrap(), RedisValue::Int(0));

    // A command failing while executing is an error in place; the others are applied.
    let answers =
        r.multi_exec(&[Cmd::new("INCR").arg(format!("{key}:x")), Cmd::new("LPUSH").arg(&key).arg("v")]).await.unwrap();
    assert_eq!(answers[0], RedisValue::Int(1));
    assert!(matches!(&answers[1], RedisValue::Error(e) if e.starts_with("WRONGTYPE")), "{answers:?}");
    r.query(&["DEL", &format!("{key}:x")]).await.unwrap();
}

#[tokio::test]
async fn evalsha_falls_back_to_eval_once() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    // A script no server has seen: the nonce changes its SHA-1.
    let script = Script::new(format!("-- {}\nreturn {{KEYS[1], ARGV[1], 7}}", unique("nonce")));
    let before = r.round_trips();
    let first = r.eval_script(&script, &["k"], &["é"]).await.unwrap();
    assert_eq!(first, RedisValue::Array(vec![s("k"), s("é"), RedisValue::Int(7)]));
    assert_eq!(r.round_trips() - before, 2, "EVALSHA → NOSCRIPT → EVAL");
    let second = r.eval_script(&script, &["k"], &["é"]).await.unwrap();
    assert_eq!(second, first);
    assert_eq!(r.round_trips() - before, 3, "known by SHA now: one round trip");
    // The server knows the script under the SHA we computed.
    assert_eq!(
        r.query(&["SCRIPT", "EXISTS", script.sha1()]).await.unwrap(),
        RedisValue::Array(vec![RedisValue::Int(1)])
    );
}

#[tokio::test]
async fn scripts_in_pipelines_and_transactions() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    let key = unique("pipe-script");
    let script = Script::new(format!("-- {}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])", unique("nonce")));
    let before = r.round_trips();
    let answers = r
        .pipeline(&[
            Cmd::new("SET").arg(&key).arg("10").args(["EX", "60"]),
            Cmd::eval(&script, &[&key], &["5"]),
            Cmd::new("GET").arg(&key),
        ])
        .await
        .unwrap();
    // The NOSCRIPT entry was re-sent as EVAL in a second request, after the GET ran.
    assert_eq!(answers, vec![s("OK"), RedisValue::Int(15), s("10")]);
    assert_eq!(r.round_trips() - before, 2);

    let fresh = Script::new(format!("-- {}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])", unique("nonce")));
    let before = r.round_trips();
    let answers = r.multi_exec(&[Cmd::eval(&fresh, &[&key], &["1"]), Cmd::new("GET").arg(&key)]).await.unwrap();
    assert_eq!(answers, vec![RedisValue::Int(16), s("16")]);
    assert_eq!(r.round_trips() - before, 1, "sent as EVAL inside the transaction");
}

#[tokio::test]
async fn publish_counts_receivers() {
    if sba_testkit::without_stack() {
        return;
    }
    assert_eq!(rest().publish(&unique("channel"), "hello").await.unwrap(), 0);
}

#[tokio::test]
async fn remembers_the_sync_token() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = rest();
    assert_eq!(r.sync_token(), None);
    r.ping().await.unwrap();
    let first = r.sync_token().expect("the server sends upstash-sync-token");
    r.ping().await.unwrap();
    let second = r.sync_token().unwrap();
    assert_ne!(first, second, "the local server hands out a new token per answer");
    // Clones share it.
    assert_eq!(r.clone().sync_token(), Some(second));
}

#[tokio::test]
async fn wrong_token_is_http_401() {
    if sba_testkit::without_stack() {
        return;
    }
    let r = RedisRest::new(env("SBA_REDIS_REST_URL"), "wrong-token");
    let err = r.query(&["PING"]).await.unwrap_err();
    assert!(matches!(err, RedisError::Http { status: 401, .. }), "{err:?}");
}

#[tokio::test]
async fn redis_errors_are_redis_errors() {
    if sba_testkit::without_stack() {
        return;
    }
    let err = rest().query(&["NOSUCHCOMMAND"]).await.unwrap_err();
    assert!(matches!(&err, RedisError::Redis(m) if m.contains("unknown command")), "{err:?}");
}

// ---- fake servers -------------------------------------------------------------------

/// What a fake server does with each request it reads.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answer `{"result":"OK"}` with `upstash-sync-token: tok-<n>`.
    Answer,
    /// Read the request, then close the connection without a word.
    Drop,
    /// Read the request and never answer.
    Silent,
}

/// A loopback HTTP/1.1 server that records the raw requests it reads.
async fn fake_server(behaviour: Behaviour) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            n += 1;
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let request = read_request(&mut stream).await;
                log.lock().unwrap().push(request);
                match behaviour {
                    Behaviour::Answer => {
                        let body = r#"{"result":"OK"}"#;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nupstash-sync-token: tok-{n}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(format!("{head}{body}").as_bytes()).await;
                    }
                    Behaviour::Drop => drop(stream),
                    Behaviour::Silent => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        drop(stream);
                    }
                }
            });
        }
    });
    (url, seen)
}

async fn read_request(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn sends_back_the_last_sync_token_and_asks_for_base64() {
    let (url, seen) = fake_server(Behaviour::Answer).await;
    let r = RedisRest::new(&url, "secret");
    r.query(&["SET", "k", "v"]).await.unwrap();
    assert_eq!(r.sync_token().as_deref(), Some("tok-1"));
    r.query(&["SET", "k", "w"]).await.unwrap();
    assert_eq!(r.sync_token().as_deref(), Some("tok-2"));
    let requests = seen.lock().unwrap().clone();
    let lower: Vec<String> = requests.iter().map(|r| r.to_ascii_lowercase()).collect();
    assert!(!lower[0].contains("upstash-sync-token"), "nothing to send yet: {}", requests[0]);
    assert!(lower[1].contains("upstash-sync-token: tok-1"), "{}", requests[1]);
    assert!(lower.iter().all(|r| r.contains("upstash-encoding: base64")));
    assert!(lower.iter().all(|r| r.contains("authorization: bearer secret")));
    assert!(requests[1].ends_with(r#"["SET","k","w"]"#), "{}", requests[1]);
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout_and_not_retried() {
    let (url, seen) = fake_server(Behaviour::Silent).await;
    let r = RedisRest::new(&url, "t").with_timeout(Duration::from_millis(200));
    let err = r.query(&["GET", "k"]).await.unwrap_err();
    assert_eq!(err, RedisError::Timeout);
    assert_eq!(r.round_trips(), 1);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn refused_connections_are_retried_for_any_command() {
    // Bind then drop: nothing listens on that port any more.
    let addr = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let r = RedisRest::new(format!("http://{addr}"), "t").with_retries(2);
    let err = r.query(&["INCR", "k"]).await.unwrap_err();
    assert!(matches!(err, RedisError::Network(_)), "{err:?}");
    assert_eq!(r.round_trips(), 3, "never sent, so retried even though INCR is not idempotent");
}

#[tokio::test]
async fn a_dropped_connection_is_retried_only_for_idempotent_commands() {
    let (url, seen) = fake_server(Behaviour::Drop).await;
    let r = RedisRest::new(&url, "t").with_retries(2);
    let err = r.query(&["INCR", "k"]).await.unwrap_err();
    assert!(matches!(err, RedisError::Network(_)), "{err:?}");
    assert_eq!(r.round_trips(), 1, "INCR may have run: not retried");
    assert_eq!(seen.lock().unwrap().len(), 1);

    let err = r.query(&["GET", "k"]).await.unwrap_err();
    assert!(matches!(err, RedisError::Network(_)), "{err:?}");
    assert_eq!(r.round_trips(), 1 + 3, "GET: first attempt and two retries");
}
