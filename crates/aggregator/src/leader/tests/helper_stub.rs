//! A stand-in Helper for the Leader's tests: an axum server on 127.0.0.1
//! whose handlers run `dyad_protocol`'s Helper side for real (initialization,
//! continuation with replay detection, aggregate shares with batch
//! validation) over in-memory state, with faults to inject per route.

// Handlers return `Result<Response, Response>` for `?`; the size of an
// error response does not matter in a test server.
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::Router;
use dyad_core::clock::{Clock, MockClock};
use dyad_core::task::{AuthenticationToken, Task};
use dyad_core::vdaf_dispatch;
use dyad_messages::draft09::{
    AggregateShare, AggregateShareReq, AggregationJobContinueReq, AggregationJobId,
    AggregationJobInitReq, AggregationJobResp, AggregationJobStep, BatchId, BatchSelector,
    Interval, PartialBatchSelector, ReportId, Time,
};
use dyad_messages::problem::{DapProblemType, ProblemDocument};
use dyad_messages::{Decode, Encode};
use dyad_protocol::accumulate::BatchAccumulator;
use dyad_protocol::batch::BatchFacts;
use dyad_protocol::collection::{answer_aggregate_share_req, check_aggregate_share_req};
use dyad_protocol::helper_continue::{helper_continue, HelperContinueResult};
use dyad_protocol::helper_init::{
    helper_initialize, HelperInitContext, HelperReportAggregation, HelperReportState, KnownFacts,
};
use dyad_protocol::idempotency::{check_init_request, InitDisposition, RequestHash, StoredJob};
use dyad_protocol::ProtocolError;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// The Helper's routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Route {
    Init,
    Continue,
    Delete,
    AggregateShare,
}

/// A fault to inject into the next request of a route.
#[derive(Clone, Debug)]
pub(crate) enum Fault {
    /// Answer with this status (and a DAP problem document, if given)
    /// without looking at the request.
    Status(u16, Option<DapProblemType>),
    /// Process the request, then answer 503, as if the response were lost.
    LoseResponse,
    /// Move the clock forward by this much, and take a moment, before
    /// processing the request (a slow Helper, seen from the Leader's lease).
    AdvanceClock(dyad_messages::draft09::Duration),
}

struct StubJob {
    aggregation_parameter: Vec<u8>,
    batch: PartialBatchSelector,
    step: AggregationJobStep,
    last_request_hash: RequestHash,
    reports: Vec<HelperReportAggregation>,
    last_response: AggregationJobResp,
}

/// One prepared report's output share.
struct Output {
    report_id: ReportId,
    time: Time,
    batch_id: Option<BatchId>,
    aggregation_parameter: Vec<u8>,
    output_share: Vec<u8>,
}

#[derive(Default)]
struct Inner {
    jobs: HashMap<AggregationJobId, StubJob>,
    outputs: Vec<Output>,
    facts: KnownFacts,
    /// Answered aggregate share requests: (encoded request, answer).
    answered: Vec<(AggregateShareReq, Vec<u8>)>,
    faults: HashMap<Route, VecDeque<Fault>>,
    requests: HashMap<Route, usize>,
    /// How far the Helper's clock is behind the Leader's, in seconds.
    clock_behind_secs: u64,
}

/// A running stand-in Helper.
#[derive(Clone)]
pub(crate) struct StubHelper {
    task: Arc<Task>,
    clock: MockClock,
    inner: Arc<Mutex<Inner>>,
}

type Reply = Result<Response, Response>;

impl StubHelper {
    /// Serves `task` (the Helper's view) on `listener` until the test ends.
    pub fn start(listener: tokio::net::TcpListener, task: Task, clock: MockClock) -> Self {
        let stub = StubHelper {
            task: Arc::new(task),
            clock,
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let router = Router::new()
            .route(
                "/tasks/{task_id}/aggregation_jobs/{job_id}",
                put(init).post(continue_job).delete(delete),
            )
            .route("/tasks/{task_id}/aggregate_shares", post(aggregate_share))
            .with_state(stub.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        stub
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the next request of `route` fail with `fault`.
    pub fn inject(&self, route: Route, fault: Fault) {
        self.lock()
            .faults
            .entry(route)
            .or_default()
            .push_back(fault);
    }

    /// Sets the Helper's clock `behind` the Leader's (clock skew between
    /// the aggregators).
    pub fn set_clock_behind(&self, behind: dyad_messages::draft09::Duration) {
        self.lock().clock_behind_secs = behind.as_seconds();
    }

    /// How many requests `route` received.
    pub fn requests(&self, route: Route) -> usize {
        self.lock().requests.get(&route).copied().unwrap_or(0)
    }

    /// How many reports the Helper prepared.
    pub fn prepared_reports(&self) -> usize {
        self.lock().outputs.len()
    }

    /// Carries out an `AdvanceClock` fault; returns the other faults.
    async fn slow_down(&self, fault: Option<Fault>) -> Option<Fault> {
        match fault {
            Some(Fault::AdvanceClock(duration)) => {
                self.clock.advance(duration);
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                None
            }
            other => other,
        }
    }

    /// Counts the request, checks authentication, and takes the route's
    /// next fault.
    fn admit(
        &self,
        route: Route,
        task_id: &str,
        headers: &HeaderMap,
    ) -> Result<Option<Fault>, Response> {
        let mut inner = self.lock();
        *inner.requests.entry(route).or_default() += 1;
        if task_id != self.task.task_id().to_string() {
            return Err(problem(DapProblemType::UnrecognizedTask, "unknown task"));
        }
        let presented = AuthenticationToken::from_request_headers(
            headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes())),
        );
        match presented {
            Ok(Some(token)) if self.task.aggregator_auth_token().validate(&token) => {}
            _ => return Err(problem(DapProblemType::UnauthorizedRequest, "bad token")),
        }
        let fault = inner.faults.get_mut(&route).and_then(VecDeque::pop_front);
        match fault {
            Some(Fault::Status(status, problem_type)) => Err(fault_response(status, problem_type)),
            other => Ok(other),
        }
    }
}

fn fault_response(status: u16, problem_type: Option<DapProblemType>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match problem_type {
        Some(problem_type) => (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            ProblemDocument::new(problem_type).to_json(),
        )
            .into_response(),
        None => status.into_response(),
    }
}

fn problem(problem_type: DapProblemType, detail: &str) -> Response {
    let document = ProblemDocument::new(problem_type).with_detail(detail);
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/problem+json")],
        document.to_json(),
    )
        .into_response()
}

fn protocol_problem(error: ProtocolError) -> Response {
    match error.problem_type() {
        Some(problem_type) => problem(problem_type, error.detail()),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn message<M: Encode>(media_type: &'static str, message: &M) -> Response {
    match message.get_encoded() {
        Ok(body) => ([(header::CONTENT_TYPE, media_type)], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Answers `reply`, or 503 if the response is to be lost.
fn deliver(fault: Option<Fault>, reply: Reply) -> Response {
    match (fault, reply) {
        (Some(Fault::LoseResponse), _) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        (_, Ok(response) | Err(response)) => response,
    }
}

async fn init(
    State(stub): State<StubHelper>,
    Path((task_id, job_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = match stub.admit(Route::Init, &task_id, &headers) {
        Ok(fault) => stub.slow_down(fault).await,
        Err(response) => return response,
    };
    deliver(fault, stub.handle_init(&job_id, &body))
}

async fn continue_job(
    State(stub): State<StubHelper>,
    Path((task_id, job_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = match stub.admit(Route::Continue, &task_id, &headers) {
        Ok(fault) => stub.slow_down(fault).await,
        Err(response) => return response,
    };
    deliver(fault, stub.handle_continue(&job_id, &body))
}

async fn delete(
    State(stub): State<StubHelper>,
    Path((task_id, _job_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match stub.admit(Route::Delete, &task_id, &headers) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(response) => response,
    }
}

async fn aggregate_share(
    State(stub): State<StubHelper>,
    Path(task_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = match stub.admit(Route::AggregateShare, &task_id, &headers) {
        Ok(fault) => stub.slow_down(fault).await,
        Err(response) => return response,
    };
    deliver(fault, stub.handle_aggregate_share(&body))
}

impl StubHelper {
    fn handle_init(&self, job_id: &str, body: &[u8]) -> Reply {
        let job_id: AggregationJobId = job_id
            .parse()
            .map_err(|_| StatusCode::NOT_FOUND.into_response())?;
        let request = AggregationJobInitReq::get_decoded(body)
            .map_err(|_| problem(DapProblemType::InvalidMessage, "undecodable"))?;
        let hash = RequestHash::of_body(body);
        let mut inner = self.lock();
        let stored = inner.jobs.get(&job_id).map(|job| StoredJob {
            step: job.step,
            last_request_hash: job.last_request_hash,
        });
        if check_init_request(stored.as_ref(), &hash).map_err(protocol_problem)?
            == InitDisposition::Replay
        {
            let job = &inner.jobs[&job_id];
            return Ok(message(AggregationJobResp::MEDIA_TYPE, &job.last_response));
        }
        let task = Arc::clone(&self.task);
        let now = self
            .clock
            .now()
            .checked_sub(dyad_messages::draft09::Duration::from_seconds(
                inner.clock_behind_secs,
            ))
            .expect("the Helper's clock stays after the epoch");
        let outcome = {
            let facts = &inner.facts;
            vdaf_dispatch!(task.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
                let ctx = HelperInitContext {
                    task: &task,
                    keys: task.as_ref(),
                    facts,
                    now,
                    recognized_extensions: &[],
                    batch_capacity: None,
                };
                helper_initialize::<V, VERIFY_KEY_LEN, _, _>(&vdaf, &ctx, &request, hash)
            })
        }
        .map_err(protocol_problem)?;
        for report in &outcome.reports {
            if !matches!(report.state, HelperReportState::Failed(_)) {
                inner
                    .facts
                    .seen_agg_params
                    .entry(report.metadata.id)
                    .or_default()
                    .push(request.aggregation_parameter.clone());
            }
        }
        let batch_id = match request.partial_batch_selector {
            PartialBatchSelector::FixedSize(batch_id) => Some(batch_id),
            PartialBatchSelector::TimeInterval => None,
        };
        record_outputs(
            &mut inner,
            &outcome.reports,
            batch_id,
            &request.aggregation_parameter,
        );
        let response = message(AggregationJobResp::MEDIA_TYPE, &outcome.response);
        inner.jobs.insert(
            job_id,
            StubJob {
                aggregation_parameter: request.aggregation_parameter.clone(),
                batch: request.partial_batch_selector,
                step: AggregationJobStep::INITIAL,
                last_request_hash: outcome.request_hash,
                reports: outcome.reports,
                last_response: outcome.response,
            },
        );
        Ok(response)
    }

    fn handle_continue(&self, job_id: &str, body: &[u8]) -> Reply {
        let job_id: AggregationJobId = job_id
            .parse()
            .map_err(|_| StatusCode::NOT_FOUND.into_response())?;
        let request = AggregationJobContinueReq::get_decoded(body)
            .map_err(|_| problem(DapProblemType::InvalidMessage, "undecodable"))?;
        let mut inner = self.lock();
        let Some(job) = inner.jobs.get(&job_id) else {
            return Err(problem(
                DapProblemType::UnrecognizedAggregationJob,
                "no such job",
            ));
        };
        let stored = StoredJob {
            step: job.step,
            last_request_hash: job.last_request_hash,
        };
        let param = job.aggregation_parameter.clone();
        let hash = RequestHash::of_body(body);
        let result = vdaf_dispatch!(self.task.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
            helper_continue::<V, VERIFY_KEY_LEN>(
                &vdaf,
                &param,
                &stored,
                &job.reports,
                &request,
                hash,
            )
        })
        .map_err(protocol_problem)?;
        let outcome = match result {
            HelperContinueResult::Replay => {
                return Ok(message(AggregationJobResp::MEDIA_TYPE, &job.last_response))
            }
            HelperContinueResult::Advanced(outcome) => outcome,
        };
        let batch_id = match job.batch {
            PartialBatchSelector::FixedSize(batch_id) => Some(batch_id),
            PartialBatchSelector::TimeInterval => None,
        };
        let newly: Vec<_> = outcome
            .reports
            .iter()
            .zip(&job.reports)
            .filter(|(after, before)| {
                matches!(after.state, HelperReportState::Finished { .. })
                    && !matches!(before.state, HelperReportState::Finished { .. })
            })
            .map(|(after, _)| after.clone())
            .collect();
        record_outputs(&mut inner, &newly, batch_id, &param);
        let response = message(AggregationJobResp::MEDIA_TYPE, &outcome.response);
        if let Some(job) = inner.jobs.get_mut(&job_id) {
            job.step = outcome.step;
            job.last_request_hash = outcome.request_hash;
            job.reports = outcome.reports;
            job.last_response = outcome.response;
        }
        Ok(response)
    }

    fn handle_aggregate_share(&self, body: &[u8]) -> Reply {
        let request = AggregateShareReq::get_decoded(body)
            .map_err(|_| problem(DapProblemType::InvalidMessage, "undecodable"))?;
        let mut inner = self.lock();
        if let Some((_, answer)) = inner.answered.iter().find(|(r, _)| *r == request) {
            return Ok((
                [(header::CONTENT_TYPE, AggregateShare::MEDIA_TYPE)],
                answer.clone(),
            )
                .into_response());
        }
        let in_batch = |output: &Output| {
            output.aggregation_parameter == request.aggregation_parameter
                && match request.batch_selector {
                    BatchSelector::TimeInterval(interval) => interval.contains(output.time),
                    BatchSelector::FixedSize(batch_id) => output.batch_id == Some(batch_id),
                }
        };
        let task = Arc::clone(&self.task);
        let accumulated = vdaf_dispatch!(task.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
            (|| {
                let mut acc = BatchAccumulator::<V, VERIFY_KEY_LEN>::new(
                    &vdaf,
                    &request.aggregation_parameter,
                )?;
                for output in inner.outputs.iter().filter(|o| in_batch(o)) {
                    acc.add_report(&output.report_id, output.time, &output.output_share)?;
                }
                acc.finish()
            })()
        })
        .map_err(protocol_problem)?;
        let previous: Vec<Vec<u8>> = inner
            .answered
            .iter()
            .filter(|(r, _)| r.batch_selector == request.batch_selector)
            .map(|(r, _)| r.aggregation_parameter.clone())
            .collect();
        let collected_intervals: Vec<Interval> = inner.facts.collected_intervals.clone();
        let batch_id_known = match request.batch_selector {
            BatchSelector::FixedSize(batch_id) => inner
                .jobs
                .values()
                .any(|job| job.batch == PartialBatchSelector::FixedSize(batch_id)),
            BatchSelector::TimeInterval(_) => true,
        };
        let facts = BatchFacts {
            report_count: accumulated.report_count,
            previous_agg_params: &previous,
            previously_collected_intervals: &collected_intervals,
            batch_id_known,
        };
        check_aggregate_share_req(&task, &request, &facts).map_err(protocol_problem)?;
        let share = answer_aggregate_share_req(
            &task,
            &request,
            accumulated.report_count,
            &accumulated.checksum,
            &accumulated.aggregate_share,
        )
        .map_err(protocol_problem)?;
        match request.batch_selector {
            BatchSelector::TimeInterval(interval) => inner.facts.collected_intervals.push(interval),
            BatchSelector::FixedSize(batch_id) => {
                inner.facts.collected_batch_ids.insert(batch_id);
            }
        }
        let body = share
            .get_encoded()
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())?;
        inner.answered.push((request, body.clone()));
        Ok(([(header::CONTENT_TYPE, AggregateShare::MEDIA_TYPE)], body).into_response())
    }
}

fn record_outputs(
    inner: &mut Inner,
    reports: &[HelperReportAggregation],
    batch_id: Option<BatchId>,
    aggregation_parameter: &[u8],
) {
    for report in reports {
        if let HelperReportState::Finished { output_share } = &report.state {
            inner.outputs.push(Output {
                report_id: report.metadata.id,
                time: report.metadata.time,
                batch_id,
                aggregation_parameter: aggregation_parameter.to_vec(),
                output_share: output_share.clone(),
            });
        }
    }
}
