//! Leases: how one process among many takes exclusive charge of a Leader's
//! aggregation job or collection job for a while.
//!
//! `acquire_*` hands out a [`Lease`] holding a fresh random [`LeaseToken`]
//! and an expiry; every later write for the job presents the token and fails
//! with [`crate::DatastoreError::LeaseLost`] once the lease has expired or
//! another process has acquired the job since. Renewing (`renew_*_lease`)
//! pushes the expiry out for a holder whose work outlasts one lease.
//! Releasing clears the lease and sets when the job may next be acquired.
//! Each acquisition counts one attempt, so the driver can give up on a job
//! after too many.
//!
//! Where is: [`crate::Transaction`]'s `acquire_*`, `renew_*_lease` and
//! `release_*` operations; their SQL is in `tables/leases.rs` (acquiring:
//! `sqlite/leases.rs`, `postgres/leases.rs`).

use dyad_messages::draft09::Time;
use std::fmt;

/// The random token naming one acquisition of a job's lease.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseToken([u8; 16]);

impl LeaseToken {
    /// A fresh random token.
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// The token with the given bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The token's bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for LeaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not a secret, but long: the first bytes tell leases apart in logs.
        write!(
            f,
            "LeaseToken({:02x}{:02x}{:02x}{:02x}..)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// A job held under a lease: the job as it was when acquired, and what
/// every later write for it must present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease<T> {
    /// The leased job.
    pub leased: T,
    /// The token proving this acquisition.
    pub token: LeaseToken,
    /// When the lease runs out, unless released before.
    pub expiry: Time,
    /// How many times the job has been acquired since its attempts were last
    /// reset, this acquisition included (so at least 1).
    pub attempts: u32,
    /// Whether the job was taken over from a lease that ran out (its holder
    /// died or stalled) rather than one given back or never held.
    pub previous_lease_expired: bool,
}

/// A table whose rows are leased.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LeasedTable {
    AggregationJobs,
    CollectionJobs,
}

impl LeasedTable {
    pub(crate) fn table(self) -> &'static str {
        match self {
            LeasedTable::AggregationJobs => "aggregation_jobs",
            LeasedTable::CollectionJobs => "collection_jobs",
        }
    }

    pub(crate) fn id_column(self) -> &'static str {
        match self {
            LeasedTable::AggregationJobs => "aggregation_job_id",
            LeasedTable::CollectionJobs => "collection_job_id",
        }
    }

    pub(crate) fn describe(self, job_id: &[u8]) -> String {
        let kind = match self {
            LeasedTable::AggregationJobs => "aggregation job",
            LeasedTable::CollectionJobs => "collection job",
        };
        let short: String = job_id.iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!("{kind} {short}..")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_short_in_debug() {
        let a = LeaseToken::random();
        let b = LeaseToken::random();
        assert_ne!(a, b);
        let shown = format!("{a:?}");
        assert!(
            shown.starts_with("LeaseToken(") && shown.len() < 24,
            "{shown}"
        );
        assert_eq!(LeaseToken::from_bytes(*a.as_bytes()), a);
    }
}
