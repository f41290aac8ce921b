//! Redis replies → the JSON values Upstash answers with.
//!
//! Strings become JSON strings (invalid UTF-8 → U+FFFD) or, with `Upstash-Encoding: base64`,
//! standard padded base64 — except the top-level simple string `OK`, which stays `"OK"`.
//! Numbers and nil pass through; arrays (and sets, and maps flattened to `[k, v, …]`) recurse.
//!
//! Why nested `OK` is encoded: @upstash/redis 1.39 special-cases `"OK"` only where it decodes a
//! whole result; inside arrays it base64-decodes every string, and `atob("OK")` is `"8"`. It also
//! turns any JSON object into `null` and booleans into `undefined`, hence flat maps and 1/0.

use base64::Engine as _;
use redis::{ServerError, Value};
use serde_json::Value as Json;

/// How strings in results are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Plain,
    Base64,
}

/// One answer: `{"result": …}` or `{"error": "…"}`.
#[derive(Debug, PartialEq)]
pub enum Entry {
    Result(Json),
    Error(String),
}

impl Entry {
    pub fn to_json(&self) -> Json {
        match self {
            Entry::Result(r) => serde_json::json!({ "result": r }),
            Entry::Error(e) => serde_json::json!({ "error": e }),
        }
    }
}

/// A whole reply: a top-level Redis error becomes `Entry::Error`, never encoded.
pub fn entry(value: &Value, enc: Encoding) -> Entry {
    match value {
        Value::ServerError(e) => Entry::Error(server_error_text(e)),
        Value::Okay => Entry::Result(Json::String("OK".to_owned())),
        Value::SimpleString(s) if s == "OK" => Entry::Result(Json::String("OK".to_owned())),
        other => Entry::Result(to_json(other, enc)),
    }
}

/// The error line as Redis sent it: `CODE detail`.
pub fn server_error_text(e: &ServerError) -> String {
    match e.details() {
        Some(d) => format!("{} {}", e.code(), d),
        None => e.code().to_owned(),
    }
}

/// A value nested anywhere (all strings encoded under base64, `OK` included).
pub fn to_json(value: &Value, enc: Encoding) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Int(i) => Json::from(*i),
        Value::BulkString(b) => string(b, enc),
        Value::SimpleString(s) => string(s.as_bytes(), enc),
        Value::Okay => string(b"OK", enc),
        Value::Array(items) | Value::Set(items) => Json::Array(items.iter().map(|v| to_json(v, enc)).collect()),
        Value::Map(pairs) => Json::Array(pairs.iter().flat_map(|(k, v)| [to_json(k, enc), to_json(v, enc)]).collect()),
        Value::Attribute { data, .. } => to_json(data, enc),
        Value::Double(d) => match serde_json::Number::from_f64(*d) {
            Some(n) => Json::Number(n),
            None => string(double_text(*d).as_bytes(), enc),
        },
        Value::Boolean(b) => Json::from(i64::from(*b)),
        Value::VerbatimString { text, .. } => string(text.as_bytes(), enc),
        Value::BigNumber(n) => string(n, enc),
        Value::Push { data, .. } => Json::Array(data.iter().map(|v| to_json(v, enc)).collect()),
        Value::ServerError(e) => string(server_error_text(e).as_bytes(), enc),
        // `Value` is non-exhaustive upstream; anything new is shown as text rather than lost.
        #[allow(unreachable_patterns)]
        other => string(format!("{other:?}").as_bytes(), enc),
    }
}

fn string(bytes: &[u8], enc: Encoding) -> Json {
    Json::String(match enc {
        Encoding::Plain => String::from_utf8_lossy(bytes).into_owned(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

fn double_text(d: f64) -> &'static str {
    if d.is_nan() {
        "nan"
    } else if d > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn plain_values() {
        assert_eq!(entry(&Value::Okay, Encoding::Plain), Entry::Result(json!("OK")));
        assert_eq!(entry(&bulk("bar"), Encoding::Plain), Entry::Result(json!("bar")));
        assert_eq!(entry(&Value::Int(-3), Encoding::Plain), Entry::Result(json!(-3)));
        assert_eq!(entry(&Value::Nil, Encoding::Plain), Entry::Result(json!(null)));
        let bad = Value::BulkString(vec![b'a', 0xff, b'b']);
        assert_eq!(entry(&bad, Encoding::Plain), Entry::Result(json!("a\u{fffd}b")));
        let arr = Value::Array(vec![bulk("a"), Value::Nil, Value::Array(vec![Value::Int(1)])]);
        assert_eq!(to_json(&arr, Encoding::Plain), json!(["a", null, [1]]));
        assert_eq!(to_json(&Value::SimpleString("PONG".into()), Encoding::Plain), json!("PONG"));
    }

    #[test]
    fn base64_values() {
        let b = Encoding::Base64;
        assert_eq!(entry(&Value::Okay, b), Entry::Result(json!("OK")));
        assert_eq!(entry(&Value::SimpleString("OK".into()), b), Entry::Result(json!("OK")));
        assert_eq!(entry(&Value::SimpleString("PONG".into()), b), Entry::Result(json!("UE9ORw==")));
        assert_eq!(entry(&bulk("OK"), b), Entry::Result(json!("T0s=")));
        assert_eq!(entry(&bulk(""), b), Entry::Result(json!("")));
        assert_eq!(entry(&bulk("hé😀"), b), Entry::Result(json!("aMOp8J+YgA==")));
        assert_eq!(entry(&Value::Int(7), b), Entry::Result(json!(7)));
        assert_eq!(entry(&Value::Nil, b), Entry::Result(json!(null)));
        let bad = Value::BulkString(vec![0xff, 0xfe]);
        assert_eq!(entry(&bad, b), Entry::Result(json!("//4=")));
        let arr = Value::Array(vec![bulk("a"), Value::Okay, Value::Int(2), Value::Nil]);
        assert_eq!(to_json(&arr, b), json!(["YQ==", "T0s=", 2, null]));
    }

    /// A reply parsed from the bytes Redis would send.
    fn resp(bytes: &[u8]) -> Value {
        match redis::parse_redis_value(bytes) {
            Ok(v) => v,
            Err(e) => panic!("test RESP {bytes:?}: {e}"),
        }
    }

    #[test]
    fn errors_are_never_encoded() {
        let v = resp(b"-NOSCRIPT No matching script. Please use EVAL.\r\n");
        assert_eq!(entry(&v, Encoding::Base64), Entry::Error("NOSCRIPT No matching script. Please use EVAL.".into()));
        let v = resp(b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
        assert_eq!(
            entry(&v, Encoding::Plain),
            Entry::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
        );
        // nested (EXEC / script tables): a string like any other
        let v = resp(b"*2\r\n:1\r\n-ERR boom\r\n");
        assert_eq!(to_json(&v, Encoding::Plain), json!([1, "ERR boom"]));
    }

    #[test]
    fn parsed_ok_and_status() {
        assert_eq!(entry(&resp(b"+OK\r\n"), Encoding::Base64), Entry::Result(json!("OK")));
        assert_eq!(entry(&resp(b"+QUEUED\r\n"), Encoding::Base64), Entry::Result(json!("UVVFVUVE")));
        assert_eq!(entry(&resp(b"$-1\r\n"), Encoding::Base64), Entry::Result(json!(null)));
        assert_eq!(entry(&resp(b"*-1\r\n"), Encoding::Base64), Entry::Result(json!(null)));
    }

    #[test]
    fn resp3_shapes() {
        let map = Value::Map(vec![(bulk("f"), bulk("v")), (bulk("n"), Value::Int(1))]);
        assert_eq!(to_json(&map, Encoding::Plain), json!(["f", "v", "n", 1]));
        assert_eq!(to_json(&Value::Double(1.5), Encoding::Plain), json!(1.5));
        assert_eq!(to_json(&Value::Double(f64::INFINITY), Encoding::Plain), json!("inf"));
        assert_eq!(to_json(&Value::Boolean(true), Encoding::Plain), json!(1));
        assert_eq!(to_json(&Value::Set(vec![bulk("x")]), Encoding::Base64), json!(["eA=="]));
    }

    #[test]
    fn entry_json_shapes() {
        assert_eq!(Entry::Result(json!(1)).to_json(), json!({"result": 1}));
        assert_eq!(Entry::Error("ERR x".into()).to_json(), json!({"error": "ERR x"}));
    }
}
