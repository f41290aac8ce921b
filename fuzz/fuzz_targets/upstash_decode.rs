//! Upstash REST answers: arbitrary JSON decoded as `sba_redis` decodes it (base64-encoded
//! strings, `OK` left plain at the top level, numbers, nested arrays, per-command errors).
//!
//! The decoding (`value.rs`: `RedisValue::from_base64_json`, `from_entry`) is private to
//! sba-redis and only reachable through HTTP, so its source file is compiled into this target
//! as a module (`crate::RedisError` is sba-redis's own). The answer-level steps of
//! `client.rs` (`single`, `batch`) are mirrored here.
//!
//! Input: one flags byte, then the JSON body.
//!
//! Never panics. Whatever decodes re-encodes (strings back to base64) to the same value; the
//! public accessors never panic; `to_json` is always serialisable.
#![no_main]

#[allow(dead_code)]
#[path = "../../shared/redis/src/value.rs"]
mod value;

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use sba_redis::RedisError;
use serde_json::Value as Json;
use value::RedisValue;

/// What `RedisRest::single` returns for a 2xx answer.
fn single(answer: &Json) -> Result<RedisValue, RedisError> {
    if let Some(error) = answer.as_object().and_then(|o| o.get("error")) {
        return Err(RedisError::Redis(
            error
                .as_str()
                .map_or_else(|| error.to_string(), str::to_owned),
        ));
    }
    match answer.get("result") {
        Some(result) => RedisValue::from_base64_json(result, true),
        None => Err(RedisError::Protocol("no result".into())),
    }
}

/// What `RedisRest::batch` returns for a 2xx answer (any number of commands).
fn batch(answer: &Json) -> Result<Vec<RedisValue>, RedisError> {
    let entries = answer
        .as_array()
        .ok_or_else(|| RedisError::Protocol("expected an array".into()))?;
    entries.iter().map(RedisValue::from_entry).collect()
}

/// The base64-encoded JSON the server would have sent for `value` (`None`: not encodable,
/// e.g. a non-finite float or a per-command error).
fn encode(value: &RedisValue) -> Option<Json> {
    Some(match value {
        RedisValue::Nil => Json::Null,
        RedisValue::Int(i) => Json::from(*i),
        RedisValue::Float(f) => Json::Number(serde_json::Number::from_f64(*f)?),
        RedisValue::Str(bytes) => {
            Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        RedisValue::Array(items) => Json::Array(items.iter().map(encode).collect::<Option<_>>()?),
        RedisValue::Error(_) => return None,
    })
}

fn exercise(value: &RedisValue) {
    let _ = (
        value.is_nil(),
        value.as_i64(),
        value.as_f64(),
        value.as_str(),
        value.as_bytes(),
    );
    let _ = serde_json::to_string(&value.to_json()).expect("to_json is always serialisable");
    let _ = value.clone().into_string();
    let _ = value.clone().into_vec();
    let _ = value.clone().into_result();
    if let Some(json) = encode(value) {
        let again = RedisValue::from_base64_json(&json, false).expect("an encoded value decodes");
        assert_eq!(&again, value, "decode(encode(v)) != v for {json}");
    }
    if let RedisValue::Array(items) = value {
        items.iter().for_each(exercise);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let Ok(answer) = serde_json::from_slice::<Json>(body) else {
        return;
    };
    match flags % 3 {
        0 => {
            if let Ok(value) = single(&answer) {
                exercise(&value);
            }
        }
        1 => {
            if let Ok(values) = batch(&answer) {
                values.iter().for_each(exercise);
            }
        }
        _ => {
            if let Ok(value) = RedisValue::from_base64_json(&answer, flags & 0x80 != 0) {
                exercise(&value);
            }
        }
    }
});
