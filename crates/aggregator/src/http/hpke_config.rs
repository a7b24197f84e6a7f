//! `GET /hpke_config[?task_id=...]` (DAP-09 section 4.4.1): HPKE
//! configurations, in decreasing order of preference, as an
//! `HpkeConfigList` (`application/dap-hpke-config-list`).
//!
//! With `task_id`: the task's own keys if it has any, else the active
//! global keys (see [`crate::hpke_keys`]); an unknown task is
//! `unrecognizedTask` (MUST), a malformed task ID `invalidMessage`.
//! Without `task_id`: the active global keys (the spec lets an aggregator
//! answer when its keys are not per task), or `missingTaskID` when there are
//! none.
//!
//! `Cache-Control: max-age` is `hpke_keys.config_max_age_secs` (a day by
//! default): a Client may seal to a configuration that long after fetching
//! it, so the key rotator must keep an expired key at least that long.
//!
//! ## Where is
//!
//! - the task's keys first, else the global ones → [`configs_of`]
//! - no `task_id`: the global keys, else `missingTaskID` →
//!   [`get_hpke_config`]

use super::problem::{ApiError, ApiResult};
use super::request::{message_response, parse_id};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use dyad_messages::draft09::{HpkeConfig, HpkeConfigList, TaskId};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;

/// The handler.
pub async fn get_hpke_config(State(state): State<AppState>, uri: Uri) -> ApiResult<Response> {
    match query_task_id(&uri)? {
        Some(task_id) => configs_of(&state, task_id)
            .await
            .map_err(|e| e.with_task_id(task_id)),
        None => {
            let global = state.hpke_keys.current().await?;
            if global.active_configs.is_empty() {
                return Err(ApiError::dap(
                    DapProblemType::MissingTaskId,
                    "the task_id query parameter is required: this aggregator advertises no global HPKE key (none is active)",
                ));
            }
            respond(&state, global.active_configs.clone())
        }
    }
}

/// The task's own configurations, or the active global ones if it has none.
async fn configs_of(state: &AppState, task_id: TaskId) -> ApiResult<Response> {
    let task = state.task(task_id).await?;
    let mut configs = task
        .hpke_keys()
        .iter()
        .map(|keypair| keypair.config().clone())
        .collect::<Vec<_>>();
    if configs.is_empty() {
        configs = state.hpke_keys.current().await?.active_configs.clone();
    }
    if configs.is_empty() {
        tracing::error!(
            task_id = %task_id,
            "the task has no HPKE keys of its own and there is no active global key: \
             run the key-rotator role or `dyad hpke-key add --state active`"
        );
        return Err(ApiError::internal(
            "no HPKE key: the task has none of its own and no global key is active",
        ));
    }
    respond(state, configs)
}

fn respond(state: &AppState, configs: Vec<HpkeConfig>) -> ApiResult<Response> {
    let mut response = message_response(
        StatusCode::OK,
        DapMediaType::HpkeConfigList,
        &HpkeConfigList(configs),
    )?;
    let cache_control = format!("max-age={}", state.config.hpke_keys.config_max_age_secs);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&cache_control)
            .map_err(|_| ApiError::internal("Cache-Control value"))?,
    );
    Ok(response)
}

/// The `task_id` query parameter, if given.
fn query_task_id(uri: &Uri) -> ApiResult<Option<TaskId>> {
    let query = uri.query().unwrap_or_default();
    let value = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "task_id")
        .map(|(_, value)| value.into_owned());
    value.map(|value| parse_id(&value, "task ID")).transpose()
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
        assert_eq!(response.header("cache-control"), Some("max-age=86400"));
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
    async fn without_task_id_the_active_global_keys_are_served() {
        use dyad_core::hpke::HpkeKeypair;
        use dyad_datastore::models::HpkeKeyState;
        use dyad_messages::draft09::HpkeConfigId;
        let env = TestEnv::new().await;
        let active = HpkeKeypair::generate_default(HpkeConfigId(5));
        env.put_global_key(
            &HpkeKeypair::generate_default(HpkeConfigId(4)),
            HpkeKeyState::Expired,
        )
        .await;
        env.put_global_key(&active, HpkeKeyState::Active).await;
        env.put_global_key(
            &HpkeKeypair::generate_default(HpkeConfigId(6)),
            HpkeKeyState::Pending,
        )
        .await;
        let response = env.send(TestRequest::get("/hpke_config")).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("cache-control"), Some("max-age=86400"));
        let list: HpkeConfigList = response.message(DapMediaType::HpkeConfigList);
        assert_eq!(list.0, vec![active.config().clone()]);
    }

    #[tokio::test]
    async fn a_task_without_keys_gets_the_global_keys_and_one_with_keys_its_own() {
        use dyad_core::hpke::HpkeKeypair;
        use dyad_datastore::models::HpkeKeyState;
        use dyad_messages::draft09::HpkeConfigId;
        let with_keys = TaskPair::time_interval(VdafInstance::Prio3Count);
        let without = TaskPair::time_interval(VdafInstance::Prio3Count);
        let config = crate::state::ApiConfig {
            hpke_keys: crate::config::HpkeKeysConfig {
                refresh_interval_secs: 60,
                config_max_age_secs: 300,
            },
            ..Default::default()
        };
        let env = TestEnv::with_config(config).await;
        env.put_task(&with_keys.leader).await;
        env.put_task(&TaskPair::without_keys(&without.leader)).await;
        let global = HpkeKeypair::generate_default(HpkeConfigId(42));
        env.put_global_key(&global, HpkeKeyState::Active).await;
        let get = |task_id: TaskId| TestRequest::get(format!("/hpke_config?task_id={task_id}"));

        let response = env.send(get(without.task_id())).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("cache-control"), Some("max-age=300"));
        let list: HpkeConfigList = response.message(DapMediaType::HpkeConfigList);
        assert_eq!(list.0, vec![global.config().clone()]);

        let response = env.send(get(with_keys.task_id())).await;
        let list: HpkeConfigList = response.message(DapMediaType::HpkeConfigList);
        assert_eq!(
            list.0,
            vec![with_keys.leader.hpke_keys()[0].config().clone()]
        );
    }

    #[tokio::test]
    async fn a_task_without_keys_and_no_active_global_key_is_a_server_error() {
        let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
        let env = TestEnv::with_tasks(&[&TaskPair::without_keys(&pair.leader)]).await;
        let response = env
            .send(TestRequest::get(format!(
                "/hpke_config?task_id={}",
                pair.task_id()
            )))
            .await;
        assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
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
