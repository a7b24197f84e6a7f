//! The aggregation job creator (DAP-09 section 4.5): groups each Leader
//! task's unaggregated reports, oldest first, into aggregation jobs of
//! `min_job_size..=max_job_size` reports.
//!
//! One transaction per task and run reads the unaggregated reports, creates
//! the jobs with their report aggregations (state `Start`, in job order) and
//! marks every report it took as started. The marking is checked: if any
//! report was already marked, the transaction is aborted, so no report ever
//! lands in two jobs, whichever creator replicas run.
//!
//! That transaction is a claim (`run_claim_tx`: `REPEATABLE READ` on
//! PostgreSQL, not `SERIALIZABLE`), because nothing it guarantees rests on
//! a row it only reads:
//! - a report is in at most one job: the reports are read `SKIP LOCKED`
//!   (held until commit) and the checked marking aborts on any report
//!   marked since; a report changed or deleted after the snapshot fails
//!   the transaction with a serialization failure, and it runs again;
//! - a fixed-size batch never gets more than its room: the reservation
//!   rewrites the batch's row, and a concurrent reservation (or a
//!   `current_batch` collection taking it) of that row aborts one of them;
//! - a collected time bucket gets no new job: a collection is recorded
//!   only when no report of its interval is unaggregated or in an
//!   unfinished job (`collection_batch`), and this transaction turns
//!   unaggregated reports into reports of unfinished jobs at one commit,
//!   so a collection that reads either state is not ready; the
//!   collected-bucket check here only skips reports uploaded into buckets
//!   collected earlier.
//!
//! Under `SERIALIZABLE` the range of unaggregated reports it reads made it
//! the pivot between uploads inserting into that range and job drivers
//! reading reports on the same pages: it failed again and again while
//! uploads went on, and aggregation fell behind.
//!
//! - `time_interval` tasks: any grouping will do (the batch is decided by the
//!   Collector's query); reports are taken oldest first so that jobs cover
//!   short time spans. Reports whose time bucket was already collected are
//!   marked started without a job: the Leader ignores them (sections 4.4.2
//!   and 4.5.1.4: the Helper would reject them with `batch_collected`).
//! - `fixed_size` tasks: each job belongs to one batch. Room is reserved in
//!   the oldest open outstanding batch, up to `min_batch_size` reports per
//!   batch (the target of section 4.1.2; never above `max_batch_size`), and
//!   a new batch ID is made when none has room. A batch with little room
//!   left gets a job smaller than `min_job_size`, to fill it.
//!
//! Fewer unaggregated reports than `min_job_size` wait for more, but at most
//! `max_report_wait` (counted from the run that first saw them wait).
//!
//! VDAFs whose aggregation parameter is known before collection (the Prio3
//! family, with the empty parameter) are aggregated as above. A VDAF whose
//! parameter the Collector chooses (Poplar1) gets its jobs when a
//! collection job names the parameter, per (batch, parameter), in the same
//! run (`param_jobs`); [`eager_aggregation_parameter`] is the one place
//! that decides which path a task takes.

use super::config::JobCreatorConfig;
use super::new_job::{put_job, JobReports};
use super::param_jobs::create_jobs_for_collections;
use dyad_core::task::{BatchMode, Task};
use dyad_datastore::models::BatchIdentifier;
use dyad_datastore::{Datastore, DatastoreExt, Transaction, TxError};
use dyad_messages::draft09::{AggregationJobId, BatchId, ReportMetadata, TaskId};
use dyad_protocol::batch::bucket_of;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// The aggregation parameter to aggregate a task's reports with as soon as
/// they arrive, or `None` if it is only known once the Collector asks.
pub fn eager_aggregation_parameter(task: &Task) -> Option<Vec<u8>> {
    // Every Prio3 VDAF has exactly one aggregation parameter, `()`, encoded
    // as the empty string (VDAF-08 section 7); the catalogue says which.
    task.vdaf().fixed_aggregation_parameter()
}

/// Which jobs a run makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sizes {
    /// `min_job_size..=max_job_size` reports, and an undersized remainder
    /// once it waited `max_report_wait` (a run on the interval, or for a
    /// collection).
    AsConfigured,
    /// Only jobs of `max_job_size` reports, the rest left for a later run
    /// (a run woken because the reports stored since the last one make a
    /// full job: it must not cut the stream into remainders).
    FullOnly,
}

/// What one run did, summed over tasks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreatorRunSummary {
    /// Aggregation jobs created.
    pub jobs_created: u64,
    /// Their IDs, with their tasks'.
    pub job_ids: Vec<(TaskId, AggregationJobId)>,
    /// Reports put in those jobs.
    pub reports_assigned: u64,
    /// Reports ignored because their batch was already collected.
    pub reports_skipped: u64,
    /// Some task had more unaggregated reports than one run takes
    /// (`max_jobs_per_task` jobs of `max_job_size`): run again at once.
    pub more_waiting: bool,
}

/// What one task's transaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct TaskOutcome {
    summary: CreatorRunSummary,
    /// Reports left waiting because they are fewer than `min_job_size`.
    undersized_remainder: bool,
}

/// Why a task's transaction was aborted.
#[derive(Debug, thiserror::Error)]
#[error("{marked} of {expected} reports could be marked as started: another creator took some")]
struct DoubleAssignment {
    marked: u64,
    expected: u64,
}

/// The aggregation job creator; [`run_aggregation_job_creator`] runs one
/// every `interval`, tests call [`AggregationJobCreator::run_once`].
pub struct AggregationJobCreator {
    ds: Arc<dyn Datastore>,
    cfg: JobCreatorConfig,
    /// Per task: when its undersized remainder was first left waiting.
    waiting_since: Mutex<HashMap<TaskId, Instant>>,
}

impl AggregationJobCreator {
    /// A creator; sizes out of range are brought into range (at least one
    /// report and one job, `min_job_size <= max_job_size`).
    pub fn new(ds: Arc<dyn Datastore>, mut cfg: JobCreatorConfig) -> Self {
        cfg.max_job_size = cfg.max_job_size.max(1);
        cfg.min_job_size = cfg.min_job_size.clamp(1, cfg.max_job_size);
        cfg.max_jobs_per_task = cfg.max_jobs_per_task.max(1);
        Self {
            ds,
            cfg,
            waiting_since: Mutex::new(HashMap::new()),
        }
    }

    /// Creates jobs for every Leader task once. A task whose transaction
    /// fails is logged and skipped; the run goes on with the next.
    pub async fn run_once(
        &self,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<CreatorRunSummary> {
        self.run(shutdown, Sizes::AsConfigured).await
    }

    /// One run, making jobs of the sizes `sizes` allows.
    async fn run(
        &self,
        shutdown: &CancellationToken,
        sizes: Sizes,
    ) -> anyhow::Result<CreatorRunSummary> {
        let tasks = self
            .ds
            .run_read_tx("job_creator_tasks", |tx| {
                Box::pin(async move { Ok(tx.get_tasks().await?) })
            })
            .await?;
        let mut total = CreatorRunSummary::default();
        for task in tasks.iter().filter(|task| task.is_leader()) {
            if shutdown.is_cancelled() {
                break;
            }
            let created = match (eager_aggregation_parameter(task), sizes) {
                (Some(aggregation_parameter), _) => {
                    self.create_for_task(task, aggregation_parameter, sizes)
                        .await
                }
                (None, Sizes::AsConfigured) => self.create_for_collections(task).await,
                // Stored reports do not make jobs of such a task: its
                // collections do.
                (None, Sizes::FullOnly) => Ok(CreatorRunSummary::default()),
            };
            match created {
                Ok(summary) => {
                    total.jobs_created += summary.jobs_created;
                    total.job_ids.extend(summary.job_ids);
                    total.reports_assigned += summary.reports_assigned;
                    total.reports_skipped += summary.reports_skipped;
                    total.more_waiting |= summary.more_waiting;
                }
                Err(error) => warn!(
                    task_id = %task.task_id(),
                    %error,
                    "creating aggregation jobs failed; will retry"
                ),
            }
        }
        Ok(total)
    }

    async fn create_for_task(
        &self,
        task: &Task,
        aggregation_parameter: Vec<u8>,
        sizes: Sizes,
    ) -> Result<CreatorRunSummary, TxError> {
        let task_id = *task.task_id();
        let mut cfg = self.cfg.clone();
        let flush = match sizes {
            Sizes::AsConfigured => self.remainder_waited_enough(&task_id),
            Sizes::FullOnly => {
                cfg.min_job_size = cfg.max_job_size;
                false
            }
        };
        // A read-only look first, so that idle tasks never take the write
        // lock (SQLite has one for the whole database).
        let waiting = self
            .ds
            .run_read_tx("job_creator_count", move |tx| {
                Box::pin(
                    async move { Ok(tx.count_unaggregated_client_reports(&task_id, None).await?) },
                )
            })
            .await?;
        if waiting == 0 || (waiting < cfg.min_job_size && !flush) {
            self.note_remainder(&task_id, waiting > 0);
            return Ok(CreatorRunSummary::default());
        }
        let plan = Arc::new(TaskPlan {
            task: task.clone(),
            aggregation_parameter,
            cfg,
            flush,
        });
        let outcome = self
            .ds
            .run_claim_tx("create_aggregation_jobs", move |tx| {
                let plan = Arc::clone(&plan);
                Box::pin(async move { create_jobs(tx, &plan).await })
            })
            .await?;
        self.note_remainder(&task_id, outcome.undersized_remainder);
        let summary = outcome.summary;
        if summary.jobs_created > 0 || summary.reports_skipped > 0 {
            info!(
                %task_id,
                jobs = summary.jobs_created,
                reports = summary.reports_assigned,
                skipped_collected = summary.reports_skipped,
                "created aggregation jobs"
            );
        }
        Ok(summary)
    }

    /// Jobs for the (batch, parameter) pairs the task's waiting collection
    /// jobs name (`param_jobs`), in one transaction.
    ///
    /// Whether any report waits for such a job is read first in a
    /// read-only transaction, and the read-write one runs only then: while
    /// a level's jobs are driven, the driver rewrites the report
    /// aggregations the creator's query reads, and on PostgreSQL a
    /// serializable creator reading them on every run failed again and
    /// again (read/write dependencies) for nothing; a read-only
    /// transaction takes no part in those conflicts.
    async fn create_for_collections(&self, task: &Task) -> Result<CreatorRunSummary, TxError> {
        let task_id = *task.task_id();
        let pending = self
            .ds
            .run_read_tx("job_creator_waiting_collections", move |tx| {
                Box::pin(async move {
                    let mut pending = Vec::new();
                    for (batch, param) in tx.get_waiting_collection_batches(&task_id).await? {
                        let BatchIdentifier::TimeInterval(interval) = batch else {
                            continue;
                        };
                        if tx
                            .count_client_reports_not_aggregated_with(&task_id, interval, &param)
                            .await?
                            > 0
                        {
                            pending.push((batch, param));
                        }
                    }
                    Ok(pending)
                })
            })
            .await?;
        if pending.is_empty() {
            return Ok(CreatorRunSummary::default());
        }
        let task = Arc::new(task.clone());
        let pending = Arc::new(pending);
        let (max_job_size, max_jobs) = (self.cfg.max_job_size, self.cfg.max_jobs_per_task);
        let created = self
            .ds
            .run_tx("create_aggregation_jobs_for_collections", move |tx| {
                let task = Arc::clone(&task);
                let pending = Arc::clone(&pending);
                Box::pin(async move {
                    create_jobs_for_collections(tx, &task, &pending, max_job_size, max_jobs).await
                })
            })
            .await?;
        let summary = CreatorRunSummary {
            jobs_created: created.job_ids.len() as u64,
            reports_assigned: created.reports,
            job_ids: created.job_ids,
            reports_skipped: 0,
            more_waiting: false,
        };
        if summary.jobs_created > 0 {
            info!(
                %task_id,
                jobs = summary.jobs_created,
                reports = summary.reports_assigned,
                "created aggregation jobs for collections' aggregation parameters"
            );
        }
        Ok(summary)
    }

    fn remainder_waited_enough(&self, task_id: &TaskId) -> bool {
        let waiting = self
            .waiting_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        waiting
            .get(task_id)
            .is_some_and(|since| since.elapsed() >= self.cfg.max_report_wait())
    }

    fn note_remainder(&self, task_id: &TaskId, undersized: bool) {
        let mut waiting = self
            .waiting_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if undersized {
            waiting.entry(*task_id).or_insert_with(Instant::now);
        } else {
            waiting.remove(task_id);
        }
    }
}

/// Everything one task's transaction needs (cloned into each attempt).
pub(super) struct TaskPlan {
    task: Task,
    aggregation_parameter: Vec<u8>,
    cfg: JobCreatorConfig,
    /// Whether an undersized remainder is to be put in a job now.
    flush: bool,
}

/// The sizes of the jobs to make from `available` reports: as many full
/// jobs as possible, then the rest if it reaches `min` (or if `flush`), at
/// most `max_jobs` in all. Also whether an undersized remainder was left.
pub(super) fn plan_job_sizes(
    available: u64,
    min: u64,
    max: u64,
    max_jobs: u64,
    flush: bool,
) -> (Vec<u64>, bool) {
    let mut sizes = Vec::new();
    let mut left = available;
    while left > 0 && (sizes.len() as u64) < max_jobs {
        let size = left.min(max);
        if size < min && !flush {
            return (sizes, true);
        }
        sizes.push(size);
        left -= size;
    }
    (sizes, false)
}

/// The transaction body: reads, groups, creates and marks.
pub(super) async fn create_jobs(
    tx: &mut dyn Transaction,
    plan: &TaskPlan,
) -> Result<TaskOutcome, TxError> {
    let task_id = *plan.task.task_id();
    let cfg = &plan.cfg;
    let limit = cfg.max_job_size.saturating_mul(cfg.max_jobs_per_task);
    let reports = tx.get_unaggregated_client_reports(&task_id, limit).await?;
    if reports.is_empty() {
        return Ok(TaskOutcome::default());
    }
    let (candidates, skipped) = split_collected(tx, plan, reports).await?;

    let mut groups: Vec<(Option<BatchId>, &[ReportMetadata])> = Vec::new();
    let undersized_remainder;
    match plan.task.batch_mode() {
        BatchMode::TimeInterval => {
            let (sizes, undersized) = plan_job_sizes(
                candidates.len() as u64,
                cfg.min_job_size,
                cfg.max_job_size,
                cfg.max_jobs_per_task,
                plan.flush,
            );
            let mut rest = candidates.as_slice();
            for size in sizes {
                let (job, after) = rest.split_at(size as usize);
                groups.push((None, job));
                rest = after;
            }
            undersized_remainder = undersized;
        }
        BatchMode::FixedSize { .. } => {
            let target = plan.task.min_batch_size();
            let mut rest = candidates.as_slice();
            let mut undersized = false;
            while !rest.is_empty() && (groups.len() as u64) < cfg.max_jobs_per_task {
                let wanted = (rest.len() as u64).min(cfg.max_job_size);
                if wanted < cfg.min_job_size && !plan.flush {
                    undersized = true;
                    break;
                }
                let reservation = tx
                    .reserve_outstanding_batch(&task_id, wanted, target)
                    .await?;
                let take = reservation.reserved.min(wanted).max(1) as usize;
                let (job, after) = rest.split_at(take);
                groups.push((Some(reservation.batch_id), job));
                rest = after;
            }
            undersized_remainder = undersized;
        }
    }

    let mut started = Vec::with_capacity(candidates.len() + skipped.len());
    let mut summary = CreatorRunSummary {
        reports_skipped: skipped.len() as u64,
        // The read was cut at the run's limit: more may be waiting.
        more_waiting: candidates.len() as u64 + skipped.len() as u64 >= limit,
        ..Default::default()
    };
    for (batch_id, reports) in groups {
        // Every VDAF with a parameter fixed in advance (the Prio3 family)
        // prepares in one round: its jobs list their reports.
        let job_id = put_job(
            tx,
            &task_id,
            &plan.aggregation_parameter,
            batch_id,
            reports,
            JobReports::Listed,
        )
        .await?;
        debug!(
            %task_id,
            aggregation_job_id = %job_id,
            batch_id = ?batch_id,
            reports = reports.len(),
            "aggregation job created"
        );
        summary.jobs_created += 1;
        summary.job_ids.push((task_id, job_id));
        summary.reports_assigned += reports.len() as u64;
        started.extend(reports.iter().map(|report| report.id));
    }
    started.extend(skipped.iter().map(|report| report.id));
    if !started.is_empty() {
        let expected = started.len() as u64;
        let marked = tx
            .mark_client_reports_aggregation_started(&task_id, &started)
            .await?;
        if marked != expected {
            return Err(TxError::abort(DoubleAssignment { marked, expected }));
        }
    }
    Ok(TaskOutcome {
        summary,
        undersized_remainder,
    })
}

/// Separates the reports whose batch was already collected (time-interval
/// tasks: the report's `time_precision` bucket overlaps a collected query).
pub(super) async fn split_collected(
    tx: &mut dyn Transaction,
    plan: &TaskPlan,
    reports: Vec<ReportMetadata>,
) -> Result<(Vec<ReportMetadata>, Vec<ReportMetadata>), TxError> {
    if !matches!(plan.task.batch_mode(), BatchMode::TimeInterval) {
        // A fixed-size report joins a batch only now, and only open
        // (uncollected) batches take reports.
        return Ok((reports, Vec::new()));
    }
    let precision = plan.task.time_precision();
    let buckets: BTreeMap<_, _> = reports
        .iter()
        .filter_map(|report| bucket_of(report.time, precision))
        .map(|bucket| (bucket.start(), bucket))
        .collect();
    let mut collected = Vec::new();
    for bucket in buckets.into_values() {
        let batch = BatchIdentifier::TimeInterval(bucket);
        if tx
            .is_batch_collected(
                plan.task.task_id(),
                &batch,
                Some(&plan.aggregation_parameter),
            )
            .await?
        {
            collected.push(bucket);
        }
    }
    if collected.is_empty() {
        return Ok((reports, Vec::new()));
    }
    Ok(reports
        .into_iter()
        .partition(|report| !collected.iter().any(|bucket| bucket.contains(report.time))))
}

/// Runs the creator every `cfg.interval` (at once again while a run left
/// more reports than it could take) until `shutdown` is cancelled, waking
/// this process's job driver when it created jobs.
pub async fn run_aggregation_job_creator(
    ds: Arc<dyn Datastore>,
    cfg: JobCreatorConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    cfg.validate().map_err(anyhow::Error::msg)?;
    let interval = cfg.interval();
    let cfg_max_job_size = cfg.max_job_size;
    let ds_writers_in_parallel = ds.writers_run_in_parallel();
    let creator = AggregationJobCreator::new(ds, cfg);
    info!(?interval, "aggregation job creator started");
    // Woken by stored reports only where writers run side by side: with
    // SQLite's one write lock, runs per full job queue behind uploads (and
    // uploads behind them), and dyad bench measured 5 % less end to end
    // there, against 27 % more on PostgreSQL.
    if ds_writers_in_parallel {
        super::wake::job_creator_started(cfg_max_job_size);
    }
    let mut sizes = Sizes::AsConfigured;
    loop {
        super::wake::job_creator_run_begins();
        match creator.run(&shutdown, sizes).await {
            Ok(summary) => {
                if summary.jobs_created > 0 {
                    // Committed: this process's driver takes them now.
                    super::wake::aggregation_jobs_created();
                }
                if summary.more_waiting && sizes == Sizes::AsConfigured && !shutdown.is_cancelled()
                {
                    // A backlog: no pause before the next run.
                    tokio::task::yield_now().await;
                    continue;
                }
            }
            Err(error) => warn!(%error, "aggregation job creator run failed; will retry"),
        }
        sizes = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => Sizes::AsConfigured,
            _ = super::wake::job_creator().notified() => Sizes::AsConfigured,
            _ = super::wake::full_job_stored().notified() => Sizes::FullOnly,
        };
    }
    info!("aggregation job creator stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_sizes_respect_min_max_and_the_job_cap() {
        assert_eq!(plan_job_sizes(0, 1, 10, 5, false), (vec![], false));
        assert_eq!(
            plan_job_sizes(25, 1, 10, 5, false),
            (vec![10, 10, 5], false)
        );
        assert_eq!(plan_job_sizes(25, 6, 10, 5, false), (vec![10, 10], true));
        assert_eq!(plan_job_sizes(25, 6, 10, 5, true), (vec![10, 10, 5], false));
        assert_eq!(plan_job_sizes(3, 6, 10, 5, false), (vec![], true));
        // The cap leaves reports for the next run, not as a remainder.
        assert_eq!(plan_job_sizes(100, 6, 10, 2, false), (vec![10, 10], false));
    }
}
