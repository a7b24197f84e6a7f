//! One module per table: its SQL, binds and row handling, written once for
//! every backend (generic over [`crate::backend::Backend`]). The backends'
//! transactions hand each operation to the table's module here.

pub(crate) mod aggregate_share_jobs;
pub(crate) mod aggregation_jobs;
pub(crate) mod batch_aggregations;
pub(crate) mod client_reports;
pub(crate) mod collected_batches;
pub(crate) mod collection_jobs;
pub(crate) mod helper_replay;
pub(crate) mod leases;
pub(crate) mod outstanding_batches;
pub(crate) mod report_aggregations;
pub(crate) mod tasks;
