//! What a mutated body that still decodes must get, per message: the
//! message it decoded to is compared with the ordinary one, and the first
//! rule of DAP-09 the difference breaks decides the answer. (A body that
//! does not decode is `invalidMessage` everywhere.)

use super::runner::Expect;
use dyad_datastore::is_storable_interval;
use dyad_messages::draft09::{
    AggregateShareReq, AggregationJobContinueReq, AggregationJobInitReq, BatchSelector,
    CollectionReq, Duration, FixedSizeQuery, Interval, PrepareError, PrepareInit, Query, Report,
    ReportId, Time,
};
use dyad_messages::problem::DapProblemType;
use std::collections::HashSet;

use DapProblemType::{
    BatchInvalid, BatchMismatch, InvalidBatchSize, InvalidMessage, OutdatedConfig, ReportRejected,
    ReportTooEarly, StepMismatch,
};

/// A batch interval that passes the boundary check (DAP-09 section
/// 4.6.5.1.1: aligned to the time precision, not empty) and that a
/// datastore can hold.
fn valid_batch_interval(interval: &Interval, precision: Duration) -> bool {
    let p = precision.as_seconds();
    let (start, duration) = (
        interval.start().as_seconds_since_epoch(),
        interval.duration().as_seconds(),
    );
    start % p == 0 && duration % p == 0 && duration > 0 && is_storable_interval(interval)
}

/// `PUT /tasks/{id}/reports` (DAP-09 section 4.4.2).
pub fn upload(base: &Report, now: Time, skew: Duration) -> impl Fn(&Report) -> Expect + '_ {
    move |report| {
        let leader = &report.leader_encrypted_input_share;
        if report.metadata.time != base.metadata.time {
            let latest = now.as_seconds_since_epoch() + skew.as_seconds();
            return if report.metadata.time.as_seconds_since_epoch() > latest {
                Expect::Problem(ReportTooEarly)
            } else {
                // The time is part of the input share's AAD: the Leader's
                // share no longer opens.
                Expect::Problem(ReportRejected)
            };
        }
        if leader.config_id != base.leader_encrypted_input_share.config_id {
            return Expect::Problem(OutdatedConfig);
        }
        if report.metadata.id != base.metadata.id
            || report.public_share != base.public_share
            || leader != &base.leader_encrypted_input_share
        {
            // The share (or its AAD) changed: it does not open.
            return Expect::Problem(ReportRejected);
        }
        // Only the Helper's share changed, which the Leader cannot open: the
        // Helper rejects the report later.
        Expect::Accepted(201)
    }
}

/// `PUT /tasks/{id}/collection_jobs/{job}` (DAP-09 section 4.6.1).
pub fn collection_job(precision: Duration) -> impl Fn(&CollectionReq) -> Expect {
    move |request| match request.query {
        Query::FixedSize(_) => Expect::Problem(InvalidMessage),
        Query::TimeInterval(_) if !request.aggregation_parameter.is_empty() => {
            Expect::Problem(InvalidMessage)
        }
        Query::TimeInterval(interval) if valid_batch_interval(&interval, precision) => {
            Expect::Accepted(201)
        }
        Query::TimeInterval(_) => Expect::Problem(BatchInvalid),
    }
}

/// `PUT /tasks/{id}/aggregation_jobs/{job}` (DAP-09 section 4.5.1.2) over
/// reports the Helper has not seen: a changed report fails on its own
/// (sections 4.5.1.3 and 4.5.1.4), the others go on.
pub fn init(base: &AggregationJobInitReq) -> impl Fn(&AggregationJobInitReq) -> Expect + '_ {
    move |request| {
        // Another batch ID is the Leader's choice to make.
        if request.partial_batch_selector.query_type() != base.partial_batch_selector.query_type()
            || request.aggregation_parameter != base.aggregation_parameter
        {
            return Expect::Problem(InvalidMessage);
        }
        let ids: HashSet<ReportId> = request
            .prepare_inits
            .iter()
            .map(|p| p.report_share.metadata.id)
            .collect();
        if ids.len() != request.prepare_inits.len() {
            return Expect::Problem(InvalidMessage);
        }
        if request.prepare_inits.len() != base.prepare_inits.len() {
            return Expect::Accepted(201);
        }
        let results = request
            .prepare_inits
            .iter()
            .zip(&base.prepare_inits)
            .map(|(init, ordinary)| (init != ordinary).then(|| init_error(init, ordinary)))
            .collect();
        Expect::Prepared {
            status: 201,
            results,
        }
    }
}

/// The error of a report whose `PrepareInit` was changed from `ordinary`:
/// the Helper finds its HPKE key, decrypts (DAP-09 section 4.5.1.3: the
/// report ID, time and public share are the AAD), and only then validates
/// (section 4.5.1.4) and prepares (4.5.1.2).
fn init_error(init: &PrepareInit, ordinary: &PrepareInit) -> PrepareError {
    let (share, base) = (&init.report_share, &ordinary.report_share);
    if share.encrypted_input_share.config_id != base.encrypted_input_share.config_id {
        return PrepareError::HpkeUnknownConfigId;
    }
    if share != base {
        return PrepareError::HpkeDecryptError;
    }
    // Only the Leader's prep message changed: the VDAF rejects it, whether
    // it does not decode or does not verify (draft-irtf-cfrg-vdaf-08
    // section 5.8).
    PrepareError::VdafPrepError
}

/// `POST /tasks/{id}/aggregation_jobs/{job}` of a job waiting for step 1
/// (DAP-09 section 4.5.2.2).
pub fn continue_job(
    base: &AggregationJobContinueReq,
) -> impl Fn(&AggregationJobContinueReq) -> Expect + '_ {
    move |request| {
        let known: HashSet<ReportId> = base.prepare_continues.iter().map(|p| p.report_id).collect();
        let ids: Vec<ReportId> = request
            .prepare_continues
            .iter()
            .map(|p| p.report_id)
            .collect();
        let distinct: HashSet<ReportId> = ids.iter().copied().collect();
        if request.step.0 == 0 || distinct.len() != ids.len() || !distinct.is_subset(&known) {
            return Expect::Problem(InvalidMessage);
        }
        if request.step != base.step {
            return Expect::Problem(StepMismatch);
        }
        if request.prepare_continues.len() != base.prepare_continues.len() {
            return Expect::Accepted(200);
        }
        // A changed prep message fails its report's preparation
        // (`ping_pong_continued` rejects it, DAP-09 section 4.5.2.2).
        let results = request
            .prepare_continues
            .iter()
            .zip(&base.prepare_continues)
            .map(|(p, ordinary)| (p != ordinary).then_some(PrepareError::VdafPrepError))
            .collect();
        Expect::Prepared {
            status: 200,
            results,
        }
    }
}

/// `PUT /tasks/{id}/collection_jobs/{job}` of a fixed_size task (DAP-09
/// section 4.6.1): a batch ID the Leader never returned fails the boundary
/// check (section 4.6.5.2.1).
pub fn fixed_size_collection_job(request: &CollectionReq) -> Expect {
    match request.query {
        Query::TimeInterval(_) => Expect::Problem(InvalidMessage),
        _ if !request.aggregation_parameter.is_empty() => Expect::Problem(InvalidMessage),
        Query::FixedSize(FixedSizeQuery::CurrentBatch) => Expect::Accepted(201),
        Query::FixedSize(FixedSizeQuery::ByBatchId(_)) => Expect::Problem(BatchInvalid),
    }
}

/// `POST /tasks/{id}/aggregate_shares` of a fixed_size task, for the batch
/// of the ordinary request: another batch ID is one no job used
/// (`batchInvalid`, DAP-09 section 4.6.5.2.1).
pub fn fixed_size_aggregate_share(
    base: &AggregateShareReq,
) -> impl Fn(&AggregateShareReq) -> Expect + '_ {
    move |request| {
        let BatchSelector::FixedSize(_) = request.batch_selector else {
            return Expect::Problem(InvalidMessage);
        };
        if request.aggregation_parameter != base.aggregation_parameter {
            return Expect::Problem(InvalidMessage);
        }
        if request.batch_selector != base.batch_selector {
            return Expect::Problem(BatchInvalid);
        }
        if request.report_count != base.report_count || request.checksum != base.checksum {
            return Expect::Problem(BatchMismatch);
        }
        Expect::Accepted(200)
    }
}

/// `POST /tasks/{id}/aggregate_shares` (DAP-09 section 4.6.2) of a batch
/// holding the ordinary request's reports and no other.
pub fn aggregate_share(
    base: &AggregateShareReq,
    precision: Duration,
) -> impl Fn(&AggregateShareReq) -> Expect + '_ {
    move |request| {
        let BatchSelector::TimeInterval(interval) = request.batch_selector else {
            return Expect::Problem(InvalidMessage);
        };
        if request.aggregation_parameter != base.aggregation_parameter {
            return Expect::Problem(InvalidMessage);
        }
        if !valid_batch_interval(&interval, precision) {
            return Expect::Problem(BatchInvalid);
        }
        if request.batch_selector != base.batch_selector {
            // An interval holding none of the reports.
            return Expect::Problem(InvalidBatchSize);
        }
        if request.report_count != base.report_count || request.checksum != base.checksum {
            return Expect::Problem(BatchMismatch);
        }
        Expect::Accepted(200)
    }
}
