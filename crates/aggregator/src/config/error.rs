//! [`ConfigError`]: why a configuration was refused, and [`invalid`], the
//! error of a value out of range, which every section's check returns.

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The YAML does not parse or does not have the expected shape.
    #[error("invalid configuration: {0}")]
    Parse(#[from] serde_yaml::Error),
    /// A value is out of range or inconsistent with another.
    #[error("invalid configuration: {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

pub(super) fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.into(),
    }
}
