//! [`TaskRowCounts`]: how many rows of each kind a task has stored, as
//! counted before deleting it and as removed by
//! [`crate::Transaction::delete_task`].

/// Rows stored for one task, per kind (the task's own row not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskRowCounts {
    /// The Leader's client reports (DAP-09 section 4.4.2).
    pub client_reports: u64,
    /// Aggregation jobs (section 4.5), of either role.
    pub aggregation_jobs: u64,
    /// Report aggregations: one per report per aggregation job.
    pub report_aggregations: u64,
    /// Batch aggregations: one per (batch, aggregation parameter, job).
    pub batch_aggregations: u64,
    /// Records of collected batches (section 4.5.1.4, query counts).
    pub collected_batches: u64,
    /// The Leader's collection jobs (section 4.6.1).
    pub collection_jobs: u64,
    /// The Helper's answered aggregate share requests (section 4.6.3).
    pub aggregate_share_jobs: u64,
    /// The Helper's anti-replay set (section 4.5.1.4).
    pub helper_seen_reports: u64,
    /// The Leader's fixed-size batches (section 4.1.2).
    pub outstanding_batches: u64,
    /// Shard rows of the task's statistics (`dyad task stats`).
    pub task_counters: u64,
}

impl TaskRowCounts {
    /// Every kind with its count, named for people (e.g. "client reports"),
    /// in the order of the fields.
    pub fn kinds(&self) -> [(&'static str, u64); 10] {
        [
            ("client reports", self.client_reports),
            ("aggregation jobs", self.aggregation_jobs),
            ("report aggregations", self.report_aggregations),
            ("batch aggregations", self.batch_aggregations),
            ("collected batches", self.collected_batches),
            ("collection jobs", self.collection_jobs),
            ("aggregate share jobs", self.aggregate_share_jobs),
            ("anti-replay rows", self.helper_seen_reports),
            ("outstanding batches", self.outstanding_batches),
            ("statistics rows", self.task_counters),
        ]
    }

    /// All rows, of every kind.
    pub fn total(&self) -> u64 {
        self.kinds().iter().map(|(_, count)| count).sum()
    }

    /// The counts in the order of [`TASK_TABLES`]. The queue of reports no
    /// job has taken yet holds keys of client reports, counted there.
    pub(crate) fn from_table_counts(counts: [u64; TASK_TABLES.len()]) -> Self {
        let [_unaggregated_reports, report_aggregations, aggregation_jobs, client_reports, batch_aggregations, collected_batches, collection_jobs, aggregate_share_jobs, helper_seen_reports, outstanding_batches, task_counters] =
            counts;
        Self {
            client_reports,
            aggregation_jobs,
            report_aggregations,
            batch_aggregations,
            collected_batches,
            collection_jobs,
            aggregate_share_jobs,
            helper_seen_reports,
            outstanding_batches,
            task_counters,
        }
    }
}

/// The Leader's queue of reports no job has taken: keys of client
/// reports, counted with them, and never more of them than client reports.
pub(crate) const UNAGGREGATED_REPORTS: &str = "unaggregated_reports";

/// Every table holding rows of a task (each has a `task_id` column), the
/// children before their parents, so that deleting in this order never
/// leans on `ON DELETE CASCADE` and every row is counted where it goes.
pub(crate) const TASK_TABLES: [&str; 11] = [
    UNAGGREGATED_REPORTS,
    "report_aggregations",
    "aggregation_jobs",
    "client_reports",
    "batch_aggregations",
    "collected_batches",
    "collection_jobs",
    "aggregate_share_jobs",
    "helper_seen_reports",
    "outstanding_batches",
    "task_counters",
];

/// The primary key columns of each table of [`TASK_TABLES`], in the same
/// order: what a bounded delete of a task's rows picks its rows by
/// (`crate::Transaction::delete_task_rows`).
pub(crate) const TASK_TABLE_KEYS: [&str; TASK_TABLES.len()] = [
    "task_id, client_time, report_id",
    "task_id, aggregation_job_id, ord",
    "task_id, aggregation_job_id",
    "task_id, report_id",
    "task_id, batch_identifier, aggregation_parameter, aggregation_job_id",
    "task_id, batch_identifier, aggregation_parameter",
    "task_id, collection_job_id",
    "task_id, batch_identifier, aggregation_parameter",
    "task_id, report_id, aggregation_parameter",
    "task_id, batch_id",
    "task_id, shard",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_counts_land_in_their_fields() {
        let counts = TaskRowCounts::from_table_counts([100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(counts.report_aggregations, 1);
        assert_eq!(counts.aggregation_jobs, 2);
        assert_eq!(counts.client_reports, 3);
        assert_eq!(counts.batch_aggregations, 4);
        assert_eq!(counts.collected_batches, 5);
        assert_eq!(counts.collection_jobs, 6);
        assert_eq!(counts.aggregate_share_jobs, 7);
        assert_eq!(counts.helper_seen_reports, 8);
        assert_eq!(counts.outstanding_batches, 9);
        assert_eq!(counts.task_counters, 10);
        // The queue's keys are client reports', not rows of their own.
        assert_eq!(counts.total(), 55);
        assert_eq!(counts.kinds()[0], ("client reports", 3));
    }
}
