//! The Helper's anti-replay set (DAP-09 section 4.5.1.4): every report ID
//! seen with each aggregation parameter, with the report's time so old
//! entries can be dropped by age (a report older than the kept window is
//! then answered `report_dropped`, section 4.5.1.4's last check).

use dyad_messages::draft09::{ReportId, Time};

/// A report the Helper is about to process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeenReport {
    pub report_id: ReportId,
    /// The report's timestamp.
    pub time: Time,
}
