//! The queue-depth sampler: every `metrics.queue_depth_interval_secs`, one
//! read-only transaction counts the Leader's queues (unaggregated reports,
//! pending collection jobs, over all tasks) and sets the gauges. It runs
//! beside the `aggregation-job-creator` role, whose process owns the
//! Leader's queues; replicas sampling the same database report the same
//! values.

use super::instruments;
use dyad_datastore::{Datastore, DatastoreExt};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Samples until `stop` is cancelled.
pub async fn run_queue_sampler(
    datastore: Arc<dyn Datastore>,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut every = tokio::time::interval(interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let counted = datastore
            .run_read_tx("queue_depths", |tx| {
                Box::pin(async move { Ok(tx.count_queue_depths().await?) })
            })
            .await;
        match counted {
            Ok(depths) => instruments::queue_depths(&depths),
            Err(error) => tracing::warn!(%error, "counting the queues for the metrics failed"),
        }
    }
}
