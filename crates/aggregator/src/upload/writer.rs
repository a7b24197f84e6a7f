//! The batching report writer: one background task gathers the reports of
//! many concurrent uploads and writes them in one transaction, flushing once
//! it holds `max_batch_reports` reports or `max_batch_delay_ms` after the
//! first one arrived; on PostgreSQL two batches are written at once
//! ([`PARALLEL_BATCHES`]). Each upload is answered only after the transaction
//! holding its report committed (DAP-09 section 4.4.2: 201 Created promises
//! the report is kept).
//!
//! In the same transaction, a report whose time falls in an already
//! collected batch is left out ([`UploadOutcome::BatchCollected`]), and a
//! report whose ID is already stored is a [`UploadOutcome::Duplicate`]: the
//! first copy wins and the report is counted once.
//!
//! If a batch's transaction fails for a reason other than contention (which
//! the datastore retries itself), each of its reports is written alone, so
//! that one bad report cannot fail its neighbours.
//!
//! Each batch's transaction also adds its outcomes to the tasks'
//! statistics (accepted, duplicate, batch collected), so they count
//! exactly what was stored; every [`FLUSH_INTERVAL`] (and when stopping) the
//! writer adds the uploads refused before it, counted in memory
//! ([`RejectionCounts`]), in one transaction of their own.
//!
//! The queue holds `4 x max_batch_reports` reports. An upload that finds
//! it full waits at most [`QUEUE_WAIT`] for room, then is answered `503`
//! with `Retry-After` (the datastore is behind; the upload is not stored),
//! and uploads are taken again as soon as the writer catches up.

use super::rejections::{Rejection, RejectionCounts, FLUSH_INTERVAL};
use crate::config::UploadConfig;
use crate::http::problem::ApiError;
use crate::server::overload::Throttle;
use dyad_datastore::models::{
    BatchIdentifier, LeaderStoredReport, ReportWriteOutcome, TaskCounters,
};
use dyad_datastore::{Datastore, DatastoreExt, Transaction, TxError};
use dyad_messages::draft09::TaskId;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What became of one report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadOutcome {
    /// Stored: it will be aggregated.
    Stored,
    /// A report with this ID was stored before; this copy was ignored.
    Duplicate,
    /// The report's batch was already collected; it was not stored.
    BatchCollected,
}

/// A report waiting for its transaction.
pub(super) struct Pending {
    report: LeaderStoredReport,
    /// The batch to check for collection (time-interval tasks: the
    /// report's time-precision bucket).
    collected_check: Option<BatchIdentifier>,
    reply: oneshot::Sender<Result<UploadOutcome, ApiError>>,
}

/// The handle uploads use to queue reports. Cheap to clone.
#[derive(Clone)]
pub struct ReportWriter {
    sender: mpsc::Sender<Pending>,
    /// The `Retry-After` of an upload refused because the queue is full.
    retry_after: Duration,
    /// Refusals for a full queue, for the logs.
    refusals: Arc<Throttle>,
    /// Uploads refused before the writer, not yet written.
    rejections: Arc<RejectionCounts>,
}

/// The longest an upload waits for room in a full queue before it is
/// answered `503` (the writer is behind: more waiting would only pile up
/// connections).
pub const QUEUE_WAIT: Duration = Duration::from_secs(1);

/// A place in `sender`'s queue, waiting at most `wait` for one; `503`
/// with `Retry-After` if none came, 500 if the writer stopped.
pub(super) async fn reserve_slot<'a, T>(
    sender: &'a mpsc::Sender<T>,
    wait: Duration,
    retry_after: Duration,
    refusals: &Throttle,
) -> Result<mpsc::Permit<'a, T>, ApiError> {
    match tokio::time::timeout(wait, sender.reserve()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) => Err(ApiError::internal("the report writer has stopped")),
        Err(_) => {
            if let Some(refused) = refusals.note() {
                tracing::warn!(
                    queued = sender.max_capacity(),
                    refused_since_start = refused,
                    "the report writer's queue is full (the datastore is behind): answering uploads 503"
                );
            }
            Err(ApiError::unavailable(
                "too many reports waiting to be written; retry later",
                retry_after,
            ))
        }
    }
}

/// The background task; [`WriterTask::stop`] writes what is queued and
/// ends it.
pub struct WriterTask {
    handle: JoinHandle<()>,
    stop: CancellationToken,
}

impl WriterTask {
    /// Stops taking reports, writes those already queued, and waits for the
    /// task to end.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(error) = self.handle.await {
            tracing::error!(%error, "report writer task failed");
        }
    }
}

impl ReportWriter {
    /// Starts the writer on the current tokio runtime. A full queue is
    /// answered `503` with `retry_after`.
    pub fn spawn(
        datastore: Arc<dyn Datastore>,
        config: UploadConfig,
        retry_after: Duration,
    ) -> (Self, WriterTask) {
        let capacity = config.max_batch_reports.max(1).saturating_mul(4);
        let (sender, receiver) = mpsc::channel(capacity);
        let stop = CancellationToken::new();
        let rejections = Arc::new(RejectionCounts::default());
        let handle = tokio::spawn(run(
            datastore,
            receiver,
            config,
            rejections.clone(),
            stop.clone(),
        ));
        (
            Self {
                sender,
                retry_after,
                refusals: Arc::default(),
                rejections,
            },
            WriterTask { handle, stop },
        )
    }

    /// Counts an upload of `task_id` refused before it reached the writer
    /// (written within [`FLUSH_INTERVAL`]).
    pub fn count_rejection(&self, task_id: TaskId, rejection: Rejection) {
        self.rejections.note(task_id, rejection);
    }

    /// Queues a report and waits until its transaction committed (or failed).
    pub async fn write(
        &self,
        report: LeaderStoredReport,
        collected_check: Option<BatchIdentifier>,
    ) -> Result<UploadOutcome, ApiError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            report,
            collected_check,
            reply,
        };
        reserve_slot(&self.sender, QUEUE_WAIT, self.retry_after, &self.refusals)
            .await?
            .send(pending);
        answer
            .await
            .map_err(|_| ApiError::internal("the report writer dropped the report"))?
    }
}

/// Batches written at once where the datastore's writers run in parallel
/// (PostgreSQL): while one batch's commit waits for the log to reach the
/// disk, the next is gathered and written, and the server flushes both
/// commits together. Where writers take turns (SQLite) one at a time: a
/// second would only wait for the first's connection.
const PARALLEL_BATCHES: usize = 2;

async fn run(
    datastore: Arc<dyn Datastore>,
    mut receiver: mpsc::Receiver<Pending>,
    config: UploadConfig,
    rejections: Arc<RejectionCounts>,
    stop: CancellationToken,
) {
    let max_reports = config.max_batch_reports.max(1);
    let max_in_flight = if datastore.writers_run_in_parallel() {
        PARALLEL_BATCHES
    } else {
        1
    };
    let mut in_flight = JoinSet::new();
    let mut next_rejections = Instant::now() + FLUSH_INTERVAL;
    loop {
        // A batch is gathered only once it can be written at once: what
        // arrives meanwhile joins it.
        while in_flight.len() >= max_in_flight {
            joined(in_flight.join_next().await);
        }
        if Instant::now() >= next_rejections {
            flush_rejections(datastore.as_ref(), &rejections).await;
            next_rejections = Instant::now() + FLUSH_INTERVAL;
        }
        let first = tokio::select! {
            biased;
            _ = tokio::time::sleep_until(next_rejections) => continue,
            pending = receiver.recv() => match pending {
                Some(pending) => pending,
                None => {
                    while let Some(result) = in_flight.join_next().await {
                        joined(Some(result));
                    }
                    flush_rejections(datastore.as_ref(), &rejections).await;
                    break;
                }
            },
            _ = stop.cancelled() => {
                // Take no more, but write everything already queued.
                receiver.close();
                let mut rest = Vec::new();
                while let Some(pending) = receiver.recv().await {
                    rest.push(pending);
                }
                while let Some(result) = in_flight.join_next().await {
                    joined(Some(result));
                }
                for chunk in chunks(rest, max_reports) {
                    flush(datastore.as_ref(), chunk).await;
                }
                flush_rejections(datastore.as_ref(), &rejections).await;
                break;
            }
        };
        let mut batch = vec![first];
        let deadline = Instant::now() + config.max_batch_delay();
        while batch.len() < max_reports {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(pending)) => batch.push(pending),
                Ok(None) | Err(_) => break,
            }
        }
        let datastore = datastore.clone();
        in_flight.spawn(async move { flush(datastore.as_ref(), batch).await });
    }
    tracing::debug!("report writer stopped");
}

/// Logs a batch's task that failed (its uploads were answered by
/// [`flush`], or see their reply dropped: 500).
fn joined(result: Option<Result<(), tokio::task::JoinError>>) {
    if let Some(Err(error)) = result {
        tracing::error!(%error, "a batch of reports failed to be written");
    }
}

/// Adds the refusals counted since the last call to the tasks'
/// statistics, in one transaction; on failure they are kept for the next.
async fn flush_rejections(datastore: &dyn Datastore, rejections: &RejectionCounts) {
    let taken = rejections.take();
    if taken.is_empty() {
        return;
    }
    let counts = Arc::new(taken.clone());
    let written = datastore
        .run_tx("upload_rejection_counts", move |tx| {
            let counts = counts.clone();
            Box::pin(async move {
                for (task_id, counters) in counts.iter() {
                    tx.add_task_counters(task_id, counters).await?;
                }
                Ok(())
            })
        })
        .await;
    if let Err(error) = written {
        tracing::warn!(%error, tasks = taken.len(), "could not write the refused uploads' counts; will retry");
        rejections.restore(taken);
    }
}

fn chunks(mut items: Vec<Pending>, size: usize) -> Vec<Vec<Pending>> {
    let mut out = Vec::new();
    while items.len() > size {
        let rest = items.split_off(size);
        out.push(std::mem::replace(&mut items, rest));
    }
    if !items.is_empty() {
        out.push(items);
    }
    out
}

/// Writes one batch and answers its uploads.
pub(super) async fn flush(datastore: &dyn Datastore, batch: Vec<Pending>) {
    let (items, replies): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|p| ((p.report, p.collected_check), p.reply))
        .unzip();
    let items = Arc::new(items);
    match write_in_one_transaction(datastore, items.clone()).await {
        Ok(outcomes) => {
            tracing::debug!(reports = outcomes.len(), "wrote a batch of reports");
            let stored = outcomes
                .iter()
                .filter(|outcome| **outcome == UploadOutcome::Stored)
                .count();
            // Committed: this process's job creator (if it runs one) starts
            // a job as soon as one can be full.
            crate::leader::wake::reports_stored(stored as u64);
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(error) if items.len() > 1 => {
            tracing::warn!(%error, reports = items.len(), "batch write failed; writing reports one by one");
            for (item, reply) in items.iter().cloned().zip(replies) {
                let single = Arc::new(vec![item]);
                let result = write_in_one_transaction(datastore, single)
                    .await
                    .map_err(ApiError::from)
                    .and_then(|outcomes| {
                        outcomes
                            .first()
                            .copied()
                            .ok_or_else(|| ApiError::internal("no outcome for the report"))
                    });
                let _ = reply.send(result);
            }
        }
        Err(error) => {
            let error = ApiError::from(error);
            for reply in replies {
                let _ = reply.send(Err(ApiError::internal(error.to_string())));
            }
        }
    }
}

type Item = (LeaderStoredReport, Option<BatchIdentifier>);

async fn write_in_one_transaction(
    datastore: &dyn Datastore,
    items: Arc<Vec<Item>>,
) -> Result<Vec<UploadOutcome>, TxError> {
    datastore
        .run_tx("upload_reports", move |tx| {
            let items = items.clone();
            Box::pin(async move { write_reports(tx, &items).await })
        })
        .await
}

pub(super) async fn write_reports(
    tx: &mut dyn Transaction,
    items: &[Item],
) -> Result<Vec<UploadOutcome>, TxError> {
    let mut outcomes = vec![UploadOutcome::BatchCollected; items.len()];
    let mut collected: HashMap<(TaskId, BatchIdentifier), bool> = HashMap::new();
    let mut to_store = Vec::with_capacity(items.len());
    let mut positions = Vec::with_capacity(items.len());
    for (index, (report, check)) in items.iter().enumerate() {
        if let Some(batch) = check {
            let key = (report.task_id, *batch);
            let is_collected = match collected.get(&key) {
                Some(known) => *known,
                None => {
                    let known = tx.is_batch_collected(&report.task_id, batch, None).await?;
                    collected.insert(key, known);
                    known
                }
            };
            if is_collected {
                continue;
            }
        }
        to_store.push(report.clone());
        positions.push(index);
    }
    if !to_store.is_empty() {
        let written = tx.put_client_reports(&to_store).await?;
        if written.len() != positions.len() {
            return Err(TxError::abort(ApiError::internal(format!(
                "{} outcomes for {} reports",
                written.len(),
                positions.len()
            ))));
        }
        for (index, outcome) in positions.into_iter().zip(written) {
            outcomes[index] = match outcome {
                ReportWriteOutcome::Stored => UploadOutcome::Stored,
                ReportWriteOutcome::Duplicate => UploadOutcome::Duplicate,
            };
        }
    }
    // The outcomes, per task, in the transaction that decided them: exact,
    // and one upsert per task per batch.
    let mut counts: HashMap<TaskId, TaskCounters> = HashMap::new();
    for ((report, _), outcome) in items.iter().zip(&outcomes) {
        let counters = counts.entry(report.task_id).or_default();
        match outcome {
            UploadOutcome::Stored => counters.uploads_accepted += 1,
            UploadOutcome::Duplicate => counters.uploads_duplicate += 1,
            UploadOutcome::BatchCollected => counters.uploads_batch_collected += 1,
        }
    }
    for (task_id, counters) in &counts {
        tx.add_task_counters(task_id, counters).await?;
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;
    use axum::response::IntoResponse;
    use dyad_datastore::testing::{fixtures, sqlite_harness};
    use dyad_datastore::{DatastoreError, ErasedTxFn, TxMode};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Notify;

    const WAIT: Duration = Duration::from_millis(100);

    /// A datastore that says whether its writers run in parallel as told,
    /// and counts the batches of reports written at once: each batch waits
    /// (a while) for another to start before it is written.
    struct CountsBatches {
        inner: Arc<dyn Datastore>,
        parallel: bool,
        running: AtomicUsize,
        most: AtomicUsize,
        started: Notify,
    }

    #[async_trait::async_trait]
    impl Datastore for CountsBatches {
        async fn run_tx_erased(
            &self,
            name: &'static str,
            mode: TxMode,
            f: Arc<ErasedTxFn>,
        ) -> Result<Box<dyn std::any::Any + Send>, TxError> {
            if name != "upload_reports" {
                return self.inner.run_tx_erased(name, mode, f).await;
            }
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            self.started.notify_waiters();
            let company = async {
                loop {
                    let started = self.started.notified();
                    if self.running.load(Ordering::SeqCst) >= 2 {
                        break;
                    }
                    started.await;
                }
            };
            let _ = tokio::time::timeout(Duration::from_millis(500), company).await;
            let result = self.inner.run_tx_erased(name, mode, f).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            result
        }
        fn clock(&self) -> &dyn dyad_core::clock::Clock {
            self.inner.clock()
        }
        fn writers_run_in_parallel(&self) -> bool {
            self.parallel
        }
        async fn check_ready(&self) -> Result<(), DatastoreError> {
            self.inner.check_ready().await
        }
        async fn close(&self) {
            self.inner.close().await
        }
    }

    /// The most batches written at once when three one-report batches
    /// arrive together, on a datastore whose writers run in parallel or
    /// not; every report is stored either way.
    async fn batches_at_once(parallel: bool) -> usize {
        let harness = sqlite_harness().await;
        let task = fixtures::leader_task();
        fixtures::put_tasks(harness.datastore.as_ref(), &[&task]).await;
        let counting = Arc::new(CountsBatches {
            inner: harness.datastore.clone(),
            parallel,
            running: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            started: Notify::new(),
        });
        let config = UploadConfig {
            max_batch_reports: 1,
            max_batch_delay_ms: 0,
        };
        let (writer, task_handle) =
            ReportWriter::spawn(counting.clone(), config, Duration::from_secs(1));
        let time = dyad_core::clock::Clock::now(&harness.clock).as_seconds_since_epoch();
        let reports: Vec<_> = (1..=3)
            .map(|fill| fixtures::report(task.task_id(), time, fill))
            .collect();
        let outcomes =
            futures::future::join_all(reports.iter().map(|r| writer.write(r.clone(), None))).await;
        for outcome in outcomes {
            assert_eq!(outcome.unwrap(), UploadOutcome::Stored);
        }
        task_handle.stop().await;
        counting.most.load(Ordering::SeqCst)
    }

    /// Copies of one report in batches written at once: one is stored and
    /// queued for a job, the others are duplicates, and the statistics
    /// count each once (on PostgreSQL, the batches that lose the race run
    /// again).
    async fn copies_in_parallel_batches_are_stored_once(datastore: Arc<dyn Datastore>) {
        let task = fixtures::leader_task();
        fixtures::put_tasks(datastore.as_ref(), &[&task]).await;
        let config = UploadConfig {
            max_batch_reports: 1,
            max_batch_delay_ms: 0,
        };
        let (writer, task_handle) =
            ReportWriter::spawn(datastore.clone(), config, Duration::from_secs(1));
        let time = dyad_core::clock::Clock::now(datastore.clock()).as_seconds_since_epoch();
        let (once, twice) = (
            fixtures::report(task.task_id(), time, 1),
            fixtures::report(task.task_id(), time, 2),
        );
        let uploads = [&once, &twice, &twice, &twice, &twice];
        let outcomes = futures::future::join_all(
            uploads
                .iter()
                .map(|report| writer.write((*report).clone(), None)),
        )
        .await;
        task_handle.stop().await;
        let outcomes: Vec<_> = outcomes.into_iter().map(Result::unwrap).collect();
        let stored = |outcome| outcomes.iter().filter(|o| **o == outcome).count();
        assert_eq!(stored(UploadOutcome::Stored), 2, "{outcomes:?}");
        assert_eq!(stored(UploadOutcome::Duplicate), 3, "{outcomes:?}");
        let task_id = *task.task_id();
        let (queued, counters) = datastore
            .run_read_tx("check", move |tx| {
                Box::pin(async move {
                    Ok((
                        tx.count_unaggregated_client_reports(&task_id, None).await?,
                        tx.get_task_counters(&task_id).await?,
                    ))
                })
            })
            .await
            .unwrap();
        assert_eq!(queued, 2);
        let counters = counters.unwrap();
        assert_eq!(
            (counters.uploads_accepted, counters.uploads_duplicate),
            (2, 3)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn copies_of_a_report_in_parallel_batches_are_stored_once_on_sqlite() {
        let harness = sqlite_harness().await;
        copies_in_parallel_batches_are_stored_once(harness.datastore.clone()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn copies_of_a_report_in_parallel_batches_are_stored_once_on_postgres() {
        let Some(harness) = dyad_datastore::testing::postgres_harness().await else {
            return;
        };
        assert!(harness.datastore.writers_run_in_parallel());
        copies_in_parallel_batches_are_stored_once(harness.datastore.clone()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_are_written_two_at_once_where_writers_run_in_parallel() {
        assert_eq!(batches_at_once(true).await, PARALLEL_BATCHES);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_are_written_one_at_a_time_where_writers_take_turns() {
        assert_eq!(batches_at_once(false).await, 1);
    }

    #[tokio::test]
    async fn a_full_queue_answers_503_with_retry_after_and_recovers_when_drained() {
        let (sender, mut receiver) = mpsc::channel::<u32>(1);
        sender.send(1).await.unwrap();
        let started = tokio::time::Instant::now();
        let refused = reserve_slot(&sender, WAIT, Duration::from_secs(2), &Throttle::default())
            .await
            .unwrap_err();
        assert!(started.elapsed() >= WAIT);
        let response = refused.into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");

        // Once the writer takes a report, the next upload gets its place.
        assert_eq!(receiver.recv().await, Some(1));
        reserve_slot(&sender, WAIT, Duration::from_secs(2), &Throttle::default())
            .await
            .unwrap()
            .send(2);
        assert_eq!(receiver.recv().await, Some(2));

        drop(receiver);
        let stopped = reserve_slot(&sender, WAIT, Duration::from_secs(2), &Throttle::default())
            .await
            .unwrap_err();
        assert_eq!(stopped.status(), 500);
    }
}
