//! Re-sealing the secrets at rest under the first datastore key: how a key
//! rotation ends (see [`crate::DatastoreKeys`]).
//!
//! A rotation puts the new key first and keeps the old ones after it, so
//! that values sealed under an old key stay readable; new writes use the new
//! key. [`reseal_all`] rewrites every value still sealed under another key,
//! after which the old keys can be dropped.
//!
//! It runs beside live replicas: it walks each sealed column in row-key
//! order, a bounded batch of rows per short read-write transaction, and each
//! row is read, opened and rewritten inside that transaction. A writer
//! racing it makes the transaction retry (PostgreSQL serialization failure,
//! SQLite's one writer at a time), never lose its write; a row written by a
//! replica meanwhile is already under the first key (every replica must
//! hold the new key first before a reseal starts) and is counted as such.
//! Running it again is harmless.

pub use crate::keys::{ResealBatch, SealedColumn};
use crate::{Datastore, DatastoreExt, TxError};

/// What [`reseal_all`] did, over every sealed column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResealSummary {
    /// Values rewritten under the first key.
    pub resealed: u64,
    /// Values that were under the first key already.
    pub already_current: u64,
}

/// How many sealed values the datastore holds, over every sealed column
/// (the total of a [`reseal_all`] progress bar).
pub async fn count_sealed_values(datastore: &dyn Datastore) -> Result<u64, TxError> {
    datastore
        .run_read_tx("count_sealed_values", |tx| {
            Box::pin(async move {
                let mut total = 0;
                for column in SealedColumn::ALL {
                    total += tx.count_sealed_values(column).await?;
                }
                Ok(total)
            })
        })
        .await
}

/// Re-seals every sealed value not under the first datastore key, at most
/// `rows_per_transaction` rows per transaction (see the module
/// documentation); `progress` is told how many rows each batch covered.
/// Fails on the first value no configured key opens (naming its row), with
/// the batches before it committed.
pub async fn reseal_all(
    datastore: &dyn Datastore,
    rows_per_transaction: u64,
    mut progress: impl FnMut(u64) + Send,
) -> Result<ResealSummary, TxError> {
    let limit = rows_per_transaction.max(1);
    let mut summary = ResealSummary::default();
    for column in SealedColumn::ALL {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let start = after.clone();
            let batch = datastore
                .run_tx("reseal_sealed_values", move |tx| {
                    let start = start.clone();
                    Box::pin(async move {
                        Ok(tx
                            .reseal_sealed_values(column, start.as_deref(), limit)
                            .await?)
                    })
                })
                .await?;
            summary.resealed += batch.resealed;
            summary.already_current += batch.current;
            if batch.rows() > 0 {
                progress(batch.rows());
            }
            if batch.rows() < limit {
                break;
            }
            after = batch.last_row;
        }
        tracing::debug!(column = column.name(), "resealed column");
    }
    Ok(summary)
}
