//! The values the datastore stores, one file per concept. VDAF-specific
//! values (prep states, transitions, output and aggregate shares,
//! aggregation parameters) are opaque bytes: the protocol crate encodes and
//! decodes them, so the datastore never depends on a VDAF.

mod aggregate_share_job;
mod aggregation_job;
mod batch_aggregation;
mod batch_identifier;
mod client_report;
mod collected_batch;
mod collection_job;
mod global_hpke_key;
mod helper_replay;
mod outstanding_batch;
mod report_aggregation;
mod task_counters;
mod task_rows;

pub use aggregate_share_job::AggregateShareJob;
pub(crate) use aggregation_job::StoredReportList;
pub use aggregation_job::{AggregationJob, AggregationJobState};
pub use batch_aggregation::BatchAggregation;
pub use batch_identifier::BatchIdentifier;
pub use client_report::{
    decode_extensions, encode_extensions, LeaderStoredReport, ReportWriteOutcome,
};
pub use collected_batch::CollectedBatch;
pub use collection_job::{CollectionJob, CollectionJobState, CollectionJobWriteOutcome};
pub use global_hpke_key::{GlobalHpkeKey, HpkeKeyState};
pub use helper_replay::SeenReport;
pub use outstanding_batch::{BatchReservation, OutstandingBatch};
pub use report_aggregation::{ReportAggregation, ReportAggregationState};
pub use task_counters::{Counter, TaskCounters};
pub use task_rows::TaskRowCounts;
pub(crate) use task_rows::{TASK_TABLES, TASK_TABLE_KEYS, UNAGGREGATED_REPORTS};
