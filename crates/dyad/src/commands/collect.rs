//! `dyad collect`: a DAP collector on the command line. Creates a collection
//! job at the Leader, polls it until it is finished, opens both aggregate
//! shares and prints the aggregate result (DAP-09 section 4.6).

use super::args::{CaCertArgs, CollectorKeyArgs, QueryArgs, TokenArgs};
use crate::values::format_result;
use anyhow::Context as _;
use clap::Args;
use dyad_collector::{AnyVdaf, CollectorBuilder};
use dyad_core::vdaf::{AggregationParam, VdafInstance};
use dyad_messages::draft09::{PartialBatchSelector, TaskId};
use url::Url;

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The task ID (base64url).
    #[arg(long)]
    task_id: TaskId,
    /// The Leader's DAP base URL.
    #[arg(long)]
    leader: Url,
    /// The task's VDAF, as JSON, e.g. '{"type":"Prio3Sum","bits":"8"}'.
    #[arg(long)]
    vdaf: VdafInstance,
    /// The collector's token for the Leader.
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    key: CollectorKeyArgs,
    #[command(flatten)]
    query: QueryArgs,
    #[command(flatten)]
    ca: CaCertArgs,
}

pub async fn run(args: CollectArgs) -> anyhow::Result<()> {
    let token = args
        .token
        .token()?
        .context("give the collector's token: --dap-auth-token or --bearer-token")?;
    let mut builder = CollectorBuilder::new(args.task_id, args.leader, token, args.key.keypair()?);
    for certificate in args.ca.certificates()? {
        builder = builder.extra_root_certificate(certificate);
    }
    let collector = builder
        .build(AnyVdaf(args.vdaf))
        .context("building the collector")?;
    let collection = collector
        .collect(args.query.query()?, &AggregationParam::Empty)
        .await
        .context("collecting")?;
    if let PartialBatchSelector::FixedSize(batch_id) = &collection.partial_batch_selector {
        println!("batch_id: {batch_id}");
    }
    println!("report_count: {}", collection.report_count);
    println!(
        "interval: {} + {}s",
        collection.interval.start(),
        collection.interval.duration().as_seconds()
    );
    println!("result: {}", format_result(&collection.aggregate_result));
    Ok(())
}
