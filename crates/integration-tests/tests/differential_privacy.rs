//! Differential privacy end to end: a Prio3Histogram task provisioned with
//! `dyad task add --generate --dp-strategy PureDpDiscreteLaplace:1/2`, a
//! Leader and a Helper in their own `dyad serve` processes, reports
//! uploaded to two hourly batches, one collected with `dyad collect` (JSON)
//! and one with the collector library's `NoisedVdaf`.
//!
//! Bounds: each aggregator adds discrete Laplace noise of scale
//! `t = 2 / epsilon = 4` to each bucket (a histogram's L1 sensitivity is 2),
//! so `P(|X| >= k) = 2 q^k / (1 + q)` with `q = exp(-1/4)`. The sum of the
//! two is at least `k` in magnitude only if one of them is at least `k/2`:
//! `P(|X1 + X2| >= k) <= 4 q^(k/2) / (1 + q)`. For `k = 200` that is
//! `4 e^-25 / 1.78 = 3.1e-11` per bucket, 6.2e-10 over the 20 buckets of the
//! two collections. Noise is present: every bucket's noise is 0 with
//! probability `P(X1 + X2 = 0) = sum_x P(x)^2 < 0.07`, so all 20 equal to
//! the true counts with probability below `0.07^20 = 8e-24`.

use dyad_collector::{NoisedVdaf, PollResult};
use dyad_core::vdaf::{AggregationParam, DpStrategy, Measurement, NoisedResult};
use dyad_integration_tests::{
    dyad_binary, past_bucket_time, provision_task_with, read_yaml, CollectorCredentials,
    CollectorTaskFile, Server, TaskOptions,
};
use dyad_messages::draft09::{Duration, Interval, Query};
use std::process::Command;

const BUCKETS: usize = 10;
const BOUND: i128 = 200;

/// The true histogram of `buckets`.
fn histogram(buckets: &[usize]) -> Vec<i128> {
    let mut counts = vec![0i128; BUCKETS];
    for bucket in buckets {
        counts[*bucket] += 1;
    }
    counts
}

fn within_bounds(noisy: &[i128], truth: &[i128]) {
    assert_eq!(noisy.len(), truth.len());
    for (i, (n, t)) in noisy.iter().zip(truth).enumerate() {
        assert!(
            (n - t).abs() < BOUND,
            "bucket {i}: noisy {n}, true {t}: off by more than {BOUND}"
        );
    }
}

#[tokio::test]
async fn a_noised_histogram_collects_within_the_noise_bounds_of_the_true_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = Server::configure(
        dir.path(),
        "leader",
        &[
            "aggregator",
            "aggregation-job-creator",
            "aggregation-job-driver",
            "collection-job-driver",
        ],
    )
    .unwrap();
    let mut helper = Server::configure(dir.path(), "helper", &["aggregator"]).unwrap();
    let vdaf = format!(r#"{{"type":"Prio3Histogram","length":"{BUCKETS}","chunk_length":"3"}}"#);
    let options = TaskOptions::time_interval(&vdaf, 20);
    let out_dir = dir.path().join("provision");
    let credentials: CollectorCredentials = provision_task_with(
        &leader,
        &helper,
        &helper.url(),
        &options,
        &out_dir,
        &["--dp-strategy", "PureDpDiscreteLaplace:1/2"],
    )
    .unwrap();
    let strategy: DpStrategy = "PureDpDiscreteLaplace:1/2".parse().unwrap();
    // The strategy reached the Collector's file and the Helper's task file.
    let collector_file: CollectorTaskFile =
        read_yaml(&out_dir.join("leader/collector-task.yaml")).unwrap();
    assert_eq!(collector_file.dp_strategy, strategy);
    let helper_file = std::fs::read_to_string(out_dir.join("leader/helper-task.yaml")).unwrap();
    assert!(
        helper_file.contains("PureDpDiscreteLaplace"),
        "{helper_file}"
    );
    leader.start().unwrap();
    helper.start().unwrap();
    leader.wait_ready(&credentials.task_id).await.unwrap();
    helper.wait_ready(&credentials.task_id).await.unwrap();
    let logs = || {
        format!(
            "--- leader ---\n{}\n--- helper ---\n{}",
            leader.log_text(),
            helper.log_text()
        )
    };

    // Two past hours, 30 reports each, skewed towards the low buckets.
    let mut truths = Vec::new();
    for hours_ago in [1, 2] {
        let time = past_bucket_time(3600, hours_ago);
        let client = credentials
            .client_builder()
            .fixed_time(time)
            .build(dyad_client::AnyVdaf(credentials.vdaf))
            .unwrap();
        let buckets: Vec<usize> = (0..30).map(|i| (i * i + hours_ago as usize) % 7).collect();
        for bucket in &buckets {
            client
                .upload(&Measurement::Histogram(*bucket))
                .await
                .unwrap_or_else(|e| panic!("{e:?}\n{}", logs()));
        }
        truths.push((time, histogram(&buckets)));
    }
    let hour = |time: dyad_messages::draft09::Time| {
        Interval::new(
            time.to_batch_interval_start(Duration::from_seconds(3600)),
            Duration::from_seconds(3600),
        )
        .unwrap()
    };

    // The first hour through `dyad collect`, as JSON.
    let (time, truth) = &truths[0];
    let start = hour(*time).start().as_seconds_since_epoch().to_string();
    let collector_task = out_dir.join("leader/collector-task.yaml");
    let collector_key = out_dir.join("collector/collector-key.yaml");
    let binary = dyad_binary();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(binary)
            .args([
                "collect",
                "--credentials",
                collector_task.to_str().unwrap(),
                "--hpke-key",
                collector_key.to_str().unwrap(),
                "--batch-interval-start",
                &start,
                "--batch-interval-duration",
                "3600",
                "--timeout",
                "60",
                "--format",
                "json",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        logs()
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["report_count"], 30, "{json}");
    assert_eq!(json["noisy"], true, "{json}");
    assert_eq!(json["epsilon"], "1/2", "{json}");
    assert_eq!(
        json["dp_strategy"],
        serde_json::to_value(&strategy).unwrap()
    );
    let first: Vec<i128> = json["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| i128::from(v.as_i64().unwrap()))
        .collect();
    within_bounds(&first, truth);

    // The second through the library; polling the finished job again
    // gives the stored result: noise was added once.
    let (time, truth) = &truths[1];
    let collector = credentials
        .collector_builder()
        .build(NoisedVdaf::new(credentials.vdaf, strategy.clone()).unwrap())
        .unwrap();
    let job = collector
        .start_collection(Query::TimeInterval(hour(*time)), &AggregationParam::Empty)
        .await
        .unwrap();
    let collection = collector
        .poll_until_complete_with(&job, |_| {})
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", logs()));
    assert_eq!(collection.report_count, 30);
    let NoisedResult::Integers(second) = collection.aggregate_result.clone() else {
        panic!("not integers")
    };
    within_bounds(&second, truth);
    let PollResult::Ready(again) = collector.poll_once(&job).await.unwrap() else {
        panic!("the finished job is pending again")
    };
    assert_eq!(again.aggregate_result, collection.aggregate_result);

    let exact = first == truths[0].1 && second == truths[1].1;
    assert!(!exact, "no noise in 20 buckets: {first:?} {second:?}");
    eprintln!(
        "true {:?} noisy {first:?}; true {:?} noisy {second:?}",
        truths[0].1, truths[1].1
    );
}
