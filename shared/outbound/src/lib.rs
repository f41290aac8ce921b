//! Which hosts a Worker may call. Every outbound client (Redis REST, LLM providers, JWKS,
//! revalidate URLs) is built through `sba-config`, which checks its URL here first, so a
//! mistyped or injected endpoint is refused instead of receiving a token or a prompt.
//!
//! The list is `OUTBOUND_ALLOWLIST`: comma- or space-separated `host` or `host:port` entries
//! (`*.example.com` matches subdomains). An empty list allows nothing. Plain `http` is only
//! allowed to loopback hosts (local development); everything else must be `https`.
//!
//! [`http::send`] is how the clients call those hosts: once, never following a redirect.

pub mod http;

use std::fmt;
use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowlist {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    NotAUrl,
    Scheme(String),
    NotListed(String),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAUrl => write!(f, "outbound URL is not a valid absolute URL"),
            Self::Scheme(s) => write!(f, "outbound scheme {s:?} refused (https only, http for loopback)"),
            Self::NotListed(h) => write!(f, "outbound host {h} is not on OUTBOUND_ALLOWLIST"),
        }
    }
}

impl std::error::Error for Refused {}

impl Allowlist {
    pub fn parse(spec: &str) -> Self {
        let entries = spec
            .split([',', ' ', '\n', '\t'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .filter_map(|e| {
                let e = e.to_ascii_lowercase();
                let (host, port) = match e.rsplit_once(':') {
                    Some((h, p)) if !h.contains(':') || h.starts_with('[') => match p.parse::<u16>() {
                        Ok(port) => (h.trim_matches(['[', ']']).to_owned(), Some(port)),
                        Err(_) => return None,
                    },
                    _ => (e.trim_matches(['[', ']']).to_owned(), None),
                };
                let (host, wildcard) = match host.strip_prefix("*.") {
                    Some(rest) => (rest.to_owned(), true),
                    None => (host, false),
                };
                (!host.is_empty()).then_some(Entry { host, wildcard, port })
            })
            .collect();
        Self { entries }
    }

    /// Ok when `url` may be called.
    pub fn check(&self, url: &str) -> Result<(), Refused> {
        let parsed = Url::parse(url).map_err(|_| Refused::NotAUrl)?;
        let host = match parsed.host() {
            Some(Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(Refused::NotAUrl),
        };
        let loopback = match parsed.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            other => return Err(Refused::Scheme(other.to_owned())),
        }
        let port = parsed.port_or_known_default();
        let listed = self.entries.iter().any(|e| {
            let host_ok = if e.wildcard { host.ends_with(&format!(".{}", e.host)) } else { host == e.host };
            host_ok && e.port.is_none_or(|p| Some(p) == port)
        });
        if listed {
            Ok(())
        } else {
            Err(Refused::NotListed(host))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_hosts_pass_and_others_do_not() {
        let list = Allowlist::parse("api.openai.com, *.upstash.io 127.0.0.1:8080");
        assert_eq!(list.check("https://api.openai.com/v1/chat/completions"), Ok(()));
        assert_eq!(list.check("https://eu1-fine-cat.upstash.io/"), Ok(()));
        assert_eq!(list.check("http://127.0.0.1:8080/x"), Ok(()));
        assert_eq!(list.check("http://127.0.0.1:8081/x"), Err(Refused::NotListed("127.0.0.1".into())));
        assert_eq!(
            list.check("https://upstash.io/"),
            Err(Refused::NotListed("upstash.io".into())),
            "wildcard means subdomains only"
        );
        assert_eq!(
            list.check("https://api.openai.com.evil.test/"),
            Err(Refused::NotListed("api.openai.com.evil.test".into()))
        );
        assert_eq!(list.check("https://evilapi.openai.com/"), Err(Refused::NotListed("evilapi.openai.com".into())));
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let list = Allowlist::parse("example.com,localhost,127.0.0.1");
        assert_eq!(list.check("http://example.com/"), Err(Refused::Scheme("http".into())));
        assert_eq!(list.check("http://localhost:9/"), Ok(()));
        assert_eq!(list.check("ftp://example.com/"), Err(Refused::Scheme("ftp".into())));
    }

    #[test]
    fn empty_lists_allow_nothing_and_garbage_is_refused() {
        let list = Allowlist::parse("");
        assert_eq!(list.check("https://example.com/"), Err(Refused::NotListed("example.com".into())));
        assert_eq!(list.check("not a url"), Err(Refused::NotAUrl));
        assert_eq!(Allowlist::parse("host:notaport").entries.len(), 0);
    }

    #[test]
    fn userinfo_tricks_check_the_real_host() {
        let list = Allowlist::parse("good.example");
        assert_eq!(list.check("https://good.example@evil.example/"), Err(Refused::NotListed("evil.example".into())));
        assert_eq!(list.check("https://GOOD.example/"), Ok(()));
    }
}
