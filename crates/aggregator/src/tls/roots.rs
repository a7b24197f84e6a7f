//! [`read_root_certificates`]: CA certificates from PEM files, for a
//! `reqwest` client to trust besides the system's roots (a private CA in
//! front of an aggregator).

use super::certificate::read_certificates;
use super::error::TlsError;
use std::path::PathBuf;

/// Every certificate of every file in `paths`, in order. A file that
/// cannot be read, is not PEM, or holds no valid certificate is an error
/// naming it and `what` (the setting it came from).
pub fn read_root_certificates(
    what: &'static str,
    paths: &[PathBuf],
) -> Result<Vec<reqwest::Certificate>, TlsError> {
    let mut roots = Vec::new();
    for path in paths {
        for (index, der) in read_certificates(what, path)?.into_iter().enumerate() {
            let root = reqwest::Certificate::from_der(&der).map_err(|error| {
                TlsError::InvalidCertificate {
                    what,
                    path: path.clone(),
                    index: index + 1,
                    reason: error.to_string(),
                }
            })?;
            roots.push(root);
        }
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::certificate::testing::{write, TestCa};

    #[test]
    fn reads_every_certificate_of_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (TestCa::new("first"), TestCa::new("second"));
        let bundle = write(
            dir.path(),
            "bundle.pem",
            format!("{}{}", first.certificate_pem(), second.certificate_pem()),
        );
        let single = write(dir.path(), "one.pem", first.certificate_pem());
        let roots = read_root_certificates("test", &[bundle, single]).unwrap();
        assert_eq!(roots.len(), 3);
    }

    #[test]
    fn a_missing_or_empty_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing-ca.pem");
        let error = read_root_certificates("--ca-cert", std::slice::from_ref(&missing))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("missing-ca.pem") && error.contains("--ca-cert"),
            "{error}"
        );

        let empty = write(dir.path(), "empty.pem", "just some text\n".to_owned());
        let error = read_root_certificates("--ca-cert", &[empty]).unwrap_err();
        assert!(matches!(error, TlsError::NoCertificate { .. }), "{error}");
        assert!(error.to_string().contains("empty.pem"), "{error}");
    }
}
