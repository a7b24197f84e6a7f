//! `log: {format: json}` on real `dyad serve` processes at trace level: a
//! Leader and a Helper aggregate and collect a batch, then every line each
//! wrote must be one JSON object; the request and job spans must carry
//! their task and job IDs; and no secret may appear anywhere in either log
//! (the datastore keys, the task's tokens and verify key, every HPKE
//! private key), in any of the encodings a secret is usually printed in.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use dyad_core::clock::RealClock;
use dyad_core::vdaf::{random_measurement, Measurement};
use dyad_datastore::{DatastoreExt as _, DatastoreKeys, DatastoreOptions};
use dyad_integration_tests::{past_bucket_time, Dyad, Server, TaskOptions};
use dyad_messages::draft09::{Duration, Interval, Query, TaskId};
use std::path::Path;
use std::sync::Arc;

const PRECISION: u64 = 3600;
const REPORTS: usize = 4;

/// Every form a secret of these bytes could take in a log line.
fn encodings(bytes: &[u8]) -> Vec<String> {
    vec![
        URL_SAFE_NO_PAD.encode(bytes),
        URL_SAFE.encode(bytes),
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        hex::encode(bytes),
        format!("{bytes:?}"),
    ]
}

/// String values under keys naming a token or a key in the YAML files of
/// `dir` (the provisioning files the parties exchanged), recursively.
fn yaml_secrets(dir: &Path, out: &mut Vec<String>) {
    fn walk(value: &serde_yaml::Value, key: &str, out: &mut Vec<String>) {
        match value {
            serde_yaml::Value::Mapping(map) => {
                for (k, v) in map {
                    walk(v, k.as_str().unwrap_or_default(), out);
                }
            }
            serde_yaml::Value::Sequence(items) => {
                for item in items {
                    walk(item, key, out);
                }
            }
            serde_yaml::Value::String(s)
                if (key.contains("token") || key.contains("private") || key.contains("verify"))
                    && s.len() >= 16 =>
            {
                out.push(s.clone());
            }
            _ => {}
        }
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_secrets(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            if let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(&text) {
                walk(&value, "", out);
            }
        }
    }
}

/// The server's datastore keys and what its datastore holds secret for
/// `task_id`: the verify key, the tokens it keeps, its HPKE private keys.
async fn stored_secrets(server: &Server, task_id: TaskId) -> Vec<Vec<u8>> {
    let config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(server.config_path()).unwrap()).unwrap();
    let keys: Vec<String> = config["datastore_keys"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let mut secrets: Vec<Vec<u8>> = keys
        .iter()
        .map(|k| URL_SAFE_NO_PAD.decode(k).unwrap())
        .collect();
    let url = config["datastore"].as_str().unwrap().to_owned();
    let mut options = DatastoreOptions::new(DatastoreKeys::from_encoded(&keys).unwrap());
    options.apply_migrations = false;
    let datastore = dyad_datastore::open(&url, Arc::new(RealClock), &options)
        .await
        .unwrap();
    let task = datastore
        .run_read_tx("test_read_task", move |tx| {
            Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
        })
        .await
        .unwrap()
        .expect("the task is stored");
    datastore.close().await;
    secrets.push(task.vdaf_verify_key().as_bytes().to_vec());
    for token in [
        Some(task.aggregator_auth_token()),
        task.collector_auth_token(),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(token) = token.token() {
            secrets.push(token.as_bytes().to_vec());
        }
    }
    for keypair in task.hpke_keys() {
        secrets.push(keypair.private_key().as_bytes().to_vec());
    }
    secrets
}

fn json_lines(name: &str, log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .enumerate()
        .map(|(number, line)| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|error| {
                panic!(
                    "{name} log line {} is not JSON ({error}): {line}",
                    number + 1
                )
            });
            assert!(
                value.is_object(),
                "{name} line {} is not an object",
                number + 1
            );
            value
        })
        .collect()
}

/// Whether some span of `line` has `field` equal to `value`.
fn span_has(line: &serde_json::Value, field: &str, value: &str) -> bool {
    line["spans"]
        .as_array()
        .is_some_and(|spans| spans.iter().any(|span| span[field] == value))
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_one_object_per_line_carry_ids_and_no_secret() {
    let log = ("log", "{level: trace, format: json}");
    let dyad = Dyad::start_with(
        &TaskOptions::time_interval(r#"{"type":"Prio3Count"}"#, REPORTS as u64),
        &[log],
        &[log],
    )
    .await
    .unwrap();
    let task_id = dyad.credentials.task_id;
    let time = past_bucket_time(PRECISION, 1);
    let client = dyad.client_at(time);
    let mut rng = rand::thread_rng();
    for _ in 0..REPORTS {
        let measurement: Measurement = random_measurement(dyad.vdaf(), &mut rng);
        client.upload(&measurement).await.unwrap();
    }
    let interval = Interval::new(
        time.to_batch_interval_start(Duration::from_seconds(PRECISION)),
        Duration::from_seconds(PRECISION),
    )
    .unwrap();
    let collection = dyad.collect(Query::TimeInterval(interval)).await.unwrap();
    assert_eq!(collection.report_count, REPORTS as u64);

    let (leader_log, helper_log) = (dyad.leader.log_text(), dyad.helper.log_text());
    let leader_lines = json_lines("leader", &leader_log);
    let helper_lines = json_lines("helper", &helper_log);
    assert!(leader_lines.len() > 20 && helper_lines.len() > 5);

    let task = task_id.to_string();
    assert!(
        leader_lines
            .iter()
            .any(|l| span_has(l, "task_id", &task) && l["spans"][0]["name"] == "request"),
        "no Leader request line carries the task ID"
    );
    assert!(
        leader_lines.iter().any(|l| span_has(l, "task_id", &task)
            && l["spans"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == "aggregation_job" && s["aggregation_job_id"].is_string())),
        "no aggregation job line carries the task and job IDs"
    );
    assert!(
        leader_lines
            .iter()
            .any(|l| l["spans"].as_array().is_some_and(|spans| spans
                .iter()
                .any(|s| s["name"] == "collection_job" && s["collection_job_id"].is_string()))),
        "no collection job line carries its job ID"
    );
    assert!(
        helper_lines.iter().any(|l| span_has(l, "task_id", &task)
            && l["spans"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["aggregation_job_id"].is_string())),
        "no Helper request line carries the aggregation job ID"
    );

    let mut secrets: Vec<String> = Vec::new();
    yaml_secrets(dyad.dir(), &mut secrets);
    assert!(
        secrets.len() >= 3,
        "the provisioning files hold tokens and keys: {}",
        secrets.len()
    );
    for server in [&dyad.leader, &dyad.helper] {
        for bytes in stored_secrets(server, task_id).await {
            secrets.extend(encodings(&bytes));
        }
    }
    for secret in &secrets {
        for (name, log) in [("leader", &leader_log), ("helper", &helper_log)] {
            assert!(
                !log.contains(secret.as_str()),
                "a secret appears in the {name}'s log"
            );
        }
    }
}
