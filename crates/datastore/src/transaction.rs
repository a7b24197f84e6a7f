//! The [`Transaction`] trait: every operation a Leader or Helper needs on
//! its stored state, run inside one transaction (see [`crate::Datastore`]).
//!
//! Conventions:
//! - "now" is [`Transaction::now`], read once from the datastore's clock
//!   when the transaction (attempt) starts;
//! - a `lease: Option<&LeaseToken>` argument is `Some` for the Leader's
//!   leased job writes (checked: [`DatastoreError::LeaseLost`] if the lease
//!   expired or was taken, with nothing written) and `None` for writes that
//!   need no lease (the Helper's jobs, the Collector's DELETE);
//! - batch writes take slices and write them with few statements;
//! - every write fails with [`DatastoreError::ReadOnly`] in a read-only
//!   transaction;
//! - after an operation fails, the body must give up (return the error):
//!   the transaction is then rolled back, so a failed batch write never
//!   leaves half its rows.

use crate::backend::Backend;
use crate::backend_transaction::BackendTransaction;
use crate::keys::{ResealBatch, SealedColumn};
use crate::lease::{Lease, LeaseToken};
use crate::models::{
    AggregateShareJob, AggregationJob, BatchAggregation, BatchIdentifier, BatchReservation,
    CollectedBatch, CollectionJob, CollectionJobWriteOutcome, GlobalHpkeKey, HpkeKeyState,
    LeaderStoredReport, OutstandingBatch, ReportAggregation, ReportWriteOutcome, SeenReport,
    TaskCounters, TaskRowCounts,
};
use crate::DatastoreError;
use dyad_core::hpke::HpkeKeypair;
use dyad_core::task::Task;
use dyad_messages::draft09::{
    AggregationJobId, BatchId, CollectionJobId, Duration, HpkeConfigId, Interval, ReportId,
    ReportMetadata, Role, TaskId, Time,
};

type Result<T> = std::result::Result<T, DatastoreError>;

/// Declares [`Transaction`] from its operations, grouped by the table
/// module that implements them, and writes its one implementation: each
/// operation `op` of group `table` is `crate::tables::table::op(tx, ...)`
/// on a [`BackendTransaction`] of either backend. The operations are thus
/// listed once (here, with their documentation) and implemented once (in
/// their table's module); nothing forwards them by hand.
macro_rules! operations {
    ($(
        $table:ident {
            $(
                $(#[$doc:meta])*
                async fn $op:ident(&mut self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
            )*
        }
    )*) => {
        /// The operations of one transaction.
        #[async_trait::async_trait]
        pub trait Transaction: Send {
            /// The transaction's "now", read from the clock when it began.
            fn now(&self) -> Time;
            $($(
                $(#[$doc])*
                async fn $op(&mut self $(, $arg: $ty)*) -> $ret;
            )*)*
        }

        #[async_trait::async_trait]
        impl<DB: Backend> Transaction for BackendTransaction<'_, DB> {
            fn now(&self) -> Time {
                self.now
            }
            $($(
                async fn $op(&mut self $(, $arg: $ty)*) -> $ret {
                    crate::tables::$table::$op::<DB>(self $(, $arg)*).await
                }
            )*)*
        }
    };
}

operations! {

    tasks { // Tasks (DAP-09 section 4.2)
        /// Stores a task. Storing the identical task again succeeds; a different
        /// task with the same ID fails with [`DatastoreError::AlreadyExists`].
        async fn put_task(&mut self, task: &Task) -> Result<()>;
        /// The task with this ID.
        async fn get_task(&mut self, task_id: &TaskId) -> Result<Option<Task>>;
        /// Every task, ordered by task ID.
        async fn get_tasks(&mut self) -> Result<Vec<Task>>;
        /// Up to `limit` task IDs, ascending by their bytes, each greater
        /// than `after` if given (a page of IDs; no task is decrypted).
        async fn get_task_ids(&mut self, after: Option<TaskId>, limit: u64)
            -> Result<Vec<TaskId>>;
        /// Deletes the task and everything stored for it, counting the rows
        /// removed per kind; `None` (and nothing changed) if there is no such
        /// task.
        async fn delete_task(&mut self, task_id: &TaskId) -> Result<Option<TaskRowCounts>>;
        /// Counts the rows stored for the task, per kind (what
        /// [`Self::delete_task`] would remove); `None` if there is no such task.
        async fn count_task_rows(&mut self, task_id: &TaskId) -> Result<Option<TaskRowCounts>>;
        /// Sets the task's `task_expiration` (DAP-09 section 4.2; `None`: the
        /// task never expires) and gives back the task as now stored.
        /// [`DatastoreError::NotFound`] if there is no such task.
        async fn update_task_expiration(&mut self, task_id: &TaskId, task_expiration: Option<Time>)
            -> Result<Task>;
        /// Deletes up to `limit` of the task's rows, children first, and once
        /// none is left the task itself (for a task past its expiration: the
        /// garbage collector). Gives the rows removed per kind and whether the
        /// task row went; repeated until it did, it removes what
        /// [`Self::delete_task`] removes, a bounded number of rows at a time.
        async fn delete_task_rows(&mut self, task_id: &TaskId, limit: u64)
            -> Result<(TaskRowCounts, bool)>;
    }

    queue_depths { // Leader: queue depths across tasks, for the metrics gauges
        /// Counts reports not yet in any aggregation job and collection jobs
        /// not yet done, over all tasks.
        async fn count_queue_depths(&mut self) -> Result<crate::QueueDepths>;
    }

    client_reports { // Leader: client reports (section 4.4.2)
        /// Stores reports, one outcome per report in order. A report whose ID is
        /// already stored for its task, or came earlier in `reports`, is a
        /// [`ReportWriteOutcome::Duplicate`] and changes nothing: the first wins.
        /// [`DatastoreError::NotFound`] if a report's task is not stored.
        async fn put_client_reports(&mut self, reports: &[LeaderStoredReport])
            -> Result<Vec<ReportWriteOutcome>>;
        /// One stored report.
        async fn get_client_report(&mut self, task_id: &TaskId, report_id: &ReportId)
            -> Result<Option<LeaderStoredReport>>;
        /// The stored reports among `report_ids`, in the order asked for;
        /// missing ones are left out.
        async fn get_client_reports(&mut self, task_id: &TaskId, report_ids: &[ReportId])
            -> Result<Vec<LeaderStoredReport>>;
        /// Up to `limit` reports not yet in any aggregation job, oldest first
        /// (by time, then ID).
        async fn get_unaggregated_client_reports(&mut self, task_id: &TaskId, limit: u64)
            -> Result<Vec<ReportMetadata>>;
        /// Marks reports as put in an aggregation job; how many were not
        /// marked before.
        async fn mark_client_reports_aggregation_started(&mut self, task_id: &TaskId,
            report_ids: &[ReportId]) -> Result<u64>;
        /// Puts reports back in the pool of those not yet in any aggregation
        /// job, for a later job to take again (a report the Helper refused as
        /// `report_too_early`, DAP-09 section 4.5.1.4); how many were marked
        /// before.
        async fn unmark_client_reports_aggregation_started(&mut self, task_id: &TaskId,
            report_ids: &[ReportId]) -> Result<u64>;
        /// Counts reports not yet in any aggregation job, within `interval` if
        /// given.
        async fn count_unaggregated_client_reports(&mut self, task_id: &TaskId,
            interval: Option<Interval>) -> Result<u64>;
        /// Up to `limit` reports of `interval` that no aggregation job with
        /// `aggregation_parameter` holds, oldest first (by time, then ID): for
        /// VDAFs whose parameter the Collector chooses, a report is aggregated
        /// once per parameter (DAP-09 section 4.6.1).
        async fn get_client_reports_not_aggregated_with(&mut self, task_id: &TaskId,
            interval: Interval, aggregation_parameter: &[u8], limit: u64)
            -> Result<Vec<ReportMetadata>>;
        /// Counts the reports [`Self::get_client_reports_not_aggregated_with`]
        /// would return without a limit.
        async fn count_client_reports_not_aggregated_with(&mut self, task_id: &TaskId,
            interval: Interval, aggregation_parameter: &[u8]) -> Result<u64>;
        /// Deletes up to `limit` reports whose time is before `before`, except
        /// those of in-progress aggregation jobs; how many.
        async fn delete_client_reports_before(&mut self, task_id: &TaskId, before: Time, limit: u64)
            -> Result<u64>;
    }

    aggregation_jobs { // Aggregation jobs (section 4.5)
        /// Stores a new job (its `created_at` is set to now); a job with the
        /// same ID fails with [`DatastoreError::AlreadyExists`]. A Leader's new
        /// job may be acquired at once.
        async fn put_aggregation_job(&mut self, job: &AggregationJob) -> Result<()>;
        /// One job.
        async fn get_aggregation_job(&mut self, task_id: &TaskId,
            aggregation_job_id: &AggregationJobId) -> Result<Option<AggregationJob>>;
        /// Writes the job's state, step and last request hash (its kept
        /// initialization answer, if any, stays as stored).
        /// [`DatastoreError::NotFound`] if there is no such job.
        async fn update_aggregation_job(&mut self, job: &AggregationJob, lease: Option<&LeaseToken>)
            -> Result<()>;
        /// Counts the in-progress jobs with this aggregation parameter that may
        /// hold reports of the batch (a time-interval batch: jobs whose client
        /// timestamp interval overlaps it; a fixed-size batch: jobs of the batch
        /// ID). The Leader must finish them before collecting (section 4.6.1).
        async fn count_unfinished_aggregation_jobs_for_batch(&mut self, task_id: &TaskId,
            batch: &BatchIdentifier, aggregation_parameter: &[u8]) -> Result<u64>;
        /// Whether any aggregation job used this batch ID (the Helper's
        /// fixed-size boundary check, section 4.6.5.2).
        async fn aggregation_jobs_exist_for_batch_id(&mut self, task_id: &TaskId,
            batch_id: &BatchId) -> Result<bool>;
        /// Leases up to `max` in-progress jobs of Leader tasks whose lease is
        /// free or expired and whose retry time has come, oldest retry time
        /// first, for `lease_duration`. Each counts one more attempt.
        async fn acquire_aggregation_jobs(&mut self, lease_duration: Duration, max: u64)
            -> Result<Vec<Lease<AggregationJob>>>;
        /// Gives up a lease: the job may be acquired again `retry_after` from
        /// now. `reset_attempts` zeroes the attempt count (after progress).
        async fn release_aggregation_job(&mut self, lease: &Lease<AggregationJob>,
            retry_after: Duration, reset_attempts: bool) -> Result<()>;
        /// Extends a held lease of an aggregation job to `lease_duration` from
        /// now, so that work longer than one lease keeps it; the new expiry.
        /// [`DatastoreError::LeaseLost`] (nothing changed) if the lease expired
        /// or another process acquired the job since.
        async fn renew_aggregation_job_lease(&mut self, task_id: &TaskId,
            aggregation_job_id: &AggregationJobId, token: &LeaseToken, lease_duration: Duration)
            -> Result<Time>;
        /// Deletes up to `limit` jobs that are over, whose reports are all
        /// before `before`, last changed before `before`, with no report
        /// aggregation or batch aggregation left; how many. With
        /// `abandoned_in_progress` (a Helper's task, whose jobs only the Leader
        /// moves on), a job still in progress but last changed before `before`
        /// counts as over: the Leader abandoned it.
        async fn delete_expired_aggregation_jobs(&mut self, task_id: &TaskId, before: Time,
            limit: u64, abandoned_in_progress: bool) -> Result<u64>;
    }

    report_aggregations { // Report aggregations (sections 4.5.1, 4.5.2)
        /// Stores new report aggregations of one or more existing jobs;
        /// [`DatastoreError::AlreadyExists`] if one exists at the same
        /// (task, job, ord).
        async fn put_report_aggregations(&mut self, report_aggregations: &[ReportAggregation],
            lease: Option<&LeaseToken>) -> Result<()>;
        /// A job's report aggregations, ordered by `ord`.
        async fn get_report_aggregations(&mut self, task_id: &TaskId,
            aggregation_job_id: &AggregationJobId) -> Result<Vec<ReportAggregation>>;
        /// Writes the state and last response of existing report aggregations
        /// (found by task, job and ord); [`DatastoreError::NotFound`] if one is
        /// missing.
        async fn update_report_aggregations(&mut self, report_aggregations: &[ReportAggregation],
            lease: Option<&LeaseToken>) -> Result<()>;
        /// Deletes up to `limit` report aggregations of jobs that
        /// [`Self::delete_expired_aggregation_jobs`] may delete once they are
        /// gone (`abandoned_in_progress` as there); how many.
        async fn delete_expired_report_aggregations(&mut self, task_id: &TaskId, before: Time,
            limit: u64, abandoned_in_progress: bool) -> Result<u64>;
    }

    batch_aggregations { // Batch aggregations (section 4.6.3)
        /// Stores each job's contribution to a batch, replacing the job's
        /// earlier row for the same batch and aggregation parameter if any.
        async fn put_batch_aggregations(&mut self, batch_aggregations: &[BatchAggregation],
            lease: Option<&LeaseToken>) -> Result<()>;
        /// Every job's contribution to the batch with this aggregation
        /// parameter: for a time interval, every bucket inside it.
        async fn get_batch_aggregations_for_batch(&mut self, task_id: &TaskId,
            batch: &BatchIdentifier, aggregation_parameter: &[u8]) -> Result<Vec<BatchAggregation>>;
        /// One job's contributions, to every batch.
        async fn get_batch_aggregations_for_job(&mut self, task_id: &TaskId,
            aggregation_job_id: &AggregationJobId) -> Result<Vec<BatchAggregation>>;
        /// Deletes up to `limit` rows of batches whose reports are all before
        /// `before` and that no in-progress job may add to (a time-interval
        /// bucket ending by `before`; a fixed-size batch with no report at or
        /// after `before`); how many. With `abandoned_in_progress`, an
        /// in-progress job last changed before `before` is abandoned and
        /// holds nothing back (see
        /// [`Self::delete_expired_aggregation_jobs`]).
        async fn delete_expired_batch_aggregations(&mut self, task_id: &TaskId, before: Time,
            limit: u64, abandoned_in_progress: bool) -> Result<u64>;
    }

    collected_batches { // Collected batches (sections 4.5.1.4, 4.6.5)
        /// Records that the batch was queried with this aggregation parameter;
        /// whether the record is new.
        async fn put_collected_batch(&mut self, task_id: &TaskId, batch: &BatchIdentifier,
            aggregation_parameter: &[u8]) -> Result<bool>;
        /// The recorded queries touching the batch: for a time interval, every
        /// query interval overlapping it (equal or not); for a batch ID, the
        /// queries of that ID. One row per distinct aggregation parameter and
        /// query.
        async fn get_collected_batches(&mut self, task_id: &TaskId, batch: &BatchIdentifier)
            -> Result<Vec<CollectedBatch>>;
        /// Whether a query touching the batch (as in [`Self::get_collected_batches`])
        /// was recorded, with this aggregation parameter if one is given.
        async fn is_batch_collected(&mut self, task_id: &TaskId, batch: &BatchIdentifier,
            aggregation_parameter: Option<&[u8]>) -> Result<bool>;
        /// Deletes up to `limit` records no report can join any more (a time
        /// interval ending by `before`; a batch ID recorded before `before`
        /// with no batch aggregation left); how many.
        async fn delete_expired_collected_batches(&mut self, task_id: &TaskId, before: Time,
            limit: u64) -> Result<u64>;
    }

    collection_jobs { // Leader: collection jobs (section 4.6.1)
        /// Stores a new job (`created_at` set to now), or reports that one
        /// exists with the same ID and identical or different request bytes.
        async fn put_collection_job(&mut self, job: &CollectionJob)
            -> Result<CollectionJobWriteOutcome>;
        /// One job.
        async fn get_collection_job(&mut self, task_id: &TaskId,
            collection_job_id: &CollectionJobId) -> Result<Option<CollectionJob>>;
        /// Writes the job's state; [`DatastoreError::NotFound`] if missing.
        async fn update_collection_job(&mut self, job: &CollectionJob, lease: Option<&LeaseToken>)
            -> Result<()>;
        /// The jobs whose batch touches `batch` (as in
        /// [`Self::get_collected_batches`]), in any state.
        async fn get_collection_jobs_for_batch(&mut self, task_id: &TaskId, batch: &BatchIdentifier)
            -> Result<Vec<CollectionJob>>;
        /// The distinct (batch, aggregation parameter) of the task's jobs in
        /// state `Start`: what the Leader must aggregate for VDAFs whose
        /// parameter the Collector chooses.
        async fn get_waiting_collection_batches(&mut self, task_id: &TaskId)
            -> Result<Vec<(BatchIdentifier, Vec<u8>)>>;
        /// Leases up to `max` collection jobs in state `Start`, like
        /// [`Self::acquire_aggregation_jobs`].
        async fn acquire_collection_jobs(&mut self, lease_duration: Duration, max: u64)
            -> Result<Vec<Lease<CollectionJob>>>;
        /// Gives up a lease, like [`Self::release_aggregation_job`].
        async fn release_collection_job(&mut self, lease: &Lease<CollectionJob>,
            retry_after: Duration, reset_attempts: bool) -> Result<()>;
        /// Makes the jobs put back because their batch was not ready (in
        /// state `Start`, unleased, no failed attempt counted, a retry time
        /// still to come) due now, so that the next acquisition looks at
        /// them again; how many.
        async fn expedite_waiting_collection_jobs(&mut self) -> Result<u64>;
        /// Extends a held lease, like [`Self::renew_aggregation_job_lease`].
        async fn renew_collection_job_lease(&mut self, task_id: &TaskId,
            collection_job_id: &CollectionJobId, token: &LeaseToken, lease_duration: Duration)
            -> Result<Time>;
        /// Deletes up to `limit` jobs past `Start`, last changed before
        /// `before`, whose interval (if any) ends by `before`; how many.
        async fn delete_expired_collection_jobs(&mut self, task_id: &TaskId, before: Time,
            limit: u64) -> Result<u64>;
    }

    aggregate_share_jobs { // Helper: aggregate share jobs (section 4.6.3)
        /// Stores an answered request (`created_at` set to now);
        /// [`DatastoreError::AlreadyExists`] if one exists for the batch and
        /// aggregation parameter.
        async fn put_aggregate_share_job(&mut self, job: &AggregateShareJob) -> Result<()>;
        /// The answered request for the batch and aggregation parameter.
        async fn get_aggregate_share_job(&mut self, task_id: &TaskId, batch: &BatchIdentifier,
            aggregation_parameter: &[u8]) -> Result<Option<AggregateShareJob>>;
        /// Deletes up to `limit` answers made before `before` whose collected
        /// batch record is gone; how many.
        async fn delete_expired_aggregate_share_jobs(&mut self, task_id: &TaskId, before: Time,
            limit: u64) -> Result<u64>;
    }

    helper_replay { // Helper: anti-replay (section 4.5.1.4)
        /// Adds reports to the set seen with this aggregation parameter; for
        /// each report in order, whether it was already there (or came earlier
        /// in `reports`): such a report must be rejected as `report_replayed`.
        /// [`DatastoreError::NotFound`] if the task is not stored.
        async fn put_helper_seen_reports(&mut self, task_id: &TaskId, aggregation_parameter: &[u8],
            reports: &[SeenReport]) -> Result<Vec<bool>>;
        /// The aggregation parameters each of `report_ids` was seen with
        /// (for `Vdaf::is_valid`), as (report ID, parameter) pairs. With an
        /// empty `clash_prefix`, all of them. Otherwise those whose encoding
        /// starts with `clash_prefix` and, for each report seen at all, its
        /// first parameter in byte order: all `is_valid` needs for a VDAF
        /// whose parameters clash exactly when they share that prefix
        /// (`VdafInstance::agg_param_clash_prefix`), and non-empty for every
        /// report seen before, however many parameters it was seen with.
        async fn get_helper_seen_aggregation_parameters(&mut self, task_id: &TaskId,
            report_ids: &[ReportId], clash_prefix: &[u8]) -> Result<Vec<(ReportId, Vec<u8>)>>;
        /// Forgets up to `limit` seen reports whose time is before `before`.
        async fn delete_helper_seen_reports_before(&mut self, task_id: &TaskId, before: Time,
            limit: u64) -> Result<u64>;
    }

    outstanding_batches { // Leader: fixed-size batches (sections 4.1.2, 4.6.1)
        /// Reserves room for up to `wanted` reports (at least 1) in the oldest
        /// open batch below `target_size` reports, creating a batch if there is
        /// none; marks the batch filled when it reaches `target_size`.
        async fn reserve_outstanding_batch(&mut self, task_id: &TaskId, wanted: u64,
            target_size: u64) -> Result<BatchReservation>;
        /// Gives back room reserved for reports that will not be aggregated
        /// (reopening the batch if it was filled and not collected).
        async fn release_outstanding_batch_reservation(&mut self, task_id: &TaskId,
            batch_id: &BatchId, count: u64) -> Result<()>;
        /// The task's batches not yet taken by a collection job, oldest first.
        async fn get_outstanding_batches(&mut self, task_id: &TaskId)
            -> Result<Vec<OutstandingBatch>>;
        /// For a `current_batch` query: takes the oldest batch not yet taken
        /// whose aggregated report count (summed over its batch aggregations
        /// with this parameter) reached `min_batch_size`, and marks it taken.
        async fn take_current_batch(&mut self, task_id: &TaskId, aggregation_parameter: &[u8],
            min_batch_size: u64) -> Result<Option<BatchId>>;
        /// Deletes up to `limit` batches created before `before` that no
        /// aggregation job nor batch aggregation refers to; how many.
        async fn delete_expired_outstanding_batches(&mut self, task_id: &TaskId, before: Time,
            limit: u64) -> Result<u64>;
    }

    task_counters { // Per-task statistics (`dyad task stats`)
        /// Adds `counters` to the task's statistics, in one upsert on one of
        /// its shard rows picked at random (no hot row under concurrent
        /// writers). Nothing happens if all are zero or the task is gone.
        async fn add_task_counters(&mut self, task_id: &TaskId, counters: &TaskCounters)
            -> Result<()>;
        /// The task's statistics, summed over its shards (zeros if nothing
        /// was counted); `None` if there is no such task.
        async fn get_task_counters(&mut self, task_id: &TaskId) -> Result<Option<TaskCounters>>;
    }

    global_hpke_keys { // Global HPKE keys (section 4.4.1), shared by tasks without their own
        /// Takes the lock that serializes the writers of the global keys
        /// (key rotators on every replica, the operator's commands): call it
        /// first, before reading the keys, in a transaction that then
        /// decides from what it read. A concurrent holder makes this wait,
        /// then the transaction is rerun (PostgreSQL) or never overlaps
        /// (SQLite).
        async fn lock_global_hpke_keys(&mut self) -> Result<()>;
        /// Stores a new global key in `state` (its `created_at` and
        /// `state_changed_at` set to now); [`DatastoreError::AlreadyExists`]
        /// if a global key has its config ID.
        async fn put_global_hpke_key(&mut self, keypair: &HpkeKeypair, state: HpkeKeyState)
            -> Result<()>;
        /// Every global key, in any state, by config ID.
        async fn get_global_hpke_keys(&mut self) -> Result<Vec<GlobalHpkeKey>>;
        /// Moves a global key to `state` (`state_changed_at` set to now, unless
        /// it was in that state already); [`DatastoreError::NotFound`] if there
        /// is no such key.
        async fn set_global_hpke_key_state(&mut self, config_id: HpkeConfigId,
            state: HpkeKeyState) -> Result<()>;
        /// Deletes a global key; whether there was one.
        async fn delete_global_hpke_key(&mut self, config_id: HpkeConfigId) -> Result<bool>;
    }

    taskprov_peer_aggregators { // Taskprov peer aggregators (draft-wang-ppm-dap-taskprov-06)
        /// Stores a peer; [`DatastoreError::AlreadyExists`] if a peer with its
        /// endpoint and role is stored.
        async fn put_taskprov_peer_aggregator(&mut self,
            peer: &dyad_core::taskprov::PeerAggregator) -> Result<()>;
        /// Every peer, by role then endpoint.
        async fn get_taskprov_peer_aggregators(&mut self)
            -> Result<Vec<dyad_core::taskprov::PeerAggregator>>;
        /// The peer at `endpoint` (a base URL, ending in `/`) in `role`.
        async fn get_taskprov_peer_aggregator(&mut self, endpoint: &url::Url, role: Role)
            -> Result<Option<dyad_core::taskprov::PeerAggregator>>;
        /// Deletes the peer at `endpoint` in `role`; whether there was one.
        /// Tasks already provisioned with it stay.
        async fn delete_taskprov_peer_aggregator(&mut self, endpoint: &url::Url, role: Role)
            -> Result<bool>;
    }

    tasks { // Secrets at rest (see `crate::reseal`)
        /// How many values `column` holds.
        async fn count_sealed_values(&mut self, column: SealedColumn) -> Result<u64>;
        /// Looks at up to `limit` rows of `column` in row-key order, starting
        /// after the row whose key is `after` (from the first row if `None`),
        /// and rewrites under the first datastore key each value sealed under
        /// another. [`DatastoreError::Decrypt`] (naming the row) if no key opens
        /// one.
        async fn reseal_sealed_values(&mut self, column: SealedColumn, after: Option<&[u8]>,
            limit: u64) -> Result<ResealBatch>;
    }

    free_space { // Space of deleted rows (see `crate::tables::free_space`)
        /// Gives up to `max_pages` free pages of the database file back to the
        /// file system (SQLite's `incremental_vacuum`); how many. PostgreSQL:
        /// 0, its autovacuum does this.
        async fn reclaim_free_space(&mut self, max_pages: u64) -> Result<u64>;
    }
}
