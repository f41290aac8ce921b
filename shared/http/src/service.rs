/// What a function is, as `/healthz` reports it and every log line names it.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    pub name: &'static str,
    pub version: &'static str,
    /// Set at build time by `scripts/build` (git commit, `-dirty` when uncommitted changes).
    pub build_id: &'static str,
    /// Path prefixes the function is mounted under on the shared origin (`/kb`), stripped
    /// before routing so the same Worker also answers on its own hostname without them.
    pub mounts: &'static [&'static str],
    /// The function's own OpenAPI document, served at `/openapi.json` (`None`: not served).
    pub openapi: Option<&'static str>,
    /// What `/readyz` checks (e.g. Postgres and Redis reachable).
    pub probes: fn(&worker::Env) -> Vec<crate::Probe>,
}

/// The request path with the mount prefix removed, split into segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePath {
    path: String,
}

impl RoutePath {
    pub fn new(raw_path: &str, mounts: &[&str]) -> Self {
        let mut path = raw_path;
        for mount in mounts {
            if let Some(rest) = raw_path.strip_prefix(mount) {
                if rest.is_empty() || rest.starts_with('/') {
                    path = rest;
                    break;
                }
            }
        }
        Self { path: path.to_owned() }
    }

    /// Non-empty segments: `/documents/abc/` → `["documents", "abc"]`.
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }

    pub fn as_str(&self) -> &str {
        if self.path.is_empty() {
            "/"
        } else {
            &self.path
        }
    }
}

#[macro_export]
/// A `Service` for the calling crate, its version from Cargo and its build id from the
/// `SBA_BUILD_ID` environment variable at compile time.
macro_rules! service {
    ($name:expr, mounts: $mounts:expr, openapi: $openapi:expr, probes: $probes:expr) => {
        $crate::Service {
            name: $name,
            version: env!("CARGO_PKG_VERSION"),
            build_id: match option_env!("SBA_BUILD_ID") {
                Some(id) => id,
                None => "dev",
            },
            mounts: $mounts,
            openapi: $openapi,
            probes: $probes,
        }
    };
    ($name:expr, mounts: $mounts:expr) => {
        $crate::service!($name, mounts: $mounts, openapi: None, probes: |_| Vec::new())
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_a_mount_prefix_only_at_a_segment_boundary() {
        let mounts = ["/kb"];
        assert_eq!(RoutePath::new("/kb/documents/1", &mounts).segments(), ["documents", "1"]);
        assert_eq!(RoutePath::new("/kb", &mounts).as_str(), "/");
        assert_eq!(RoutePath::new("/kbx/documents", &mounts).segments(), ["kbx", "documents"]);
        assert_eq!(RoutePath::new("/healthz", &mounts).segments(), ["healthz"]);
    }

    #[test]
    fn first_matching_mount_wins() {
        let mounts = ["/ratelimited-agent", "/agent/limited"];
        assert_eq!(RoutePath::new("/agent/limited/run", &mounts).segments(), ["run"]);
        assert_eq!(RoutePath::new("/ratelimited-agent/healthz", &mounts).segments(), ["healthz"]);
    }

    #[test]
    fn ignores_empty_segments() {
        assert_eq!(RoutePath::new("//a///b/", &[]).segments(), ["a", "b"]);
    }
}
