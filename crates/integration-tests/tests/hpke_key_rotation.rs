//! Global HPKE keys rotated by the `key-rotator` role, end to end.
//!
//! 1. A Leader (`dyad serve` with the aggregator and key-rotator roles, keys
//!    rotating in seconds) whose task uses the global keys (`dyad task add
//!    --hpke-keys global`), and a Helper with the task's own key. A
//!    `dyad-client` that fetched the Leader's configuration keeps sealing
//!    to it: its upload succeeds while the key is expired; once the key is
//!    deleted its upload is answered `outdatedConfig`, and the client
//!    fetches the configuration again and succeeds, now sealing to a newer
//!    key (the config ID it holds changed).
//! 2. Two key-rotator replicas on one PostgreSQL database rotate for
//!    several periods: at no time are there two pending or two active keys,
//!    and exactly one key is made per rotation period (needs
//!    `DYAD_TEST_DATABASE_URL`; without it the test says it was skipped).

use dyad_client::{AnyVdaf, Client};
use dyad_core::vdaf::{Measurement, VdafInstance};
use dyad_integration_tests::{
    datastore_key, dyad_output, past_bucket_time, provision_task_with, run_dyad, Server,
    TaskOptions, WAIT,
};
use dyad_messages::draft09::{HpkeConfigId, Time};
use dyad_test_support::postgres::TestDatabase;
use sqlx::Connection as _;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// The Leader's global keys as `dyad hpke-key list --format json` prints
/// them: config ID → state.
fn listed_keys(config: &Path) -> BTreeMap<u8, String> {
    let json = dyad_output([
        "hpke-key".as_ref(),
        "list".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ])
    .unwrap();
    let keys: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    keys.iter()
        .map(|key| {
            (
                key["config_id"].as_u64().unwrap() as u8,
                key["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Waits until `done` holds of the Leader's keys; they, then.
async fn wait_for_keys(
    config: &Path,
    what: &str,
    done: impl Fn(&BTreeMap<u8, String>) -> bool,
) -> BTreeMap<u8, String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let keys = listed_keys(config);
        if done(&keys) {
            return keys;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what}: {keys:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The config ID the client seals the Leader's share to now (from its
/// cached configuration).
async fn leader_config_id(client: &Client<AnyVdaf>, time: Time) -> HpkeConfigId {
    client
        .prepare_report(&Measurement::Count(true), time)
        .await
        .unwrap()
        .leader_encrypted_input_share
        .config_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_uploads_through_a_rotation_and_refetches_after_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader =
        Server::configure(dir.path(), "leader", &["aggregator", "key-rotator"]).unwrap();
    // A key is pending 1 s, active 3 s, expired 5 s; every replica rereads
    // the keys every second.
    leader
        .set_config(
            "key_rotator",
            "{interval_secs: 1, pending_secs: 1, active_secs: 3, expired_secs: 5}",
        )
        .unwrap();
    leader
        .set_config("hpke_keys", "{refresh_interval_secs: 1}")
        .unwrap();
    let mut helper = Server::configure(dir.path(), "helper", &["aggregator"]).unwrap();
    let options = TaskOptions::time_interval(r#"{"type":"Prio3Count"}"#, 1);
    let credentials = provision_task_with(
        &leader,
        &helper,
        &helper.url(),
        &options,
        &dir.path().join("provision"),
        &["--hpke-keys", "global"],
    )
    .unwrap();
    leader.start().unwrap();
    helper.start().unwrap();
    // Ready once the first global key became active.
    leader.wait_ready(&credentials.task_id).await.unwrap();
    helper.wait_ready(&credentials.task_id).await.unwrap();
    let logs = || {
        format!(
            "--- leader ---\n{}\n--- helper ---\n{}",
            leader.log_text(),
            helper.log_text()
        )
    };

    let time = past_bucket_time(options.time_precision, 0);
    let client = credentials
        .client_builder()
        .fixed_time(time)
        .build(AnyVdaf(VdafInstance::Prio3Count))
        .unwrap();
    let old = leader_config_id(&client, time).await;
    client
        .upload(&Measurement::Count(true))
        .await
        .unwrap_or_else(|e| panic!("first upload: {e}\n{}", logs()));

    // The rotator replaces the key: the old one expires, the client still
    // holds its configuration and its upload still opens.
    wait_for_keys(leader.config_path(), "the fetched key expired", |keys| {
        keys.get(&old.0).map(String::as_str) == Some("expired")
    })
    .await;
    client
        .upload(&Measurement::Count(false))
        .await
        .unwrap_or_else(|e| panic!("upload to an expired key: {e}\n{}", logs()));
    assert_eq!(
        leader_config_id(&client, time).await,
        old,
        "no refetch while the key opens"
    );

    // Once deleted (and the Leader's copy refreshed), the upload is refused
    // with outdatedConfig; the client refetches and succeeds.
    wait_for_keys(leader.config_path(), "the fetched key is deleted", |keys| {
        !keys.contains_key(&old.0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client
        .upload(&Measurement::Count(true))
        .await
        .unwrap_or_else(|e| panic!("upload after deletion: {e}\n{}", logs()));
    let new = leader_config_id(&client, time).await;
    assert_ne!(new, old, "the client fetched the configuration again");
    let keys = listed_keys(leader.config_path());
    assert!(
        keys.contains_key(&new.0),
        "sealed to a stored key: {keys:?}"
    );
}

/// `(config_id, state)` of every global key in the database at `url`.
async fn key_rows(url: &str) -> Vec<(i16, i16)> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows = sqlx::query_as("SELECT config_id, state FROM global_hpke_keys ORDER BY config_id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rotators_on_postgres_make_one_key_per_rotation() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    run_dyad(["migrate", "--database", db.url()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = datastore_key();
    let mut rotators: Vec<Server> = ["rotator-1", "rotator-2"]
        .into_iter()
        .map(|name| {
            let server = Server::configure(dir.path(), name, &["key-rotator"]).unwrap();
            server
                .set_config("datastore", &format!("{:?}", db.url()))
                .unwrap();
            server
                .set_config("datastore_keys", &format!("[{key:?}]"))
                .unwrap();
            // Both run every second, on the same schedule.
            server
                .set_config(
                    "key_rotator",
                    "{interval_secs: 1, pending_secs: 1, active_secs: 2, expired_secs: 2}",
                )
                .unwrap();
            server
        })
        .collect();
    for rotator in &mut rotators {
        rotator.start().unwrap();
    }
    let started = Instant::now();
    let mut seen = BTreeSet::new();
    while started.elapsed() < Duration::from_secs(12) {
        let rows = key_rows(db.url()).await;
        let pending = rows.iter().filter(|(_, state)| *state == 0).count();
        let active = rows.iter().filter(|(_, state)| *state == 1).count();
        assert!(
            pending <= 1 && active <= 1,
            "two keys in one state: {rows:?}"
        );
        seen.extend(rows.iter().map(|(id, _)| *id));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A key lives pending 1 s then active 2 s before its successor is made
    // active: a new key about every 3 s (runs are 1 s apart, so up to 2 s
    // later), whatever the number of rotators. Duplicated rotations would
    // make twice as many.
    let elapsed = started.elapsed().as_secs_f64();
    let made = seen.len() as f64;
    assert!(
        made >= elapsed / 5.0 && made <= elapsed / 3.0 + 2.0,
        "{made} keys in {elapsed:.1} s: {seen:?}\n{}\n{}",
        rotators[0].log_text(),
        rotators[1].log_text()
    );
    // The config IDs follow one another: no ID was taken twice.
    let ids: Vec<i16> = seen.iter().copied().collect();
    assert_eq!(ids, (1..=ids.len() as i16).collect::<Vec<_>>());

    // The operator's view, through the CLI on the same database.
    let listed = std::process::Command::new(dyad_integration_tests::dyad_binary())
        .args([
            "hpke-key",
            "list",
            "--datastore",
            db.url(),
            "--format",
            "json",
        ])
        .env("DYAD_DATASTORE_KEYS", &key)
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(
        listed.iter().any(|key| key["state"] == "active"),
        "{listed:?}"
    );
}
