//! [`TaskCache`]: the tasks the HTTP handlers read, kept in memory for a
//! short while, so that an upload does not read (and decrypt: the task
//! document is sealed at rest) its task in a transaction of its own.
//!
//! How stale a cached task may be:
//!
//! - a task changed or deleted in this process (the management API, the
//!   garbage collector) is read again on its next use: each change bumps a
//!   process-wide generation ([`tasks_changed`]), and an entry read under
//!   an older generation is not used;
//! - a task changed or deleted by another process (another replica, the
//!   `dyad task` command on the datastore) is seen at most [`TASK_CACHE_TTL`]
//!   later;
//! - a task that is not found is not cached: a task added anywhere is
//!   served at once (and an unknown task keeps its one-call fallback, e.g.
//!   provisioning it from a request header).
//!
//! Only found tasks are kept, at most [`MAX_CACHED_TASKS`] of them (past
//! that the cache starts over), so memory stays bounded however many task
//! IDs requests name.

use dyad_core::task::Task;
use dyad_messages::draft09::TaskId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest a task changed by another process may still be served from
/// the cache.
pub const TASK_CACHE_TTL: Duration = Duration::from_secs(5);

/// Most tasks kept at once.
pub const MAX_CACHED_TASKS: usize = 4096;

/// Bumped by every change of a task made in this process.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Marks every cached task of this process as stale: call it after a
/// transaction that changed or deleted a task committed.
pub fn tasks_changed() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

struct Entry {
    task: Arc<Task>,
    read_at: Instant,
    generation: u64,
}

/// The cache; cheap to clone (clones share their entries).
#[derive(Clone)]
pub struct TaskCache {
    entries: Arc<Mutex<HashMap<TaskId, Entry>>>,
    ttl: Duration,
}

impl Default for TaskCache {
    fn default() -> Self {
        Self::new(TASK_CACHE_TTL)
    }
}

impl std::fmt::Debug for TaskCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tasks hold secrets: only their number is shown.
        let cached = self.entries.lock().map_or(0, |entries| entries.len());
        f.debug_struct("TaskCache")
            .field("cached", &cached)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl TaskCache {
    /// A cache whose entries are used for at most `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: Arc::default(),
            ttl,
        }
    }

    /// The task from the cache if it is fresh, else from `read` (whose
    /// answer is kept when it found the task). The generation is taken
    /// before reading, so a change committed during the read leaves the
    /// entry stale.
    pub async fn get_or_read<E, F, Fut>(
        &self,
        task_id: TaskId,
        read: F,
    ) -> Result<Option<Arc<Task>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<Task>, E>>,
    {
        let generation = generation();
        if let Some(task) = self.fresh(task_id, generation) {
            return Ok(Some(task));
        }
        let Some(task) = read().await? else {
            self.forget(task_id);
            return Ok(None);
        };
        let task = Arc::new(task);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_CACHED_TASKS && !entries.contains_key(&task_id) {
                entries.clear();
            }
            entries.insert(
                task_id,
                Entry {
                    task: task.clone(),
                    read_at: Instant::now(),
                    generation,
                },
            );
        }
        Ok(Some(task))
    }

    fn fresh(&self, task_id: TaskId, generation: u64) -> Option<Arc<Task>> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(&task_id)?;
        (entry.generation == generation && entry.read_at.elapsed() < self.ttl)
            .then(|| entry.task.clone())
    }

    fn forget(&self, task_id: TaskId) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&task_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_datastore::testing::fixtures::leader_task;
    use std::sync::atomic::AtomicUsize;

    async fn read_counting(
        cache: &TaskCache,
        task: &Task,
        reads: &AtomicUsize,
        found: bool,
    ) -> Option<Arc<Task>> {
        cache
            .get_or_read(*task.task_id(), || async {
                reads.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(found.then(|| task.clone()))
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_found_task_is_read_once_within_the_ttl_and_again_after_it() {
        let task = leader_task();
        let cache = TaskCache::new(Duration::from_millis(200));
        let reads = AtomicUsize::new(0);
        for _ in 0..3 {
            let got = read_counting(&cache, &task, &reads, true).await.unwrap();
            assert_eq!(got.task_id(), task.task_id());
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(250)).await;
        read_counting(&cache, &task, &reads, true).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_change_in_this_process_makes_the_next_use_read_the_task_again() {
        let task = leader_task();
        let cache = TaskCache::new(Duration::from_secs(60));
        let reads = AtomicUsize::new(0);
        read_counting(&cache, &task, &reads, true).await.unwrap();
        tasks_changed();
        // Deleted meanwhile: unknown at once.
        assert!(read_counting(&cache, &task, &reads, false).await.is_none());
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_unknown_task_is_never_cached() {
        let task = leader_task();
        let cache = TaskCache::new(Duration::from_secs(60));
        let reads = AtomicUsize::new(0);
        assert!(read_counting(&cache, &task, &reads, false).await.is_none());
        // Added since: found on the next request.
        assert!(read_counting(&cache, &task, &reads, true).await.is_some());
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }
}
