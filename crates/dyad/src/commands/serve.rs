//! `dyad serve --config FILE`: runs the aggregator roles the YAML config names
//! until SIGTERM or SIGINT, then shuts down cleanly.

use clap::Args;
use dyad_aggregator::config::AggregatorConfig;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The YAML config file (see docs/CONFIGURING.md).
    #[arg(long)]
    config: PathBuf,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // The error names the file already.
    let config = AggregatorConfig::from_file(&args.config)?;
    dyad_aggregator::logging::init_logging(&config.log)?;
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    dyad_aggregator::runtime::run(config, shutdown).await
}

/// Cancels `shutdown` on the first SIGTERM or SIGINT.
pub(crate) async fn stop_on_signal(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot listen for signals; stop with SIGKILL");
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
            _ = int.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    shutdown.cancel();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_config_is_valid() {
        let doc = include_str!("../../../../docs/CONFIGURING.md");
        let yaml = doc
            .split("```yaml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("CONFIGURING.md has a yaml block");
        let config = AggregatorConfig::from_yaml_str(yaml).expect("the example parses");
        assert_eq!(config.roles.len(), 6);
    }

    #[test]
    fn the_documented_tls_example_is_valid() {
        let doc = include_str!("../../../../docs/CONFIGURING.md");
        let tls = doc
            .split("```yaml\n")
            .find_map(|rest| rest.split("```").next().filter(|b| b.contains("\ntls:")))
            .expect("CONFIGURING.md has a tls example");
        let config = AggregatorConfig::from_yaml_str(&format!(
            "{tls}datastore: sqlite://x\nroles: [aggregator]\n"
        ))
        .expect("the tls example parses");
        assert!(config.tls.is_some());
    }
}
