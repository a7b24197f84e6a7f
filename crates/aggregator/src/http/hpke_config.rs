//! `GET /hpke_config?task_id=...` (DAP-09 section 4.4.1): the task's HPKE
//! configurations, in decreasing order of preference, as an
//! `HpkeConfigList` (`application/dap-hpke-config-list`), with
//! `Cache-Control: max-age=86400` so Clients cache it for a day.
//!
//! Keys are per task here, so a request without `task_id` is answered with
//! `missingTaskID` (the spec's MAY); an unknown task with `unrecognizedTask`
//! (MUST); a malformed task ID with `invalidMessage`.

use super::problem::{ApiError, ApiResult};
use super::request::{message_response, parse_id};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use dyad_messages::draft09::{HpkeConfigList, TaskId};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;

/// The `Cache-Control` value of the response.
pub const CACHE_CONTROL: &str = "max-age=86400";

/// The handler.
pub async fn get_hpke_config(State(state): State<AppState>, uri: Uri) -> ApiResult<Response> {
    let task_id = query_task_id(&uri)?;
    configs_of(&state, task_id)
        .await
        .map_err(|e| e.with_task_id(task_id))
}

async fn configs_of(state: &AppState, task_id: TaskId) -> ApiResult<Response> {
    let task = state.task(task_id).await?;
    let configs = task
        .hpke_keys()
        .iter()
        .map(|keypair| keypair.config().clone())
        .collect::<Vec<_>>();
    if configs.is_empty() {
        return Err(ApiError::internal("task has no HPKE keys"));
    }
    let mut response = message_response(
        StatusCode::OK,
        DapMediaType::HpkeConfigList,
        &HpkeConfigList(configs),
    )?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    Ok(response)
}

fn query_task_id(uri: &Uri) -> ApiResult<TaskId> {
    let query = uri.query().unwrap_or_default();
    let value = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "task_id")
        .map(|(_, value)| value.into_owned());
    match value {
        Some(value) => parse_id(&value, "task ID"),
        None => Err(ApiError::dap(
            DapProblemType::MissingTaskId,
            "the task_id query parameter is required",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::fixtures::TaskPair;
    use crate::test_util::{TestEnv, TestRequest};
    use dyad_core::vdaf::VdafInstance;

    #[tokio::test]
    async fn serves_the_tasks_configs_with_a_long_cache_lifetime() {
        let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
        let env = TestEnv::with_tasks(&[&pair.leader]).await;
        let response = env
            .send(TestRequest::get(format!(
                "/hpke_config?task_id={}",
                pair.task_id()
            )))
            .await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("cache-control"), Some(CACHE_CONTROL));
        let list: HpkeConfigList = response.message(DapMediaType::HpkeConfigList);
        let expected: Vec<_> = pair
            .leader
            .hpke_keys()
            .iter()
            .map(|k| k.config().clone())
            .collect();
        assert_eq!(list.0, expected);
    }

    #[tokio::test]
    async fn missing_unknown_and_malformed_task_ids_are_refused() {
        let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
        let env = TestEnv::with_tasks(&[&pair.helper]).await;
        let response = env.send(TestRequest::get("/hpke_config")).await;
        response.assert_problem(DapProblemType::MissingTaskId, None);
        let response = env.send(TestRequest::get("/hpke_config?other=1")).await;
        response.assert_problem(DapProblemType::MissingTaskId, None);
        let unknown = TaskId::random();
        let response = env
            .send(TestRequest::get(format!("/hpke_config?task_id={unknown}")))
            .await;
        response.assert_problem(DapProblemType::UnrecognizedTask, Some(unknown));
        let response = env
            .send(TestRequest::get("/hpke_config?task_id=%21%21"))
            .await;
        response.assert_problem(DapProblemType::InvalidMessage, None);
        // The Helper serves its own keys.
        let response = env
            .send(TestRequest::get(format!(
                "/hpke_config?task_id={}",
                pair.task_id()
            )))
            .await;
        let list: HpkeConfigList = response.message(DapMediaType::HpkeConfigList);
        assert_eq!(list.0.len(), 2);
    }

    #[tokio::test]
    async fn unknown_route_is_a_404_problem() {
        let env = TestEnv::new().await;
        let response = env.send(TestRequest::get("/nowhere")).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        assert_eq!(response.problem().type_uri, "about:blank");
        assert!(response
            .header(crate::http::trace::REQUEST_ID_HEADER)
            .is_some());
    }
}
