//! Lease renewal for the Leader's two job drivers, one function for both
//! kinds of leased job.
//!
//! A driver holds a job under a [`Lease`] (acquired in
//! [`driver_loop`](super::driver_loop)). Before each request to the Helper
//! it renews the lease to a full `lease_duration` from now with
//! [`renew_lease`], so that a live driver keeps its job however many
//! requests it makes, while a crashed driver's lease still runs out one
//! `lease_duration` after its last renewal and another driver takes the job.
//! A renewal fails with a lost lease (`TxError::is_lease_lost`) when another
//! driver took the job meanwhile.
//!
//! The aggregation job driver renews only when less than half of
//! `lease_duration` is left ([`needs_renewal`]): a job's first request
//! follows its acquisition by moments, and until its lease runs out no
//! other driver can take it, so renewing then would only be one more write
//! transaction per job (on SQLite, one more turn of the single writer the
//! uploads wait for).
//!
//! | leased job | renewed by |
//! |---|---|
//! | [`AggregationJob`] ([`job_driver`](super::job_driver)) | `Transaction::renew_aggregation_job_lease` |
//! | [`CollectionJob`] ([`collection_driver`](super::collection_driver)) | `Transaction::renew_collection_job_lease` |

use crate::telemetry::instruments::{self, JobKind, LeaseEvent};
use dyad_datastore::models::{AggregationJob, CollectionJob};
use dyad_datastore::{BoxFuture, Datastore, DatastoreExt, Lease, LeaseToken, Transaction, TxError};
use dyad_messages::draft09::{AggregationJobId, CollectionJobId, Duration, TaskId, Time};

/// A job one of the Leader's drivers holds under a lease.
pub(crate) trait LeasedJob: Send + Sync + 'static {
    /// The job's ID within its task.
    type Id: Copy + Send + Sync + 'static;

    /// The name of the renewal transaction (in logs and metrics).
    const RENEW_TX: &'static str;

    /// The `job` label of its metrics.
    const KIND: JobKind;

    /// The job's task and ID.
    fn key(&self) -> (TaskId, Self::Id);

    /// Extends the lease proved by `token` to `duration` from the
    /// transaction's time; the new expiry.
    fn renew(
        tx: &mut dyn Transaction,
        task_id: TaskId,
        id: Self::Id,
        token: LeaseToken,
        duration: Duration,
    ) -> BoxFuture<'_, Result<Time, TxError>>;
}

impl LeasedJob for AggregationJob {
    type Id = AggregationJobId;
    const RENEW_TX: &'static str = "aggregation_job_renew_lease";
    const KIND: JobKind = JobKind::Aggregation;

    fn key(&self) -> (TaskId, AggregationJobId) {
        (self.task_id, self.aggregation_job_id)
    }

    fn renew(
        tx: &mut dyn Transaction,
        task_id: TaskId,
        id: AggregationJobId,
        token: LeaseToken,
        duration: Duration,
    ) -> BoxFuture<'_, Result<Time, TxError>> {
        Box::pin(async move {
            Ok(tx
                .renew_aggregation_job_lease(&task_id, &id, &token, duration)
                .await?)
        })
    }
}

impl LeasedJob for CollectionJob {
    type Id = CollectionJobId;
    const RENEW_TX: &'static str = "collection_job_renew_lease";
    const KIND: JobKind = JobKind::Collection;

    fn key(&self) -> (TaskId, CollectionJobId) {
        (self.task_id, self.collection_job_id)
    }

    fn renew(
        tx: &mut dyn Transaction,
        task_id: TaskId,
        id: CollectionJobId,
        token: LeaseToken,
        duration: Duration,
    ) -> BoxFuture<'_, Result<Time, TxError>> {
        Box::pin(async move {
            Ok(tx
                .renew_collection_job_lease(&task_id, &id, &token, duration)
                .await?)
        })
    }
}

/// Extends `lease` to a full `duration` from now and returns the new
/// expiry. Fails with a lost lease if another driver took the job
/// meanwhile (its token no longer matches).
pub(crate) async fn renew_lease<J: LeasedJob>(
    ds: &dyn Datastore,
    lease: &Lease<J>,
    duration: Duration,
) -> Result<Time, TxError> {
    let (task_id, id) = lease.leased.key();
    let token = lease.token;
    // A claim: the token is checked on the job's row, locked, and that row
    // is the only one written.
    let renewed = ds
        .run_claim_tx(J::RENEW_TX, move |tx| {
            J::renew(tx, task_id, id, token, duration)
        })
        .await;
    if renewed.is_ok() {
        instruments::lease(J::KIND, LeaseEvent::Renewed, 1);
    }
    renewed
}

/// Whether a lease expiring at `expiry` must be renewed, at `now`, before
/// a request: when less than half of `duration` is left.
pub(crate) fn needs_renewal(now: Time, expiry: Time, duration: Duration) -> bool {
    let half = Duration::from_seconds(duration.as_seconds() / 2);
    match now.checked_add(half) {
        Some(half_from_now) => half_from_now >= expiry,
        None => true,
    }
}

/// Counts the leases `acquired` took: each is `taken`, and those whose
/// previous lease ran out are `expired` too.
pub(crate) fn record_acquired<J: LeasedJob>(acquired: &[Lease<J>]) {
    let expired = acquired
        .iter()
        .filter(|lease| lease.previous_lease_expired)
        .count() as u64;
    instruments::lease(J::KIND, LeaseEvent::Taken, acquired.len() as u64);
    instruments::lease(J::KIND, LeaseEvent::Expired, expired);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> Time {
        Time::from_seconds_since_epoch(seconds)
    }

    #[test]
    fn a_lease_is_renewed_only_once_half_of_it_has_run_out() {
        let lease = Duration::from_seconds(120);
        // Just acquired: a full lease left.
        assert!(!needs_renewal(at(1_000), at(1_120), lease));
        assert!(!needs_renewal(at(1_059), at(1_120), lease));
        // Half or less left.
        assert!(needs_renewal(at(1_060), at(1_120), lease));
        assert!(needs_renewal(at(1_119), at(1_120), lease));
        // Run out (the renewal then says whether it is still ours).
        assert!(needs_renewal(at(1_200), at(1_120), lease));
        // A time at the end of the clock's range: renewed.
        assert!(needs_renewal(at(u64::MAX - 10), at(u64::MAX), lease));
    }
}
