//! Settings from the Worker's environment, and the outbound allowlist gate. They live here,
//! below `sba-config` (which re-exports them), so the layer's own metrics exporter reads its
//! settings and checks its collector URL with the same code as every other client.

use crate::ApiError;
use std::cell::RefCell;
use std::collections::HashMap;
use worker::Env;

pub const OUTBOUND_ALLOWLIST: &str = "OUTBOUND_ALLOWLIST";

/// A string setting, whether bound as a secret or as a plain var (the runtime does not care;
/// a deploy may choose either).
///
/// Read once per isolate: a Worker's bindings do not change while its isolate lives (a new
/// secret or var is a new deployment, hence new isolates), and every read crosses into
/// JavaScript — twice for a missing one (secret, then var) — which the hot paths of every
/// request would otherwise pay for each setting they consult.
pub fn setting(env: &Env, name: &str) -> Result<String, ApiError> {
    thread_local!(static READ: RefCell<HashMap<String, Option<String>>> = RefCell::new(HashMap::new()));
    let known = READ.with_borrow(|read| read.get(name).cloned());
    let value = match known {
        Some(value) => value,
        None => {
            let value = env.secret(name).or_else(|_| env.var(name)).map(|v| v.to_string()).ok();
            READ.with_borrow_mut(|read| read.insert(name.to_owned(), value.clone()));
            value
        }
    };
    value.ok_or_else(|| ApiError::unavailable("not_configured", format!("{name} is not set"), 30))
}

/// `url`, if the allowlist lets this Worker call it; else a 503 naming the refused host
/// (our configuration is wrong, not the caller's request).
pub fn outbound_url(env: &Env, url: &str) -> Result<String, ApiError> {
    let list = sba_outbound::Allowlist::parse(&setting(env, OUTBOUND_ALLOWLIST).unwrap_or_default());
    list.check(url)
        .map(|()| url.to_owned())
        .map_err(|refused| ApiError::unavailable("outbound_not_allowed", refused.to_string(), 30))
}
