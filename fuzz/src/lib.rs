//! Helpers shared by the fuzz targets in `fuzz_targets/`: a one-thread executor for the
//! async `authenticate`, fixed test keys, token signing, small input splitters, and the clock
//! and checks of the webhook signature targets. (The LLM stream targets share
//! `common/llm_stream.rs` instead, which needs their private modules.)
//!
//! Nothing here is used outside fuzzing. The keys below are throwaway test keys made for this
//! crate; they protect nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use sba_errors::ApiError;
use sba_webhook_verify::VerifyError;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

/// Unix time used as "now" by the JWT targets (2023-11-14).
pub const NOW: u64 = 1_700_000_000;

/// The HS256 shared secret of the JWT targets.
pub const HS256_SECRET: &str = "fuzz-hs256-secret-0123456789abcdef";

/// `kid` of the ES256 test key in [`fixed_jwks`].
pub const ES256_KID: &str = "es1";
/// `kid` of the RSA key in [`fixed_jwks`] (public part only: nothing signs with it).
pub const RS256_KID: &str = "rs1";

/// PKCS#8 DER of a P-256 test key (generated for this crate with `openssl genpkey`).
const ES256_PKCS8_HEX: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b\
02010104207b0153474d9b86ec378d10572b50dd5077adfd6cd9cdb26cea11051768cd3147a1440342000468\
8187c65a3dc58abced4411f91a571a1ad1bfc4ccce5032281556b760d76b88514a22f514bd72b790a5c49231\
e5c4c32767338e18728d22992f73fb2ce9864f";
/// Its public point, base64url.
pub const ES256_X: &str = "aIGHxlo9xYq87UQR-RpXGhrRv8TMzlAyKBVWt2DXa4g";
pub const ES256_Y: &str = "UUoi9RS9creQpcSSMeXEwydnM44Yco0imS9z-yzphk8";
/// A 2048-bit RSA modulus, base64url (its private half was thrown away).
pub const RSA_N: &str = "sySnOtsPckWXOZx-DU4BABk216lwRFIg_S3pPx0RotKbSN2tg8anp1ltwJC7ImcLWP80z9lwardHn--_5_YgpA4LRIYI6dUpEHKOQZ6DTThca81MIsVbXR-z6bF9X1KoNYLFyCMKWr4vL4ydHcr-nFsvlaNgiO8e1H1J9uaXrBKL1j36CPnzQ4BS1PtrMAOaBDTHOCrkqBrh-XOTAyWcD8h5e8GBlZocDDWJv63WGuomPmoXXzxMqpFMQFojs557vjTYTydyuCNRjXNBMrmjrI6905cfPrragXctFlzTlcAmaLP2Mpt34ghuUxWAqAHaaSGZagYHJ1xa_BCfYCwLLQ";

/// The JWK set the JWT target's fake source serves: the ES256 test key, the RSA key, and a
/// few keys `usable_keys` must skip.
pub fn fixed_jwks() -> Value {
    json!({"keys": [
        {"kty": "EC", "crv": "P-256", "kid": ES256_KID, "x": ES256_X, "y": ES256_Y, "alg": "ES256", "use": "sig"},
        {"kty": "RSA", "kid": RS256_KID, "n": RSA_N, "e": "AQAB", "alg": "RS256"},
        {"kty": "oct", "kid": "hs", "k": "c2VjcmV0"},
        {"kty": "EC", "crv": "P-256", "kid": "enc1", "x": ES256_X, "y": ES256_Y, "use": "enc"}
    ]})
}

/// Drives a future that never waits on I/O (every `JwksSource` here answers at once).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("future stayed pending although nothing it awaits can block");
}

fn es256_key() -> &'static EncodingKey {
    static KEY: OnceLock<EncodingKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let der: Vec<u8> = (0..ES256_PKCS8_HEX.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&ES256_PKCS8_HEX[i..i + 2], 16).expect("hex"))
            .collect();
        EncodingKey::from_ec_der(&der)
    })
}

/// How [`signed_token`] signs.
#[derive(Clone, Copy, Debug)]
pub enum Signer {
    Hs256,
    Es256,
}

/// `b64url(header).b64url(claims).signature` over arbitrary header and claims bytes, signed
/// like a genuine issuer would (whatever the header claims the algorithm is).
pub fn signed_token(header: &[u8], claims: &[u8], signer: Signer) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = match signer {
        Signer::Hs256 => jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(HS256_SECRET.as_bytes()),
            Algorithm::HS256,
        ),
        Signer::Es256 => {
            jsonwebtoken::crypto::sign(message.as_bytes(), es256_key(), Algorithm::ES256)
        }
    }
    .expect("signing with a fixed, valid key");
    format!("{message}.{signature}")
}

/// Splits `data` on the first `0xFF` byte (never part of UTF-8): `(before, after)`.
pub fn split_ff(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Splits `data` into at most `n` fields on `0xFF` bytes; missing fields are empty.
pub fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    for _ in 1..n {
        let (head, tail) = split_ff(rest);
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out
}

/// Lossy UTF-8 (header values reach the libraries as `&str`).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An error the client may see must be a complete, serialisable response.
pub fn check_api_error(err: &ApiError, allowed: &[u16]) {
    assert!(
        allowed.contains(&err.status),
        "unexpected status {} ({}: {})",
        err.status,
        err.code,
        err.message
    );
    let body = err.body("req-fuzz");
    assert_eq!(
        body["error"]["code"],
        err.code.as_ref(),
        "body carries the code"
    );
    for (name, value) in &err.headers {
        assert!(
            !value.contains(['\r', '\n', '\0']),
            "header {name} would be refused by the runtime (or split the response): {value:?}"
        );
    }
}

/// Reads fixed-width little-endian integers off the front of the input (zero-padded when it
/// runs out), leaving the rest for the text fields.
pub struct Numbers<'a>(pub &'a [u8]);

impl<'a> Numbers<'a> {
    pub fn u8(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    pub fn i64(&mut self) -> i64 {
        let mut buf = [0u8; 8];
        let n = self.0.len().min(8);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        i64::from_le_bytes(buf)
    }

    pub fn i16(&mut self) -> i16 {
        let lo = self.u8();
        let hi = self.u8();
        i16::from_le_bytes([lo, hi])
    }

    /// A wild `i64` when `wild`, else `near` plus a small offset (where the checks flip).
    pub fn around(&mut self, wild: bool, near: i64) -> i64 {
        if wild {
            self.i64()
        } else {
            near + i64::from(self.i16())
        }
    }

    pub fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// The clock of the timestamped webhook targets (Stripe, Svix), read off the front of the
/// input: a flags byte, then `now`, the tolerance and the time a genuine signature is made at,
/// each near a realistic value unless flag bit 0, 1 or 2 asks for a wild one. The higher flag
/// bits are the target's own.
pub struct Clock {
    pub flags: u8,
    pub now: i64,
    pub tolerance: i64,
    pub signed_at: i64,
}

impl Clock {
    pub fn read(n: &mut Numbers) -> Clock {
        let flags = n.u8();
        Clock {
            flags,
            now: n.around(flags & 1 != 0, NOW as i64),
            tolerance: n.around(flags & 2 != 0, 300),
            signed_at: n.around(flags & 4 != 0, NOW as i64),
        }
    }

    /// Checks the verdict on a genuine signature made at `signed_at`: accepted iff that is
    /// within the tolerance of `now`, else too old or from the future as the age says; any
    /// other refusal fails (`header` names the signature in the message). The success, if any.
    pub fn check_genuine<T>(&self, verdict: Result<T, VerifyError>, header: &str) -> Option<T> {
        let (now, t, tolerance) = (self.now, self.signed_at, self.tolerance);
        let age = i128::from(now) - i128::from(t);
        let tol = i128::from(tolerance.max(0));
        match verdict {
            Ok(verified) => {
                assert!(
                    age.abs() <= tol,
                    "accepted t={t} at now={now} with tolerance {tolerance}"
                );
                Some(verified)
            }
            Err(VerifyError::TooOld { .. }) => {
                assert!(
                    age > tol,
                    "t={t} too old at now={now}, tolerance {tolerance}"
                );
                None
            }
            Err(VerifyError::FromTheFuture { .. }) => {
                assert!(
                    -age > tol,
                    "t={t} from the future at now={now}, tolerance {tolerance}"
                );
                None
            }
            Err(other) => panic!("a genuine signature was refused: {other} (header {header:?})"),
        }
    }
}

/// `verify`, given a genuine signature of `body`, must call `body` with one byte added a
/// mismatch (whatever the clock says).
pub fn check_tampered<T: std::fmt::Debug>(
    body: &[u8],
    verify: impl FnOnce(&[u8]) -> Result<T, VerifyError>,
) {
    let mut tampered = body.to_vec();
    tampered.push(b'x');
    assert_eq!(
        verify(&tampered).unwrap_err(),
        VerifyError::Mismatch,
        "a tampered body was not a mismatch"
    );
}
