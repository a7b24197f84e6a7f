//! A peer's base URL and the DAP resources below it (DAP-09 section 4.3:
//! every resource path is relative to the aggregator's endpoint).
//!
//! # Where is
//!
//! - an http(s) base URL without query or fragment, given a trailing slash
//!   so that `tasks/...` lands below its path -> [`endpoint_base`];
//! - a resource path joined below it -> [`resource`].

use std::fmt;
use url::Url;

/// An endpoint that cannot serve as a base URL, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidEndpoint {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for InvalidEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid endpoint {:?}: {}", self.url, self.reason)
    }
}

impl std::error::Error for InvalidEndpoint {}

/// A peer's base URL, ready for DAP resource paths to be joined to it:
/// `https://a.example/dap` becomes `https://a.example/dap/`, so that
/// `tasks/...` lands below it rather than replacing its last segment.
pub fn endpoint_base(mut url: Url) -> Result<Url, InvalidEndpoint> {
    let invalid = |url: &Url, reason: &str| InvalidEndpoint {
        url: url.to_string(),
        reason: reason.to_owned(),
    };
    if url.cannot_be_a_base() {
        return Err(invalid(&url, "not a base URL"));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(&url, "scheme must be http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(&url, "must have no query or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// `base` joined with a relative resource path.
pub fn resource(base: &Url, path: &str) -> Result<Url, InvalidEndpoint> {
    base.join(path).map_err(|e| InvalidEndpoint {
        url: base.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> Result<Url, InvalidEndpoint> {
        endpoint_base(Url::parse(s).unwrap())
    }

    #[test]
    fn resource_paths_land_below_the_base_path() {
        let with_slash = base("https://a.example/dap/").unwrap();
        let without = base("https://a.example/dap").unwrap();
        assert_eq!(with_slash, without);
        let url = resource(&without, "tasks/abc/reports").unwrap();
        assert_eq!(url.as_str(), "https://a.example/dap/tasks/abc/reports");
        let root = base("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            resource(&root, "hpke_config").unwrap().as_str(),
            "http://127.0.0.1:8080/hpke_config"
        );
    }

    #[test]
    fn unusable_endpoints_are_rejected_with_the_reason() {
        for (bad, reason) in [
            ("mailto:someone@example.com", "not a base URL"),
            ("unix:/run/sock", "scheme must be http or https"),
            ("ftp://a.example/", "scheme must be http or https"),
            ("https://a.example/?x=1", "must have no query or fragment"),
            ("https://a.example/#frag", "must have no query or fragment"),
        ] {
            let error = base(bad).unwrap_err();
            assert_eq!(error.reason, reason, "{bad}");
        }
    }
}
