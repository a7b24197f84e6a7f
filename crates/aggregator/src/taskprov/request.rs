//! A request's task when the request may advertise it: what the Helper's
//! (and the Leader's) handlers call instead of
//! [`AppState::task_in_role`].
//!
//! - [`task_to_provision`]: for the request that provisions (the Helper's
//!   aggregation job initialization, the Leader's upload): the task,
//!   stored or made from the advertisement, and, when it is new, the
//!   [`Provisioning`] to run in the transaction that stores the request's
//!   work ([`Provisioning::store`]), so that a refused or failed request
//!   stores no task.
//! - [`task_in_role`]: for every other request: a header, when present,
//!   must advertise the stored task (same `TaskConfig`, else
//!   `invalidTask`; a task ID that is not its SHA-256, `unrecognizedTask`);
//!   a task not stored yet is unknown here.
//!
//! ## Where is
//!
//! - the Helper provisions on aggregation job initialization only
//!   (taskprov-06, "Helper Behavior") → [`task_to_provision`]
//! - a later request's header compared with the stored config →
//!   [`task_in_role`]

use super::policy::TaskprovConfig;
use super::provision::{advertisement, provision, resolve, Resolved};
use crate::http::problem::{ApiError, ApiResult};
use crate::state::AppState;
use axum::http::HeaderMap;
use dyad_core::task::Task;
use dyad_datastore::{DatastoreExt, Transaction, TxError};
use dyad_messages::draft09::{Role, TaskId, Time};
use std::sync::Arc;

/// A task to store with the work of the request that advertised it.
#[derive(Debug, Clone)]
pub struct Provisioning {
    header: String,
    role: Role,
    now: Time,
    policy: TaskprovConfig,
    task: Task,
}

impl Provisioning {
    /// The task to store.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// Stores the task in `tx` (the transaction that stores the request's
    /// work), deciding again from what `tx` reads: a task stored
    /// meanwhile by a racing request is taken as it is if it is the same.
    /// Aborts with a conflict (nothing stored) if the task made now is
    /// not the one the request was prepared with (the peer changed in
    /// between).
    pub async fn store(&self, tx: &mut dyn Transaction) -> Result<(), TxError> {
        let task_id = *self.task.task_id();
        let task = provision(tx, &self.header, task_id, self.role, self.now, &self.policy).await?;
        if task != self.task {
            return Err(TxError::abort(
                ApiError::conflict(
                    "the task's taskprov peer aggregator changed during the request",
                )
                .with_task_id(task_id),
            ));
        }
        Ok(())
    }
}

async fn resolve_read(
    state: &AppState,
    header: String,
    task_id: TaskId,
    role: Role,
) -> ApiResult<(Resolved, String, Time)> {
    let policy = state.config.taskprov;
    let now = state.now();
    let (resolved, header) = state
        .datastore
        .run_read_tx("taskprov_resolve", move |tx| {
            let header = header.clone();
            Box::pin(async move {
                let resolved = resolve(tx, &header, task_id, role, now, &policy).await?;
                Ok((resolved, header))
            })
        })
        .await
        .map_err(|e| ApiError::from(e).with_task_id(task_id))?;
    Ok((resolved, header, now))
}

/// The task of a request that may provision it, in `role`: the stored
/// task (`None`: nothing to provision), or the task the request's
/// `dap-taskprov` header advertises, with its [`Provisioning`].
pub async fn task_to_provision(
    state: &AppState,
    task_id: TaskId,
    role: Role,
    headers: &HeaderMap,
) -> ApiResult<(Arc<Task>, Option<Provisioning>)> {
    let header = advertisement(headers).map_err(|e| e.with_task_id(task_id))?;
    let Some(header) = header.filter(|_| state.config.taskprov.enabled) else {
        return Ok((state.task_in_role(task_id, role).await?, None));
    };
    match resolve_read(state, header, task_id, role).await? {
        (Resolved::Existing(task), _, _) => Ok((Arc::new(task), None)),
        (Resolved::New(task), header, now) => Ok((
            Arc::new(task.clone()),
            Some(Provisioning {
                header,
                role,
                now,
                policy: state.config.taskprov,
                task,
            }),
        )),
    }
}

/// The stored task of a request that does not provision, in `role`; a
/// `dap-taskprov` header, if sent, must advertise it.
pub async fn task_in_role(
    state: &AppState,
    task_id: TaskId,
    role: Role,
    headers: &HeaderMap,
) -> ApiResult<Arc<Task>> {
    let header = advertisement(headers).map_err(|e| e.with_task_id(task_id))?;
    let Some(header) = header.filter(|_| state.config.taskprov.enabled) else {
        return state.task_in_role(task_id, role).await;
    };
    match resolve_read(state, header, task_id, role).await? {
        (Resolved::Existing(task), _, _) => Ok(Arc::new(task)),
        (Resolved::New(_), _, _) => Err(ApiError::unrecognized_task(
            task_id,
            "unknown task (a taskprov task is provisioned by its first aggregation job)",
        )),
    }
}
