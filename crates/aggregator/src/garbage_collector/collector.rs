//! The garbage collector's loop ([`run_garbage_collector`]), one run over
//! every task ([`run_once`]) and one task's expired rows
//! ([`collect_task`]); the rules are in the parent module's documentation.

use super::config::GarbageCollectorConfig;
use dyad_core::task::Task;
use dyad_datastore::models::TaskRowCounts;
use dyad_datastore::{Datastore, DatastoreError, DatastoreExt, Transaction, TxError};
use dyad_messages::draft09::{Duration, Role, TaskId, Time};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// The metric counting deleted rows, by table.
const ROWS_DELETED: &str = "dyad_gc_rows_deleted_total";

/// The kinds of expired rows, each deleted by one datastore operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExpiredRows {
    BatchAggregations,
    ReportAggregations,
    AggregationJobs,
    CollectedBatches,
    AggregateShareJobs,
    CollectionJobs,
    OutstandingBatches,
    ClientReports,
    HelperSeenReports,
}

/// The deletes of one task's expired rows, in the order they run: a job's
/// batch aggregations before its report aggregations before the job; the
/// collected-batch records before the Helper's answers that wait for them;
/// jobs and batch aggregations before the outstanding batches that wait for
/// them; then reports and anti-replay rows.
pub(crate) const EXPIRED_DELETES: [ExpiredRows; 9] = [
    ExpiredRows::BatchAggregations,
    ExpiredRows::ReportAggregations,
    ExpiredRows::AggregationJobs,
    ExpiredRows::CollectedBatches,
    ExpiredRows::AggregateShareJobs,
    ExpiredRows::CollectionJobs,
    ExpiredRows::OutstandingBatches,
    ExpiredRows::ClientReports,
    ExpiredRows::HelperSeenReports,
];

impl ExpiredRows {
    /// The table the rows are in (the metric's `table` label).
    pub(crate) fn table(self) -> &'static str {
        match self {
            ExpiredRows::BatchAggregations => "batch_aggregations",
            ExpiredRows::ReportAggregations => "report_aggregations",
            ExpiredRows::AggregationJobs => "aggregation_jobs",
            ExpiredRows::CollectedBatches => "collected_batches",
            ExpiredRows::AggregateShareJobs => "aggregate_share_jobs",
            ExpiredRows::CollectionJobs => "collection_jobs",
            ExpiredRows::OutstandingBatches => "outstanding_batches",
            ExpiredRows::ClientReports => "client_reports",
            ExpiredRows::HelperSeenReports => "helper_seen_reports",
        }
    }

    /// The transaction's name (in logs).
    fn transaction_name(self) -> &'static str {
        match self {
            ExpiredRows::BatchAggregations => "gc_batch_aggregations",
            ExpiredRows::ReportAggregations => "gc_report_aggregations",
            ExpiredRows::AggregationJobs => "gc_aggregation_jobs",
            ExpiredRows::CollectedBatches => "gc_collected_batches",
            ExpiredRows::AggregateShareJobs => "gc_aggregate_share_jobs",
            ExpiredRows::CollectionJobs => "gc_collection_jobs",
            ExpiredRows::OutstandingBatches => "gc_outstanding_batches",
            ExpiredRows::ClientReports => "gc_client_reports",
            ExpiredRows::HelperSeenReports => "gc_helper_seen_reports",
        }
    }

    /// Deletes up to `limit` expired rows of this kind; how many. `helper`:
    /// the task is this aggregator's as the Helper, whose jobs still in
    /// progress but unchanged since `cutoff` the Leader abandoned.
    async fn delete(
        self,
        tx: &mut dyn Transaction,
        task_id: &TaskId,
        cutoff: Time,
        limit: u64,
        helper: bool,
    ) -> Result<u64, DatastoreError> {
        match self {
            ExpiredRows::BatchAggregations => {
                tx.delete_expired_batch_aggregations(task_id, cutoff, limit, helper)
                    .await
            }
            ExpiredRows::ReportAggregations => {
                tx.delete_expired_report_aggregations(task_id, cutoff, limit, helper)
                    .await
            }
            ExpiredRows::AggregationJobs => {
                tx.delete_expired_aggregation_jobs(task_id, cutoff, limit, helper)
                    .await
            }
            ExpiredRows::CollectedBatches => {
                tx.delete_expired_collected_batches(task_id, cutoff, limit)
                    .await
            }
            ExpiredRows::AggregateShareJobs => {
                tx.delete_expired_aggregate_share_jobs(task_id, cutoff, limit)
                    .await
            }
            ExpiredRows::CollectionJobs => {
                tx.delete_expired_collection_jobs(task_id, cutoff, limit)
                    .await
            }
            ExpiredRows::OutstandingBatches => {
                tx.delete_expired_outstanding_batches(task_id, cutoff, limit)
                    .await
            }
            ExpiredRows::ClientReports => {
                tx.delete_client_reports_before(task_id, cutoff, limit)
                    .await
            }
            ExpiredRows::HelperSeenReports => {
                tx.delete_helper_seen_reports_before(task_id, cutoff, limit)
                    .await
            }
        }
    }
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcRun {
    /// Tasks looked at.
    pub tasks: usize,
    /// Rows deleted, by table (tables with none left out).
    pub rows_deleted: BTreeMap<&'static str, u64>,
    /// Tasks deleted whole (past their expiration and grace period).
    pub tasks_deleted: usize,
    /// SQLite pages given back to the file system.
    pub pages_reclaimed: u64,
}

impl GcRun {
    fn add(&mut self, table: &'static str, rows: u64) {
        if rows > 0 {
            *self.rows_deleted.entry(table).or_default() += rows;
            metrics::counter!(ROWS_DELETED, "table" => table).increment(rows);
        }
    }

    /// All rows deleted.
    pub fn total_rows(&self) -> u64 {
        self.rows_deleted.values().sum()
    }
}

/// Runs the garbage collector every `interval_secs` until `shutdown` is
/// cancelled. A failed run is logged and the next one tries again.
pub async fn run_garbage_collector(
    datastore: Arc<dyn Datastore>,
    config: GarbageCollectorConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        if let Err(error) = run_once(datastore.as_ref(), &config, &shutdown).await {
            warn!(%error, "garbage collection run failed; the next run tries again");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(config.interval()) => {}
        }
    }
}

/// One run over every task (see the parent module's documentation); stops
/// between two transactions once `shutdown` is cancelled.
pub async fn run_once(
    datastore: &dyn Datastore,
    config: &GarbageCollectorConfig,
    shutdown: &CancellationToken,
) -> Result<GcRun, TxError> {
    let tasks = datastore
        .run_read_tx("gc_tasks", |tx| {
            Box::pin(async move { Ok(tx.get_tasks().await?) })
        })
        .await?;
    let mut run = GcRun {
        tasks: tasks.len(),
        ..GcRun::default()
    };
    let grace = Duration::from_seconds(config.task_expiration_grace_secs);
    let margin = Duration::from_seconds(config.clock_skew_margin_secs);
    for task in &tasks {
        if shutdown.is_cancelled() {
            return Ok(run);
        }
        let now = datastore.clock().now();
        let before = run.clone();
        let collected = match expired_task_deadline(task, grace) {
            Some(deadline) if deadline < now => {
                delete_expired_task(datastore, task, config, shutdown, &mut run).await
            }
            // Kept `clock_skew_margin_secs` longer, for replicas whose
            // clocks are behind this one's (see the setting).
            _ => match task
                .report_expiry_age()
                .and_then(|age| now.checked_sub(age))
                .and_then(|cutoff| cutoff.checked_sub(margin))
            {
                Some(cutoff) => {
                    collect_task(datastore, task, cutoff, config, shutdown, &mut run).await
                }
                None => Ok(()),
            },
        };
        if let Err(error) = collected {
            warn!(task_id = %task.task_id(), %error, "garbage collection of the task failed");
        }
        log_task(task.task_id(), &before, &run);
    }
    if run.total_rows() > 0 {
        run.pages_reclaimed = reclaim_free_space(datastore, config, shutdown).await?;
    }
    if run.total_rows() > 0 || run.tasks_deleted > 0 {
        info!(
            tasks = run.tasks,
            rows_deleted = run.total_rows(),
            tasks_deleted = run.tasks_deleted,
            pages_reclaimed = run.pages_reclaimed,
            "garbage collection run"
        );
    } else {
        debug!(
            tasks = run.tasks,
            "garbage collection run found nothing to delete"
        );
    }
    Ok(run)
}

/// When the task's data may go: its expiration plus the grace period.
fn expired_task_deadline(task: &Task, grace: Duration) -> Option<Time> {
    task.task_expiration()?.checked_add(grace)
}

/// Logs what the run deleted of one task: info with the count per table if
/// anything, debug otherwise.
fn log_task(task_id: &TaskId, before: &GcRun, after: &GcRun) {
    let deleted: BTreeMap<&str, u64> = after
        .rows_deleted
        .iter()
        .map(|(table, rows)| (*table, rows - before.rows_deleted.get(table).unwrap_or(&0)))
        .filter(|(_, rows)| *rows > 0)
        .collect();
    let task_deleted = after.tasks_deleted > before.tasks_deleted;
    if deleted.is_empty() && !task_deleted {
        debug!(%task_id, "garbage collection: nothing expired");
        return;
    }
    let counts = deleted
        .iter()
        .map(|(table, rows)| format!("{table}={rows}"))
        .collect::<Vec<_>>()
        .join(" ");
    info!(
        %task_id,
        rows_deleted = deleted.values().sum::<u64>(),
        tables = %counts,
        task_deleted,
        "garbage collection deleted expired rows"
    );
}

/// Deletes the task's rows whose reports are older than `cutoff`, each
/// kind a bounded transaction at a time (see [`EXPIRED_DELETES`]).
pub(crate) async fn collect_task(
    datastore: &dyn Datastore,
    task: &Task,
    cutoff: Time,
    config: &GarbageCollectorConfig,
    shutdown: &CancellationToken,
    run: &mut GcRun,
) -> Result<(), TxError> {
    let task_id = *task.task_id();
    let helper = task.role() == Role::Helper;
    let limit = config.max_rows_per_transaction;
    for kind in EXPIRED_DELETES {
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            let deleted = datastore
                .run_tx(kind.transaction_name(), move |tx| {
                    Box::pin(
                        async move { Ok(kind.delete(tx, &task_id, cutoff, limit, helper).await?) },
                    )
                })
                .await?;
            run.add(kind.table(), deleted);
            if deleted < limit {
                break;
            }
        }
    }
    Ok(())
}

/// Deletes everything of a task past its expiration and grace period, a
/// bounded transaction at a time, then the task.
async fn delete_expired_task(
    datastore: &dyn Datastore,
    task: &Task,
    config: &GarbageCollectorConfig,
    shutdown: &CancellationToken,
    run: &mut GcRun,
) -> Result<(), TxError> {
    let task_id = *task.task_id();
    let limit = config.max_rows_per_transaction;
    loop {
        if shutdown.is_cancelled() {
            return Ok(());
        }
        let (counts, gone) = datastore
            .run_tx("gc_expired_task", move |tx| {
                Box::pin(async move { Ok(tx.delete_task_rows(&task_id, limit).await?) })
            })
            .await?;
        add_task_rows(run, &counts);
        if gone {
            crate::task_cache::tasks_changed();
            run.tasks_deleted += 1;
            metrics::counter!(ROWS_DELETED, "table" => "tasks").increment(1);
            info!(
                %task_id,
                task_expiration = ?task.task_expiration(),
                "deleted a task past its expiration and grace period"
            );
            return Ok(());
        }
    }
}

/// Adds a whole task's deleted rows to the run, by table.
fn add_task_rows(run: &mut GcRun, counts: &TaskRowCounts) {
    for (table, rows) in [
        ("client_reports", counts.client_reports),
        ("aggregation_jobs", counts.aggregation_jobs),
        ("report_aggregations", counts.report_aggregations),
        ("batch_aggregations", counts.batch_aggregations),
        ("collected_batches", counts.collected_batches),
        ("collection_jobs", counts.collection_jobs),
        ("aggregate_share_jobs", counts.aggregate_share_jobs),
        ("helper_seen_reports", counts.helper_seen_reports),
        ("outstanding_batches", counts.outstanding_batches),
    ] {
        run.add(table, rows);
    }
}

/// Gives the free pages of the database file back (SQLite), a bounded
/// number per transaction; how many.
async fn reclaim_free_space(
    datastore: &dyn Datastore,
    config: &GarbageCollectorConfig,
    shutdown: &CancellationToken,
) -> Result<u64, TxError> {
    let pages = config.vacuum_pages_per_transaction;
    let mut total = 0;
    while !shutdown.is_cancelled() {
        let reclaimed = datastore
            .run_tx("gc_reclaim_free_space", move |tx| {
                Box::pin(async move { Ok(tx.reclaim_free_space(pages).await?) })
            })
            .await?;
        total += reclaimed;
        if reclaimed < pages {
            break;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_datastore::testing::fixtures::{self, d, leader_task, report, t};
    use dyad_datastore::testing::sqlite_harness;

    fn with_expiry(age: Option<u64>, expiration: Option<u64>) -> Task {
        leader_task()
            .to_builder()
            .report_expiry_age(age.map(d))
            .task_expiration(expiration.map(t))
            .build()
            .unwrap()
    }

    async fn count(datastore: &dyn Datastore, task: &Task) -> Option<TaskRowCounts> {
        let task_id = *task.task_id();
        datastore
            .run_read_tx("count", move |tx| {
                Box::pin(async move { Ok(tx.count_task_rows(&task_id).await?) })
            })
            .await
            .unwrap()
    }

    /// A run deletes the reports older than their task's expiry age, a task
    /// past its expiration and grace period whole, and nothing else; a
    /// second run finds nothing.
    #[tokio::test]
    async fn a_run_deletes_expired_reports_and_expired_tasks_only() {
        let h = sqlite_harness().await;
        let ds = h.datastore.as_ref();
        h.clock.set(t(10_000));
        let aging = with_expiry(Some(1000), None);
        let expired = with_expiry(None, Some(5000));
        let in_grace = with_expiry(None, Some(7000));
        let kept = with_expiry(None, None);
        fixtures::put_tasks(ds, &[&aging, &expired, &in_grace, &kept]).await;
        let reports = vec![
            report(aging.task_id(), 8000, 1),
            report(aging.task_id(), 8500, 1),
            report(aging.task_id(), 9500, 1),
            report(expired.task_id(), 100, 2),
            report(in_grace.task_id(), 100, 3),
            report(kept.task_id(), 100, 4),
        ];
        ds.run_tx("put", move |tx| {
            let reports = reports.clone();
            Box::pin(async move {
                tx.put_client_reports(&reports).await?;
                Ok(())
            })
        })
        .await
        .unwrap();
        let config = GarbageCollectorConfig {
            max_rows_per_transaction: 1,
            task_expiration_grace_secs: 4000,
            ..GarbageCollectorConfig::default()
        };

        let run = run_once(ds, &config, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(run.tasks, 4);
        assert_eq!(run.tasks_deleted, 1);
        assert_eq!(
            run.rows_deleted,
            BTreeMap::from([("client_reports", 3)]),
            "two expired reports, one of the expired task"
        );
        assert_eq!(count(ds, &aging).await.unwrap().client_reports, 1);
        assert_eq!(count(ds, &expired).await, None);
        assert_eq!(count(ds, &in_grace).await.unwrap().client_reports, 1);
        assert_eq!(count(ds, &kept).await.unwrap().client_reports, 1);

        let again = run_once(ds, &config, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!((again.total_rows(), again.tasks_deleted), (0, 0));
    }

    /// A job stuck in progress since before the cutoff (the peer stopped
    /// moving it on) is collected on the Helper, with its report
    /// aggregations; on the Leader, whose driver owns its jobs, it stays.
    #[tokio::test]
    async fn a_helpers_abandoned_in_progress_job_is_collected_a_leaders_is_not() {
        let h = sqlite_harness().await;
        let ds = h.datastore.as_ref();
        let helper = fixtures::helper_task()
            .to_builder()
            .report_expiry_age(Some(d(1000)))
            .build()
            .unwrap();
        let leader = with_expiry(Some(1000), None);
        fixtures::put_tasks(ds, &[&helper, &leader]).await;
        // Jobs created (last changed) at 2000 for reports at 1000.
        h.clock.set(t(2000));
        let jobs: Vec<_> = [&helper, &leader]
            .iter()
            .map(|task| {
                fixtures::aggregation_job(
                    task.task_id(),
                    b"",
                    None,
                    dyad_messages::draft09::Interval::new(t(1000), d(1)).unwrap(),
                )
            })
            .collect();
        ds.run_tx("put", move |tx| {
            let jobs = jobs.clone();
            Box::pin(async move {
                for job in &jobs {
                    tx.put_aggregation_job(job).await?;
                    let ra = dyad_datastore::models::ReportAggregation::new(
                        job.task_id,
                        job.aggregation_job_id,
                        0,
                        dyad_messages::draft09::ReportId::random(),
                        t(1000),
                        dyad_datastore::models::ReportAggregationState::Start,
                    );
                    tx.put_report_aggregations(&[ra], None).await?;
                }
                Ok(())
            })
        })
        .await
        .unwrap();
        // Long after: the cutoff (now - age - margin) is past 2000.
        h.clock.set(t(100_000));
        let config = GarbageCollectorConfig::default();
        let run = run_once(ds, &config, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(
            run.rows_deleted,
            BTreeMap::from([("aggregation_jobs", 1), ("report_aggregations", 1)]),
        );
        let (helper_left, leader_left) = (
            count(ds, &helper).await.unwrap(),
            count(ds, &leader).await.unwrap(),
        );
        assert_eq!(helper_left.total(), 0, "{helper_left:?}");
        assert_eq!(
            (
                leader_left.aggregation_jobs,
                leader_left.report_aggregations
            ),
            (1, 1)
        );
    }

    /// Rows are kept the clock-skew margin past their expiry age.
    #[tokio::test]
    async fn rows_are_kept_the_clock_skew_margin_past_their_expiry_age() {
        let h = sqlite_harness().await;
        let ds = h.datastore.as_ref();
        h.clock.set(t(10_000));
        let aging = with_expiry(Some(1000), None);
        fixtures::put_tasks(ds, &[&aging]).await;
        // Expired 2000 s and 600 s ago.
        let reports = vec![
            report(aging.task_id(), 8000, 1),
            report(aging.task_id(), 8400, 1),
        ];
        ds.run_tx("put", move |tx| {
            let reports = reports.clone();
            Box::pin(async move {
                tx.put_client_reports(&reports).await?;
                Ok(())
            })
        })
        .await
        .unwrap();
        let config = GarbageCollectorConfig {
            clock_skew_margin_secs: 900,
            ..GarbageCollectorConfig::default()
        };
        let run = run_once(ds, &config, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(run.rows_deleted, BTreeMap::from([("client_reports", 1)]));
        assert_eq!(count(ds, &aging).await.unwrap().client_reports, 1);
    }

    /// A run asked to stop deletes nothing more.
    #[tokio::test]
    async fn a_cancelled_run_stops_before_the_next_transaction() {
        let h = sqlite_harness().await;
        let ds = h.datastore.as_ref();
        h.clock.set(t(10_000));
        let aging = with_expiry(Some(1000), None);
        fixtures::put_tasks(ds, &[&aging]).await;
        let old = vec![report(aging.task_id(), 100, 1)];
        ds.run_tx("put", move |tx| {
            let old = old.clone();
            Box::pin(async move {
                tx.put_client_reports(&old).await?;
                Ok(())
            })
        })
        .await
        .unwrap();
        let stopped = CancellationToken::new();
        stopped.cancel();
        let run = run_once(ds, &GarbageCollectorConfig::default(), &stopped)
            .await
            .unwrap();
        assert_eq!(run.total_rows(), 0);
        assert_eq!(count(ds, &aging).await.unwrap().client_reports, 1);
    }
}
