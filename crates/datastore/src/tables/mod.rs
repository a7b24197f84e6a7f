//! One module per table: its SQL, binds and row handling, written once for
//! every backend (generic over [`crate::backend::Backend`]). Each
//! [`crate::Transaction`] operation is the function of the same name in the
//! module of the table it works on (the grouping in `crate::transaction`
//! says which), taking the transaction itself.
//!
//! Where is what: reports ([`client_reports`]), aggregation jobs and their
//! per-report state ([`aggregation_jobs`], [`report_aggregations`]), the
//! per-job aggregate of each batch ([`batch_aggregations`]), collection
//! ([`collection_jobs`], [`collected_batches`], [`outstanding_batches`]),
//! the Helper's answers and anti-replay set ([`aggregate_share_jobs`],
//! [`helper_replay`]), tasks ([`tasks`]), per-task statistics
//! ([`task_counters`]), the HPKE keys shared by tasks
//! ([`global_hpke_keys`]), taskprov's peer aggregators
//! ([`taskprov_peer_aggregators`]) and leases on jobs ([`leases`]).
//! The garbage collector's deletes share [`expiry`]; [`free_space`] gives
//! the space of deleted rows back to the file system (SQLite).

pub(crate) mod aggregate_share_jobs;
pub(crate) mod aggregation_jobs;
pub(crate) mod batch_aggregations;
pub(crate) mod client_reports;
pub(crate) mod collected_batches;
pub(crate) mod collection_jobs;
pub(crate) mod expiry;
pub(crate) mod free_space;
pub(crate) mod global_hpke_keys;
pub(crate) mod helper_replay;
pub(crate) mod leases;
pub(crate) mod outstanding_batches;
pub(crate) mod queue_depths;
pub(crate) mod report_aggregations;
pub(crate) mod task_counters;
pub(crate) mod taskprov_peer_aggregators;
pub(crate) mod tasks;
