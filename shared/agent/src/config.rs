//! LLM providers from the Worker's settings: `LLM_BASE_URLS` (comma-separated, tried in
//! order; OpenAI-compatible, or Anthropic Messages for api.anthropic.com), each entry
//! `<url>[|model=<name>][|key=<SECRET>]`; `LLM_MODEL` and the optional secret `LLM_API_KEY`
//! for entries that name none; `LLM_FIRST_TOKEN_TIMEOUT_MS` (15 s), `LLM_IDLE_TIMEOUT_MS`
//! (30 s: the longest silence between two chunks of an answer before the run ends with
//! RUN_ERROR `llm_stalled`).
//!
//! A provider's key goes to that provider only: `key=` names the secret holding it, and the
//! shared `LLM_API_KEY` is refused when the entries relying on it point at more than one host
//! (failover from one vendor to another would otherwise hand the first vendor's key to the
//! second).

use sba_http::ApiError;
use sba_llm::Provider;
use std::time::Duration;
use worker::Env;

pub const MAX_STEPS: usize = 6;

/// `trace_headers` go with every model request (the served request's trace context).
pub fn providers(env: &Env, trace_headers: Vec<(String, String)>) -> Result<Vec<Provider>, ApiError> {
    let not_configured = |message: String| ApiError::unavailable("not_configured", message, 30);
    let entries = parse_entries(&sba_config::setting(env, "LLM_BASE_URLS")?).map_err(not_configured)?;
    let model = sba_config::setting(env, "LLM_MODEL").unwrap_or_else(|_| "default".to_owned());
    let shared_key = sba_config::setting(env, "LLM_API_KEY").ok().filter(|k| !k.is_empty());
    if shared_key.is_some() {
        shared_key_hosts(&entries).map_err(not_configured)?;
    }
    let first_token = sba_config::setting(env, "LLM_FIRST_TOKEN_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(15_000);
    let idle = sba_config::setting(env, "LLM_IDLE_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(30_000);
    let mut providers = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        // Every provider must pass the outbound allowlist; a refused one is a configuration error.
        sba_config::outbound_url(env, &entry.url)?;
        let api_key = match &entry.key {
            Some(name) => Some(sba_config::setting(env, name).ok().filter(|k| !k.is_empty()).ok_or_else(|| {
                not_configured(format!("LLM_BASE_URLS entry {} names key={name}, which is not set", i + 1))
            })?),
            None => shared_key.clone(),
        };
        providers.push(Provider {
            name: format!("provider-{}", i + 1),
            // api.anthropic.com (or an /anthropic path) speaks Messages; the rest OpenAI.
            dialect: sba_llm::Dialect::from_base_url(&entry.url),
            base_url: entry.url,
            api_key,
            model: entry.model.unwrap_or_else(|| model.clone()),
            connect_timeout: Duration::from_millis(5_000),
            first_token_timeout: Duration::from_millis(first_token),
            idle_timeout: Duration::from_millis(idle),
            extra_headers: trace_headers.clone(),
        });
    }
    if providers.is_empty() {
        return Err(not_configured("LLM_BASE_URLS is empty".into()));
    }
    Ok(providers)
}

/// One entry of `LLM_BASE_URLS`.
#[derive(Debug, PartialEq)]
struct Entry {
    url: String,
    model: Option<String>,
    /// The name of the secret holding this provider's key.
    key: Option<String>,
}

/// `<url>[|model=<name>][|key=<SECRET>]`, comma-separated; empty entries skipped.
fn parse_entries(list: &str) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    for (i, raw) in list.split(',').map(str::trim).filter(|e| !e.is_empty()).enumerate() {
        let mut parts = raw.split('|').map(str::trim);
        let url = parts.next().unwrap_or_default().to_owned();
        let mut entry = Entry { url, model: None, key: None };
        for option in parts {
            match option.split_once('=') {
                Some(("model", v)) if !v.is_empty() => entry.model = Some(v.to_owned()),
                Some(("key", v)) if !v.is_empty() => entry.key = Some(v.to_owned()),
                _ => {
                    return Err(format!(
                        "LLM_BASE_URLS entry {}: {option:?} is not model=<name> or key=<secret name>",
                        i + 1
                    ))
                }
            }
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// The one host the shared `LLM_API_KEY` would be sent to, or why it must not be used.
fn shared_key_hosts(entries: &[Entry]) -> Result<(), String> {
    let mut hosts: Vec<String> = entries
        .iter()
        .filter(|e| e.key.is_none())
        .map(|e| worker::Url::parse(&e.url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default())
        .collect();
    hosts.sort();
    hosts.dedup();
    if hosts.len() > 1 {
        return Err(format!(
            "LLM_API_KEY would be sent to {} different hosts ({}): give each provider its own key with key=<secret name> in LLM_BASE_URLS",
            hosts.len(),
            hosts.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_carry_their_own_model_and_key_name() {
        let entries = parse_entries(
            " https://api.openai.com/v1|model=gpt-4.1-mini|key=OPENAI_KEY , https://api.anthropic.com|key=ANTHROPIC_KEY|model=claude,,http://127.0.0.1:9",
        )
        .unwrap();
        assert_eq!(
            entries,
            vec![
                Entry {
                    url: "https://api.openai.com/v1".into(),
                    model: Some("gpt-4.1-mini".into()),
                    key: Some("OPENAI_KEY".into())
                },
                Entry {
                    url: "https://api.anthropic.com".into(),
                    model: Some("claude".into()),
                    key: Some("ANTHROPIC_KEY".into())
                },
                Entry { url: "http://127.0.0.1:9".into(), model: None, key: None },
            ]
        );
    }

    #[test]
    fn an_unknown_or_empty_option_is_refused_by_name() {
        assert!(parse_entries("https://a.example|temperature=1").unwrap_err().contains("\"temperature=1\""));
        assert!(parse_entries("https://a.example|key=").unwrap_err().contains("entry 1"));
    }

    #[test]
    fn the_shared_key_goes_to_one_host_only() {
        let one_host = parse_entries("http://127.0.0.1:1,http://127.0.0.1:2/v1").unwrap();
        assert!(shared_key_hosts(&one_host).is_ok(), "two ports of one host: one party");
        let two_vendors = parse_entries("https://api.openai.com/v1,https://api.anthropic.com").unwrap();
        let refusal = shared_key_hosts(&two_vendors).unwrap_err();
        assert!(refusal.contains("api.anthropic.com, api.openai.com"), "{refusal}");
        let own_keys = parse_entries("https://api.openai.com/v1,https://api.anthropic.com|key=ANTHROPIC_KEY").unwrap();
        assert!(shared_key_hosts(&own_keys).is_ok(), "the entry with its own key does not count");
    }
}
