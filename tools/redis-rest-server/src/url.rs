//! Percent-decoding of path segments and query values (`%XX` only; `+` stays `+`, as in paths).

/// `%XX` → that byte; a `%` not followed by two hex digits is kept as it is.
pub fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            if let (Some(h), Some(l)) = (input.get(i + 1).and_then(|b| hex(*b)), input.get(i + 2).and_then(|b| hex(*b)))
            {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `/set/foo/bar%20baz` → `["set", "foo", "bar baz"]`. Empty segments are kept (an empty value
/// is a value), except the one an empty path or a single trailing slash makes.
pub fn path_command(path: &str) -> Vec<Vec<u8>> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed.split('/').map(|s| percent_decode(s.as_bytes())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(percent_decode(b"a%20b%2Fc%e2%9c%93"), "a b/c✓".as_bytes());
        assert_eq!(percent_decode(b"100%"), b"100%");
        assert_eq!(percent_decode(b"%zz%4"), b"%zz%4");
        assert_eq!(percent_decode(b"a+b"), b"a+b");
        assert_eq!(percent_decode(b"%ff"), [0xff]);
    }

    #[test]
    fn path_segments() {
        let s = |p: &str| -> Vec<String> {
            path_command(p).iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
        };
        assert_eq!(s("/set/foo/bar"), ["set", "foo", "bar"]);
        assert_eq!(s("/get/a%2Fb/"), ["get", "a/b"]);
        assert_eq!(s("/set/k//"), ["set", "k", ""]);
        assert!(s("/").is_empty());
        assert!(s("").is_empty());
    }
}
