//! The pieces every scheme shares: HMAC-SHA256, constant-time comparison, hex, timestamps.

use crate::VerifyError;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Length of an HMAC-SHA256 tag in bytes.
pub(crate) const TAG_LEN: usize = 32;

pub(crate) type Tag = [u8; TAG_LEN];

/// HMAC-SHA256 over the concatenation of `parts` (no intermediate buffer).
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Tag {
    // HMAC accepts keys of any length, so this never fails; `Mac` has no infallible
    // constructor, hence the fallback to an all-zero tag that cannot match a real one by chance
    // any more than any other value.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return [0; TAG_LEN];
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// True if any candidate equals `expected`. Each comparison is constant-time; all candidates
/// are compared, so the time does not depend on which one matched.
pub(crate) fn any_matches(expected: &Tag, candidates: &[Tag]) -> bool {
    let mut hit = subtle::Choice::from(0);
    for candidate in candidates {
        hit |= expected.ct_eq(candidate);
    }
    hit.into()
}

/// Decodes exactly 64 hex digits (either case) into a tag.
pub(crate) fn decode_hex_tag(s: &str) -> Option<Tag> {
    let bytes = s.as_bytes();
    if bytes.len() != TAG_LEN * 2 {
        return None;
    }
    let mut tag = [0u8; TAG_LEN];
    for (out, pair) in tag.iter_mut().zip(bytes.chunks_exact(2)) {
        *out = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(tag)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Lowercase hex.
pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// A Unix timestamp in seconds as the senders write it: ASCII digits only (no sign, no
/// spaces inside), fitting in an `i64`.
pub(crate) fn parse_unix_secs(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Rejects a timestamp more than `tolerance_secs` away from `now_secs`, in either direction.
/// Negative tolerances count as 0. Never overflows, whatever the inputs.
pub(crate) fn check_freshness(timestamp: i64, now_secs: i64, tolerance_secs: i64) -> Result<(), VerifyError> {
    let tolerance = i128::from(tolerance_secs.max(0));
    let age = i128::from(now_secs) - i128::from(timestamp);
    if age > tolerance {
        Err(VerifyError::TooOld { age_secs: saturate(age), tolerance_secs: tolerance_secs.max(0) })
    } else if -age > tolerance {
        Err(VerifyError::FromTheFuture { ahead_secs: saturate(-age), tolerance_secs: tolerance_secs.max(0) })
    } else {
        Ok(())
    }
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_bad_input() {
        let tag: Tag = core::array::from_fn(|i| (i * 37) as u8);
        let hex = encode_hex(&tag);
        assert_eq!(decode_hex_tag(&hex), Some(tag));
        assert_eq!(decode_hex_tag(&hex.to_uppercase()), Some(tag));
        assert_eq!(decode_hex_tag(&hex[1..]), None, "odd length");
        assert_eq!(decode_hex_tag(&hex[2..]), None, "too short");
        assert_eq!(decode_hex_tag(&format!("{hex}00")), None, "too long");
        assert_eq!(decode_hex_tag(&format!("g{}", &hex[1..])), None, "non-hex");
        assert_eq!(decode_hex_tag(&format!("é{}", &hex[2..])), None, "multi-byte UTF-8");
    }

    #[test]
    fn timestamps_are_digits_only() {
        assert_eq!(parse_unix_secs("1700000000"), Some(1_700_000_000));
        assert_eq!(parse_unix_secs("0"), Some(0));
        for bad in ["", "-1", "+1", " 1", "1.5", "1e9", "abc", "99999999999999999999"] {
            assert_eq!(parse_unix_secs(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn freshness_window_is_inclusive_and_two_sided() {
        assert!(check_freshness(1000, 1300, 300).is_ok());
        assert!(check_freshness(1000, 700, 300).is_ok());
        assert!(matches!(check_freshness(1000, 1301, 300), Err(VerifyError::TooOld { age_secs: 301, .. })));
        assert!(matches!(check_freshness(1000, 699, 300), Err(VerifyError::FromTheFuture { ahead_secs: 301, .. })));
        assert!(check_freshness(5, 5, 0).is_ok());
        assert!(check_freshness(5, 6, 0).is_err(), "0 does not disable the check");
        assert!(check_freshness(5, 6, -10).is_err(), "negative tolerance counts as 0");
        assert!(matches!(check_freshness(0, i64::MAX, i64::MAX), Ok(())));
        assert!(matches!(
            check_freshness(i64::MAX, i64::MIN, 0),
            Err(VerifyError::FromTheFuture { ahead_secs: i64::MAX, .. })
        ));
        assert!(matches!(check_freshness(i64::MIN, i64::MAX, 0), Err(VerifyError::TooOld { age_secs: i64::MAX, .. })));
    }

    #[test]
    fn any_matches_needs_an_exact_tag() {
        let a = hmac_sha256(b"k", &[b"x"]);
        let mut b = a;
        b[31] ^= 1;
        assert!(any_matches(&a, &[b, a]));
        assert!(any_matches(&a, &[a, b]));
        assert!(!any_matches(&a, &[b]));
        assert!(!any_matches(&a, &[]));
    }

    #[test]
    fn hmac_split_parts_equal_one_buffer() {
        assert_eq!(hmac_sha256(b"key", &[b"1.", b"body"]), hmac_sha256(b"key", &[b"1.body"]));
        // RFC 4231 test case 2.
        assert_eq!(
            encode_hex(&hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
