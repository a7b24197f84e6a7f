//! `dyad task` over a remote management API (`--api`): the API's reads and
//! changes behind the same views as the datastore path ([`TaskView`]), and
//! the error for a task the aggregator does not hold.

use super::view::TaskView;
use crate::management_client::ManagementClient;
use crate::progress::Step;
use anyhow::Context as _;
use dyad_aggregator::management::models::{AggregatorDescription, TaskIdsPage};
use dyad_aggregator::management::task_json::TaskResponse;
use dyad_messages::draft09::TaskId;
use futures::{StreamExt as _, TryStreamExt as _};
use url::Url;

/// More tasks than this get a progress bar while they are read.
const BAR_THRESHOLD: usize = 50;

/// Tasks read at once.
const CONCURRENCY: usize = 8;

/// The task `task_id` in the API's form; an error naming the aggregator if
/// it holds none.
pub(super) async fn task(api: &ManagementClient, task_id: &TaskId) -> anyhow::Result<TaskResponse> {
    api.get_if_found(&format!("tasks/{task_id}"))
        .await?
        .with_context(|| no_such_task(api, task_id))
}

/// The error for a task ID the aggregator behind `api` does not hold.
pub(super) fn no_such_task(api: &ManagementClient, task_id: &TaskId) -> String {
    format!(
        "no task {task_id} at {} (`dyad task list --api ...` shows its tasks)",
        api.base()
    )
}

/// This aggregator's public DAP URL, as `GET /` reports it (`None` if its
/// `management_api.dap_url` is not set).
pub(super) async fn own_url(api: &ManagementClient) -> anyhow::Result<Option<Url>> {
    let description: AggregatorDescription = api.get("").await?;
    Ok(description.dap_url)
}

/// The view of one task.
pub(super) async fn view(api: &ManagementClient, task_id: &TaskId) -> anyhow::Result<TaskView> {
    let task = task(api, task_id).await?;
    TaskView::of_api(&task, own_url(api).await?.as_ref())
}

/// Every task ID, page by page (`GET /task_ids`, following each page's
/// `pagination_token` until a page comes back empty).
pub(super) async fn task_ids(api: &ManagementClient) -> anyhow::Result<Vec<TaskId>> {
    let mut ids = Vec::new();
    let mut path = "task_ids".to_owned();
    loop {
        let page: TaskIdsPage = api.get(&path).await?;
        if page.task_ids.is_empty() {
            return Ok(ids);
        }
        ids.extend(page.task_ids);
        let Some(token) = page.pagination_token else {
            return Ok(ids);
        };
        path = format!("task_ids?pagination_token={token}");
    }
}

/// Every task's view, by task ID (as the API lists them). A task deleted
/// between the listing and its read is left out.
pub(super) async fn views(api: &ManagementClient) -> anyhow::Result<Vec<TaskView>> {
    let ids = task_ids(api).await?;
    let own_url = own_url(api).await?;
    let step =
        (ids.len() > BAR_THRESHOLD).then(|| Step::counter("read", ids.len() as u64, "tasks"));
    let tasks: Vec<Option<TaskResponse>> = futures::stream::iter(&ids)
        .map(|task_id| {
            let step = &step;
            async move {
                let task = api.get_if_found(&format!("tasks/{task_id}")).await;
                if let Some(step) = step {
                    step.inc(1);
                }
                task
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    if let Some(step) = step {
        step.finish(&format!("{} tasks", ids.len()));
    }
    tasks
        .iter()
        .flatten()
        .map(|task| TaskView::of_api(task, own_url.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    /// Three pages of IDs as the API serves them: each page's last ID is
    /// its token, and the page after the last is empty (no token).
    async fn pages(uri: axum::http::Uri) -> String {
        let all: Vec<TaskId> = (1..=5).map(|i| TaskId::from_bytes([i; 32])).collect();
        let query = uri.query().unwrap_or_default();
        let after = url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "pagination_token")
            .map(|(_, token)| token.parse::<TaskId>().unwrap());
        let rest: Vec<TaskId> = all
            .into_iter()
            .filter(|id| after.is_none_or(|after| id.as_ref() > after.as_ref()))
            .take(2)
            .collect();
        serde_json::to_string(&TaskIdsPage {
            pagination_token: rest.last().copied(),
            task_ids: rest,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn task_ids_follow_every_page_until_an_empty_one() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = axum::Router::new().route("/prefix/task_ids", get(pages));
        tokio::spawn(async move { axum::serve(listener, router).await });
        let base: Url = format!("http://{address}/prefix").parse().unwrap();
        let api = ManagementClient::with_token(&base, "token", Vec::new()).unwrap();
        let ids = task_ids(&api).await.unwrap();
        let want: Vec<TaskId> = (1..=5).map(|i| TaskId::from_bytes([i; 32])).collect();
        assert_eq!(ids, want);
    }
}
