//! LLM providers from the Worker's settings: `LLM_BASE_URLS` (comma-separated, tried in
//! order; OpenAI-compatible, or Anthropic Messages for api.anthropic.com), `LLM_MODEL`,
//! optional secret `LLM_API_KEY`, `LLM_FIRST_TOKEN_TIMEOUT_MS` (15 s), `LLM_IDLE_TIMEOUT_MS`
//! (30 s: the longest silence between two chunks of an answer before the run ends with
//! RUN_ERROR `llm_stalled`).

use sba_http::ApiError;
use sba_llm::Provider;
use std::time::Duration;
use worker::Env;

pub const MAX_STEPS: usize = 6;

/// `trace_headers` go with every model request (the served request's trace context).
pub fn providers(env: &Env, trace_headers: Vec<(String, String)>) -> Result<Vec<Provider>, ApiError> {
    let urls = sba_config::setting(env, "LLM_BASE_URLS")?;
    let model = sba_config::setting(env, "LLM_MODEL").unwrap_or_else(|_| "default".to_owned());
    let api_key = sba_config::setting(env, "LLM_API_KEY").ok().filter(|k| !k.is_empty());
    let first_token = sba_config::setting(env, "LLM_FIRST_TOKEN_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(15_000);
    let idle = sba_config::setting(env, "LLM_IDLE_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(30_000);
    let providers: Vec<Provider> = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .enumerate()
        .map(|(i, url)| Provider {
            name: format!("provider-{}", i + 1),
            base_url: url.to_owned(),
            api_key: api_key.clone(),
            model: model.clone(),
            connect_timeout: Duration::from_millis(5_000),
            first_token_timeout: Duration::from_millis(first_token),
            idle_timeout: Duration::from_millis(idle),
            // api.anthropic.com (or an /anthropic path) speaks Messages; the rest OpenAI.
            dialect: sba_llm::Dialect::from_base_url(url),
            extra_headers: trace_headers.clone(),
        })
        .collect();
    // Every provider must pass the outbound allowlist; a refused one is a configuration error.
    for provider in &providers {
        sba_config::outbound_url(env, &provider.base_url)?;
    }
    if providers.is_empty() {
        return Err(ApiError::unavailable("not_configured", "LLM_BASE_URLS is empty", 30));
    }
    Ok(providers)
}
