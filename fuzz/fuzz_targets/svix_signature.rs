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
use sba_edge_fuzz::{check_api_error, check_tampered, fields, text, Clock, Numbers};
use sba_errors::ApiError;
use sba_webhook_verify::{sign_svix, verify_svix};

fuzz_target!(|data: &[u8]| {
    let mut n = Numbers(data);
    let clock = Clock::read(&mut n);
    let (now, tolerance, ts) = (clock.now, clock.tolerance, clock.signed_at);
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
    let header = if clock.flags & 8 != 0 {
        format!("v1a,AAAA v1,{} {signed}", "A".repeat(43) + "=")
    } else {
        signed
    };
    let ts_header = ts.to_string();
    let verify = |body: &[u8]| verify_svix(body, &id, &ts_header, &header, &secret, tolerance, now);
    clock.check_genuine(verify(body), &header);
    check_tampered(body, verify);
});
