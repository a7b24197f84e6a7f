//! The stored form of a task, shared by every backend: the task's serde
//! (JSON) form, which holds all of its secrets (VDAF verify key, auth
//! tokens, HPKE private keys), sealed under the datastore keys and bound to
//! the task's row (`tasks.task_document` of this task ID).

use crate::{DatastoreError, DatastoreKeys};
use dyad_core::task::Task;
use dyad_messages::draft09::TaskId;
use zeroize::Zeroizing;

const TABLE: &str = "tasks";
const COLUMN: &str = "task_document";

/// The sealed document to store for `task`.
pub(crate) fn seal(task: &Task, keys: &DatastoreKeys) -> Result<Vec<u8>, DatastoreError> {
    let json =
        Zeroizing::new(serde_json::to_vec(task).map_err(|e| DatastoreError::invalid("task", e))?);
    keys.seal(TABLE, COLUMN, task.task_id().as_bytes(), &json)
}

/// The task stored as `sealed` in the row of `task_id`.
pub(crate) fn open(
    sealed: &[u8],
    task_id: &TaskId,
    keys: &DatastoreKeys,
) -> Result<Task, DatastoreError> {
    let json = Zeroizing::new(keys.open(TABLE, COLUMN, task_id.as_bytes(), sealed)?);
    // serde_json errors name a position, never the secret values.
    let task: Task =
        serde_json::from_slice(&json).map_err(|e| DatastoreError::corrupt(TABLE, COLUMN, e))?;
    if task.task_id() != task_id {
        return Err(DatastoreError::corrupt(
            TABLE,
            COLUMN,
            "document belongs to another task",
        ));
    }
    Ok(task)
}
