//! `sba_webhook_verify::verify_basehub` on an arbitrary `x-basehub-webhook-signature`, body
//! and secret; then the same body signed for real.
//!
//! Input: `[signature header, body, secret]` split on 0xFF.
//!
//! Never panics; an error converts to a 400 (or a 500 for our own bad secret). Signed with a
//! usable secret, the body verifies, in either hex case and with whitespace around; any other
//! body is a mismatch. `body_sha256_hex` is 64 lowercase hex digits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sba_edge_fuzz::{check_api_error, check_tampered, fields, text};
use sba_errors::ApiError;
use sba_webhook_verify::{body_sha256_hex, sign_basehub, verify_basehub};

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 3);
    let (header, body, secret) = (text(f[0]), f[1], text(f[2]));

    if let Err(err) = verify_basehub(body, &header, &secret) {
        check_api_error(&ApiError::from(err), &[400, 500]);
    }
    let digest = body_sha256_hex(body);
    assert!(
        digest.len() == 64
            && digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );

    let Ok(signed) = sign_basehub(body, &secret) else {
        return;
    };
    assert_eq!(
        verify_basehub(body, &signed, &secret),
        Ok(()),
        "a genuine signature was refused"
    );
    assert_eq!(
        verify_basehub(body, &format!(" {}\t", signed.to_uppercase()), &secret),
        Ok(())
    );
    check_tampered(body, |body| verify_basehub(body, &signed, &secret));
});
