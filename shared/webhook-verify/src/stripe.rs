//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`.
//!
//! Signed bytes `"{t}.{raw body}"`, key = the whole secret string including `whsec_` as UTF-8
//! (not base64-decoded), HMAC-SHA256 in hex. Only `v1` counts: test mode adds a `v0` made with
//! a secret nobody has, and accepting it would be a downgrade hole.

use crate::common::{any_matches, check_freshness, decode_hex_tag, encode_hex, hmac_sha256, parse_unix_secs, Tag};
use crate::VerifyError;

/// Stripe's own default tolerance (stripe-node `DEFAULT_TOLERANCE`).
pub const STRIPE_DEFAULT_TOLERANCE_SECS: i64 = 300;

/// What a verified Stripe delivery tells beyond "genuine".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StripeVerified {
    /// The header's `t`, Unix seconds.
    pub timestamp: i64,
    /// Index in `secrets` of the first secret that matched: once the old secret of a rotation
    /// stops matching, it can be removed.
    pub secret_index: usize,
}

/// Verifies a Stripe webhook.
///
/// `secrets` are all currently valid endpoint secrets (rotation: any match passes, with any of
/// the header's `v1` signatures). The header's entries may come in any order with spaces around
/// them; unknown keys and `v0` are ignored; a second `t` is malformed. Beyond Stripe, a `t` more
/// than `tolerance_secs` in the future is rejected too ([`VerifyError::FromTheFuture`]).
/// Use [`STRIPE_DEFAULT_TOLERANCE_SECS`] unless there is a reason not to.
///
/// # Errors
/// [`VerifyError::BadSecret`] if `secrets` is empty or holds an empty secret (checked first);
/// then `Malformed` / `NoSignature` for the header, `Mismatch`, `TooOld` / `FromTheFuture`.
pub fn verify_stripe<S: AsRef<str>>(
    payload: &[u8],
    header: &str,
    secrets: &[S],
    tolerance_secs: i64,
    now_secs: i64,
) -> Result<StripeVerified, VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::BadSecret("no Stripe secret configured"));
    }
    if secrets.iter().any(|s| s.as_ref().trim().is_empty()) {
        return Err(VerifyError::BadSecret("empty Stripe secret"));
    }
    let parsed = parse_header(header)?;
    let timestamp = parsed.timestamp.to_string();
    let secret_index = secrets
        .iter()
        .map(|secret| signature(payload, secret.as_ref().trim(), &timestamp))
        .position(|expected| any_matches(&expected, &parsed.v1))
        .ok_or(VerifyError::Mismatch)?;
    check_freshness(parsed.timestamp, now_secs, tolerance_secs)?;
    Ok(StripeVerified { timestamp: parsed.timestamp, secret_index })
}

/// Test support: the `Stripe-Signature` header Stripe would send for `payload` at time `t`
/// (`t=<t>,v1=<hex>`), like stripe-node's `generateTestHeaderString`. A negative `t` gives a
/// header [`verify_stripe`] calls malformed.
pub fn sign_stripe(payload: &[u8], secret: &str, t: i64) -> String {
    let tag = signature(payload, secret.trim(), &t.to_string());
    format!("t={t},v1={}", encode_hex(&tag))
}

fn signature(payload: &[u8], secret: &str, timestamp: &str) -> Tag {
    hmac_sha256(secret.as_bytes(), &[timestamp.as_bytes(), b".", payload])
}

struct Header {
    timestamp: i64,
    v1: Vec<Tag>,
}

fn parse_header(header: &str) -> Result<Header, VerifyError> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for item in header.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        let (key, value) = item.split_once('=').ok_or(VerifyError::Malformed("an entry is not key=value"))?;
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return Err(VerifyError::Malformed("more than one t"));
                }
                let t = parse_unix_secs(value.trim()).ok_or(VerifyError::Malformed("t is not a Unix timestamp"))?;
                timestamp = Some(t);
            }
            "v1" => v1.push(decode_hex_tag(value.trim()).ok_or(VerifyError::Malformed("v1 is not 64 hex digits"))?),
            _ => {} // v0 and unknown schemes never count.
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed("no t"))?;
    if v1.is_empty() {
        return Err(VerifyError::NoSignature);
    }
    Ok(Header { timestamp, v1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `JSON.stringify({id:"evt_test_webhook",object:"event"},null,2)`
    const PAYLOAD: &[u8] = b"{\n  \"id\": \"evt_test_webhook\",\n  \"object\": \"event\"\n}";
    const SECRET: &str = "whsec_test_secret";
    const T: i64 = 1_700_000_000;
    const V1: &str = "4f1cd7feda9826e746b7d482c4badebb657398df1099e1046364f6196a230150";
    const WRONG: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    fn verify(header: &str, secrets: &[&str]) -> Result<StripeVerified, VerifyError> {
        verify_stripe(PAYLOAD, header, secrets, 300, T + 10)
    }

    #[test]
    fn reference_vector() {
        assert_eq!(sign_stripe(PAYLOAD, SECRET, T), format!("t={T},v1={V1}"));
        let ok = verify(&format!("t={T},v1={V1}"), &[SECRET]);
        assert_eq!(ok, Ok(StripeVerified { timestamp: T, secret_index: 0 }));
    }

    #[test]
    fn tampered_body_or_wrong_secret_is_a_mismatch() {
        let header = format!("t={T},v1={V1}");
        let mut body = PAYLOAD.to_vec();
        body[10] ^= 0x20;
        assert_eq!(verify_stripe(&body, &header, &[SECRET], 300, T), Err(VerifyError::Mismatch));
        assert_eq!(verify_stripe(&PAYLOAD[1..], &header, &[SECRET], 300, T), Err(VerifyError::Mismatch));
        assert_eq!(verify(&header, &["whsec_other"]), Err(VerifyError::Mismatch));
        assert_eq!(
            verify(&header, &["test_secret"]),
            Err(VerifyError::Mismatch),
            "the whsec_ prefix is part of the key"
        );
        assert_eq!(verify(&format!("t={},v1={V1}", T + 1), &[SECRET]), Err(VerifyError::Mismatch), "t is signed");
    }

    #[test]
    fn timestamp_window_both_ways() {
        let header = format!("t={T},v1={V1}");
        assert!(verify_stripe(PAYLOAD, &header, &[SECRET], 300, T + 300).is_ok());
        assert!(verify_stripe(PAYLOAD, &header, &[SECRET], 300, T - 300).is_ok());
        assert_eq!(
            verify_stripe(PAYLOAD, &header, &[SECRET], 300, T + 301),
            Err(VerifyError::TooOld { age_secs: 301, tolerance_secs: 300 })
        );
        assert_eq!(
            verify_stripe(PAYLOAD, &header, &[SECRET], 300, T - 301),
            Err(VerifyError::FromTheFuture { ahead_secs: 301, tolerance_secs: 300 })
        );
    }

    #[test]
    fn signature_is_checked_before_the_timestamp() {
        let forged = format!("t={T},v1={WRONG}");
        assert_eq!(verify_stripe(PAYLOAD, &forged, &[SECRET], 300, T + 10_000), Err(VerifyError::Mismatch));
    }

    #[test]
    fn only_v1_counts() {
        assert_eq!(
            verify(&format!("t={T},v0={V1}"), &[SECRET]),
            Err(VerifyError::NoSignature),
            "a genuine tag under v0"
        );
        assert_eq!(verify(&format!("t={T}"), &[SECRET]), Err(VerifyError::NoSignature));
        assert_eq!(verify(&format!("t={T},v2={V1}"), &[SECRET]), Err(VerifyError::NoSignature));
        assert_eq!(verify(&format!("t={T},v1={WRONG},v0={V1}"), &[SECRET]), Err(VerifyError::Mismatch));
    }

    #[test]
    fn any_of_several_v1_passes() {
        assert!(verify(&format!("t={T},v1={WRONG},v1={V1}"), &[SECRET]).is_ok());
        assert!(verify(&format!("t={T},v1={V1},v1={WRONG}"), &[SECRET]).is_ok());
        assert_eq!(verify(&format!("t={T},v1={WRONG},v1={WRONG}"), &[SECRET]), Err(VerifyError::Mismatch));
    }

    #[test]
    fn rotation_any_secret_in_any_order() {
        let header = format!("t={T},v1={V1}");
        assert_eq!(verify(&header, &[SECRET, "whsec_new"]).map(|v| v.secret_index), Ok(0));
        assert_eq!(verify(&header, &["whsec_new", SECRET]).map(|v| v.secret_index), Ok(1));
        // Stripe signs with both secrets during a rotation: each secret finds its own v1.
        let new_tag = sign_stripe(PAYLOAD, "whsec_new", T).split_once("v1=").unwrap().1.to_owned();
        let both = format!("t={T},v1={new_tag},v1={V1}");
        assert!(verify(&both, &[SECRET]).is_ok());
        assert!(verify(&both, &["whsec_new"]).is_ok());
        assert_eq!(verify(&both, &["whsec_a", "whsec_b"]), Err(VerifyError::Mismatch));
    }

    #[test]
    fn header_layout_is_tolerant() {
        for header in [
            format!("v1={V1},t={T}"),
            format!(" t = {T} , v1 = {V1} "),
            format!("t={T},v1={},v0={WRONG}", V1.to_uppercase()),
            format!("scheme=x,t={T},,v1={V1},"),
        ] {
            assert!(verify(&header, &[SECRET]).is_ok(), "{header:?}");
        }
    }

    #[test]
    fn malformed_headers() {
        let odd = &V1[1..];
        let non_hex = format!("z{}", &V1[1..]);
        for header in [
            String::new(),
            "   ".to_owned(),
            format!("v1={V1}"),
            format!("t=,v1={V1}"),
            format!("t=abc,v1={V1}"),
            format!("t=-1,v1={V1}"),
            format!("t=1.5,v1={V1}"),
            format!("t={T},t={T},v1={V1}"),
            format!("t={T},v1={odd}"),
            format!("t={T},v1={non_hex}"),
            format!("t={T},v1={}", &V1[2..]),
            format!("t={T},v1={WRONG},v1={odd}"),
            format!("t={T},v1"),
            "garbage".to_owned(),
        ] {
            assert!(matches!(verify(&header, &[SECRET]), Err(VerifyError::Malformed(_))), "{header:?}");
        }
    }

    #[test]
    fn unusable_secrets_are_our_fault() {
        let header = format!("t={T},v1={V1}");
        assert!(matches!(verify(&header, &[]), Err(VerifyError::BadSecret(_))));
        assert!(matches!(verify(&header, &[""]), Err(VerifyError::BadSecret(_))));
        assert!(matches!(verify(&header, &[SECRET, " "]), Err(VerifyError::BadSecret(_))));
        assert!(matches!(verify("", &[]), Err(VerifyError::BadSecret(_))), "checked before the header");
        assert!(verify(&header, &[" whsec_test_secret\n"]).is_ok(), "surrounding whitespace ignored");
        let owned = vec![SECRET.to_owned()];
        assert!(verify_stripe(PAYLOAD, &header, &owned, 300, T).is_ok(), "Vec<String> works too");
    }

    #[test]
    fn errors_never_echo_the_secret_or_body() {
        let cases = [verify(&format!("t={T},v1={WRONG}"), &[SECRET]), verify("t=x", &[SECRET])];
        for err in cases.iter().filter_map(|r| r.err()) {
            let text = err.to_string();
            assert!(!text.contains("test_secret") && !text.contains("evt_test"), "{text}");
        }
    }
}
