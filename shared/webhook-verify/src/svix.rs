//! Svix / Standard Webhooks: `svix-id`, `svix-timestamp`, `svix-signature` (or the unbranded
//! `webhook-id`, `webhook-timestamp`, `webhook-signature`).
//!
//! Signed bytes `"{id}.{timestamp}.{raw body}"`; key = base64-decode(secret without `whsec_`);
//! signature = standard base64 of HMAC-SHA256; the header is a space-separated list of
//! `<version>,<signature>`, of which only `v1` counts (`v1a`, the asymmetric scheme, and any
//! other version is ignored). `svix-id` is stable across retries: it is the idempotency key.

use crate::common::{any_matches, check_freshness, hmac_sha256, parse_unix_secs, Tag};
use crate::VerifyError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The Standard Webhooks tolerance: 5 minutes, in both directions.
pub const SVIX_DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Verifies a Svix / Standard Webhooks delivery: any `v1` signature in `signature_header`
/// matching passes (several appear while the sender rotates secrets), then `timestamp` (the
/// `svix-timestamp` header, Unix seconds) must be within `tolerance_secs` of `now_secs`.
///
/// # Errors
/// `BadSecret` (checked first: empty, or not base64 after `whsec_`); `Malformed` for an empty
/// id, a non-numeric timestamp, an empty header, an entry without `,`, or a `v1` that is not
/// 32 bytes of standard base64; `NoSignature` if no entry is `v1`; `Mismatch`; `TooOld` /
/// `FromTheFuture`.
pub fn verify_svix(
    payload: &[u8],
    id: &str,
    timestamp: &str,
    signature_header: &str,
    secret: &str,
    tolerance_secs: i64,
    now_secs: i64,
) -> Result<(), VerifyError> {
    let key = key(secret)?;
    if id.is_empty() {
        return Err(VerifyError::Malformed("empty message id"));
    }
    let ts = parse_unix_secs(timestamp.trim()).ok_or(VerifyError::Malformed("timestamp is not Unix seconds"))?;
    let candidates = parse_header(signature_header)?;
    if !any_matches(&signature(&key, id, ts, payload), &candidates) {
        return Err(VerifyError::Mismatch);
    }
    check_freshness(ts, now_secs, tolerance_secs)
}

/// Test support: the `svix-signature` value (`v1,<base64>`) a Svix sender would attach.
///
/// # Errors
/// `BadSecret` for the secrets [`verify_svix`] refuses.
pub fn sign_svix(payload: &[u8], id: &str, timestamp: i64, secret: &str) -> Result<String, VerifyError> {
    Ok(format!("v1,{}", STANDARD.encode(signature(&key(secret)?, id, timestamp, payload))))
}

fn signature(key: &[u8], id: &str, timestamp: i64, payload: &[u8]) -> Tag {
    hmac_sha256(key, &[id.as_bytes(), b".", timestamp.to_string().as_bytes(), b".", payload])
}

fn key(secret: &str) -> Result<Vec<u8>, VerifyError> {
    let secret = secret.trim();
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD.decode(encoded).map_err(|_| VerifyError::BadSecret("Svix secret is not base64"))?;
    if key.is_empty() {
        return Err(VerifyError::BadSecret("empty Svix secret"));
    }
    Ok(key)
}

fn parse_header(header: &str) -> Result<Vec<Tag>, VerifyError> {
    if header.trim().is_empty() {
        return Err(VerifyError::Malformed("empty signature header"));
    }
    let mut v1 = Vec::new();
    for entry in header.split_ascii_whitespace() {
        let (version, encoded) =
            entry.split_once(',').ok_or(VerifyError::Malformed("an entry is not version,signature"))?;
        if version != "v1" {
            continue;
        }
        let bytes = STANDARD.decode(encoded).map_err(|_| VerifyError::Malformed("v1 is not base64"))?;
        let tag = Tag::try_from(bytes.as_slice()).map_err(|_| VerifyError::Malformed("v1 is not 32 bytes"))?;
        v1.push(tag);
    }
    if v1.is_empty() {
        return Err(VerifyError::NoSignature);
    }
    Ok(v1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: &str = "1649367553";
    const T: i64 = 1_649_367_553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    const OTHER: &str = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    fn verify(header: &str) -> Result<(), VerifyError> {
        verify_svix(BODY, ID, TS, header, SECRET, SVIX_DEFAULT_TOLERANCE_SECS, T + 5)
    }

    #[test]
    fn reference_vector() {
        assert_eq!(sign_svix(BODY, ID, T, SECRET).unwrap(), SIG);
        assert_eq!(verify(SIG), Ok(()));
        let bare = SECRET.strip_prefix("whsec_").unwrap();
        assert_eq!(verify_svix(BODY, ID, TS, SIG, bare, 300, T), Ok(()), "the prefix is optional");
    }

    #[test]
    fn tampering_is_a_mismatch() {
        assert_eq!(verify_svix(b"{}", ID, TS, SIG, SECRET, 300, T), Err(VerifyError::Mismatch));
        assert_eq!(verify_svix(BODY, "msg_other", TS, SIG, SECRET, 300, T), Err(VerifyError::Mismatch), "id is signed");
        assert_eq!(
            verify_svix(BODY, ID, "1649367554", SIG, SECRET, 300, T),
            Err(VerifyError::Mismatch),
            "ts is signed"
        );
        assert_eq!(
            verify_svix(BODY, ID, TS, SIG, "whsec_AAAAAAAAAAAAAAAAAAAAAAAA", 300, T),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(verify(OTHER), Err(VerifyError::Mismatch));
    }

    #[test]
    fn any_of_several_signatures_passes() {
        assert_eq!(verify(&format!("{OTHER} {SIG}")), Ok(()));
        assert_eq!(verify(&format!("{SIG} {OTHER}")), Ok(()));
        assert_eq!(verify(&format!("  v1a,ZWQyNTUxOQ==   {SIG}\t")), Ok(()), "other versions and extra spaces ignored");
        assert_eq!(verify(&format!("{OTHER} {OTHER}")), Err(VerifyError::Mismatch));
    }

    #[test]
    fn other_versions_do_not_count() {
        let tag = SIG.strip_prefix("v1,").unwrap();
        assert_eq!(verify(&format!("v2,{tag}")), Err(VerifyError::NoSignature));
        assert_eq!(verify(&format!("v1a,{tag}")), Err(VerifyError::NoSignature));
        assert_eq!(verify(&format!("V1,{tag}")), Err(VerifyError::NoSignature));
    }

    #[test]
    fn malformed_headers_and_fields() {
        let tag = SIG.strip_prefix("v1,").unwrap();
        for header in [
            "".to_owned(),
            "  ".to_owned(),
            tag.to_owned(),
            format!("v1,{}", tag.trim_end_matches('=')),
            format!("v1,{}", &tag[4..]),
            "v1,not*base64!".to_owned(),
            "v1,".to_owned(),
            format!("{SIG} v1,%%%%"),
        ] {
            assert!(matches!(verify(&header), Err(VerifyError::Malformed(_))), "{header:?}");
        }
        for ts in ["", "abc", "-1649367553", "1649367553.0"] {
            assert!(matches!(verify_svix(BODY, ID, ts, SIG, SECRET, 300, T), Err(VerifyError::Malformed(_))), "{ts:?}");
        }
        assert!(matches!(verify_svix(BODY, "", TS, SIG, SECRET, 300, T), Err(VerifyError::Malformed(_))));
    }

    #[test]
    fn tolerance_both_ways() {
        let at = |now| verify_svix(BODY, ID, TS, SIG, SECRET, 300, now);
        assert_eq!(at(T + 300), Ok(()));
        assert_eq!(at(T - 300), Ok(()));
        assert_eq!(at(T + 301), Err(VerifyError::TooOld { age_secs: 301, tolerance_secs: 300 }));
        assert_eq!(at(T - 301), Err(VerifyError::FromTheFuture { ahead_secs: 301, tolerance_secs: 300 }));
        assert_eq!(
            verify_svix(b"x", ID, TS, SIG, SECRET, 300, T + 10_000),
            Err(VerifyError::Mismatch),
            "signature first"
        );
    }

    #[test]
    fn unusable_secrets_are_our_fault() {
        for secret in ["", "whsec_", "whsec_not base64!", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7o"] {
            assert!(
                matches!(verify_svix(BODY, ID, TS, SIG, secret, 300, T), Err(VerifyError::BadSecret(_))),
                "{secret:?}"
            );
            assert!(sign_svix(BODY, ID, T, secret).is_err());
        }
        assert_eq!(verify_svix(BODY, ID, TS, SIG, &format!("{SECRET}\n"), 300, T), Ok(()));
    }
}
