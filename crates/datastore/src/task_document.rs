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
    let json = Zeroizing::new(
        keys.open(TABLE, COLUMN, task_id.as_bytes(), sealed)
            .map_err(|error| name_task(error, task_id))?,
    );
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

/// A decryption error naming the task rather than its row key.
pub(crate) fn name_task(error: DatastoreError, task_id: &TaskId) -> DatastoreError {
    error.naming_row(|| format!("task {task_id}"))
}

/// The sealed document of `task_id` sealed again under the first key, or
/// `None` if it is under the first key already (see
/// [`DatastoreKeys::reseal`]).
pub(crate) fn reseal(
    sealed: &[u8],
    task_id: &TaskId,
    keys: &DatastoreKeys,
) -> Result<Option<Vec<u8>>, DatastoreError> {
    keys.reseal(TABLE, COLUMN, task_id.as_bytes(), sealed)
        .map_err(|error| name_task(error, task_id))
}
