//! How `dyad` reports a command that failed, on stderr: one `error:` line
//! with the chain of causes, each stated once, then a `hint:` line for each
//! failure whose usual remedy is known (a database to create, a server to
//! start, datastore keys to fix, the form `--vdaf` wants, or any error made
//! with [`hinted`]).
//!
//! Causes repeat when an error both embeds its source's message and returns
//! it as its source (or a context restates its error): a cause whose text
//! the line already holds is left out, and a context that its cause starts
//! with gives way to that cause.

use dyad_aggregator::startup::{KeysCheckError, OpenDatastoreError};
use dyad_core::vdaf::VdafInstanceError;
use std::error::Error as StdError;

/// What `--vdaf` wants, for a value that is not JSON.
pub const VDAF_HINT: &str = r#"--vdaf wants JSON, e.g. '{"type":"Prio3Count"}'"#;

/// The `error:` line and any `hint:` lines of a failed command, each line
/// ending in a newline.
pub fn render(error: &anyhow::Error) -> String {
    let causes: Vec<&(dyn StdError + 'static)> = error.chain().collect();
    lines(&causes)
}

/// [`render`] of a chain of causes, outermost first.
pub fn lines(causes: &[&(dyn StdError + 'static)]) -> String {
    let mut out = format!(
        "error: {}\n",
        once_each(causes.iter().map(ToString::to_string))
    );
    for hint in hints(causes) {
        out.push_str(&format!("hint: {hint}\n"));
    }
    out
}

/// The messages joined with `: `, each cause stated once (see the module
/// documentation).
fn once_each(messages: impl IntoIterator<Item = String>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for message in messages {
        let message = message.trim().to_owned();
        if message.is_empty() || parts.iter().any(|part| part.contains(&message)) {
            continue;
        }
        match parts.last_mut() {
            Some(last) if message.starts_with(last.as_str()) => *last = message,
            _ => parts.push(message),
        }
    }
    parts.join(": ")
}

/// A failure whose remedy the command knows: the message goes on the
/// `error:` line, the hint on its own `hint:` line.
#[derive(Debug)]
pub struct Hinted {
    message: String,
    hint: String,
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Hinted {}

/// An error stating `message`, reported with `hint` (see [`Hinted`]).
pub fn hinted(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted {
        message: message.into(),
        hint: hint.into(),
    })
}

/// The hints for the causes that have one, without repeats.
fn hints(causes: &[&(dyn StdError + 'static)]) -> Vec<String> {
    let mut hints: Vec<String> = Vec::new();
    for cause in causes {
        let hint = if let Some(error) = cause.downcast_ref::<OpenDatastoreError>() {
            error.hint()
        } else if let Some(error) = cause.downcast_ref::<KeysCheckError>() {
            Some(error.hint())
        } else {
            cause
                .downcast_ref::<Hinted>()
                .map(|hinted| hinted.hint.clone())
        };
        if let Some(hint) = hint {
            if !hints.contains(&hint) {
                hints.push(hint);
            }
        }
    }
    hints
}

/// The report of a `--vdaf` value clap refused (`value` as given), if the
/// refusal is the VDAF parser's: its message, and the form `--vdaf` wants
/// when the value is not JSON at all.
pub fn vdaf_argument(value: &str, error: &(dyn StdError + 'static)) -> Option<String> {
    let error = error.downcast_ref::<VdafInstanceError>()?;
    let mut out = format!("error: invalid --vdaf {value}: {error}\n");
    if matches!(error, VdafInstanceError::Malformed(_)) {
        out.push_str(&format!("hint: {VDAF_HINT}\n"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    /// An error that embeds its source's message and also returns it as
    /// its source, as many do.
    #[derive(Debug)]
    struct Reading {
        path: &'static str,
        source: std::io::Error,
    }

    impl std::fmt::Display for Reading {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "reading {}: {}", self.path, self.source)
        }
    }

    impl StdError for Reading {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.source)
        }
    }

    fn not_found() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
    }

    #[test]
    fn a_cause_embedded_in_its_parent_is_stated_once() {
        let error = anyhow::Error::new(Reading {
            path: "nope.yaml",
            source: not_found(),
        })
        .context("reading nope.yaml");
        assert_eq!(
            render(&error),
            "error: reading nope.yaml: No such file or directory\n"
        );
    }

    #[test]
    fn distinct_causes_are_all_kept_in_order() {
        let error = anyhow::Error::new(not_found())
            .context("loading the task")
            .context("provisioning");
        assert_eq!(
            render(&error),
            "error: provisioning: loading the task: No such file or directory\n"
        );
    }

    #[test]
    fn open_errors_bring_their_hint() {
        let error = anyhow::Error::new(OpenDatastoreError::new(
            "opening",
            "postgres://u:secret@127.0.0.1:1/x",
            dyad_datastore::DatastoreError::Config("unreachable for the test".into()),
        ));
        let shown = render(&error);
        assert!(shown.starts_with("error: opening the datastore"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!shown.contains("hint:"), "no advice for this one: {shown}");
    }

    #[test]
    fn a_vdaf_that_is_not_json_gets_the_form_it_wants() {
        let error = "nope".parse::<dyad_core::vdaf::VdafInstance>().unwrap_err();
        let shown = vdaf_argument("nope", &error).unwrap();
        assert!(shown.starts_with("error: invalid --vdaf nope: "), "{shown}");
        assert!(shown.ends_with(&format!("hint: {VDAF_HINT}\n")), "{shown}");
        let unknown = r#"{"type":"Prio4"}"#.parse::<dyad_core::vdaf::VdafInstance>().unwrap_err();
        let shown = vdaf_argument("x", &unknown).unwrap();
        assert!(shown.contains("Prio3Histogram"), "{shown}");
        assert!(!shown.contains("hint:"), "{shown}");
    }

    #[test]
    fn once_each_drops_contexts_their_cause_restates() {
        assert_eq!(
            once_each(["reading a".into(), "reading a: gone".into(), "gone".into()]),
            "reading a: gone"
        );
        let error: anyhow::Result<()> = Err(anyhow::anyhow!("inner")).context("outer");
        assert_eq!(render(&error.unwrap_err()), "error: outer: inner\n");
    }
}
