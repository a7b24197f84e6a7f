//! Answers for requests no handler takes, as problem documents (RFC 9457)
//! like every other error (DAP-09 section 3.2):
//!
//! - an unknown path: 404 Not Found;
//! - a known path with a method it does not serve: 405 Method Not Allowed
//!   (section 3.2's example), with the `Allow` header the router adds
//!   (RFC 9110 section 15.5.6).
//!
//! DAP-09 registers no type for either, so both are `about:blank`. A path
//! under `/tasks/{task-id}/` or a `task_id` query parameter that parses as
//! a task ID puts it in the document's `taskid`.

use super::problem::ApiError;
use axum::http::{Method, Uri};
use dyad_messages::draft09::TaskId;

/// The 404 answer.
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    with_path_task_id(ApiError::not_found("no such resource"), &uri)
}

/// The 405 answer.
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    with_path_task_id(
        ApiError::method_not_allowed(format!("{} does not serve {method}", uri.path())),
        &uri,
    )
}

fn with_path_task_id(error: ApiError, uri: &Uri) -> ApiError {
    match task_id_of(uri) {
        Some(task_id) => error.with_task_id(task_id),
        None => error,
    }
}

/// The task a request URI names, if any: `/tasks/{task-id}/...` or
/// `?task_id=`.
pub(crate) fn task_id_of(uri: &Uri) -> Option<TaskId> {
    let mut segments = uri.path().trim_start_matches('/').split('/');
    if segments.next() == Some("tasks") {
        return segments.next().and_then(|id| id.parse().ok());
    }
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "task_id")
        .and_then(|(_, value)| value.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{TestEnv, TestRequest};
    use axum::http::StatusCode;

    #[test]
    fn task_ids_are_read_from_task_paths_and_the_query() {
        let task_id = TaskId::random();
        for uri in [
            format!("/tasks/{task_id}/reports"),
            format!("/tasks/{task_id}"),
            format!("/hpke_config?task_id={task_id}"),
        ] {
            assert_eq!(task_id_of(&uri.parse().unwrap()), Some(task_id), "{uri}");
        }
        for uri in ["/tasks/nope/reports", "/hpke_config", "/other/x"] {
            assert_eq!(task_id_of(&uri.parse().unwrap()), None, "{uri}");
        }
    }

    #[tokio::test]
    async fn wrong_methods_get_a_405_problem_document_with_allow_and_task_id() {
        let env = TestEnv::new().await;
        let task_id = TaskId::random();
        let cases = [
            (
                Method::GET,
                format!("/tasks/{task_id}/reports"),
                Some(task_id),
            ),
            (
                Method::POST,
                format!("/tasks/{task_id}/reports"),
                Some(task_id),
            ),
            (
                Method::GET,
                format!("/tasks/{task_id}/aggregation_jobs/AAAAAAAAAAAAAAAAAAAAAA"),
                Some(task_id),
            ),
            (
                Method::PUT,
                format!("/tasks/{task_id}/aggregate_shares"),
                Some(task_id),
            ),
            (Method::DELETE, "/hpke_config".to_owned(), None),
            (
                Method::POST,
                format!("/hpke_config?task_id={task_id}"),
                Some(task_id),
            ),
        ];
        for (method, uri, expected_task) in cases {
            let response = env
                .send(TestRequest::new(method.clone(), uri.clone()))
                .await;
            assert_eq!(
                response.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}"
            );
            let document = response.problem();
            assert_eq!(document.type_uri, "about:blank");
            assert_eq!(document.title.as_deref(), Some("Method Not Allowed"));
            assert_eq!(document.taskid, expected_task, "{method} {uri}");
            let allow = response.header("allow").unwrap_or_default();
            assert!(!allow.is_empty(), "{method} {uri}: no Allow header");
            assert!(
                !allow.contains(method.as_str()),
                "{method} {uri}: Allow {allow}"
            );
        }
    }

    #[tokio::test]
    async fn unknown_paths_get_a_404_problem_document_with_any_task_id() {
        let env = TestEnv::new().await;
        let task_id = TaskId::random();
        let response = env
            .send(TestRequest::get(format!("/tasks/{task_id}/nothing")))
            .await;
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        let document = response.problem();
        assert_eq!(document.type_uri, "about:blank");
        assert_eq!(document.taskid, Some(task_id));
        let response = env.send(TestRequest::put("/")).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        assert_eq!(response.problem().taskid, None);
    }

    #[tokio::test]
    async fn undecodable_path_segments_get_a_problem_document() {
        let env = TestEnv::new().await;
        let task_id = TaskId::random();
        for (method, uri, expected_task) in [
            (Method::PUT, "/tasks/%FF/reports".to_owned(), None),
            (
                Method::POST,
                "/tasks/%FF%FE/aggregate_shares".to_owned(),
                None,
            ),
            (
                Method::PUT,
                format!("/tasks/{task_id}/collection_jobs/%C3%28"),
                Some(task_id),
            ),
            (
                Method::DELETE,
                format!("/tasks/{task_id}/aggregation_jobs/%FF"),
                Some(task_id),
            ),
        ] {
            let response = env
                .send(TestRequest::new(method.clone(), uri.clone()))
                .await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{method} {uri}");
            let document = response.problem();
            assert_eq!(
                document.dap_type(),
                Some(dyad_messages::problem::DapProblemType::InvalidMessage),
                "{method} {uri}"
            );
            assert_eq!(document.taskid, expected_task, "{method} {uri}");
        }
    }
}
