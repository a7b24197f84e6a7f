//! The aggregator's instruments: every metric name and label it records,
//! each through one function here, so the call sites stay one line and the
//! label values stay bounded (route templates, problem type names,
//! `PrepareError` names, fixed result words; never a task or job ID:
//! per-task numbers are the datastore's task statistics).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `dyad_http_requests_total` | counter | `route` (the matched path template, `:name` for `{name}`; `unmatched` for none), `method`, `status` |
//! | `dyad_http_request_duration_seconds` | histogram | `route`, `method`, `status` |
//! | `dyad_http_refused_total` | counter | `limit` (the `server` setting reached: `max_connections`, `max_buffered_bodies`, `max_buffered_body_bytes`, `body_read_timeout_secs`), `status` (the answer's, or `none` for a connection closed unanswered) |
//! | `dyad_uploads_total` | counter | `outcome`: `accepted`, `duplicate`, or the problem type answered ([`upload_outcome_of_error`]) |
//! | `dyad_reports_prepared_total` | counter | `role` (`leader`, `helper`), `outcome`: `finished` or the `PrepareError` |
//! | `dyad_job_steps_total` | counter | `job` (`aggregation`, `collection`), `result` |
//! | `dyad_job_step_duration_seconds` | histogram | `job`, `result` |
//! | `dyad_leases_total` | counter | `job`, `event`: `taken`, `expired` (taken over from a lease that ran out), `renewed`, `lost`, `released` |
//! | `dyad_unaggregated_reports` | gauge | none: reports not yet in an aggregation job, all tasks |
//! | `dyad_pending_collection_jobs` | gauge | none: collection jobs not yet finished, all tasks |
//!
//! The datastore records its transaction metrics itself
//! (`dyad_datastore_transaction*`, see `dyad-datastore`).

use crate::http::problem::ApiError;
use axum::http::StatusCode;
use dyad_messages::draft09::PrepareError;
use std::time::Duration;

/// A kind of leased job, as the `job` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    Aggregation,
    Collection,
}

impl JobKind {
    fn label(self) -> &'static str {
        match self {
            JobKind::Aggregation => "aggregation",
            JobKind::Collection => "collection",
        }
    }
}

/// A lease event, as the `event` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseEvent {
    /// A job acquired.
    Taken,
    /// A job acquired whose previous lease ran out (its holder died or
    /// stalled); also counted as taken.
    Expired,
    /// A lease extended before a request to the Helper.
    Renewed,
    /// The holder found its lease gone (run out, or taken by another).
    Lost,
    /// A lease given back (a backoff, a job not ready, shutdown).
    Released,
}

impl LeaseEvent {
    fn label(self) -> &'static str {
        match self {
            LeaseEvent::Taken => "taken",
            LeaseEvent::Expired => "expired",
            LeaseEvent::Renewed => "renewed",
            LeaseEvent::Lost => "lost",
            LeaseEvent::Released => "released",
        }
    }
}

/// One answered HTTP request.
pub fn http_request(route: &'static str, method: &str, status: StatusCode, took: Duration) {
    let method = method_label(method);
    let status = status.as_u16().to_string();
    metrics::counter!(
        "dyad_http_requests_total",
        "route" => route, "method" => method, "status" => status.clone()
    )
    .increment(1);
    metrics::histogram!(
        "dyad_http_request_duration_seconds",
        "route" => route, "method" => method, "status" => status
    )
    .record(took.as_secs_f64());
}

/// A limit of the HTTP server (a setting of the `server` section), as the
/// `limit` label of `dyad_http_refused_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerLimit {
    MaxConnections,
    MaxBufferedBodies,
    MaxBufferedBodyBytes,
    BodyReadTimeout,
}

impl ServerLimit {
    fn label(self) -> &'static str {
        match self {
            ServerLimit::MaxConnections => "max_connections",
            ServerLimit::MaxBufferedBodies => "max_buffered_bodies",
            ServerLimit::MaxBufferedBodyBytes => "max_buffered_body_bytes",
            ServerLimit::BodyReadTimeout => "body_read_timeout_secs",
        }
    }
}

/// One connection or request the server refused at `limit`, with the
/// status it answered (`None`: a connection closed unanswered). These are
/// answered by the server itself, before the router or instead of its
/// answer, so `dyad_http_requests_total` does not see them as they went
/// out.
pub fn http_refused(limit: ServerLimit, status: Option<StatusCode>) {
    let status = status.map_or_else(|| "none".to_owned(), |status| status.as_u16().to_string());
    metrics::counter!("dyad_http_refused_total", "limit" => limit.label(), "status" => status)
        .increment(1);
}

/// The method as a bounded label: the ones the API serves, else `other`.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "PUT" => "PUT",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        _ => "other",
    }
}

/// One upload answered: `accepted`, `duplicate`, or an error's
/// [`upload_outcome_of_error`].
pub fn upload(outcome: &'static str) {
    metrics::counter!("dyad_uploads_total", "outcome" => outcome).increment(1);
}

/// The `outcome` of a refused upload: its DAP problem type (e.g.
/// `reportTooEarly`), or for an answer without one a word for its status.
pub fn upload_outcome_of_error(error: &ApiError) -> &'static str {
    if let Some(problem_type) = error.problem_type() {
        return problem_type.name();
    }
    // 413 and 415 carry `invalidMessage`: told apart by the HTTP metrics'
    // status label.
    match error.status() {
        StatusCode::REQUEST_TIMEOUT => "requestTimeout",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::NOT_FOUND => "notFound",
        status if status.is_server_error() => "internalError",
        _ => "otherError",
    }
}

/// One report's preparation ended, at the Leader or the Helper:
/// `Ok(())` when it produced an output share.
pub fn report_prepared(role: &'static str, outcome: Result<(), PrepareError>) {
    let outcome = match outcome {
        Ok(()) => "finished",
        Err(error) => error.as_str(),
    };
    metrics::counter!("dyad_reports_prepared_total", "role" => role, "outcome" => outcome)
        .increment(1);
}

/// One step of a leased job, with what it came to.
pub fn job_step(job: JobKind, result: &'static str, took: Duration) {
    metrics::counter!("dyad_job_steps_total", "job" => job.label(), "result" => result)
        .increment(1);
    metrics::histogram!(
        "dyad_job_step_duration_seconds",
        "job" => job.label(), "result" => result
    )
    .record(took.as_secs_f64());
}

/// `count` lease events of one kind.
pub fn lease(job: JobKind, event: LeaseEvent, count: u64) {
    if count > 0 {
        metrics::counter!("dyad_leases_total", "job" => job.label(), "event" => event.label())
            .increment(count);
    }
}

/// The Leader's queue depths, as sampled.
pub fn queue_depths(depths: &dyad_datastore::QueueDepths) {
    metrics::gauge!("dyad_unaggregated_reports").set(depths.unaggregated_reports as f64);
    metrics::gauge!("dyad_pending_collection_jobs").set(depths.pending_collection_jobs as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_messages::problem::DapProblemType;

    #[test]
    fn refused_uploads_are_labelled_by_problem_type_or_status() {
        let too_early = ApiError::dap(DapProblemType::ReportTooEarly, "x");
        assert_eq!(upload_outcome_of_error(&too_early), "reportTooEarly");
        assert_eq!(
            upload_outcome_of_error(&ApiError::body_too_large(10)),
            "invalidMessage"
        );
        assert_eq!(
            upload_outcome_of_error(&ApiError::not_found("no")),
            "notFound"
        );
        assert_eq!(
            upload_outcome_of_error(&ApiError::internal("boom")),
            "internalError"
        );
    }

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label("PUT"), "PUT");
        assert_eq!(method_label("BREW"), "other");
    }
}
