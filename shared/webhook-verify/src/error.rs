//! Why a webhook was refused, as a value with a stable code.

use sba_errors::ApiError;
use std::fmt;

/// Why a webhook did not verify. Never carries the secret or the body: the `&'static str`
/// reasons are fixed texts of this crate, the numbers are clock arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// The signature header (or the id / timestamp header) cannot be parsed.
    Malformed(&'static str),
    /// The header parses but holds no signature of the scheme we accept (e.g. Stripe `v0` only).
    NoSignature,
    /// Genuine signature, but the timestamp is older than the tolerance.
    TooOld { age_secs: i64, tolerance_secs: i64 },
    /// Genuine signature, but the timestamp is further ahead than the tolerance.
    FromTheFuture { ahead_secs: i64, tolerance_secs: i64 },
    /// No signature matches any configured secret: forged, tampered, or signed with another secret.
    Mismatch,
    /// Our configured secret is unusable (empty, not base64…): our fault, not the sender's.
    BadSecret(&'static str),
}

impl VerifyError {
    /// The stable machine-readable code (also the `ApiError` code).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "signature_malformed",
            Self::NoSignature => "signature_missing_v1",
            Self::TooOld { .. } => "timestamp_too_old",
            Self::FromTheFuture { .. } => "timestamp_in_future",
            Self::Mismatch => "signature_mismatch",
            Self::BadSecret(_) => "secret_invalid",
        }
    }

    /// A human sentence naming the reason; safe to show to the sender.
    pub fn message(&self) -> String {
        match self {
            Self::Malformed(why) => format!("webhook signature header is malformed: {why}"),
            Self::NoSignature => "webhook signature header has no v1 signature".to_owned(),
            Self::TooOld { age_secs, tolerance_secs } => {
                format!("webhook timestamp is {age_secs} s old; at most {tolerance_secs} s is accepted")
            }
            Self::FromTheFuture { ahead_secs, tolerance_secs } => {
                format!("webhook timestamp is {ahead_secs} s in the future; at most {tolerance_secs} s is accepted")
            }
            Self::Mismatch => "webhook signature does not match".to_owned(),
            Self::BadSecret(why) => format!("webhook secret is misconfigured: {why}"),
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for VerifyError {}

/// 400 with [`VerifyError::code`] and [`VerifyError::message`], except `BadSecret`, which is
/// our misconfiguration: a generic 500 whose cause (code and reason, never the secret) goes to
/// the log only.
impl From<VerifyError> for ApiError {
    fn from(err: VerifyError) -> Self {
        match err {
            VerifyError::BadSecret(_) => ApiError::internal(err),
            _ => ApiError::bad_request(err.code(), err.message()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [VerifyError; 6] = [
        VerifyError::Malformed("missing t"),
        VerifyError::NoSignature,
        VerifyError::TooOld { age_secs: 301, tolerance_secs: 300 },
        VerifyError::FromTheFuture { ahead_secs: 301, tolerance_secs: 300 },
        VerifyError::Mismatch,
        VerifyError::BadSecret("empty"),
    ];

    #[test]
    fn codes_are_stable_and_distinct() {
        let codes: Vec<_> = ALL.iter().map(VerifyError::code).collect();
        assert_eq!(
            codes,
            [
                "signature_malformed",
                "signature_missing_v1",
                "timestamp_too_old",
                "timestamp_in_future",
                "signature_mismatch",
                "secret_invalid"
            ]
        );
    }

    #[test]
    fn sender_errors_are_400_with_the_code() {
        for err in &ALL[..5] {
            let api = ApiError::from(*err);
            assert_eq!(api.status, 400, "{err}");
            assert_eq!(api.code, err.code());
            assert_eq!(api.message, err.message());
        }
        let api = ApiError::from(VerifyError::TooOld { age_secs: 400, tolerance_secs: 300 });
        assert_eq!(api.message, "webhook timestamp is 400 s old; at most 300 s is accepted");
    }

    #[test]
    fn bad_secret_is_a_generic_500() {
        let api = ApiError::from(VerifyError::BadSecret("not base64"));
        assert_eq!(api.status, 500);
        assert_eq!(api.code, "internal");
        assert_eq!(api.message, "internal error");
        assert!(api.cause.as_deref().is_some_and(|c| c.contains("secret_invalid")));
        assert!(!api.body("r").to_string().contains("secret"), "the reason stays in the log");
    }
}
