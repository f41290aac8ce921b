//! BaseHub workflows: `x-basehub-webhook-signature` = hex HMAC-SHA256 of the raw body.
//!
//! The secret is delivered as `bshb_workflow_<id>:<secret>`; the key is the part after the
//! FIRST `:`, as UTF-8. A secret without any `:` is taken whole (someone stored only the
//! secret part), unless it starts with `bshb_`: then the `:<secret>` part was lost when it was
//! copied, and it is [`VerifyError::BadSecret`] rather than a wall of "mismatch" blamed on
//! BaseHub. There is no timestamp and no message id: dedupe replays yourself, e.g. on
//! [`body_sha256_hex`] with a TTL. (Legacy BaseHub projects deliver through Svix instead.)

use crate::common::{decode_hex_tag, encode_hex, hmac_sha256};
use crate::VerifyError;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Verifies a BaseHub webhook. Hex in either case is accepted (BaseHub sends lowercase);
/// whitespace around the header value is ignored.
///
/// # Errors
/// `BadSecret` (checked first), `Malformed` if the header is not 64 hex digits, `Mismatch`.
pub fn verify_basehub(payload: &[u8], signature_header: &str, secret: &str) -> Result<(), VerifyError> {
    let key = key(secret)?;
    let received = signature_header.trim();
    if received.is_empty() {
        return Err(VerifyError::Malformed("empty signature"));
    }
    let received = decode_hex_tag(received).ok_or(VerifyError::Malformed("signature is not 64 hex digits"))?;
    let expected = hmac_sha256(key.as_bytes(), &[payload]);
    if bool::from(expected.ct_eq(&received)) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Test support: the `x-basehub-webhook-signature` value BaseHub would send (lowercase hex).
///
/// # Errors
/// `BadSecret` for the secrets [`verify_basehub`] refuses.
pub fn sign_basehub(payload: &[u8], secret: &str) -> Result<String, VerifyError> {
    Ok(encode_hex(&hmac_sha256(key(secret)?.as_bytes(), &[payload])))
}

/// Lowercase hex SHA-256 of the raw body: a replay-dedupe key for a scheme without message ids.
pub fn body_sha256_hex(payload: &[u8]) -> String {
    encode_hex(&Sha256::digest(payload))
}

fn key(secret: &str) -> Result<&str, VerifyError> {
    let secret = secret.trim();
    let key = match secret.split_once(':') {
        Some((_, key)) => key,
        None if secret.starts_with("bshb_") => {
            return Err(VerifyError::BadSecret("BaseHub secret has no ':<secret>' part"))
        }
        None => secret,
    };
    if key.is_empty() {
        return Err(VerifyError::BadSecret("empty BaseHub secret"));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::TAG_LEN;

    const BODY: &[u8] = br#"{"timestamp":"2025-01-01T00:00:00Z","type":"block.updated","data":{"blockId":"abc"}}"#;
    const SECRET: &str = "bshb_workflow_wf123:s3cr3t-part";

    /// Independent oracle: the key is "s3cr3t-part", the message the raw body.
    fn expected() -> String {
        encode_hex(&hmac_sha256(b"s3cr3t-part", &[BODY]))
    }

    #[test]
    fn valid_signature_passes() {
        let sig = sign_basehub(BODY, SECRET).unwrap();
        assert_eq!(sig, expected());
        assert_eq!(sig.len(), TAG_LEN * 2);
        assert_eq!(verify_basehub(BODY, &sig, SECRET), Ok(()));
        assert_eq!(verify_basehub(BODY, &format!(" {sig}\n"), SECRET), Ok(()));
    }

    #[test]
    fn known_answer() {
        // HMAC-SHA256(key "s3cr3t-part", "hello"), computed with Python's hmac module.
        assert_eq!(
            sign_basehub(b"hello", "bshb_workflow_x:s3cr3t-part").unwrap(),
            "df65c831def04b715e3d8d436cae182413903d0697f608f6f892371afd84bc62"
        );
    }

    #[test]
    fn uppercase_hex_is_accepted() {
        assert_eq!(verify_basehub(BODY, &expected().to_uppercase(), SECRET), Ok(()));
    }

    #[test]
    fn tampered_body_or_wrong_secret_is_a_mismatch() {
        let sig = expected();
        let mut body = BODY.to_vec();
        body.push(b' ');
        assert_eq!(verify_basehub(&body, &sig, SECRET), Err(VerifyError::Mismatch));
        assert_eq!(verify_basehub(BODY, &sig, "bshb_workflow_wf123:other"), Err(VerifyError::Mismatch));
        assert_eq!(
            verify_basehub(BODY, &sig, "bshb_workflow_other:s3cr3t-part"),
            Ok(()),
            "the id is not part of the key"
        );
        let mut flipped = sig.into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        assert_eq!(verify_basehub(BODY, std::str::from_utf8(&flipped).unwrap(), SECRET), Err(VerifyError::Mismatch));
    }

    #[test]
    fn secret_with_and_without_prefix() {
        let sig = expected();
        assert_eq!(verify_basehub(BODY, &sig, "s3cr3t-part"), Ok(()), "no ':' → the whole secret is the key");
        assert_eq!(verify_basehub(BODY, &sig, " bshb_workflow_wf123:s3cr3t-part\n"), Ok(()));
        // Only the FIRST ':' separates: the key may itself contain ':'.
        let with_colon = sign_basehub(BODY, "s3:cr3t").unwrap();
        assert_eq!(with_colon, encode_hex(&hmac_sha256(b"cr3t", &[BODY])));
        assert_eq!(verify_basehub(BODY, &encode_hex(&hmac_sha256(b"b:c", &[BODY])), "a:b:c"), Ok(()));
    }

    #[test]
    fn unusable_secrets_are_our_fault() {
        for secret in ["", "  ", "bshb_workflow_wf123", "bshb_workflow_wf123:", "x:"] {
            assert!(matches!(verify_basehub(BODY, &expected(), secret), Err(VerifyError::BadSecret(_))), "{secret:?}");
            assert!(sign_basehub(BODY, secret).is_err());
        }
    }

    #[test]
    fn malformed_signatures() {
        let sig = expected();
        for header in [
            String::new(),
            " ".into(),
            sig[1..].into(),
            sig[2..].into(),
            format!("{sig}00"),
            format!("x{}", &sig[1..]),
            format!("sha256={sig}"),
        ] {
            assert!(matches!(verify_basehub(BODY, &header, SECRET), Err(VerifyError::Malformed(_))), "{header:?}");
        }
    }

    #[test]
    fn body_hash_is_sha256_hex() {
        assert_eq!(body_sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(body_sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
