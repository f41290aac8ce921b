//! `HttpJwks` against a real local HTTP server (std TcpListener on a thread).

mod common;

use common::*;
use jsonwebtoken::Algorithm;
use sba_outbound::Allowlist;
use sba_tenant::{authenticate, AuthConfig, HttpJwks, JwksSource, OidcIssuer};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Serves `status` + `body` to every connection; returns the base URL and a request counter.
fn serve(status: &'static str, body: String) -> (String, Arc<AtomicUsize>) {
    serve_for(status, |_| body)
}

/// Like [`serve`], the body made from the server's own base URL (a discovery document).
fn serve_for(status: &'static str, body: impl FnOnce(&str) -> String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = body(&url);
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (url, hits)
}

#[tokio::test]
async fn authenticates_with_keys_from_a_real_http_server() {
    let document = jwks(&[jwk(&rsa_key(RSA_A), Algorithm::RS256, "rsa-1"), jwk(&ec_key(), Algorithm::ES256, "ec-1")]);
    let (base, hits) = serve("200 OK", document.to_string());
    let config =
        AuthConfig { jwks_url: Some(format!("{base}/auth/v1/.well-known/jwks.json")), ..AuthConfig::default() };
    let source = HttpJwks::new();
    let rs = sign(Algorithm::RS256, Some("rsa-1"), &claims(json!({})), &rsa_key(RSA_A));
    let es = sign(Algorithm::ES256, Some("ec-1"), &claims(json!({})), &ec_key());
    for token in [rs, es] {
        let ctx = authenticate(&config, &source, Some(&bearer(&token)), Some("tenant-a"), NOW).await.unwrap();
        assert_eq!(ctx.tenant_id, "tenant-a");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "second token served from the cache");
}

#[tokio::test]
async fn http_errors_timeouts_and_refused_connections_are_jwks_errors() {
    let (base, _) = serve("500 Internal Server Error", "{}".into());
    let err = HttpJwks::new().fetch(&base).await.unwrap_err();
    assert_eq!(err.0, "status 500");

    let (base, _) = serve("200 OK", "not json".into());
    assert!(HttpJwks::new().fetch(&base).await.unwrap_err().0.starts_with("invalid JSON"));

    // Accepts but never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let err = HttpJwks::new().with_timeout(Duration::from_millis(200)).fetch(&url).await.unwrap_err();
    assert_eq!(err.0, "timed out");

    // Nobody listens: through authenticate, that is a 503.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", closed.local_addr().unwrap());
    drop(closed);
    let config = AuthConfig { jwks_url: Some(url), ..AuthConfig::default() };
    let token = sign(Algorithm::RS256, Some("rsa-1"), &claims(json!({})), &rsa_key(RSA_A));
    let err = authenticate(&config, &HttpJwks::new(), Some(&bearer(&token)), None, NOW).await.unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (503, "auth_unavailable"));
}

/// An HTTP source that may only call `hosts`, as the Worker's outbound allowlist does.
fn allowing(hosts: &str) -> HttpJwks {
    let list = Allowlist::parse(hosts);
    HttpJwks::new().with_allow(move |url| list.check(url).map_err(|refused| refused.to_string()))
}

fn host_of(base: &str) -> &str {
    base.trim_start_matches("http://")
}

/// An issuer on a local server whose discovery points at a JWKS on another local server.
struct Issuer {
    keys: String,
    key_hits: Arc<AtomicUsize>,
    issuer: String,
    discovery_hits: Arc<AtomicUsize>,
    config: AuthConfig,
    token: String,
}

fn issuer_serving(document: &serde_json::Value) -> Issuer {
    let (keys, key_hits) = serve("200 OK", document.to_string());
    let (issuer, discovery_hits) = serve_for("200 OK", |base| discovery(base, &format!("{keys}/jwks")).to_string());
    let config = AuthConfig {
        issuers: vec![OidcIssuer { audience: vec!["api".into()], ..OidcIssuer::new(&issuer) }],
        ..AuthConfig::default()
    };
    let token = sign_typed(Algorithm::RS256, "rsa-1", Some("at+jwt"), &claims_with_iss(&issuer), &rsa_key(RSA_A));
    Issuer { keys, key_hits, issuer, discovery_hits, config, token }
}

#[tokio::test]
async fn discovers_keys_over_http_and_never_fetches_a_jwks_uri_off_the_allowlist() {
    let document = jwks(&[jwk(&rsa_key(RSA_A), Algorithm::RS256, "rsa-1")]);
    let Issuer { keys, key_hits, issuer, discovery_hits, config, token } = issuer_serving(&document);
    let both = allowing(&format!("{} {}", host_of(&issuer), host_of(&keys)));
    let ctx = authenticate(&config, &both, Some(&bearer(&token)), None, NOW).await.unwrap();
    assert_eq!(ctx.tenant_id, "tenant-a");
    assert_eq!((discovery_hits.load(Ordering::SeqCst), key_hits.load(Ordering::SeqCst)), (1, 1));

    // Another issuer whose discovery points at a host that is not on the list.
    let Issuer { keys: _, key_hits, issuer, discovery_hits, config, token } = issuer_serving(&document);
    let err = authenticate(&config, &allowing(host_of(&issuer)), Some(&bearer(&token)), None, NOW).await.unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (503, "auth_unavailable"));
    assert!(err.cause.unwrap().contains("is not on OUTBOUND_ALLOWLIST"));
    assert_eq!((discovery_hits.load(Ordering::SeqCst), key_hits.load(Ordering::SeqCst)), (1, 0), "never fetched");
}

/// Supabase-shaped claims from `issuer`, for the audience `api`.
fn claims_with_iss(issuer: &str) -> serde_json::Value {
    claims(json!({"iss": issuer, "aud": "api"}))
}
