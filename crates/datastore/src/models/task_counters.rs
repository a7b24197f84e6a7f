//! [`TaskCounters`]: the per-task statistics an operator reads with `dyad
//! task stats`: how uploads ended (Leader) and how reports came out of
//! preparation (both roles). They are events, counted once each when they
//! happen; deleting an aggregation job or collecting a batch takes nothing
//! back. Stored sharded (see `crate::tables::task_counters`), read summed.

use crate::models::ReportAggregationState;
use dyad_messages::draft09::PrepareError;

/// Declares [`TaskCounters`] from its counters, each with its column name
/// (the field's), its label for people and its meaning, so that the struct,
/// the table's columns and the CLI's rows never drift apart.
macro_rules! task_counters {
    ($( $(#[$doc:meta])* $field:ident => $label:literal, $meaning:literal; )*) => {
        /// Counts of one task's events (see the module documentation).
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct TaskCounters {
            $( $(#[$doc])* pub $field: u64, )*
        }

        impl TaskCounters {
            /// The counters' column names, in declaration order.
            pub const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Every counter, in declaration order.
            pub fn counters(&self) -> Vec<Counter> {
                vec![$(Counter {
                    name: stringify!($field),
                    label: $label,
                    meaning: $meaning,
                    value: self.$field,
                }),*]
            }

            /// The counters from their values in [`Self::COLUMNS`] order.
            pub(crate) fn from_values(values: &[u64]) -> Self {
                let mut values = values.iter().copied();
                Self { $( $field: values.next().unwrap_or(0), )* }
            }

            /// Adds every counter of `other` (saturating).
            pub fn add(&mut self, other: &Self) {
                $( self.$field = self.$field.saturating_add(other.$field); )*
            }
        }
    };
}

task_counters! {
    /// Reports stored for aggregation (201 Created).
    uploads_accepted => "uploads accepted",
        "reports stored for aggregation (201 Created)";
    /// Reports whose ID was already stored: answered 201, counted once.
    uploads_duplicate => "uploads duplicate",
        "a report with this ID was already stored (201, counted once)";
    /// `reportTooEarly` (DAP-09 section 4.4.2).
    uploads_too_early => "uploads too early",
        "reportTooEarly: time after now plus the tolerable clock skew";
    /// `reportRejected`: the report is after the task's expiration.
    uploads_task_expired => "uploads task expired",
        "reportRejected: time after the task expiration";
    /// `reportRejected`: the report is older than the report expiry age.
    uploads_report_expired => "uploads report expired",
        "reportRejected: older than the report expiry age";
    /// `reportRejected`: the Leader's input share did not decrypt.
    uploads_decrypt_failed => "uploads undecryptable",
        "reportRejected: the Leader's input share did not decrypt";
    /// `outdatedConfig`: sealed to an HPKE config the Leader does not hold.
    uploads_outdated_config => "uploads outdated config",
        "outdatedConfig: sealed to an unknown HPKE config";
    /// `invalidMessage`: the body, a plaintext, an extension or a share
    /// does not decode or is refused.
    uploads_invalid_message => "uploads invalid message",
        "invalidMessage: body, extension or share refused";
    /// `reportRejected`: the report's batch was already collected.
    uploads_batch_collected => "uploads batch collected",
        "reportRejected: its batch was already collected";
    /// Refused before the report was read: wrong media type (415) or a
    /// body over the size limit (413) or too slow (408).
    uploads_refused_request => "uploads refused request",
        "415, 413 or 408 before the report was read";
    /// Not stored for a fault on our side: the writer's queue full (503)
    /// or a failed transaction (500).
    uploads_server_error => "uploads server error",
        "not stored: writer queue full (503) or a failure (500)";
    /// Reports whose preparation finished: their output shares are in a
    /// batch aggregation.
    reports_aggregated => "reports aggregated",
        "preparation finished; output share aggregated";
    /// Preparation failed: `batch_collected`.
    prepare_failed_batch_collected => "prepare failed: batch_collected",
        "the report's batch was already collected";
    /// Preparation failed: `report_replayed`.
    prepare_failed_report_replayed => "prepare failed: report_replayed",
        "the report was aggregated before (anti-replay)";
    /// Preparation failed: `report_dropped` (also every report of an
    /// abandoned Leader job).
    prepare_failed_report_dropped => "prepare failed: report_dropped",
        "dropped, e.g. in an abandoned aggregation job";
    /// Preparation failed: `hpke_unknown_config_id`.
    prepare_failed_hpke_unknown_config_id => "prepare failed: hpke_unknown_config_id",
        "the Helper's share was sealed to an unknown config";
    /// Preparation failed: `hpke_decrypt_error`.
    prepare_failed_hpke_decrypt_error => "prepare failed: hpke_decrypt_error",
        "the Helper's share did not decrypt";
    /// Preparation failed: `vdaf_prep_error`.
    prepare_failed_vdaf_prep_error => "prepare failed: vdaf_prep_error",
        "the VDAF refused the report (invalid measurement)";
    /// Preparation failed: `batch_saturated`.
    prepare_failed_batch_saturated => "prepare failed: batch_saturated",
        "the batch was full";
    /// Preparation failed: `task_expired`.
    prepare_failed_task_expired => "prepare failed: task_expired",
        "the task had expired";
    /// Preparation failed: `invalid_message`.
    prepare_failed_invalid_message => "prepare failed: invalid_message",
        "a share or extension was refused";
    /// Preparation failed: `report_too_early` (the report goes back to the
    /// Leader's pool and is counted again when a later job takes it).
    prepare_failed_report_too_early => "prepare failed: report_too_early",
        "the Helper found the report too early (retried later)";
    /// Preparation failed with an error code DAP-09 does not name.
    prepare_failed_other => "prepare failed: other",
        "an error code DAP-09 does not register";
}

/// One counter of [`TaskCounters`], for printing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter {
    /// The column and JSON name, e.g. `uploads_accepted`.
    pub name: &'static str,
    /// For people, e.g. "uploads accepted".
    pub label: &'static str,
    /// What it counts, in a few words.
    pub meaning: &'static str,
    /// The count.
    pub value: u64,
}

impl TaskCounters {
    /// Whether every counter is zero (nothing to write).
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// Counts a report that reached `state` in this step: a finished
    /// preparation or a failure by its `PrepareError` (DAP-09 section
    /// 4.5.1.4). Other states count nothing.
    pub fn count_prepared(&mut self, state: &ReportAggregationState) {
        let counter = match state {
            ReportAggregationState::Finished => &mut self.reports_aggregated,
            ReportAggregationState::Failed(error) => match error {
                PrepareError::BatchCollected => &mut self.prepare_failed_batch_collected,
                PrepareError::ReportReplayed => &mut self.prepare_failed_report_replayed,
                PrepareError::ReportDropped => &mut self.prepare_failed_report_dropped,
                PrepareError::HpkeUnknownConfigId => {
                    &mut self.prepare_failed_hpke_unknown_config_id
                }
                PrepareError::HpkeDecryptError => &mut self.prepare_failed_hpke_decrypt_error,
                PrepareError::VdafPrepError => &mut self.prepare_failed_vdaf_prep_error,
                PrepareError::BatchSaturated => &mut self.prepare_failed_batch_saturated,
                PrepareError::TaskExpired => &mut self.prepare_failed_task_expired,
                PrepareError::InvalidMessage => &mut self.prepare_failed_invalid_message,
                PrepareError::ReportTooEarly => &mut self.prepare_failed_report_too_early,
                PrepareError::Other(_) => &mut self.prepare_failed_other,
            },
            _ => return,
        };
        *counter += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_their_columns_in_order() {
        let values: Vec<u64> = (1..=TaskCounters::COLUMNS.len() as u64).collect();
        let counters = TaskCounters::from_values(&values);
        assert_eq!(counters.uploads_accepted, 1);
        assert_eq!(counters.prepare_failed_other, values.len() as u64);
        let listed: Vec<_> = counters.counters().iter().map(|c| c.value).collect();
        assert_eq!(listed, values);
        let names: Vec<_> = counters.counters().iter().map(|c| c.name).collect();
        assert_eq!(names, TaskCounters::COLUMNS);
    }

    #[test]
    fn prepared_reports_are_counted_by_outcome() {
        let mut counters = TaskCounters::default();
        counters.count_prepared(&ReportAggregationState::Finished);
        counters.count_prepared(&ReportAggregationState::Finished);
        counters.count_prepared(&ReportAggregationState::Failed(PrepareError::VdafPrepError));
        counters.count_prepared(&ReportAggregationState::Failed(PrepareError::Other(200)));
        counters.count_prepared(&ReportAggregationState::Start);
        assert_eq!(counters.reports_aggregated, 2);
        assert_eq!(counters.prepare_failed_vdaf_prep_error, 1);
        assert_eq!(counters.prepare_failed_other, 1);
        let mut total = TaskCounters::default();
        total.add(&counters);
        total.add(&counters);
        assert_eq!(total.reports_aggregated, 4);
        assert!(!total.is_zero());
        assert!(TaskCounters::default().is_zero());
    }
}
