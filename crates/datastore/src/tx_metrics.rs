//! What every transaction records through the `metrics` facade (the
//! process installs the exporters; without one these are no-ops):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `dyad_datastore_transactions_total` | counter | `tx` (the transaction's name), `outcome` ([`outcome`]) |
//! | `dyad_datastore_transaction_duration_seconds` | histogram | `tx`: from the first `BEGIN` to the last `COMMIT`, retries and backoff included |
//! | `dyad_datastore_transaction_retries_total` | counter | `tx`: reruns of a body after a busy or serialization failure |
//! | `dyad_datastore_transaction_failures_total` | counter | `tx`, `error`: the datastore failed the caller (not the caller's own aborts, lost leases or missing rows) |
//!
//! Transaction names are `&'static str` literals of the code, so the
//! label's values are bounded.

use crate::{DatastoreError, TxError};
use std::time::Duration;

/// The `outcome` label of a finished transaction: `committed`, or what
/// ended it.
pub(crate) fn outcome(result: &Result<(), &TxError>) -> &'static str {
    let error = match result {
        Ok(()) => return "committed",
        Err(error) => error,
    };
    match error {
        TxError::Aborted(_) => "aborted",
        TxError::Datastore(error) => match error {
            DatastoreError::LeaseLost { .. } => "lease_lost",
            DatastoreError::AlreadyExists { .. } => "already_exists",
            DatastoreError::NotFound { .. } => "not_found",
            DatastoreError::InvalidValue { .. } => "invalid_value",
            DatastoreError::ReadOnly { .. } => "read_only",
            DatastoreError::RetriesExhausted { .. } => "retries_exhausted",
            DatastoreError::TransactionTimedOut { .. } => "timed_out",
            DatastoreError::CommitInDoubt { .. } => "commit_in_doubt",
            DatastoreError::Database(_) => "database",
            DatastoreError::Decrypt { .. } => "decrypt",
            DatastoreError::Internal(_) => "internal",
            DatastoreError::Corrupt { .. } => "corrupt",
            DatastoreError::Migration(_) | DatastoreError::Config(_) => "config",
        },
    }
}

/// Whether an outcome is the datastore failing its caller (rather than a
/// commit or an answer the caller asked for).
fn is_failure(outcome: &str) -> bool {
    !matches!(
        outcome,
        "committed" | "aborted" | "lease_lost" | "already_exists" | "not_found" | "invalid_value"
    )
}

/// Records a finished transaction.
pub(crate) fn record_finished(name: &'static str, result: Result<(), &TxError>, took: Duration) {
    let outcome = outcome(&result);
    metrics::counter!("dyad_datastore_transactions_total", "tx" => name, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("dyad_datastore_transaction_duration_seconds", "tx" => name)
        .record(took.as_secs_f64());
    if is_failure(outcome) {
        metrics::counter!("dyad_datastore_transaction_failures_total", "tx" => name, "error" => outcome)
            .increment(1);
    }
}

/// Records one rerun of a transaction's body.
pub(crate) fn record_retry(name: &'static str) {
    metrics::counter!("dyad_datastore_transaction_retries_total", "tx" => name).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_answers_are_not_failures_and_the_datastores_are() {
        let lost = TxError::Datastore(DatastoreError::LeaseLost { what: "x".into() });
        assert_eq!(outcome(&Err(&lost)), "lease_lost");
        assert!(!is_failure(outcome(&Err(&lost))));
        assert!(!is_failure(outcome(&Err(&TxError::abort("no")))));
        let exhausted = TxError::Datastore(DatastoreError::RetriesExhausted {
            name: "t",
            attempts: 3,
            last_error: "busy".into(),
        });
        assert_eq!(outcome(&Err(&exhausted)), "retries_exhausted");
        assert!(is_failure(outcome(&Err(&exhausted))));
        assert_eq!(outcome(&Ok(())), "committed");
    }
}
