//! `dyad upload`: a DAP client on the command line. Shards each measurement
//! with the task's VDAF, seals the shares to both aggregators and uploads the
//! reports to the Leader (DAP-09 section 4.4).

use super::args::{CaCertArgs, TokenArgs};
use crate::values::parse_measurement;
use anyhow::Context as _;
use clap::Args;
use dyad_client::{AnyVdaf, ClientBuilder};
use dyad_core::vdaf::VdafInstance;
use dyad_messages::draft09::{Duration, TaskId};
use url::Url;

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The task ID (base64url).
    #[arg(long)]
    task_id: TaskId,
    /// The Leader's DAP base URL.
    #[arg(long)]
    leader: Url,
    /// The Helper's DAP base URL.
    #[arg(long)]
    helper: Url,
    /// The task's VDAF, as JSON, e.g. '{"type":"Prio3Sum","bits":"8"}'.
    #[arg(long)]
    vdaf: VdafInstance,
    /// The task's time precision in seconds (report times are rounded down to it).
    #[arg(long)]
    time_precision: u64,
    /// Optional client authentication to the Leader.
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    ca: CaCertArgs,
    /// The measurements, one report each (e.g. `1`, `42`, `1,0,3`, a bucket index).
    #[arg(required = true)]
    measurements: Vec<String>,
}

pub async fn run(args: UploadArgs) -> anyhow::Result<()> {
    let measurements = args
        .measurements
        .iter()
        .map(|m| parse_measurement(&args.vdaf, m))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut builder = ClientBuilder::new(
        args.task_id,
        args.leader,
        args.helper,
        Duration::from_seconds(args.time_precision),
    );
    if let Some(token) = args.token.token()? {
        builder = builder.auth_token(token);
    }
    for certificate in args.ca.certificates()? {
        builder = builder.extra_root_certificate(certificate);
    }
    let client = builder
        .build(AnyVdaf(args.vdaf))
        .context("building the client")?;
    for measurement in &measurements {
        let report_id = client.upload(measurement).await.context("uploading")?;
        println!("{report_id}");
    }
    Ok(())
}
