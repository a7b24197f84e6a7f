//! [`BackendTransaction`]: one open transaction on either backend,
//! implementing [`Transaction`] by handing each operation to its table's
//! module (`crate::tables`), with the write guard of read-only transactions
//! (which PostgreSQL enforces too: they begin `READ ONLY`). Each backend
//! begins, commits and rolls back its own (`sqlite/mod.rs`,
//! `postgres/mod.rs`).

use crate::backend::Backend;
use crate::datastore::TxMode;
use crate::lease::{Lease, LeaseToken};
use crate::models::{
    AggregateShareJob, AggregationJob, BatchAggregation, BatchIdentifier, BatchReservation,
    CollectedBatch, CollectionJob, CollectionJobWriteOutcome, LeaderStoredReport, OutstandingBatch,
    ReportAggregation, ReportWriteOutcome, SeenReport, TaskRowCounts,
};
use crate::reseal::{ResealBatch, SealedColumn};
use crate::tables::leases::LeasedTable;
use crate::tables::{
    aggregate_share_jobs, aggregation_jobs, batch_aggregations, client_reports, collected_batches,
    collection_jobs, helper_replay, leases, outstanding_batches, report_aggregations, tasks,
};
use crate::{DatastoreError, DatastoreKeys, Transaction};
use dyad_core::task::Task;
use dyad_messages::draft09::{
    AggregationJobId, BatchId, CollectionJobId, Duration, Interval, ReportId, ReportMetadata,
    TaskId, Time,
};
use std::sync::Arc;

type Result<T> = std::result::Result<T, DatastoreError>;

/// One open transaction on backend `DB`. Dropped without being committed,
/// it rolls back.
pub(crate) struct BackendTransaction<'c, DB: Backend> {
    inner: sqlx::Transaction<'c, DB>,
    now: Time,
    mode: TxMode,
    keys: Arc<DatastoreKeys>,
}

impl<'c, DB: Backend> BackendTransaction<'c, DB> {
    pub(crate) fn new(
        inner: sqlx::Transaction<'c, DB>,
        now: Time,
        mode: TxMode,
        keys: Arc<DatastoreKeys>,
    ) -> Self {
        Self {
            inner,
            now,
            mode,
            keys,
        }
    }

    /// Rolls the transaction back, leaving its connection out of any
    /// transaction.
    pub(crate) async fn rollback(self) -> Result<()> {
        Ok(self.inner.rollback().await?)
    }

    pub(crate) async fn commit(self) -> Result<()> {
        Ok(self.inner.commit().await?)
    }

    fn read(&mut self) -> &mut DB::Connection {
        &mut self.inner
    }

    fn write(&mut self, operation: &'static str) -> Result<&mut DB::Connection> {
        match self.mode {
            TxMode::ReadWrite => Ok(&mut self.inner),
            TxMode::ReadOnly => Err(DatastoreError::ReadOnly { operation }),
        }
    }
}

#[async_trait::async_trait]
impl<DB: Backend> Transaction for BackendTransaction<'_, DB> {
    fn now(&self) -> Time {
        self.now
    }

    async fn put_task(&mut self, task: &Task) -> Result<()> {
        let (now, keys) = (self.now, self.keys.clone());
        tasks::put::<DB>(self.write("put_task")?, now, task, &keys).await
    }

    async fn get_task(&mut self, task_id: &TaskId) -> Result<Option<Task>> {
        let keys = self.keys.clone();
        tasks::get::<DB>(self.read(), task_id, &keys).await
    }

    async fn get_tasks(&mut self) -> Result<Vec<Task>> {
        let keys = self.keys.clone();
        tasks::get_all::<DB>(self.read(), &keys).await
    }

    async fn delete_task(&mut self, task_id: &TaskId) -> Result<Option<TaskRowCounts>> {
        tasks::delete::<DB>(self.write("delete_task")?, task_id).await
    }

    async fn count_task_rows(&mut self, task_id: &TaskId) -> Result<Option<TaskRowCounts>> {
        tasks::count_rows::<DB>(self.read(), task_id).await
    }

    async fn update_task_expiration(
        &mut self,
        task_id: &TaskId,
        task_expiration: Option<Time>,
    ) -> Result<Task> {
        let keys = self.keys.clone();
        let conn = self.write("update_task_expiration")?;
        tasks::update_expiration::<DB>(conn, task_id, task_expiration, &keys).await
    }

    async fn put_client_reports(
        &mut self,
        reports: &[LeaderStoredReport],
    ) -> Result<Vec<ReportWriteOutcome>> {
        let now = self.now;
        client_reports::put::<DB>(self.write("put_client_reports")?, now, reports).await
    }

    async fn get_client_report(
        &mut self,
        task_id: &TaskId,
        report_id: &ReportId,
    ) -> Result<Option<LeaderStoredReport>> {
        client_reports::get::<DB>(self.read(), task_id, report_id).await
    }

    async fn get_client_reports(
        &mut self,
        task_id: &TaskId,
        report_ids: &[ReportId],
    ) -> Result<Vec<LeaderStoredReport>> {
        client_reports::get_many::<DB>(self.read(), task_id, report_ids).await
    }

    async fn get_unaggregated_client_reports(
        &mut self,
        task_id: &TaskId,
        limit: u64,
    ) -> Result<Vec<ReportMetadata>> {
        // Locking rows is a write: only read-write transactions lock (and
        // skip the rows other job creators hold).
        let lock = self.mode == TxMode::ReadWrite;
        client_reports::get_unaggregated::<DB>(self.read(), task_id, limit, lock).await
    }

    async fn mark_client_reports_aggregation_started(
        &mut self,
        task_id: &TaskId,
        report_ids: &[ReportId],
    ) -> Result<u64> {
        let conn = self.write("mark_client_reports_aggregation_started")?;
        client_reports::mark_started::<DB>(conn, task_id, report_ids, true).await
    }

    async fn unmark_client_reports_aggregation_started(
        &mut self,
        task_id: &TaskId,
        report_ids: &[ReportId],
    ) -> Result<u64> {
        let conn = self.write("unmark_client_reports_aggregation_started")?;
        client_reports::mark_started::<DB>(conn, task_id, report_ids, false).await
    }

    async fn count_unaggregated_client_reports(
        &mut self,
        task_id: &TaskId,
        interval: Option<Interval>,
    ) -> Result<u64> {
        client_reports::count_unaggregated::<DB>(self.read(), task_id, interval).await
    }

    async fn delete_client_reports_before(
        &mut self,
        task_id: &TaskId,
        before: Time,
        limit: u64,
    ) -> Result<u64> {
        let conn = self.write("delete_client_reports_before")?;
        client_reports::delete_before::<DB>(conn, task_id, before, limit).await
    }

    async fn put_aggregation_job(&mut self, job: &AggregationJob) -> Result<()> {
        let now = self.now;
        aggregation_jobs::put::<DB>(self.write("put_aggregation_job")?, now, job).await
    }

    async fn get_aggregation_job(
        &mut self,
        task_id: &TaskId,
        aggregation_job_id: &AggregationJobId,
    ) -> Result<Option<AggregationJob>> {
        aggregation_jobs::get::<DB>(self.read(), task_id, aggregation_job_id).await
    }

    async fn update_aggregation_job(
        &mut self,
        job: &AggregationJob,
        lease: Option<&LeaseToken>,
    ) -> Result<()> {
        let now = self.now;
        aggregation_jobs::update::<DB>(self.write("update_aggregation_job")?, now, job, lease).await
    }

    async fn count_unfinished_aggregation_jobs_for_batch(
        &mut self,
        task_id: &TaskId,
        batch: &BatchIdentifier,
        aggregation_parameter: &[u8],
    ) -> Result<u64> {
        aggregation_jobs::count_unfinished_for_batch::<DB>(
            self.read(),
            task_id,
            batch,
            aggregation_parameter,
        )
        .await
    }

    async fn aggregation_jobs_exist_for_batch_id(
        &mut self,
        task_id: &TaskId,
        batch_id: &BatchId,
    ) -> Result<bool> {
        aggregation_jobs::exist_for_batch_id::<DB>(self.read(), task_id, batch_id).await
    }

    async fn acquire_aggregation_jobs(
        &mut self,
        lease_duration: Duration,
        max: u64,
    ) -> Result<Vec<Lease<AggregationJob>>> {
        let now = self.now;
        let conn = self.write("acquire_aggregation_jobs")?;
        aggregation_jobs::acquire::<DB>(conn, now, lease_duration, max).await
    }

    async fn release_aggregation_job(
        &mut self,
        lease: &Lease<AggregationJob>,
        retry_after: Duration,
        reset_attempts: bool,
    ) -> Result<()> {
        let now = self.now;
        let conn = self.write("release_aggregation_job")?;
        aggregation_jobs::release::<DB>(conn, now, lease, retry_after, reset_attempts).await
    }

    async fn renew_aggregation_job_lease(
        &mut self,
        task_id: &TaskId,
        aggregation_job_id: &AggregationJobId,
        token: &LeaseToken,
        lease_duration: Duration,
    ) -> Result<Time> {
        let now = self.now;
        let conn = self.write("renew_aggregation_job_lease")?;
        leases::renew::<DB>(
            conn,
            LeasedTable::AggregationJobs,
            task_id,
            aggregation_job_id.as_bytes(),
            token,
            now,
            lease_duration,
        )
        .await
    }

    async fn put_report_aggregations(
        &mut self,
        report_aggregations: &[ReportAggregation],
        lease: Option<&LeaseToken>,
    ) -> Result<()> {
        let now = self.now;
        let conn = self.write("put_report_aggregations")?;
        report_aggregations::put::<DB>(conn, now, report_aggregations, lease).await
    }

    async fn get_report_aggregations(
        &mut self,
        task_id: &TaskId,
        aggregation_job_id: &AggregationJobId,
    ) -> Result<Vec<ReportAggregation>> {
        report_aggregations::get_for_job::<DB>(self.read(), task_id, aggregation_job_id).await
    }

    async fn update_report_aggregations(
        &mut self,
        report_aggregations: &[ReportAggregation],
        lease: Option<&LeaseToken>,
    ) -> Result<()> {
        let now = self.now;
        let conn = self.write("update_report_aggregations")?;
        report_aggregations::update::<DB>(conn, now, report_aggregations, lease).await
    }

    async fn put_batch_aggregations(
        &mut self,
        batch_aggregations: &[BatchAggregation],
        lease: Option<&LeaseToken>,
    ) -> Result<()> {
        let now = self.now;
        let conn = self.write("put_batch_aggregations")?;
        batch_aggregations::put::<DB>(conn, now, batch_aggregations, lease).await
    }

    async fn get_batch_aggregations_for_batch(
        &mut self,
        task_id: &TaskId,
        batch: &BatchIdentifier,
        aggregation_parameter: &[u8],
    ) -> Result<Vec<BatchAggregation>> {
        batch_aggregations::get_for_batch::<DB>(self.read(), task_id, batch, aggregation_parameter)
            .await
    }

    async fn get_batch_aggregations_for_job(
        &mut self,
        task_id: &TaskId,
        aggregation_job_id: &AggregationJobId,
    ) -> Result<Vec<BatchAggregation>> {
        batch_aggregations::get_for_job::<DB>(self.read(), task_id, aggregation_job_id).await
    }

    async fn put_collected_batch(
        &mut self,
        task_id: &TaskId,
        batch: &BatchIdentifier,
        aggregation_parameter: &[u8],
    ) -> Result<bool> {
        let now = self.now;
        let conn = self.write("put_collected_batch")?;
        collected_batches::put::<DB>(conn, now, task_id, batch, aggregation_parameter).await
    }

    async fn get_collected_batches(
        &mut self,
        task_id: &TaskId,
        batch: &BatchIdentifier,
    ) -> Result<Vec<CollectedBatch>> {
        collected_batches::get_touching::<DB>(self.read(), task_id, batch).await
    }

    async fn is_batch_collected(
        &mut self,
        task_id: &TaskId,
        batch: &BatchIdentifier,
        aggregation_parameter: Option<&[u8]>,
    ) -> Result<bool> {
        collected_batches::is_collected::<DB>(self.read(), task_id, batch, aggregation_parameter)
            .await
    }

    async fn put_collection_job(
        &mut self,
        job: &CollectionJob,
    ) -> Result<CollectionJobWriteOutcome> {
        let now = self.now;
        collection_jobs::put::<DB>(self.write("put_collection_job")?, now, job).await
    }

    async fn get_collection_job(
        &mut self,
        task_id: &TaskId,
        collection_job_id: &CollectionJobId,
    ) -> Result<Option<CollectionJob>> {
        collection_jobs::get::<DB>(self.read(), task_id, collection_job_id).await
    }

    async fn update_collection_job(
        &mut self,
        job: &CollectionJob,
        lease: Option<&LeaseToken>,
    ) -> Result<()> {
        let now = self.now;
        collection_jobs::update::<DB>(self.write("update_collection_job")?, now, job, lease).await
    }

    async fn get_collection_jobs_for_batch(
        &mut self,
        task_id: &TaskId,
        batch: &BatchIdentifier,
    ) -> Result<Vec<CollectionJob>> {
        collection_jobs::get_for_batch::<DB>(self.read(), task_id, batch).await
    }

    async fn acquire_collection_jobs(
        &mut self,
        lease_duration: Duration,
        max: u64,
    ) -> Result<Vec<Lease<CollectionJob>>> {
        let now = self.now;
        let conn = self.write("acquire_collection_jobs")?;
        collection_jobs::acquire::<DB>(conn, now, lease_duration, max).await
    }

    async fn release_collection_job(
        &mut self,
        lease: &Lease<CollectionJob>,
        retry_after: Duration,
        reset_attempts: bool,
    ) -> Result<()> {
        let now = self.now;
        let conn = self.write("release_collection_job")?;
        collection_jobs::release::<DB>(conn, now, lease, retry_after, reset_attempts).await
    }

    async fn renew_collection_job_lease(
        &mut self,
        task_id: &TaskId,
        collection_job_id: &CollectionJobId,
        token: &LeaseToken,
        lease_duration: Duration,
    ) -> Result<Time> {
        let now = self.now;
        let conn = self.write("renew_collection_job_lease")?;
        leases::renew::<DB>(
            conn,
            LeasedTable::CollectionJobs,
            task_id,
            collection_job_id.as_bytes(),
            token,
            now,
            lease_duration,
        )
        .await
    }

    async fn put_aggregate_share_job(&mut self, job: &AggregateShareJob) -> Result<()> {
        let now = self.now;
        aggregate_share_jobs::put::<DB>(self.write("put_aggregate_share_job")?, now, job).await
    }

    async fn get_aggregate_share_job(
        &mut self,
        task_id: &TaskId,
        batch: &BatchIdentifier,
        aggregation_parameter: &[u8],
    ) -> Result<Option<AggregateShareJob>> {
        aggregate_share_jobs::get::<DB>(self.read(), task_id, batch, aggregation_parameter).await
    }

    async fn put_helper_seen_reports(
        &mut self,
        task_id: &TaskId,
        aggregation_parameter: &[u8],
        reports: &[SeenReport],
    ) -> Result<Vec<bool>> {
        let conn = self.write("put_helper_seen_reports")?;
        helper_replay::put::<DB>(conn, task_id, aggregation_parameter, reports).await
    }

    async fn get_helper_seen_aggregation_parameters(
        &mut self,
        task_id: &TaskId,
        report_ids: &[ReportId],
    ) -> Result<Vec<(ReportId, Vec<u8>)>> {
        helper_replay::get_parameters::<DB>(self.read(), task_id, report_ids).await
    }

    async fn delete_helper_seen_reports_before(
        &mut self,
        task_id: &TaskId,
        before: Time,
        limit: u64,
    ) -> Result<u64> {
        let conn = self.write("delete_helper_seen_reports_before")?;
        helper_replay::delete_before::<DB>(conn, task_id, before, limit).await
    }

    async fn reserve_outstanding_batch(
        &mut self,
        task_id: &TaskId,
        wanted: u64,
        target_size: u64,
    ) -> Result<BatchReservation> {
        let now = self.now;
        let conn = self.write("reserve_outstanding_batch")?;
        outstanding_batches::reserve::<DB>(conn, now, task_id, wanted, target_size).await
    }

    async fn release_outstanding_batch_reservation(
        &mut self,
        task_id: &TaskId,
        batch_id: &BatchId,
        count: u64,
    ) -> Result<()> {
        let conn = self.write("release_outstanding_batch_reservation")?;
        outstanding_batches::release::<DB>(conn, task_id, batch_id, count).await
    }

    async fn get_outstanding_batches(&mut self, task_id: &TaskId) -> Result<Vec<OutstandingBatch>> {
        outstanding_batches::get_open::<DB>(self.read(), task_id).await
    }

    async fn take_current_batch(
        &mut self,
        task_id: &TaskId,
        aggregation_parameter: &[u8],
        min_batch_size: u64,
    ) -> Result<Option<BatchId>> {
        let conn = self.write("take_current_batch")?;
        outstanding_batches::take_current::<DB>(
            conn,
            task_id,
            aggregation_parameter,
            min_batch_size,
        )
        .await
    }

    async fn count_sealed_values(&mut self, column: SealedColumn) -> Result<u64> {
        match column {
            SealedColumn::TaskDocument => tasks::count::<DB>(self.read()).await,
        }
    }

    async fn reseal_sealed_values(
        &mut self,
        column: SealedColumn,
        after: Option<&[u8]>,
        limit: u64,
    ) -> Result<ResealBatch> {
        let keys = self.keys.clone();
        let conn = self.write("reseal_sealed_values")?;
        match column {
            SealedColumn::TaskDocument => tasks::reseal::<DB>(conn, after, limit, &keys).await,
        }
    }
}
