//! The taskprov task config file (draft-wang-ppm-dap-taskprov-06): what a
//! task's author gives its clients and its collector instead of a
//! provisioned task. The file holds one line, the value the `dap-taskprov`
//! header carries: the encoded `TaskConfig` in unpadded base64url, so it
//! can be read, mailed and pasted as text. A file holding the encoded
//! `TaskConfig` as raw bytes is read too.
//!
//! `dyad task taskprov-config` writes it; `dyad upload --taskprov` and
//! `dyad collect --taskprov` read it.

use crate::report::hinted;
use anyhow::Context as _;
use dyad_messages::taskprov::TaskConfig;
use dyad_messages::Decode as _;
use std::path::Path;

const HINT: &str = "write one with `dyad task taskprov-config`";

/// Reads the task config file at `path`.
pub fn read_task_config(path: &Path) -> anyhow::Result<TaskConfig> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read task config file {}", path.display()))?;
    let text_error = match std::str::from_utf8(&bytes) {
        Ok(text) => match TaskConfig::from_header_value(text) {
            Ok((config, _)) => return Ok(config),
            Err(error) => error.to_string(),
        },
        Err(_) => String::new(),
    };
    match TaskConfig::get_decoded(&bytes) {
        Ok(config) => Ok(config),
        Err(binary_error) => Err(hinted(
            format!(
                "{} holds no TaskConfig: {}",
                path.display(),
                if text_error.is_empty() {
                    binary_error.to_string()
                } else {
                    text_error
                }
            ),
            HINT,
        )),
    }
}

/// Writes `config` to a new file at `path` (an existing file is never
/// overwritten), or to stdout for `-`.
pub fn write_task_config(path: &Path, config: &TaskConfig) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut text = config
        .to_header_value()
        .context("the task config cannot be encoded")?;
    text.push('\n');
    if path == Path::new("-") {
        out!("{text}")?;
        return Ok(());
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::AlreadyExists => hinted(
                format!("{} exists already", path.display()),
                "give another --out, or remove the file first",
            ),
            _ => anyhow::Error::new(error).context(format!("cannot write {}", path.display())),
        })?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_messages::draft09::{Duration, Time, Url};
    use dyad_messages::taskprov::{
        DpConfig, DpMechanism, QueryConfig, QueryTypeConfig, VdafConfig, VdafType,
    };
    use dyad_messages::Encode as _;

    fn config() -> TaskConfig {
        TaskConfig {
            task_info: b"file test".to_vec(),
            leader_aggregator_endpoint: Url::try_from("https://l.example/").unwrap(),
            helper_aggregator_endpoint: Url::try_from("https://h.example/").unwrap(),
            query_config: QueryConfig {
                time_precision: Duration::from_seconds(60),
                max_batch_query_count: 1,
                min_batch_size: 1,
                query: QueryTypeConfig::TimeInterval,
            },
            task_expiration: Time::from_seconds_since_epoch(2_000_000_000),
            vdaf_config: VdafConfig::new(DpConfig::new(DpMechanism::None), VdafType::Prio3Count),
        }
    }

    #[test]
    fn the_file_is_written_once_as_base64url_and_read_back_in_either_form() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("task-config.txt");
        write_task_config(&path, &config()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", config().to_header_value().unwrap()));
        assert_eq!(read_task_config(&path).unwrap(), config());
        let error = write_task_config(&path, &config()).unwrap_err();
        assert!(format!("{error:#}").contains("exists already"), "{error:#}");

        let binary = dir.path().join("task-config.bin");
        std::fs::write(&binary, config().get_encoded().unwrap()).unwrap();
        assert_eq!(read_task_config(&binary).unwrap(), config());

        let garbage = dir.path().join("garbage.txt");
        std::fs::write(&garbage, "not a config\n").unwrap();
        let error = read_task_config(&garbage).unwrap_err();
        assert!(
            format!("{error:#}").contains("holds no TaskConfig"),
            "{error:#}"
        );
    }
}
