//! End to end over real HTTP on loopback: a Leader process (HTTP API and
//! every Leader job, through [`crate::runtime::run_with`]) and a Helper
//! process (HTTP API), each with its own datastore. Clients upload to the
//! Leader, the Collector creates a collection job and polls it, and the
//! result it opens and unshards is the sum of the measurements.

use crate::config::AggregatorConfig;
use crate::runtime::{open_datastore, run_with};
use crate::test_util::fixtures::{TaskPair, PRECISION};
use dyad_core::clock::{Clock, RealClock};
use dyad_core::task::{BatchMode, Task};
use dyad_core::vdaf::{AggregateResult, Measurement, VdafInstance};
use dyad_datastore::{Datastore, DatastoreExt};
use dyad_messages::draft09::{
    BatchSelector, Collection, CollectionJobId, CollectionReq, Interval, Query, Role,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::{Decode, Encode};
use std::sync::Arc;
use std::time::Duration as StdDuration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

async fn store_task(datastore: &Arc<dyn Datastore>, task: &Task) {
    let task = task.clone();
    datastore
        .run_tx("e2e_put_task", move |tx| {
            let task = task.clone();
            Box::pin(async move { Ok(tx.put_task(&task).await?) })
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_uploaded_to_the_leader_are_collected_through_the_helper() {
    // Shown only if the test fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let url = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    let leader_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let helper_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let leader_address = leader_listener.local_addr().unwrap();
    let helper_address = helper_listener.local_addr().unwrap();
    let pair = TaskPair::with_endpoints(
        VdafInstance::Prio3Sum { bits: 8 },
        BatchMode::TimeInterval,
        &format!("http://{leader_address}/"),
        &format!("http://{helper_address}/"),
    );

    let options = dyad_datastore::DatastoreOptions::new(dyad_datastore::DatastoreKeys::generate());
    let helper_ds = open_datastore(&url("helper.sqlite"), Arc::new(RealClock), &options)
        .await
        .unwrap();
    store_task(&helper_ds, &pair.helper).await;
    let leader_ds = open_datastore(&url("leader.sqlite"), Arc::new(RealClock), &options)
        .await
        .unwrap();
    store_task(&leader_ds, &pair.leader).await;

    let shutdown = CancellationToken::new();
    let helper_config = AggregatorConfig::from_yaml_str(&format!(
        "listen_address: \"{helper_address}\"\ndatastore: \"{}\"\nroles: [aggregator]\n",
        url("helper.sqlite")
    ))
    .unwrap();
    let leader_config = AggregatorConfig::from_yaml_str(&format!(
        "listen_address: \"{leader_address}\"\n\
         datastore: \"{}\"\n\
         roles: [aggregator, aggregation-job-creator, aggregation-job-driver, collection-job-driver]\n\
         collection_retry_after_secs: 1\n\
         aggregation_job_creator: {{interval_ms: 20, max_report_wait_ms: 10}}\n\
         aggregation_job_driver: {{interval_ms: 20}}\n\
         collection_job_driver: {{interval_ms: 20}}\n",
        url("leader.sqlite")
    ))
    .unwrap();
    let helper = tokio::spawn(run_with(
        helper_config,
        helper_ds,
        Some(helper_listener),
        shutdown.clone(),
    ));
    let leader = tokio::spawn(run_with(
        leader_config,
        leader_ds,
        Some(leader_listener),
        shutdown.clone(),
    ));

    // Clients report in the last full hour, so the batch is complete.
    let bucket_start = RealClock
        .now()
        .to_batch_interval_start(PRECISION)
        .checked_sub(PRECISION)
        .unwrap();
    let interval = Interval::new(bucket_start, PRECISION).unwrap();
    let values = [3u128, 40, 200, 11];
    let http = reqwest::Client::new();
    for value in values {
        let report = pair.report(&Measurement::Sum(value), bucket_start);
        let response = http
            .put(format!(
                "http://{leader_address}/tasks/{}/reports",
                pair.task_id()
            ))
            .header("content-type", DapMediaType::Report.as_str())
            .body(report.report.get_encoded().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }

    let job_uri = format!(
        "http://{leader_address}/tasks/{}/collection_jobs/{}",
        pair.task_id(),
        CollectionJobId::random()
    );
    let (header, value) = (
        pair.collector_token.header_name(),
        pair.collector_token.header_value(),
    );
    let request = CollectionReq::new(Query::TimeInterval(interval), vec![]);
    let response = http
        .put(&job_uri)
        .header(header, value.as_str())
        .header("content-type", DapMediaType::CollectionReq.as_str())
        .body(request.get_encoded().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let collection = tokio::time::timeout(StdDuration::from_secs(60), async {
        loop {
            let response = http
                .post(&job_uri)
                .header(header, value.as_str())
                .send()
                .await
                .unwrap();
            match response.status().as_u16() {
                200 => {
                    let body = response.bytes().await.unwrap();
                    break Collection::get_decoded(&body).unwrap();
                }
                202 => tokio::time::sleep(StdDuration::from_millis(50)).await,
                other => panic!(
                    "collection job answered {other}: {:?}",
                    response.text().await
                ),
            }
        }
    })
    .await
    .expect("the collection job finishes");

    assert_eq!(collection.report_count, values.len() as u64);
    assert_eq!(collection.interval, interval);
    let selector = BatchSelector::TimeInterval(interval);
    let leader_share = pair.open_share(
        Role::Leader,
        &[],
        selector,
        &collection.leader_encrypted_agg_share,
    );
    let helper_share = pair.open_share(
        Role::Helper,
        &[],
        selector,
        &collection.helper_encrypted_agg_share,
    );
    let result = pair.unshard(&[], &leader_share, &helper_share, collection.report_count);
    assert_eq!(result, AggregateResult::Sum(values.iter().sum()));

    shutdown.cancel();
    for process in [leader, helper] {
        tokio::time::timeout(StdDuration::from_secs(30), process)
            .await
            .expect("stops after shutdown")
            .unwrap()
            .unwrap();
    }
}
