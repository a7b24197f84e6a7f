//! Leader and Helper as separate `dyad serve` processes: every Prio3 VDAF
//! under both batch modes, several batches per task, a collection that waits
//! for reports, and a Leader killed mid-aggregation.

use dyad_client::{AnyVdaf, Client};
use dyad_collector::PollResult;
use dyad_core::vdaf::{
    plaintext_aggregate, random_measurement, AggregateResult, AggregationParam, Measurement,
};
use dyad_integration_tests::{assert_aggregate_eq, past_bucket_time, Dyad, TaskOptions, WAIT};
use dyad_messages::draft09::{Duration, FixedSizeQuery, Interval, Query, Time};

const PRECISION: u64 = 3600;

/// Uploads `count` random measurements through `client`; returns them.
async fn upload_random(dyad: &Dyad, client: &Client<AnyVdaf>, count: usize) -> Vec<Measurement> {
    let mut rng = rand::thread_rng();
    let measurements: Vec<Measurement> = (0..count)
        .map(|_| random_measurement(dyad.vdaf(), &mut rng))
        .collect();
    let results = tokio::time::timeout(WAIT, client.upload_batch(&measurements, 8))
        .await
        .expect("uploads timed out");
    for result in results {
        if let Err(error) = result {
            panic!("upload failed: {error}\n{}", dyad.logs());
        }
    }
    measurements
}

fn expected(dyad: &Dyad, measurements: &[Measurement]) -> AggregateResult {
    plaintext_aggregate(dyad.vdaf(), &AggregationParam::Empty, measurements).unwrap()
}

fn bucket_query(time: Time) -> Query {
    Query::TimeInterval(
        Interval::new(
            time.to_batch_interval_start(Duration::from_seconds(PRECISION)),
            Duration::from_seconds(PRECISION),
        )
        .unwrap(),
    )
}

/// Time-interval: upload `count` reports into the previous bucket, collect
/// that bucket, compare with the plaintext aggregate.
async fn time_interval_round_trip(vdaf: &str, count: usize) {
    let dyad = Dyad::start(&TaskOptions::time_interval(vdaf, count as u64))
        .await
        .unwrap();
    let time = past_bucket_time(PRECISION, 1);
    let measurements = upload_random(&dyad, &dyad.client_at(time), count).await;
    let collection = dyad.collect(bucket_query(time)).await.unwrap();
    assert_eq!(collection.report_count, count as u64);
    assert_aggregate_eq(
        &collection.aggregate_result,
        &expected(&dyad, &measurements),
    );
}

/// Fixed-size: upload exactly one batch's worth, collect the current batch.
async fn fixed_size_round_trip(vdaf: &str, count: usize) {
    let dyad = Dyad::start(&TaskOptions::fixed_size(vdaf, count as u64, count as u64))
        .await
        .unwrap();
    let client = dyad.client_builder().build(AnyVdaf(*dyad.vdaf())).unwrap();
    let measurements = upload_random(&dyad, &client, count).await;
    // The Leader answers invalidBatchSize until a batch has min_batch_size
    // aggregated reports: retry, bounded.
    let start = std::time::Instant::now();
    let collection = loop {
        match dyad
            .collect(Query::FixedSize(FixedSizeQuery::CurrentBatch))
            .await
        {
            Ok(collection) => break collection,
            Err(error)
                if error.to_string().contains("invalidBatchSize") && start.elapsed() < WAIT =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
            Err(error) => panic!("{error}"),
        }
    };
    assert_eq!(collection.report_count, count as u64);
    assert_aggregate_eq(
        &collection.aggregate_result,
        &expected(&dyad, &measurements),
    );
}

#[tokio::test]
async fn time_interval_prio3_count() {
    time_interval_round_trip(r#"{"type":"Prio3Count"}"#, 30).await;
}

#[tokio::test]
async fn time_interval_prio3_sum() {
    time_interval_round_trip(r#"{"type":"Prio3Sum","bits":"8"}"#, 30).await;
}

#[tokio::test]
async fn time_interval_prio3_sum_vec() {
    time_interval_round_trip(
        r#"{"type":"Prio3SumVec","bits":"8","length":"10","chunk_length":"12"}"#,
        20,
    )
    .await;
}

#[tokio::test]
async fn time_interval_prio3_histogram() {
    time_interval_round_trip(
        r#"{"type":"Prio3Histogram","length":"5","chunk_length":"2"}"#,
        30,
    )
    .await;
}

#[tokio::test]
async fn time_interval_prio3_sum_vec_field64_multiproof() {
    time_interval_round_trip(
        r#"{"type":"Prio3SumVecField64MultiproofHmacSha256Aes128","proofs":"2","bits":"8","length":"10","chunk_length":"9"}"#,
        20,
    )
    .await;
}

#[tokio::test]
async fn time_interval_prio3_fixed_point_bounded_l2_vec_sum() {
    time_interval_round_trip(
        r#"{"type":"Prio3FixedPointBoundedL2VecSum","bitsize":"16","length":"4"}"#,
        20,
    )
    .await;
}

#[tokio::test]
async fn fixed_size_prio3_count() {
    fixed_size_round_trip(r#"{"type":"Prio3Count"}"#, 25).await;
}

#[tokio::test]
async fn fixed_size_prio3_histogram() {
    fixed_size_round_trip(
        r#"{"type":"Prio3Histogram","length":"5","chunk_length":"2"}"#,
        25,
    )
    .await;
}

#[tokio::test]
async fn fixed_size_prio3_sum() {
    fixed_size_round_trip(r#"{"type":"Prio3Sum","bits":"8"}"#, 20).await;
}

/// Two time-precision buckets in one task, collected separately.
#[tokio::test]
async fn time_interval_two_batches_collected_separately() {
    let dyad = Dyad::start(&TaskOptions::time_interval(
        r#"{"type":"Prio3Sum","bits":"8"}"#,
        10,
    ))
    .await
    .unwrap();
    let older = past_bucket_time(PRECISION, 2);
    let newer = past_bucket_time(PRECISION, 1);
    let older_measurements = upload_random(&dyad, &dyad.client_at(older), 15).await;
    let newer_measurements = upload_random(&dyad, &dyad.client_at(newer), 25).await;

    let collection = dyad.collect(bucket_query(older)).await.unwrap();
    assert_eq!(collection.report_count, 15);
    assert_eq!(
        collection.aggregate_result,
        expected(&dyad, &older_measurements)
    );
    let collection = dyad.collect(bucket_query(newer)).await.unwrap();
    assert_eq!(collection.report_count, 25);
    assert_eq!(
        collection.aggregate_result,
        expected(&dyad, &newer_measurements)
    );
}

/// A collection job is pending while the batch holds fewer than
/// min_batch_size reports, and finishes once the rest are uploaded.
#[tokio::test]
async fn collection_waits_for_min_batch_size() {
    let dyad = Dyad::start(&TaskOptions::time_interval(r#"{"type":"Prio3Count"}"#, 20))
        .await
        .unwrap();
    let time = past_bucket_time(PRECISION, 1);
    let client = dyad.client_at(time);
    let mut measurements = upload_random(&dyad, &client, 10).await;

    let collector = dyad.collector();
    let job = collector
        .start_collection(bucket_query(time), &AggregationParam::Empty)
        .await
        .unwrap();
    // Give the aggregation and collection drivers several rounds.
    for _ in 0..5 {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        match collector.poll_once(&job).await.unwrap() {
            PollResult::Pending { .. } => {}
            PollResult::Ready(collection) => {
                panic!("collection ready with too few reports: {collection:?}")
            }
        }
    }

    measurements.extend(upload_random(&dyad, &client, 10).await);
    let collection = tokio::time::timeout(
        WAIT + std::time::Duration::from_secs(5),
        collector.poll_until_complete(&job),
    )
    .await
    .expect("collection timed out")
    .unwrap_or_else(|error| panic!("{error}\n{}", dyad.logs()));
    assert_eq!(collection.report_count, 20);
    assert_eq!(collection.aggregate_result, expected(&dyad, &measurements));
}

/// The Leader SIGKILLed in the middle of aggregation, then restarted with
/// the same config and datastore, still yields the exact result.
#[tokio::test]
async fn leader_killed_mid_aggregation_recovers() {
    const COUNT: usize = 500;
    let mut dyad = Dyad::start(&TaskOptions::time_interval(
        r#"{"type":"Prio3Sum","bits":"8"}"#,
        COUNT as u64,
    ))
    .await
    .unwrap();
    let time = past_bucket_time(PRECISION, 1);
    let measurements = upload_random(&dyad, &dyad.client_at(time), COUNT).await;

    // Aggregation runs while the reports arrive (the creator and driver wake
    // every 200 ms), so the first kill lands mid-aggregation; kill twice more
    // after each restart, while the restarted Leader resumes its jobs.
    let task_id = dyad.credentials.task_id;
    for delay_ms in [50, 300, 300] {
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        dyad.leader.kill();
        dyad.leader.start().unwrap();
        dyad.leader.wait_ready(&task_id).await.unwrap();
    }

    let collection = dyad.collect(bucket_query(time)).await.unwrap();
    assert_eq!(collection.report_count, COUNT as u64);
    assert_eq!(collection.aggregate_result, expected(&dyad, &measurements));
}
