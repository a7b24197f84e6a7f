//! Sends each case over HTTP, checks the answer against what the case
//! expects and the stored state against the dump taken before it, and
//! keeps every failure as one readable line.

use crate::test_util::served::ServedApi;
use crate::test_util::table_dump::{diff, Dump};
use dyad_messages::draft09::{AggregationJobResp, PrepareError, PrepareStepResult, TaskId};
use dyad_messages::media_type::{DapMediaType, PROBLEM_JSON};
use dyad_messages::problem::{DapProblemType, ProblemDocument};
use dyad_messages::Decode;
use reqwest::Method;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;

/// What a request must get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// A DAP problem document of this type, with the type's status.
    Problem(DapProblemType),
    /// A DAP problem document of this type with another HTTP status (415,
    /// 413, 409).
    ProblemWithStatus(DapProblemType, u16),
    /// An `about:blank` problem document with this status (404).
    Blank(u16),
    /// Success with this status; the stored state may change.
    Accepted(u16),
    /// An `AggregationJobResp` with this status, one result per report of
    /// the request in order: `None` for a report that goes on or finished,
    /// `Some` for one rejected with that error.
    Prepared {
        status: u16,
        results: Vec<Option<PrepareError>>,
    },
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Problem(t) => write!(f, "{} {t:?}", t.http_status()),
            Expect::ProblemWithStatus(t, status) => write!(f, "{status} {t:?}"),
            Expect::Blank(status) => write!(f, "{status} about:blank"),
            Expect::Accepted(status) => write!(f, "{status}"),
            Expect::Prepared { status, results } => write!(f, "{status}, reports {results:?}"),
        }
    }
}

/// One request of the matrix.
pub struct Case<'a> {
    /// `Leader PUT /tasks/{task-id}/reports` and the like.
    pub endpoint: &'static str,
    /// What was done to the ordinary request.
    pub mutation: String,
    pub server: &'a ServedApi,
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub expect: Expect,
    /// The `taskid` a problem document must carry (the task the path names,
    /// if it parses).
    pub task_id: Option<TaskId>,
}

/// What came back.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Runs cases and collects failures.
pub struct Runner {
    client: reqwest::Client,
    dumps: HashMap<SocketAddr, Dump>,
    failures: Vec<String>,
    /// Requests sent per endpoint.
    pub sent: BTreeMap<&'static str, usize>,
}

impl Runner {
    pub fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap(),
            dumps: HashMap::new(),
            failures: Vec::new(),
            sent: BTreeMap::new(),
        }
    }

    /// Sends `case`, checks its answer and, unless it succeeded, that the
    /// server's stored state is what it was before.
    pub async fn run(&mut self, case: Case<'_>) -> Option<Answer> {
        let server = case.server;
        let before = match self.dumps.remove(&server.address) {
            Some(dump) => dump,
            None => server.dumper.dump().await,
        };
        *self.sent.entry(case.endpoint).or_default() += 1;
        let mut request = self
            .client
            .request(case.method.clone(), server.url(&case.path))
            .body(case.body.clone());
        for (name, value) in &case.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let content_type = response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                match response.bytes().await {
                    Ok(body) => Some((status, content_type, body.to_vec())),
                    Err(error) => {
                        self.fail(&case, &format!("{status}, body unreadable: {error}"));
                        None
                    }
                }
            }
            Err(error) => {
                self.fail(&case, &format!("no answer (a panic?): {error}"));
                None
            }
        };
        let after = server.dumper.dump().await;
        if let Some((status, content_type, body)) = &answer {
            if let Err(got) = check(
                &case.expect,
                case.task_id,
                *status,
                content_type.as_deref(),
                body,
            ) {
                self.fail(&case, &got);
            }
            if !(200..300).contains(status) {
                let changes = diff(&before, &after, 8);
                if !changes.is_empty() {
                    self.fail(
                        &case,
                        &format!(
                            "refused with {status} but the stored state changed:\n      {}",
                            changes.join("\n      ")
                        ),
                    );
                }
            }
        }
        self.dumps.insert(server.address, after);
        answer.map(|(status, _, body)| Answer { status, body })
    }

    fn fail(&mut self, case: &Case<'_>, got: &str) {
        self.failures.push(format!(
            "{} [{}]: expected {}, got {got}",
            case.endpoint, case.mutation, case.expect
        ));
    }

    /// Panics listing every failure, if there was any.
    pub fn finish(self, backend: &str) {
        let total: usize = self.sent.values().sum();
        eprintln!("{backend}: {total} requests: {:?}", self.sent);
        if !self.failures.is_empty() {
            panic!(
                "{backend}: {} of {total} bad requests were not answered as expected:\n  {}",
                self.failures.len(),
                self.failures.join("\n  ")
            );
        }
    }
}

/// `Ok` if the answer is what the case expects; otherwise what came back.
fn check(
    expect: &Expect,
    task_id: Option<TaskId>,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), String> {
    let got = || describe_answer(status, content_type, body);
    if status >= 500 {
        return Err(got());
    }
    let (problem_type, expected_status) = match expect {
        Expect::Accepted(expected) => {
            return if status == *expected {
                Ok(())
            } else {
                Err(got())
            };
        }
        Expect::Prepared {
            status: expected,
            results,
        } => return check_prepared(*expected, results, status, content_type, body),
        Expect::Problem(t) => (Some(*t), t.http_status()),
        Expect::ProblemWithStatus(t, s) => (Some(*t), *s),
        Expect::Blank(s) => (None, *s),
    };
    if status != expected_status || content_type != Some(PROBLEM_JSON) {
        return Err(got());
    }
    let document = ProblemDocument::from_json(body).map_err(|_| got())?;
    let expected_uri = problem_type.map_or("about:blank", |t| t.urn());
    if document.type_uri != expected_uri || document.status != Some(status) {
        return Err(got());
    }
    if problem_type.is_some() && document.taskid != task_id {
        return Err(format!(
            "{}, taskid {:?} instead of {:?}",
            got(),
            document.taskid.map(|t| t.to_string()),
            task_id.map(|t| t.to_string())
        ));
    }
    Ok(())
}

/// An `AggregationJobResp` whose reports got `results`.
fn check_prepared(
    expected: u16,
    results: &[Option<PrepareError>],
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), String> {
    let media_type = DapMediaType::AggregationJobResp.as_str();
    if status != expected || content_type != Some(media_type) {
        return Err(describe_answer(status, content_type, body));
    }
    let response = AggregationJobResp::get_decoded(body)
        .map_err(|e| format!("{status}, an AggregationJobResp that does not decode: {e}"))?;
    let got: Vec<Option<PrepareError>> = response
        .prepare_resps
        .iter()
        .map(|resp| match &resp.result {
            PrepareStepResult::Reject(error) => Some(*error),
            _ => None,
        })
        .collect();
    if got == results {
        Ok(())
    } else {
        Err(format!("{status}, reports {got:?}"))
    }
}

fn describe_answer(status: u16, content_type: Option<&str>, body: &[u8]) -> String {
    if content_type == Some(PROBLEM_JSON) {
        if let Ok(document) = ProblemDocument::from_json(body) {
            let kind = document
                .dap_type()
                .map_or_else(|| document.type_uri.clone(), |t| format!("{t:?}"));
            return format!(
                "{status} {kind} ({})",
                document.detail.as_deref().unwrap_or("no detail")
            );
        }
    }
    format!(
        "{status} {} ({} bytes)",
        content_type.unwrap_or("no content type"),
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_messages::draft09::{PrepareResp, ReportId};

    fn problem(status: u16, problem_type: Option<DapProblemType>, task: Option<TaskId>) -> Vec<u8> {
        let mut json = serde_json::json!({
            "type": problem_type.map_or("about:blank", |t| t.urn()),
            "status": status,
        });
        if let Some(task) = task {
            json["taskid"] = task.to_string().into();
        }
        json.to_string().into_bytes()
    }

    #[test]
    fn only_the_expected_problem_with_its_status_and_task_passes() {
        let task = TaskId::random();
        let expect = Expect::Problem(DapProblemType::BatchInvalid);
        let body = problem(400, Some(DapProblemType::BatchInvalid), Some(task));
        assert!(check(&expect, Some(task), 400, Some(PROBLEM_JSON), &body).is_ok());
        // A 5xx, another type, another status, no task ID, no problem
        // document: each fails.
        let server = problem(500, None, None);
        assert!(check(&expect, Some(task), 500, Some(PROBLEM_JSON), &server).is_err());
        let other = problem(400, Some(DapProblemType::InvalidMessage), Some(task));
        assert!(check(&expect, Some(task), 400, Some(PROBLEM_JSON), &other).is_err());
        assert!(check(&expect, Some(task), 403, Some(PROBLEM_JSON), &body).is_err());
        let anonymous = problem(400, Some(DapProblemType::BatchInvalid), None);
        assert!(check(&expect, Some(task), 400, Some(PROBLEM_JSON), &anonymous).is_err());
        assert!(check(&expect, Some(task), 400, Some("text/plain"), b"bad").is_err());
        // Success is not a refusal.
        assert!(check(&expect, Some(task), 201, None, b"").is_err());
        assert!(check(&Expect::Accepted(201), None, 201, None, b"").is_ok());
        assert!(check(&Expect::Accepted(201), None, 500, None, b"").is_err());
    }

    #[test]
    fn prepared_jobs_must_reject_exactly_the_expected_reports() {
        let response = AggregationJobResp::new(vec![
            PrepareResp::new(
                ReportId::random(),
                PrepareStepResult::Reject(PrepareError::HpkeDecryptError),
            ),
            PrepareResp::new(ReportId::random(), PrepareStepResult::Finished),
        ]);
        let body = dyad_messages::Encode::get_encoded(&response).unwrap();
        let media_type = Some(DapMediaType::AggregationJobResp.as_str());
        let expect = |results| Expect::Prepared {
            status: 201,
            results,
        };
        let right = expect(vec![Some(PrepareError::HpkeDecryptError), None]);
        assert!(check(&right, None, 201, media_type, &body).is_ok());
        let wrong_error = expect(vec![Some(PrepareError::VdafPrepError), None]);
        assert!(check(&wrong_error, None, 201, media_type, &body).is_err());
        let none_rejected = expect(vec![None, None]);
        assert!(check(&none_rejected, None, 201, media_type, &body).is_err());
        assert!(check(&right, None, 200, media_type, &body).is_err());
    }
}
