//! `dyad hpke-key` over a remote management API (`--api`): the global keys
//! as `GET /hpke_configs` lists them, read into the same [`KeyView`] the
//! datastore path prints, and the changes the API offers.

use super::view::{no_such_remote_key, KeyView};
use crate::management_client::{is_not_found, ManagementClient};
use dyad_aggregator::management::models::{
    GlobalHpkeConfigJson, KeyStateJson, PatchHpkeConfigRequest,
};
use dyad_datastore::models::HpkeKeyState;
use dyad_messages::draft09::HpkeConfigId;
use reqwest::Method;

/// Every global key, by config ID.
pub(super) async fn keys(api: &ManagementClient) -> anyhow::Result<Vec<KeyView>> {
    let items: Vec<GlobalHpkeConfigJson> = api.get("hpke_configs").await?;
    items.iter().map(KeyView::of_api).collect()
}

/// The global key `id`; an error naming the aggregator if it has none.
pub(super) async fn key(api: &ManagementClient, id: HpkeConfigId) -> anyhow::Result<KeyView> {
    let item: Option<GlobalHpkeConfigJson> =
        api.get_if_found(&format!("hpke_configs/{}", id.0)).await?;
    match item {
        Some(item) => KeyView::of_api(&item),
        None => Err(no_such_remote_key(id, api.base())),
    }
}

/// Moves the key `id` to `state` (`PATCH /hpke_configs/{id}`).
pub(super) async fn set_state(
    api: &ManagementClient,
    id: HpkeConfigId,
    state: HpkeKeyState,
) -> anyhow::Result<()> {
    let request = PatchHpkeConfigRequest {
        state: KeyStateJson::from(state),
    };
    match api
        .send_empty(Method::PATCH, &format!("hpke_configs/{}", id.0), &request)
        .await
    {
        Err(error) if is_not_found(&error) => Err(no_such_remote_key(id, api.base())),
        other => other.map(drop),
    }
}
