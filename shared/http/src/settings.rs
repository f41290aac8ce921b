//! Settings from the Worker's environment, and the outbound allowlist gate. They live here,
//! below `sba-config` (which re-exports them), so the layer's own metrics exporter reads its
//! settings and checks its collector URL with the same code as every other client.

use crate::ApiError;
use worker::Env;

pub const OUTBOUND_ALLOWLIST: &str = "OUTBOUND_ALLOWLIST";

/// A string setting, whether bound as a secret or as a plain var (the runtime does not care;
/// a deploy may choose either).
pub fn setting(env: &Env, name: &str) -> Result<String, ApiError> {
    env.secret(name)
        .or_else(|_| env.var(name))
        .map(|v| v.to_string())
        .map_err(|_| ApiError::unavailable("not_configured", format!("{name} is not set"), 30))
}

/// `url`, if the allowlist lets this Worker call it; else a 503 naming the refused host
/// (our configuration is wrong, not the caller's request).
pub fn outbound_url(env: &Env, url: &str) -> Result<String, ApiError> {
    let list = sba_outbound::Allowlist::parse(&setting(env, OUTBOUND_ALLOWLIST).unwrap_or_default());
    list.check(url)
        .map(|()| url.to_owned())
        .map_err(|refused| ApiError::unavailable("outbound_not_allowed", refused.to_string(), 30))
}
