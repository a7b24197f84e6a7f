//! Provisioning a task from its advertisement
//! (draft-wang-ppm-dap-taskprov-06, "Leader Behavior", "Helper Behavior",
//! "Configuring a Task"), inside the transaction of the request that
//! carries it.
//!
//! [`resolve`] decides, in this order: the header parses as a `TaskConfig`
//! (else `invalidMessage`); its SHA-256 is the request's task ID (else
//! `unrecognizedTask`); a task already stored under the ID is the answer
//! if this aggregator runs it in `role` (else `unrecognizedTask`, as for
//! any task run in the other role) and it was provisioned from the same
//! bytes (else `invalidTask`); otherwise the task must not have expired,
//! the other aggregator must be a configured peer in its role at the
//! endpoint the `TaskConfig` gives it, the operator's policy must accept
//! it and its parameters must be supported (each else `invalidTask`).
//! [`provision`] stores what [`resolve`] made, in the same transaction:
//! a refused request stores nothing, and of two first requests racing,
//! one stores the task and the other finds it stored (SQLite's writers
//! take turns; on PostgreSQL the second insert is a serialization failure
//! and its transaction is rerun).
//!
//! With taskprov off ([`TaskprovConfig::enabled`] false) the header is
//! ignored: the stored task, or `unrecognizedTask`.

use super::policy::TaskprovConfig;
use crate::http::problem::ApiError;
use axum::http::HeaderMap;
use dyad_core::task::Task;
use dyad_core::taskprov::{task_from_config, task_id_of};
use dyad_datastore::{DatastoreError, Transaction, TxError};
use dyad_messages::draft09::{Role, TaskId, Time};
use dyad_messages::problem::DapProblemType;
use dyad_messages::taskprov::{TaskConfig, TASKPROV_HEADER};

/// What [`resolve`] found: the task stored already, or the task to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// The task was stored before this request (provisioned earlier, by
    /// advertisement with the same `TaskConfig`).
    Existing(Task),
    /// A task provisioned now, not yet stored.
    New(Task),
}

impl Resolved {
    /// The task, either way.
    pub fn task(&self) -> &Task {
        match self {
            Resolved::Existing(task) | Resolved::New(task) => task,
        }
    }

    /// The task, either way.
    pub fn into_task(self) -> Task {
        match self {
            Resolved::Existing(task) | Resolved::New(task) => task,
        }
    }
}

/// The request's `dap-taskprov` header as text, if it has one
/// (`invalidMessage` if it has several or one that is not text). A
/// request's advertisement is what this returns.
pub fn advertisement(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(TASKPROV_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid_message(format!(
            "more than one {TASKPROV_HEADER} header"
        )));
    }
    let text = value.to_str().map_err(|_| {
        ApiError::invalid_message(format!("the {TASKPROV_HEADER} header is not base64url"))
    })?;
    Ok(Some(text.to_owned()))
}

fn invalid_task(task_id: TaskId, detail: impl Into<String>) -> TxError {
    let detail = detail.into();
    tracing::info!(task_id = %task_id, reason = %detail, "opted out of an advertised task");
    TxError::abort(ApiError::dap(DapProblemType::InvalidTask, detail).with_task_id(task_id))
}

fn unrecognized(task_id: TaskId, detail: impl Into<String>) -> TxError {
    TxError::abort(ApiError::unrecognized_task(task_id, detail))
}

/// The task the request about `task_id`, advertised with `header` (the
/// `dap-taskprov` header's value), names for this aggregator in `role` at
/// `now` under `policy`, without storing anything (see the module
/// documentation for the order of the checks and their problem types).
pub async fn resolve(
    tx: &mut dyn Transaction,
    header: &str,
    task_id: TaskId,
    role: Role,
    now: Time,
    policy: &TaskprovConfig,
) -> Result<Resolved, TxError> {
    let stored = tx.get_task(&task_id).await?;
    if !policy.enabled {
        return match stored {
            Some(task) if task.role() == role => Ok(Resolved::Existing(task)),
            Some(_) => Err(unrecognized(
                task_id,
                format!("this aggregator is not the {role} of the task"),
            )),
            None => Err(unrecognized(task_id, "unknown task")),
        };
    }
    let (config, bytes) = TaskConfig::from_header_value(header).map_err(|e| {
        TxError::abort(ApiError::invalid_message(e.to_string()).with_task_id(task_id))
    })?;
    if task_id_of(&bytes) != task_id {
        return Err(unrecognized(
            task_id,
            "the task ID is not the SHA-256 of the advertised TaskConfig",
        ));
    }
    if let Some(task) = stored {
        if task.role() != role {
            return Err(unrecognized(
                task_id,
                format!("this aggregator is not the {role} of the task"),
            ));
        }
        if task.taskprov_config() != Some(bytes.as_slice()) {
            return Err(invalid_task(
                task_id,
                "a task with this ID is already configured otherwise",
            ));
        }
        return Ok(Resolved::Existing(task));
    }
    if now > config.task_expiration {
        return Err(invalid_task(task_id, "the advertised task has expired"));
    }
    let peer_role = match role {
        Role::Leader => Role::Helper,
        _ => Role::Leader,
    };
    let endpoint = match peer_role {
        Role::Leader => &config.leader_aggregator_endpoint,
        _ => &config.helper_aggregator_endpoint,
    };
    let Some(peer_url) = base_url(endpoint.as_str()) else {
        return Err(invalid_task(
            task_id,
            format!("the {peer_role}'s endpoint is not an http(s) URL"),
        ));
    };
    let Some(peer) = tx
        .get_taskprov_peer_aggregator(&peer_url, peer_role)
        .await?
    else {
        return Err(invalid_task(
            task_id,
            format!("no taskprov peer aggregator is configured as {peer_role} at {peer_url}"),
        ));
    };
    if let Some(reason) = policy.opt_out(&config, now) {
        return Err(invalid_task(task_id, reason));
    }
    let task = task_from_config(&config, &bytes, task_id, &peer)
        .map_err(|e| invalid_task(task_id, e.to_string()))?;
    Ok(Resolved::New(task))
}

/// [`resolve`], then the new task stored in the same transaction: the
/// contract both roles provision through. Gives the task, stored before
/// or now.
pub async fn provision(
    tx: &mut dyn Transaction,
    header: &str,
    task_id: TaskId,
    role: Role,
    now: Time,
    policy: &TaskprovConfig,
) -> Result<Task, TxError> {
    match resolve(tx, header, task_id, role, now, policy).await? {
        Resolved::Existing(task) => Ok(task),
        Resolved::New(task) => match tx.put_task(&task).await {
            Ok(()) => {
                tracing::info!(
                    task_id = %task_id,
                    role = %role,
                    vdaf = task.vdaf().type_name(),
                    "provisioned a task advertised by taskprov"
                );
                Ok(task)
            }
            Err(DatastoreError::AlreadyExists { .. }) => Err(invalid_task(
                task_id,
                "a task with this ID is already configured otherwise",
            )),
            Err(other) => Err(other.into()),
        },
    }
}

/// `text` as a base URL (path ending in `/`), as peers are stored.
fn base_url(text: &str) -> Option<url::Url> {
    let mut url = url::Url::parse(text).ok()?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return None;
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Some(url)
}

#[cfg(test)]
#[path = "provision_tests.rs"]
mod tests;
