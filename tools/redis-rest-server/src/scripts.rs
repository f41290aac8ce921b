//! Lua scripts written for Upstash, made runnable on stock Redis 7.0.
//!
//! Upstash understands `#!lua flags=allow-key-locking`; Redis 7.0 rejects the flag
//! (`ERR Unexpected flag in script shebang`). So EVAL and SCRIPT LOAD send the script without
//! that one flag, and the SHA-1 of the original text (the one clients compute) is remembered
//! as an alias of the rewritten script's SHA-1 for EVALSHA and SCRIPT EXISTS. A SHA never seen
//! is passed through untouched, so Redis answers its own NOSCRIPT.

use std::collections::HashMap;
use std::sync::Mutex;

use redis::Value;
use sha1::{Digest, Sha1};

use crate::args::Command;

const FLAG: &[u8] = b"allow-key-locking";

/// The script without `allow-key-locking` in its shebang, or `None` if there is nothing to do.
/// Other flags and every other byte are kept; an emptied `flags=` is dropped (`#!lua` stays,
/// which keeps the non-compat script mode and the line numbers of the original).
pub fn strip_key_locking(script: &[u8]) -> Option<Vec<u8>> {
    if !script.starts_with(b"#!") {
        return None;
    }
    let line_end = script.iter().position(|&b| b == b'\n').unwrap_or(script.len());
    let (line, rest) = script.split_at(line_end);
    let (line, cr): (&[u8], &[u8]) = match line.strip_suffix(b"\r") {
        Some(l) => (l, b"\r"),
        None => (line, b""),
    };
    let mut changed = false;
    let mut tokens: Vec<Vec<u8>> = Vec::new();
    for (i, token) in line.split(|b| *b == b' ' || *b == b'\t').filter(|t| !t.is_empty()).enumerate() {
        match token.strip_prefix(b"flags=") {
            Some(list) if i > 0 => {
                let flags: Vec<&[u8]> = list.split(|b| *b == b',').collect();
                let kept: Vec<&[u8]> = flags.iter().copied().filter(|f| *f != FLAG).collect();
                if kept.len() == flags.len() {
                    tokens.push(token.to_vec());
                } else {
                    changed = true;
                    if !kept.is_empty() {
                        tokens.push([b"flags=".as_slice(), &kept.join(&b","[..])].concat());
                    }
                }
            }
            _ => tokens.push(token.to_vec()),
        }
    }
    if !changed {
        return None;
    }
    let mut out = tokens.join(&b" "[..]);
    out.extend_from_slice(cr);
    out.extend_from_slice(rest);
    Some(out)
}

/// Lower-case hex SHA-1, as Redis names scripts.
pub fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What to do to the reply once Redis has answered.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    Nothing,
    /// SCRIPT LOAD of a rewritten script: answer the original script's SHA-1.
    AnswerSha(String),
}

impl After {
    pub fn apply(&self, reply: Value) -> Value {
        match (self, reply) {
            (After::AnswerSha(sha), Value::BulkString(_)) => Value::BulkString(sha.as_bytes().to_vec()),
            (_, reply) => reply,
        }
    }
}

/// Original SHA-1 → SHA-1 of the script Redis actually holds.
#[derive(Default)]
pub struct Scripts {
    aliases: Mutex<HashMap<String, String>>,
}

impl Scripts {
    /// Rewrites a command's script or SHA arguments as described in the module doc.
    pub fn prepare(&self, mut cmd: Command) -> (Command, After) {
        let name = cmd.first().map(|n| n.to_ascii_uppercase()).unwrap_or_default();
        match name.as_slice() {
            b"EVAL" | b"EVAL_RO" => {
                if let Some(script) = cmd.get_mut(1) {
                    self.rewrite(script);
                }
                (cmd, After::Nothing)
            }
            b"EVALSHA" | b"EVALSHA_RO" => {
                if let Some(sha) = cmd.get_mut(1) {
                    self.translate(sha);
                }
                (cmd, After::Nothing)
            }
            b"SCRIPT" => {
                let sub = cmd.get(1).map(|s| s.to_ascii_uppercase()).unwrap_or_default();
                match sub.as_slice() {
                    b"LOAD" if cmd.len() == 3 => {
                        let after = match cmd.get_mut(2) {
                            Some(script) => self.rewrite(script).map_or(After::Nothing, After::AnswerSha),
                            None => After::Nothing,
                        };
                        (cmd, after)
                    }
                    b"EXISTS" => {
                        for sha in cmd.iter_mut().skip(2) {
                            self.translate(sha);
                        }
                        (cmd, After::Nothing)
                    }
                    _ => (cmd, After::Nothing),
                }
            }
            _ => (cmd, After::Nothing),
        }
    }

    /// Rewrites the script in place if needed; returns the original SHA-1 when it did.
    fn rewrite(&self, script: &mut Vec<u8>) -> Option<String> {
        let rewritten = strip_key_locking(script)?;
        let original = sha1_hex(script);
        self.aliases
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(original.clone(), sha1_hex(&rewritten));
        *script = rewritten;
        Some(original)
    }

    fn translate(&self, sha: &mut Vec<u8>) {
        let key = String::from_utf8_lossy(sha).to_ascii_lowercase();
        let aliases = self.aliases.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(actual) = aliases.get(&key) {
            *sha = actual.as_bytes().to_vec();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(s: &str) -> Option<String> {
        strip_key_locking(s.as_bytes()).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn strips_only_that_flag() {
        assert_eq!(strip("#!lua flags=allow-key-locking\nreturn 1").as_deref(), Some("#!lua\nreturn 1"));
        assert_eq!(
            strip("#!lua flags=no-writes,allow-key-locking\nreturn 1").as_deref(),
            Some("#!lua flags=no-writes\nreturn 1")
        );
        assert_eq!(
            strip("#!lua flags=allow-key-locking,no-writes,allow-oom\r\nreturn 1\n").as_deref(),
            Some("#!lua flags=no-writes,allow-oom\r\nreturn 1\n")
        );
        assert_eq!(strip("#!lua  flags=allow-key-locking").as_deref(), Some("#!lua"));
    }

    #[test]
    fn leaves_other_scripts_alone() {
        assert_eq!(strip("return 1"), None);
        assert_eq!(strip("#!lua\nreturn 1"), None);
        assert_eq!(strip("#!lua flags=no-writes\nreturn 1"), None);
        assert_eq!(strip("-- flags=allow-key-locking\nreturn 1"), None);
        assert_eq!(strip("#!lua\n-- flags=allow-key-locking\nreturn 1"), None);
        assert_eq!(strip(""), None);
    }

    #[test]
    fn sha1_matches_redis() {
        // SCRIPT LOAD "return 1" on redis-server 7.0
        assert_eq!(sha1_hex(b"return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }

    fn cmd(parts: &[&str]) -> Command {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn eval_then_evalsha_by_original_sha() {
        let scripts = Scripts::default();
        let original = "#!lua flags=allow-key-locking\nreturn 1";
        let (sent, after) = scripts.prepare(cmd(&["eval", original, "0"]));
        assert_eq!(sent, cmd(&["eval", "#!lua\nreturn 1", "0"]));
        assert_eq!(after, After::Nothing);
        let rewritten_sha = sha1_hex(b"#!lua\nreturn 1");
        let (sent, _) = scripts.prepare(cmd(&["EVALSHA", &sha1_hex(original.as_bytes()).to_uppercase(), "0"]));
        assert_eq!(sent, cmd(&["EVALSHA", &rewritten_sha, "0"]));
        let unknown = sha1_hex(b"never");
        let (sent, _) = scripts.prepare(cmd(&["evalsha_ro", &unknown, "0"]));
        assert_eq!(sent, cmd(&["evalsha_ro", &unknown, "0"]));
        let (sent, _) = scripts.prepare(cmd(&["script", "exists", &sha1_hex(original.as_bytes()), &unknown]));
        assert_eq!(sent, cmd(&["script", "exists", &rewritten_sha, &unknown]));
    }

    #[test]
    fn script_load_answers_original_sha() {
        let scripts = Scripts::default();
        let original = "#!lua flags=allow-key-locking,no-writes\nreturn 2";
        let (sent, after) = scripts.prepare(cmd(&["SCRIPT", "LOAD", original]));
        assert_eq!(sent, cmd(&["SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn 2"]));
        let want = sha1_hex(original.as_bytes());
        assert_eq!(after, After::AnswerSha(want.clone()));
        let redis_said = Value::BulkString(sha1_hex(&sent[2]).into_bytes());
        assert_eq!(after.apply(redis_said), Value::BulkString(want.into_bytes()));
        assert_eq!(after.apply(Value::Nil), Value::Nil);
        let (_, after) = scripts.prepare(cmd(&["SCRIPT", "LOAD", "return 2"]));
        assert_eq!(after, After::Nothing);
    }
}
