//! The bad variants of one ordinary request: its body's mutations (from the
//! message's layout, see `dyad_messages::testing::mutation`), and the
//! mutations of what surrounds the body: the token, the media type, the
//! task and job IDs in the path, the role of the aggregator it is sent to.

use super::runner::{Case, Expect};
use crate::test_util::served::ServedApi;
use dyad_core::task::{AuthenticationToken, AuthenticationTokenType};
use dyad_messages::draft09::TaskId;
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_messages::testing::layout::{layout, Describe};
use dyad_messages::testing::mutation::mutations;
use dyad_messages::{Decode, Encode};
use reqwest::Method;

/// Which resource a request addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    Reports,
    CollectionJob,
    AggregationJob,
    AggregateShares,
}

impl RouteKind {
    /// The path for a task and job ID, as text (so that malformed ones can
    /// be put in).
    pub fn path(self, task: &str, job: &str) -> String {
        match self {
            RouteKind::Reports => format!("/tasks/{task}/reports"),
            RouteKind::CollectionJob => format!("/tasks/{task}/collection_jobs/{job}"),
            RouteKind::AggregationJob => format!("/tasks/{task}/aggregation_jobs/{job}"),
            RouteKind::AggregateShares => format!("/tasks/{task}/aggregate_shares"),
        }
    }

    fn has_job(self) -> bool {
        matches!(self, RouteKind::CollectionJob | RouteKind::AggregationJob)
    }
}

/// An ordinary request, from which the bad ones are made.
#[derive(Clone)]
pub struct Ordinary<'a> {
    pub endpoint: &'static str,
    pub server: &'a ServedApi,
    /// The aggregator of the task's other role (same task ID).
    pub other_role: &'a ServedApi,
    pub method: Method,
    pub route: RouteKind,
    pub task_id: TaskId,
    /// The job ID in the path (empty if the route has none).
    pub job: String,
    /// The token the requester presents, and another party's token of the
    /// same task.
    pub token: Option<(&'a AuthenticationToken, &'a AuthenticationToken)>,
    pub media_type: Option<DapMediaType>,
    pub body: Vec<u8>,
}

impl<'a> Ordinary<'a> {
    fn headers(&self) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        if let Some((token, _)) = self.token {
            headers.push(token_header(token));
        }
        if let Some(media_type) = self.media_type {
            headers.push(content_type(media_type.as_str()));
        }
        headers
    }

    /// A case of this request with `mutation` done, expecting `expect`.
    pub fn case(&self, mutation: impl Into<String>, expect: Expect) -> Case<'a> {
        Case {
            endpoint: self.endpoint,
            mutation: mutation.into(),
            server: self.server,
            method: self.method.clone(),
            path: self.route.path(&self.task_id.to_string(), &self.job),
            headers: self.headers(),
            body: self.body.clone(),
            expect,
            task_id: Some(self.task_id),
        }
    }

    /// Every variant of the request's token, media type, path and
    /// addressee; `unknown_job` is what an unknown job ID gets (for routes
    /// naming a job that must exist), `None` where a new ID is fine.
    pub fn surroundings(&self, unknown_job: Option<Expect>) -> Vec<Case<'a>> {
        let unauthorized = Expect::Problem(DapProblemType::UnauthorizedRequest);
        let mut cases = Vec::new();
        if let Some((token, other_party)) = self.token {
            let without = |c: &mut Case<'_>| {
                c.headers.retain(|(name, _)| {
                    !name.eq_ignore_ascii_case(token.header_name())
                        && !name.eq_ignore_ascii_case("authorization")
                })
            };
            let mut missing = self.case("token missing", unauthorized.clone());
            without(&mut missing);
            cases.push(missing);
            let tokens = [
                (
                    "token wrong",
                    AuthenticationToken::random(AuthenticationTokenType::DapAuth),
                ),
                (
                    "wrong bearer token",
                    AuthenticationToken::random(AuthenticationTokenType::Bearer),
                ),
                ("another party's token", other_party.clone()),
            ];
            for (what, wrong) in tokens {
                let mut case = self.case(what, unauthorized.clone());
                without(&mut case);
                case.headers.push(token_header(&wrong));
                cases.push(case);
            }
            let mut basic = self.case("token in a Basic authorization", unauthorized.clone());
            without(&mut basic);
            basic.headers.push((
                "authorization".to_owned(),
                format!("Basic {}", token.as_str()),
            ));
            cases.push(basic);
            let mut twice = self.case("token in both headers", unauthorized.clone());
            without(&mut twice);
            twice
                .headers
                .push(("DAP-Auth-Token".to_owned(), token.as_str().to_owned()));
            twice.headers.push((
                "authorization".to_owned(),
                format!("Bearer {}", token.as_str()),
            ));
            cases.push(twice);
        }
        if let Some(media_type) = self.media_type {
            let unsupported = Expect::ProblemWithStatus(DapProblemType::InvalidMessage, 415);
            let other = if media_type == DapMediaType::Report {
                DapMediaType::AggregateShareReq
            } else {
                DapMediaType::Report
            };
            let mut too_large = self.case(
                "body one byte over the limit",
                Expect::ProblemWithStatus(DapProblemType::InvalidMessage, 413),
            );
            too_large.body = vec![0; super::BODY_LIMIT + 1];
            cases.push(too_large);
            for (what, value) in [
                ("media type missing", None),
                (
                    "media type application/octet-stream",
                    Some("application/octet-stream"),
                ),
                ("media type of another message", Some(other.as_str())),
                ("media type empty", Some("")),
            ] {
                let mut case = self.case(what, unsupported.clone());
                case.headers
                    .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
                if let Some(value) = value {
                    case.headers.push(content_type(value));
                }
                cases.push(case);
            }
        }
        let mut case = self.case("method PATCH", Expect::Blank(405));
        case.method = Method::PATCH;
        cases.push(case);
        let unknown = TaskId::random();
        let mut case = self.case(
            "task unknown",
            Expect::Problem(DapProblemType::UnrecognizedTask),
        );
        case.path = self.route.path(&unknown.to_string(), &self.job);
        case.task_id = Some(unknown);
        cases.push(case);
        let task = self.task_id.to_string();
        for (what, malformed) in [
            ("task ID one character short", &task[1..]),
            ("task ID not base64url", "not!base64url"),
        ] {
            let mut case = self.case(what, Expect::Problem(DapProblemType::InvalidMessage));
            case.path = self.route.path(malformed, &self.job);
            case.task_id = None;
            cases.push(case);
        }
        let mut case = self.case(
            "sent to the task's aggregator of the other role",
            Expect::Problem(DapProblemType::UnrecognizedTask),
        );
        case.server = self.other_role;
        cases.push(case);
        if self.route.has_job() {
            if let Some(expect) = unknown_job {
                let mut case = self.case("job unknown", expect);
                case.path = self.route.path(&task, &random_job_id());
                cases.push(case);
            }
            for (what, malformed) in [
                ("job ID one character short", self.job[1..].to_owned()),
                ("job ID not base64url", "not+base64".to_owned()),
            ] {
                let mut case = self.case(what, Expect::Problem(DapProblemType::InvalidMessage));
                case.path = self.route.path(&task, &malformed);
                cases.push(case);
            }
        }
        cases
    }
}

/// Each mutation of `message`'s encoding, with what it must get: a body
/// that does not decode is `invalidMessage`; one that does gets what
/// `oracle` says for the message it decodes to.
pub fn body_mutations<M: Describe + Encode + Decode>(
    message: &M,
    oracle: impl Fn(&M) -> Expect,
) -> Vec<(String, Vec<u8>, Expect)> {
    let layout = layout(message).unwrap_or_else(|e| panic!("{e}"));
    mutations(&layout)
        .into_iter()
        .map(|mutation| {
            let expect = match M::get_decoded(&mutation.bytes) {
                Ok(decoded) => oracle(&decoded),
                Err(_) => Expect::Problem(DapProblemType::InvalidMessage),
            };
            (mutation.to_string(), mutation.bytes, expect)
        })
        .collect()
}

fn token_header(token: &AuthenticationToken) -> (String, String) {
    (
        token.header_name().to_owned(),
        token.header_value().as_str().to_owned(),
    )
}

fn content_type(value: &str) -> (String, String) {
    ("content-type".to_owned(), value.to_owned())
}

/// A random job identifier (16 bytes, unpadded base64url).
pub fn random_job_id() -> String {
    dyad_messages::draft09::CollectionJobId::random().to_string()
}
