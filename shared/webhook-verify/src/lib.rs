//! Verification of incoming webhooks: is this request body really from Stripe, BaseHub or a
//! Svix / Standard Webhooks sender, and is it fresh?
//!
//! - [`verify_stripe`]: `Stripe-Signature: t=…,v1=…` (only `v1` counts; several secrets for
//!   rotation);
//! - [`verify_basehub`]: `x-basehub-webhook-signature`, hex HMAC of the raw body (no timestamp:
//!   dedupe replays yourself, e.g. on [`body_sha256_hex`] with a TTL);
//! - [`verify_svix`]: `svix-id` / `svix-timestamp` / `svix-signature` (or the unbranded
//!   `webhook-*` headers).
//!
//! All three take the raw body exactly as received (never re-serialised JSON), compare MACs in
//! constant time, and return a [`VerifyError`] value with a stable `code()` that converts into
//! the project's [`sba_errors::ApiError`]. The clock is the caller's: pass `now_secs` (Unix
//! seconds, e.g. `Date.now() / 1000` in a Worker), never `SystemTime::now()`, which panics on
//! `wasm32-unknown-unknown`.
//!
//! Choices shared by every scheme (each is tested):
//! - the signature is checked before the timestamp, so an unsigned request only ever learns
//!   "mismatch", and a stale-but-genuine one is reported as too old / in the future;
//! - the tolerance applies in both directions (stricter than Stripe, which only rejects old
//!   timestamps); a negative tolerance counts as 0, and 0 does NOT disable the check;
//! - a signature value that is not exactly one HMAC-SHA256 in the scheme's encoding (64 hex
//!   digits, or 32 bytes of standard base64) makes the header malformed, even beside a valid one;
//! - hex is accepted in either case (the senders emit lowercase; case changes no bytes);
//! - leading and trailing whitespace of a secret is ignored (a pasted newline would otherwise
//!   make every delivery look forged); an empty secret is [`VerifyError::BadSecret`].
//!
//! Pure functions: no I/O, no logging, no panics on any input. Neither the secret nor the body
//! ever appears in an error. The `sign_*` functions are the exact inverse of the verifiers, for
//! tests (here and in other crates) and local tooling; production code never signs.
//!
//! Not for: parsing the event JSON, deduplication storage, or choosing the HTTP response.

mod basehub;
mod common;
mod error;
mod stripe;
mod svix;

#[cfg(test)]
mod proptests;

pub use basehub::{body_sha256_hex, sign_basehub, verify_basehub};
pub use error::VerifyError;
pub use stripe::{sign_stripe, verify_stripe, StripeVerified, STRIPE_DEFAULT_TOLERANCE_SECS};
pub use svix::{sign_svix, verify_svix, SVIX_DEFAULT_TOLERANCE_SECS};

/// Splits one environment variable holding several secrets (rotation: old and new side by
/// side) on commas and whitespace, dropping empty pieces.
///
/// None of the supported secret formats contains a comma or whitespace (Svix secrets are
/// base64, BaseHub's contain `:`), so the split is unambiguous.
pub fn parse_secrets(list: &str) -> Vec<String> {
    list.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_secrets_splits_on_commas_and_whitespace() {
        assert_eq!(parse_secrets("whsec_a,whsec_b"), ["whsec_a", "whsec_b"]);
        assert_eq!(parse_secrets(" whsec_a ,\n whsec_b\t whsec_c, "), ["whsec_a", "whsec_b", "whsec_c"]);
        assert_eq!(parse_secrets("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"), ["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"]);
        assert_eq!(parse_secrets("bshb_workflow_1:s3cr3t"), ["bshb_workflow_1:s3cr3t"]);
        assert!(parse_secrets("").is_empty());
        assert!(parse_secrets(" , ,\n").is_empty());
    }
}
