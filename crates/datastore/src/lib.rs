//! The storage of a dyad aggregator (Leader or Helper): the [`Datastore`]
//! trait and its transactions ([`Transaction`]), the stored models
//! ([`models`]), leases on jobs ([`Lease`]), the SQLite backend ([`sqlite`],
//! the embedded default), the PostgreSQL backend ([`postgres`], for many
//! replicas), the keys task secrets are sealed under at rest
//! ([`DatastoreKeys`]) and the end of their rotation ([`reseal`]) and, with
//! the `test-util` feature, what tests of a datastore need (module
//! `testing`). The conformance suite every backend must pass is the
//! integration test `tests/conformance/`.
//!
//! Callers open a datastore with [`open()`] and [`DatastoreOptions`] (or a
//! backend's own constructor), hold the `Arc<dyn Datastore>` and do all work in transactions:
//! `datastore.run_tx("name", |tx| Box::pin(async move { ... }))` (with
//! [`DatastoreExt`] in scope). Time comes from the injected
//! [`dyad_core::clock::Clock`].

mod backend;
mod backend_transaction;
mod columns;
mod datastore;
mod error;
mod keys;
mod lease;
pub mod models;
mod open;
mod options;
mod pooled;
pub mod postgres;
mod redact;
pub mod reseal;
mod schema;
pub mod sqlite;
mod tables;
mod task_document;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
mod transaction;
mod tx_metrics;

pub use backend_transaction::TxMode;
pub use columns::{is_storable_interval, LATEST_STORABLE_TIME};
pub use datastore::{Datastore, DatastoreExt, ErasedTxFn, RetryPolicy};
pub use error::{BoxError, DatastoreError, SetupProblem, TxError};
pub use futures::future::BoxFuture;
pub use keys::{DatastoreKeys, KEYS_ENV};
pub use lease::{Lease, LeaseToken};
pub use open::{migrate, open};
pub use options::{DatastoreOptions, DEFAULT_MAX_TRANSACTION_DURATION};
pub use pooled::PooledDatastore;
pub use schema::{schema_version, Migrated};
pub use tables::queue_depths::QueueDepths;
pub use transaction::Transaction;
