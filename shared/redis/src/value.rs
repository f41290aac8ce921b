//! Typed replies, decoded from the JSON the REST protocol answers with.

use base64::Engine as _;
use serde_json::Value as Json;

use crate::RedisError;

/// One Redis reply.
///
/// Strings are bytes: the client asks for `Upstash-Encoding: base64`, so binary and non-UTF-8
/// values survive the JSON trip. `Error` appears only inside `pipeline` / `multi_exec`
/// answers (one failed command among others); a failed single command is an `Err`.
#[derive(Debug, Clone, PartialEq)]
pub enum RedisValue {
    Nil,
    Int(i64),
    /// A number that is not an integer (RESP3 doubles; Redis 7 with RESP2 never sends one).
    Float(f64),
    Str(Vec<u8>),
    Array(Vec<RedisValue>),
    /// `{"error": …}` of one command in a pipeline or transaction.
    Error(String),
}

impl RedisValue {
    pub fn is_nil(&self) -> bool {
        matches!(self, RedisValue::Nil)
    }

    /// An integer reply, or a string holding one (`GET` of a counter answers `"5"`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            RedisValue::Int(i) => Some(*i),
            RedisValue::Str(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            RedisValue::Int(i) => Some(*i as f64),
            RedisValue::Float(f) => Some(*f),
            RedisValue::Str(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// The string, if it is one and valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            RedisValue::Str(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            RedisValue::Str(b) => Some(b),
            _ => None,
        }
    }

    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            RedisValue::Str(b) => Some(b),
            _ => None,
        }
    }

    /// The string, if it is one and valid UTF-8.
    pub fn into_string(self) -> Option<String> {
        String::from_utf8(self.into_bytes()?).ok()
    }

    /// The items of an array reply (`Nil` counts as empty, as Redis uses it for "no list").
    pub fn into_vec(self) -> Option<Vec<RedisValue>> {
        match self {
            RedisValue::Array(items) => Some(items),
            RedisValue::Nil => Some(Vec::new()),
            _ => None,
        }
    }

    /// `Error` becomes `Err(RedisError::Redis)`; anything else is `Ok`.
    pub fn into_result(self) -> Result<RedisValue, RedisError> {
        match self {
            RedisValue::Error(e) => Err(RedisError::Redis(e)),
            other => Ok(other),
        }
    }

    /// The plain JSON an un-encoded REST answer would have held: strings as (lossy) UTF-8.
    pub fn to_json(&self) -> Json {
        match self {
            RedisValue::Nil => Json::Null,
            RedisValue::Int(i) => Json::from(*i),
            RedisValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            RedisValue::Str(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
            RedisValue::Array(items) => Json::Array(items.iter().map(RedisValue::to_json).collect()),
            RedisValue::Error(e) => Json::String(e.clone()),
        }
    }

    /// Decodes one `result` of a base64-encoded answer. `top_level` is true for the whole
    /// result of a command, where the server leaves the status `OK` as the literal `"OK"`
    /// (never valid base64 output, whose length is a multiple of 4); nested strings are all
    /// encoded, `OK` included.
    pub(crate) fn from_base64_json(json: &Json, top_level: bool) -> Result<RedisValue, RedisError> {
        Ok(match json {
            Json::Null => RedisValue::Nil,
            Json::Bool(b) => RedisValue::Int(i64::from(*b)),
            Json::Number(n) => match n.as_i64() {
                Some(i) => RedisValue::Int(i),
                None => RedisValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) if top_level && s == "OK" => RedisValue::Str(b"OK".to_vec()),
            Json::String(s) => RedisValue::Str(
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|e| RedisError::Protocol(format!("result {s:?} is not base64: {e}")))?,
            ),
            Json::Array(items) => RedisValue::Array(
                items.iter().map(|item| RedisValue::from_base64_json(item, false)).collect::<Result<_, _>>()?,
            ),
            Json::Object(_) => return Err(RedisError::Protocol(format!("object in a result: {json}"))),
        })
    }

    /// One `{"result": …}` / `{"error": …}` entry of a pipeline or transaction answer.
    pub(crate) fn from_entry(entry: &Json) -> Result<RedisValue, RedisError> {
        if let Some(error) = entry.get("error") {
            return Ok(RedisValue::Error(error.as_str().map_or_else(|| error.to_string(), str::to_owned)));
        }
        match entry.get("result") {
            Some(result) => RedisValue::from_base64_json(result, true),
            None => Err(RedisError::Protocol(format!("entry without result or error: {entry}"))),
        }
    }
}

impl From<i64> for RedisValue {
    fn from(i: i64) -> Self {
        RedisValue::Int(i)
    }
}

impl From<&str> for RedisValue {
    fn from(s: &str) -> Self {
        RedisValue::Str(s.as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(j: Json) -> RedisValue {
        RedisValue::from_base64_json(&j, true).unwrap()
    }

    #[test]
    fn decodes_what_the_server_encodes() {
        assert_eq!(decode(json!("OK")), RedisValue::from("OK"));
        assert_eq!(decode(json!("UE9ORw==")), RedisValue::from("PONG"));
        assert_eq!(decode(json!("aMOp8J+YgA==")), RedisValue::from("hé😀"));
        assert_eq!(decode(json!("//4=")), RedisValue::Str(vec![0xff, 0xfe]));
        assert_eq!(decode(json!("")), RedisValue::from(""));
        assert_eq!(decode(json!(7)), RedisValue::Int(7));
        assert_eq!(decode(json!(1.5)), RedisValue::Float(1.5));
        assert_eq!(decode(json!(null)), RedisValue::Nil);
        // nested: every string is base64, "OK" included ("T0s=")
        assert_eq!(
            decode(json!(["YQ==", "T0s=", 2, null, [1]])),
            RedisValue::Array(vec![
                RedisValue::from("a"),
                RedisValue::from("OK"),
                RedisValue::Int(2),
                RedisValue::Nil,
                RedisValue::Array(vec![RedisValue::Int(1)]),
            ])
        );
    }

    #[test]
    fn nested_literal_ok_is_not_special() {
        assert!(RedisValue::from_base64_json(&json!(["OK"]), true).is_err());
        assert!(RedisValue::from_base64_json(&json!({"a": 1}), true).is_err());
    }

    #[test]
    fn entries() {
        assert_eq!(RedisValue::from_entry(&json!({"result": "OK"})).unwrap(), RedisValue::from("OK"));
        assert_eq!(RedisValue::from_entry(&json!({"result": "YQ=="})).unwrap(), RedisValue::from("a"));
        assert_eq!(
            RedisValue::from_entry(&json!({"error": "ERR boom"})).unwrap(),
            RedisValue::Error("ERR boom".into())
        );
        assert!(RedisValue::from_entry(&json!({})).is_err());
    }

    #[test]
    fn helpers() {
        assert_eq!(RedisValue::from("42").as_i64(), Some(42));
        assert_eq!(RedisValue::Int(-3).as_i64(), Some(-3));
        assert_eq!(RedisValue::Nil.as_i64(), None);
        assert_eq!(RedisValue::from("x").as_str(), Some("x"));
        assert_eq!(RedisValue::Str(vec![0xff]).as_str(), None);
        assert_eq!(RedisValue::Nil.into_vec(), Some(vec![]));
        assert_eq!(RedisValue::Error("E".into()).into_result(), Err(RedisError::Redis("E".into())));
        assert_eq!(
            RedisValue::Array(vec![RedisValue::Str(vec![b'a', 0xff]), RedisValue::Int(1)]).to_json(),
            json!(["a\u{fffd}", 1])
        );
    }
}
