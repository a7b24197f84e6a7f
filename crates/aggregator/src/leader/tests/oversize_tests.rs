//! The Leader's [`HelperClient`] against a Helper that answers too much or
//! too slowly: a fake Helper on a raw TCP socket streams a 200 MB answer
//! (generated chunk by chunk, never held whole) or trickles one byte at a
//! time. The client refuses the flood once past the request's cap, with a
//! transient error stating the sizes, and the process's peak resident memory
//! (`VmHWM` in `/proc/self/status`) grows by far less than the flood; the
//! trickle ends with the request's timeout.

use super::fixtures::leader_task_with_helper;
use crate::leader::response_limit::{aggregation_job_resp_cap, FIXED_ALLOWANCE};
use crate::leader::{HelperClient, PeerError};
use dyad_core::retry::Retryable;
use dyad_messages::draft09::{
    AggregateShareReq, AggregationJobId, AggregationJobInitReq, BatchId, BatchSelector,
    HpkeCiphertext, HpkeConfigId, PartialBatchSelector, PrepareInit, ReportId, ReportIdChecksum,
    ReportMetadata, ReportShare, Time,
};
use dyad_messages::Encode;
use dyad_test_support::memory::own_kib;
use dyad_test_support::raw_peer::{self, Answer, FLOOD_BYTES};
use std::time::{Duration, Instant};

/// Starts the fake Helper answering every request with `answer`; its base
/// URL.
async fn fake_helper(answer: Answer) -> url::Url {
    raw_peer::start(move |_| answer.clone()).await
}

/// 200 OK and a 200 MB body, its length declared or not.
fn flood(declare_length: bool) -> Answer {
    Answer::Flood {
        status: "200 OK",
        content_type: "application/octet-stream",
        declare_length,
        fill: 0,
    }
}

fn init_request() -> AggregationJobInitReq {
    let report_share = ReportShare {
        metadata: ReportMetadata {
            id: ReportId::from_bytes([3; 16]),
            time: Time::from_seconds_since_epoch(1_700_000_000),
        },
        public_share: Vec::new(),
        encrypted_input_share: HpkeCiphertext {
            config_id: HpkeConfigId(1),
            encapsulated_key: vec![1; 32],
            payload: vec![2; 64],
        },
    };
    AggregationJobInitReq::new(
        Vec::new(),
        PartialBatchSelector::TimeInterval,
        vec![PrepareInit::new(report_share, vec![4; 40])],
    )
}

fn client(timeout: Duration) -> HelperClient {
    HelperClient::new(reqwest::Client::new(), timeout)
}

/// Asserts `error` is the transient size refusal with `cap`.
fn assert_refused_at(error: &PeerError, cap: usize) {
    match error {
        PeerError::ResponseTooLarge(too_large) => assert_eq!(too_large.limit, cap),
        other => panic!("expected ResponseTooLarge, got {other}"),
    }
    assert!(error.retry_class().is_transient(), "{error}");
    assert!(error.to_string().contains(&cap.to_string()), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_200_mb_aggregation_job_answer_is_refused_without_growing_memory() {
    let task = leader_task_with_helper(fake_helper(flood(false)).await);
    let request = init_request();
    let cap = aggregation_job_resp_cap(request.get_encoded().unwrap().len(), 1);
    let client = client(Duration::from_secs(60));
    let job_id = AggregationJobId::from_bytes([1; 16]);
    // A first refusal sets up what any request needs (runtime threads, the
    // connection pool), so the figures below are the flood's alone.
    let warm_up = client.init_aggregation_job(&task, &job_id, &request).await;
    assert!(matches!(warm_up, Err(PeerError::ResponseTooLarge(_))));
    let hwm_before = own_kib("VmHWM");
    let rss_before = own_kib("VmRSS");
    let error = client
        .init_aggregation_job(&task, &job_id, &request)
        .await
        .unwrap_err();
    let hwm_after = own_kib("VmHWM");
    let rss_after = own_kib("VmRSS");
    println!(
        "{error}; VmRSS {rss_before} -> {rss_after} KiB; VmHWM {hwm_before} -> {hwm_after} KiB"
    );
    assert_refused_at(&error, cap);
    // The flood is 204,800 KiB; the process may gain the cap plus the HTTP
    // stack's read buffers, well under a MiB.
    let growth = hwm_after.saturating_sub(hwm_before);
    assert!(
        growth * 1024 < (cap + 1024 * 1024) as u64,
        "peak RSS grew by {growth} KiB against a cap of {cap} bytes"
    );
}

#[tokio::test]
async fn a_declared_200_mb_answer_is_refused_before_reading_it() {
    let task = leader_task_with_helper(fake_helper(flood(true)).await);
    let request = init_request();
    let cap = aggregation_job_resp_cap(request.get_encoded().unwrap().len(), 1);
    let error = client(Duration::from_secs(60))
        .init_aggregation_job(&task, &AggregationJobId::from_bytes([1; 16]), &request)
        .await
        .unwrap_err();
    assert_refused_at(&error, cap);
    match error {
        PeerError::ResponseTooLarge(too_large) => {
            assert_eq!(too_large.declared, Some(FLOOD_BYTES as u64));
            assert_eq!(too_large.read, 0);
        }
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_200_mb_aggregate_share_answer_is_refused_at_the_share_derived_cap() {
    let task = leader_task_with_helper(fake_helper(flood(false)).await);
    let request = AggregateShareReq {
        batch_selector: BatchSelector::FixedSize(BatchId::from_bytes([5; 32])),
        aggregation_parameter: Vec::new(),
        report_count: 10,
        checksum: ReportIdChecksum([0; 32]),
    };
    let leader_share_len = 16;
    let error = client(Duration::from_secs(60))
        .request_aggregate_share(&task, &request, leader_share_len)
        .await
        .unwrap_err();
    assert_refused_at(&error, 2 * leader_share_len + FIXED_ALLOWANCE);
}

#[tokio::test]
async fn a_helper_trickling_its_answer_is_cut_off_by_the_request_timeout() {
    let task = leader_task_with_helper(
        fake_helper(Answer::Trickle {
            declared: 4096,
            every: Duration::from_millis(50),
        })
        .await,
    );
    let started = Instant::now();
    let error = client(Duration::from_secs(1))
        .init_aggregation_job(
            &task,
            &AggregationJobId::from_bytes([1; 16]),
            &init_request(),
        )
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    // 4096 bytes at one per 50 ms would take 200 s.
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(
        matches!(&error, PeerError::Transport(message) if message.starts_with("timeout")),
        "{error}"
    );
    assert!(error.retry_class().is_transient());
}
