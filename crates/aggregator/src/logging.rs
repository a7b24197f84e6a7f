//! Installing the process-wide `tracing` subscriber from [`LogConfig`].
//!
//! The library itself only emits events (with structured fields such as
//! `task_id`, `aggregation_job_id`, `collection_job_id`, never secrets); the
//! binary calls [`init_logging`] once at start-up. `RUST_LOG`, when set,
//! overrides the configured level. Lines go to stdout; text lines are
//! coloured only when stdout is a terminal, so that a log redirected to a
//! file or a collector carries no ANSI escape codes.
//!
//! `format: json` writes exactly one JSON object per line: the event's
//! fields at the top level (`timestamp`, `level`, `target`, `message` and
//! its own fields), the innermost span's fields under `span` and every
//! enclosing span under `spans`, so a request's `task_id` and a job's
//! `aggregation_job_id` / `collection_job_id` are on each of its lines.

use crate::config::{LogConfig, LogFormat};
use std::io::IsTerminal as _;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Fails if the level is not a valid filter
/// directive or a subscriber is already installed.
pub fn init_logging(config: &LogConfig) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directive) if !directive.trim().is_empty() => EnvFilter::try_new(directive)?,
        _ => EnvFilter::try_new(&config.level)?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_ansi(std::io::stdout().is_terminal());
    let result = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("installing the log subscriber: {e}"))
}
