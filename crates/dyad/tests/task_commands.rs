//! `dyad task list|show|delete|update` through the real binary, against a
//! SQLite datastore the test fills with the datastore library: what an
//! operator types, what they see, and what is left in the database.

use dyad_core::clock::RealClock;
use dyad_core::task::Task;
use dyad_datastore::models::TaskRowCounts;
use dyad_datastore::testing::fixtures::{self, leader_task, report};
use dyad_datastore::{Datastore, DatastoreExt, DatastoreKeys, DatastoreOptions, KEYS_ENV};
use dyad_messages::draft09::{TaskId, Time};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

/// A SQLite datastore in a temporary folder holding one Leader task with
/// three client reports.
struct Fixture {
    _dir: tempfile::TempDir,
    url: String,
    keys: String,
    task: Task,
    runtime: tokio::runtime::Runtime,
}

impl Fixture {
    fn new() -> Self {
        Self::with_task(leader_task())
    }

    /// The fixture with a task whose ID starts with `prefix`.
    fn with_task_id_prefix(prefix: &str) -> Self {
        let task_id = std::iter::repeat_with(TaskId::random)
            .find(|id| id.to_string().starts_with(prefix))
            .unwrap();
        Self::with_task(leader_task().to_builder().task_id(task_id).build().unwrap())
    }

    fn with_task(task: Task) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("leader.sqlite").display());
        let keys = DatastoreKeys::generate_encoded();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let fixture = Self {
            _dir: dir,
            url,
            keys,
            task,
            runtime,
        };
        let (task, task_id) = (fixture.task.clone(), *fixture.task.task_id());
        fixture.with_datastore(|datastore| async move {
            fixtures::put_tasks(datastore.as_ref(), &[&task]).await;
            datastore
                .run_tx("fill", move |tx| {
                    Box::pin(async move {
                        let reports: Vec<_> = (0..3).map(|i| report(&task_id, 3600, i)).collect();
                        tx.put_client_reports(&reports).await?;
                        Ok(())
                    })
                })
                .await
                .unwrap();
        });
        fixture
    }

    fn task_id(&self) -> TaskId {
        *self.task.task_id()
    }

    /// Runs `body` on the datastore, closing it afterwards (so the binary
    /// runs with no other process holding the database).
    fn with_datastore<F, Fut, T>(&self, body: F) -> T
    where
        F: FnOnce(Arc<dyn Datastore>) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        self.runtime.block_on(async {
            let options = DatastoreOptions::new(DatastoreKeys::from_list(&self.keys).unwrap());
            let datastore = dyad_datastore::open(&self.url, Arc::new(RealClock), &options)
                .await
                .unwrap();
            let result = body(datastore.clone()).await;
            datastore.close().await;
            result
        })
    }

    /// The rows stored for the task, `None` once it is gone.
    fn stored(&self) -> Option<TaskRowCounts> {
        let task_id = self.task_id();
        self.with_datastore(|datastore| async move {
            datastore
                .run_read_tx("count", move |tx| {
                    Box::pin(async move { Ok(tx.count_task_rows(&task_id).await?) })
                })
                .await
                .unwrap()
        })
    }

    fn stored_task(&self) -> Option<Task> {
        let task_id = self.task_id();
        self.with_datastore(|datastore| async move {
            datastore
                .run_read_tx("get", move |tx| {
                    Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
                })
                .await
                .unwrap()
        })
    }

    /// `dyad task ARGS --datastore URL`, with the datastore keys in the
    /// environment and stdin not a terminal.
    fn dyad_task(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_dyad"))
            .arg("task")
            .args(args)
            .args(["--datastore", &self.url])
            .env(KEYS_ENV, &self.keys)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn delete_without_yes_and_without_a_terminal_refuses_and_deletes_nothing() {
    let fixture = Fixture::new();
    let before = fixture.stored().expect("the task is stored");
    assert_eq!(before.client_reports, 3);

    let output = fixture.dyad_task(&["delete", &fixture.task_id().to_string()]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("not a terminal"), "{stderr}");
    assert_eq!(stderr.matches("--yes").count(), 1, "{stderr}");
    assert!(text(&output.stdout).is_empty());

    assert_eq!(fixture.stored(), Some(before));
    assert_eq!(fixture.stored_task(), Some(fixture.task.clone()));
}

#[test]
fn delete_with_yes_removes_the_task_and_says_what_went() {
    let fixture = Fixture::new();
    let output = fixture.dyad_task(&["delete", "--yes", &fixture.task_id().to_string()]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        stdout.starts_with(&format!("Deleted task {} (leader).\n", fixture.task_id())),
        "{stdout}"
    );
    assert!(stdout.contains("\nclient reports        3\n"), "{stdout}");
    assert!(stdout.contains("\naggregation jobs      0\n"), "{stdout}");
    assert_eq!(fixture.stored(), None);

    let again = fixture.dyad_task(&["delete", "--yes", &fixture.task_id().to_string()]);
    let stderr = text(&again.stderr);
    assert!(!again.status.success());
    assert!(stderr.contains("no task"), "{stderr}");
}

#[test]
fn update_changes_the_stored_expiration_and_show_prints_it() {
    let fixture = Fixture::new();
    let task_id = fixture.task_id().to_string();
    let output = fixture.dyad_task(&[
        "update",
        &task_id,
        "--task-expiration",
        "2030-01-01T00:00:00Z",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        format!("Task {task_id} now expires: 2030-01-01T00:00:00Z (was: never).\n")
    );
    let stored = fixture.stored_task().unwrap();
    assert_eq!(
        stored.task_expiration(),
        Some(Time::from_seconds_since_epoch(1_893_456_000))
    );
    assert_eq!(
        stored,
        fixture
            .task
            .to_builder()
            .task_expiration(stored.task_expiration())
            .build()
            .unwrap()
    );

    let show = fixture.dyad_task(&["show", &task_id, "--format", "json"]);
    assert!(show.status.success(), "{}", text(&show.stderr));
    let json: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(json["task_expiration"], "2030-01-01T00:00:00Z");
    assert_eq!(json["task_id"], task_id.as_str());

    let output = fixture.dyad_task(&["update", &task_id, "--task-expiration", "none"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(fixture.stored_task().unwrap().task_expiration(), None);

    let bad = fixture.dyad_task(&["update", &task_id, "--task-expiration", "soon"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("RFC 3339"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn list_shows_a_header_and_the_task() {
    let fixture = Fixture::new();
    let output = fixture.dyad_task(&["list"]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("TASK ID "), "{stdout}");
    assert!(
        lines[1].starts_with(&format!("{}  leader  ", fixture.task_id())),
        "{stdout}"
    );
}

#[test]
fn a_missing_sqlite_file_is_an_error_not_a_new_database() {
    let fixture = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo.sqlite");
    let output = Command::new(env!("CARGO_BIN_EXE_dyad"))
        .args(["task", "list", "--datastore"])
        .arg(format!("sqlite://{}", missing.display()))
        .env(KEYS_ENV, &fixture.keys)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("no SQLite datastore at"), "{stderr}");
    assert!(
        stderr.contains("hint: ") && stderr.contains("dyad migrate --database sqlite://"),
        "{stderr}"
    );
    assert!(!missing.exists());
}

#[test]
fn task_ids_that_start_with_a_hyphen_are_ids_not_flags() {
    // `-y` is also `task delete`'s short flag for --yes.
    for prefix in ["-", "-y"] {
        let fixture = Fixture::with_task_id_prefix(prefix);
        let task_id = fixture.task_id().to_string();
        let show = fixture.dyad_task(&["show", &task_id]);
        assert!(show.status.success(), "{}", text(&show.stderr));
        assert!(text(&show.stdout).contains(&task_id));
        let update = fixture.dyad_task(&["update", &task_id, "--task-expiration", "none"]);
        assert!(update.status.success(), "{}", text(&update.stderr));
        let delete = fixture.dyad_task(&["delete", "--yes", &task_id]);
        assert!(delete.status.success(), "{}", text(&delete.stderr));
        let gone = fixture.dyad_task(&["show", &task_id]);
        assert!(!gone.status.success());
    }
}
