//! `sba_webhook_verify::verify_svix` on arbitrary `svix-id` / `svix-timestamp` /
//! `svix-signature` headers, body and secret, at an arbitrary clock and tolerance; then the
//! same message signed for real.
//!
//! Input: a flags byte, then `now`, `tolerance` and the signing time, then
//! `[id, timestamp header, signature header, body, secret]` split on 0xFF.
//!
//! Never panics; an error converts to a 400 (or a 500 for our own bad secret). Signed with a
//! usable secret at a timestamp `>= 0` with a non-empty id, the message verifies iff the
//! timestamp is within the tolerance, also beside other (non-v1 or wrong) signatures; any
//! other body is a mismatch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sba_edge_fuzz::{check_api_error, fields, text, Numbers, NOW};
use sba_errors::ApiError;
use sba_webhook_verify::{sign_svix, verify_svix, VerifyError};

fuzz_target!(|data: &[u8]| {
    let mut n = Numbers(data);
    let flags = n.u8();
    let now = n.around(flags & 1 != 0, NOW as i64);
    let tolerance = n.around(flags & 2 != 0, 300);
    let ts = n.around(flags & 4 != 0, NOW as i64);
    let f = fields(n.rest(), 5);
    let (id, timestamp, header, body, secret) =
        (text(f[0]), text(f[1]), text(f[2]), f[3], text(f[4]));

    if let Err(err) = verify_svix(body, &id, &timestamp, &header, &secret, tolerance, now) {
        check_api_error(&ApiError::from(err), &[400, 500]);
    }

    let Ok(signed) = sign_svix(body, &id, ts, &secret) else {
        return;
    };
    if id.is_empty() || ts < 0 {
        return;
    }
    // Rotation: an old-scheme and a wrong v1 signature beside the genuine one change nothing.
    let header = if flags & 8 != 0 {
        format!("v1a,AAAA v1,{} {signed}", "A".repeat(43) + "=")
    } else {
        signed.clone()
    };
    let age = i128::from(now) - i128::from(ts);
    let tol = i128::from(tolerance.max(0));
    match verify_svix(body, &id, &ts.to_string(), &header, &secret, tolerance, now) {
        Ok(()) => assert!(
            age.abs() <= tol,
            "accepted ts={ts} at now={now} with tolerance {tolerance}"
        ),
        Err(VerifyError::TooOld { .. }) => assert!(age > tol),
        Err(VerifyError::FromTheFuture { .. }) => assert!(-age > tol),
        Err(other) => panic!("a genuine signature was refused: {other} (header {header:?})"),
    }
    let mut tampered = body.to_vec();
    tampered.push(b'x');
    assert_eq!(
        verify_svix(
            &tampered,
            &id,
            &ts.to_string(),
            &header,
            &secret,
            tolerance,
            now
        )
        .unwrap_err(),
        VerifyError::Mismatch,
        "a tampered body was not a mismatch"
    );
});
