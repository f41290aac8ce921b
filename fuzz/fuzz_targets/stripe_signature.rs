//! `sba_webhook_verify::verify_stripe` on an arbitrary `Stripe-Signature` header, body and
//! secret list, at an arbitrary clock and tolerance; then the same body signed for real.
//!
//! Input: a flags byte, then `now`, `tolerance` and the signing time `t` (near realistic
//! values unless a flag asks for wild ones), then `[header, body, secrets]` split on 0xFF.
//!
//! Never panics; an error converts to a 400 (or a 500 for our own bad secret); a success
//! names a secret that exists. Signed with secret `k` at `t >= 0`, the body verifies iff `t`
//! is within the tolerance (else TooOld / FromTheFuture), with `secret_index <= k`; any other
//! body is a mismatch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sba_edge_fuzz::{check_api_error, check_tampered, fields, text, Clock, Numbers};
use sba_errors::ApiError;
use sba_webhook_verify::{parse_secrets, sign_stripe, verify_stripe};

fuzz_target!(|data: &[u8]| {
    let mut n = Numbers(data);
    let clock = Clock::read(&mut n);
    let (flags, now, tolerance, t) = (clock.flags, clock.now, clock.tolerance, clock.signed_at);
    let f = fields(n.rest(), 3);
    let (header, body, list) = (text(f[0]), f[1], text(f[2]));
    // Mostly the production path (`parse_secrets`, never an empty piece); sometimes raw lines,
    // so that empty and whitespace-only secrets are tried too.
    let secrets: Vec<String> = if flags & 8 != 0 {
        list.split('\n').map(str::to_owned).collect()
    } else {
        let parsed = parse_secrets(&list);
        for s in &parsed {
            assert!(
                !s.is_empty() && !s.contains(|c: char| c == ',' || c.is_whitespace()),
                "parse_secrets gave {s:?}"
            );
        }
        parsed
    };

    match verify_stripe(body, &header, &secrets, tolerance, now) {
        Ok(verified) => assert!(verified.secret_index < secrets.len()),
        Err(err) => check_api_error(&ApiError::from(err), &[400, 500]),
    }

    let usable = !secrets.is_empty() && secrets.iter().all(|s| !s.trim().is_empty());
    if !usable || t < 0 {
        return;
    }
    let k = usize::from(flags >> 4) % secrets.len();
    let signed = sign_stripe(body, &secrets[k], t);
    let verify = |body: &[u8]| verify_stripe(body, &signed, &secrets, tolerance, now);
    if let Some(verified) = clock.check_genuine(verify(body), &signed) {
        assert!(verified.secret_index <= k);
        assert_eq!(verified.timestamp, t);
    }
    check_tampered(body, verify);
});
