//! Properties over arbitrary input: nothing panics, the signers and verifiers agree, and any
//! single-byte change to a signed body is caught.

use crate::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use proptest::prelude::*;

fn any_time() -> impl Strategy<Value = i64> {
    prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64), any::<i64>(), 0i64..4_000_000_000]
}

/// Header-like text: mostly the characters the parsers split on.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".*",
        "[tv01=, a-fA-F0-9+/_]{0,200}",
        "(t=[0-9]{0,12}|v1=[0-9a-f]{0,66}|v0=x|v1,[A-Za-z0-9+/=]{0,46}| |,)*"
    ]
}

/// Changes exactly one byte of a non-empty body.
fn tamper(body: &[u8], index: usize, xor: u8) -> Vec<u8> {
    let mut changed = body.to_vec();
    let i = index % changed.len();
    changed[i] ^= xor;
    changed
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        header in header_text(),
        secret in ".{0,40}",
        id in ".{0,20}",
        ts in "[0-9]{0,22}|.{0,10}",
        tolerance in any_time(),
        now in any_time(),
    ) {
        let _ = verify_stripe(&body, &header, &[secret.as_str()], tolerance, now);
        let _ = verify_stripe(&body, &header, &["whsec_x", secret.as_str()], tolerance, now);
        let _ = verify_basehub(&body, &header, &secret);
        let _ = verify_svix(&body, &id, &ts, &header, &secret, tolerance, now);
        let _ = verify_svix(&body, &id, &ts, &header, "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", tolerance, now);
        let _ = parse_secrets(&header);
        let _ = body_sha256_hex(&body);
    }

    #[test]
    fn stripe_signatures_verify_and_catch_any_byte_change(
        body in proptest::collection::vec(any::<u8>(), 1..512),
        secret in "whsec_[A-Za-z0-9]{1,40}",
        t in 0i64..4_000_000_000,
        index in any::<usize>(),
        xor in 1u8..,
    ) {
        let header = sign_stripe(&body, &secret, t);
        let verified = StripeVerified { timestamp: t, secret_index: 0 };
        prop_assert_eq!(verify_stripe(&body, &header, &[&secret], 300, t), Ok(verified));
        let changed = tamper(&body, index, xor);
        prop_assert_eq!(verify_stripe(&changed, &header, &[&secret], 300, t), Err(VerifyError::Mismatch));
    }

    #[test]
    fn basehub_signatures_verify_and_catch_any_byte_change(
        body in proptest::collection::vec(any::<u8>(), 1..512),
        secret in "bshb_workflow_[a-z0-9]{1,10}:[!-~]{1,40}",
        index in any::<usize>(),
        xor in 1u8..,
    ) {
        let sig = sign_basehub(&body, &secret).unwrap();
        prop_assert_eq!(verify_basehub(&body, &sig, &secret), Ok(()));
        prop_assert_eq!(verify_basehub(&tamper(&body, index, xor), &sig, &secret), Err(VerifyError::Mismatch));
    }

    #[test]
    fn svix_signatures_verify_and_catch_any_byte_change(
        body in proptest::collection::vec(any::<u8>(), 1..512),
        key in proptest::collection::vec(any::<u8>(), 1..64),
        id in "msg_[A-Za-z0-9]{1,27}",
        t in 0i64..4_000_000_000,
        index in any::<usize>(),
        xor in 1u8..,
    ) {
        let secret = format!("whsec_{}", STANDARD.encode(&key));
        let sig = sign_svix(&body, &id, t, &secret).unwrap();
        let ts = t.to_string();
        prop_assert_eq!(verify_svix(&body, &id, &ts, &sig, &secret, 300, t), Ok(()));
        let changed = tamper(&body, index, xor);
        prop_assert_eq!(verify_svix(&changed, &id, &ts, &sig, &secret, 300, t), Err(VerifyError::Mismatch));
    }

    #[test]
    fn parse_secrets_pieces_are_clean(list in ".{0,100}") {
        for piece in parse_secrets(&list) {
            prop_assert!(!piece.is_empty());
            prop_assert!(!piece.contains(',') && !piece.contains(char::is_whitespace));
        }
    }
}
