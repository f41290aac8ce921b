//! Command arguments from JSON: strings as their bytes, numbers and booleans as their text, and
//! anything else (null, objects, arrays) as compact JSON text, keys in the order they were sent.
//!
//! Numbers are written the way JavaScript's `String(n)` writes them (`1e+21`, `0.1`, `100`), so a
//! command carries the same text whether it came from the JS client or was typed by hand.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// One command: its arguments as raw bytes, the command name first.
pub type Command = Vec<Vec<u8>>;

/// One argument, deserialised from any JSON value.
#[derive(Debug, PartialEq, Eq)]
pub struct Arg(pub Vec<u8>);

/// `["SET","k","v"]` → one command. Not an array, or an empty one, is an error.
pub fn parse_command(body: &[u8]) -> Result<Command, String> {
    let args: Vec<Arg> = serde_json::from_slice(body).map_err(|e| format!("ERR invalid command JSON: {e}"))?;
    into_command(args)
}

/// `[["SET","k","v"],["GET","k"]]` → commands. Not an array of non-empty arrays is an error.
pub fn parse_commands(body: &[u8]) -> Result<Vec<Command>, String> {
    let commands: Vec<Vec<Arg>> =
        serde_json::from_slice(body).map_err(|e| format!("ERR invalid pipeline JSON: {e}"))?;
    commands.into_iter().map(into_command).collect()
}

fn into_command(args: Vec<Arg>) -> Result<Command, String> {
    if args.is_empty() {
        return Err("ERR empty command".to_owned());
    }
    Ok(args.into_iter().map(|a| a.0).collect())
}

impl<'de> Deserialize<'de> for Arg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ArgVisitor)
    }
}

struct ArgVisitor;

impl<'de> Visitor<'de> for ArgVisitor {
    type Value = Arg;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Arg, E> {
        Ok(Arg(v.as_bytes().to_vec()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Arg, E> {
        Ok(Arg(v.into_bytes()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Arg, E> {
        Ok(Arg(v.to_string().into_bytes()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Arg, E> {
        Ok(Arg(v.to_string().into_bytes()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Arg, E> {
        Ok(Arg(v.to_string().into_bytes()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Arg, E> {
        Ok(Arg(js_number(v).into_bytes()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Arg, E> {
        Ok(Arg(b"null".to_vec()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Arg, A::Error> {
        JsonTextVisitor.visit_seq(seq).map(|t| Arg(t.into_bytes()))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Arg, A::Error> {
        JsonTextVisitor.visit_map(map).map(|t| Arg(t.into_bytes()))
    }
}

/// Any JSON value re-written as compact JSON text (what `JSON.stringify` gives), order kept.
struct JsonText(String);

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonTextVisitor).map(JsonText)
    }
}

struct JsonTextVisitor;

impl<'de> Visitor<'de> for JsonTextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        serde_json::to_string(v).map_err(E::custom)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(js_number(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok("null".to_owned())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
        let mut out = String::from("[");
        let mut first = true;
        while let Some(JsonText(item)) = seq.next_element()? {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&item);
        }
        out.push(']');
        Ok(out)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        let mut out = String::from("{");
        let mut first = true;
        while let Some(key) = map.next_key::<String>()? {
            let JsonText(value) = map.next_value()?;
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&serde_json::to_string(&key).map_err(de::Error::custom)?);
            out.push(':');
            out.push_str(&value);
        }
        out.push('}');
        Ok(out)
    }
}

/// A finite number as ECMAScript's Number::toString writes it (shortest round-trip digits;
/// plain notation for exponents −7 < e < 21, else `d.ddde±x`).
pub fn js_number(v: f64) -> String {
    if !v.is_finite() {
        return "null".to_owned(); // what JSON.stringify does; JSON input cannot hold these anyway
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1; // position of the decimal point relative to the digits
    let mut out = String::new();
    if v < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        out.push_str(&(n - 1).abs().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(cmd: &Command) -> Vec<String> {
        cmd.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    }

    #[test]
    fn strings_numbers_booleans_as_text() {
        let cmd = parse_command(br#"["SET","foo","bar","EX",100]"#).unwrap();
        assert_eq!(strs(&cmd), ["SET", "foo", "bar", "EX", "100"]);
        let cmd = parse_command(br#"["x",true,false,-5,1.5,0.1,null,"h\u00e9\ud83d\ude00"]"#).unwrap();
        assert_eq!(strs(&cmd), ["x", "true", "false", "-5", "1.5", "0.1", "null", "hé😀"]);
    }

    #[test]
    fn objects_and_arrays_as_compact_json_in_order() {
        let cmd = parse_command(br#"["SET","k",{ "z" : 1, "a" : [1, "two", {"b":null}], "q":"\"\n"}]"#).unwrap();
        assert_eq!(strs(&cmd)[2], r#"{"z":1,"a":[1,"two",{"b":null}],"q":"\"\n"}"#);
    }

    #[test]
    fn numbers_like_javascript() {
        let cases = [
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123.456, "123.456"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (-2.5e-10, "-2.5e-10"),
            (1.0, "1"),
            (-0.0, "0"),
            (1.2345678901234567e19, "12345678901234567000"),
            (1.5e300, "1.5e+300"),
        ];
        for (v, want) in cases {
            assert_eq!(js_number(v), want, "{v}");
        }
        let cmd = parse_command(b"[\"x\",1e21,1.0,18446744073709551615,-9223372036854775808]").unwrap();
        assert_eq!(strs(&cmd), ["x", "1e+21", "1", "18446744073709551615", "-9223372036854775808"]);
    }

    #[test]
    fn rejects_bad_shapes() {
        assert!(parse_command(b"{\"a\":1}").is_err());
        assert!(parse_command(b"[]").is_err());
        assert!(parse_command(b"[\"GET\"").is_err());
        assert!(parse_command(b"\"GET\"").is_err());
        assert!(parse_commands(b"[[\"GET\",\"a\"],\"GET\"]").is_err());
        assert!(parse_commands(b"[[\"GET\",\"a\"],[]]").is_err());
        let cmds = parse_commands(b"[[\"GET\",\"a\"],[\"PING\"]]").unwrap();
        assert_eq!(cmds.len(), 2);
        assert!(parse_commands(b"[]").unwrap().is_empty());
    }
}
