//! A Leader that accepts collection jobs and then answers the poll with a
//! 200 MB `Collection`, streamed chunk by chunk from a raw TCP socket (never
//! held whole): the collector must stop reading at the cap its VDAF gives
//! and its peak resident memory (`VmHWM`) must not follow the flood.

use crate::{interval, setup, MS};
use dyad_collector::{AnyVdaf, CollectorError};
use dyad_core::retry::RetryPolicy;
use dyad_core::vdaf::{AggregationParam, VdafInstance};
use dyad_messages::draft09::Query;
use dyad_test_support::memory::own_kib;
use dyad_test_support::raw_peer::{self, Answer};
use url::Url;

/// Starts the flooding Leader; its base URL. `PUT` is accepted (201),
/// anything else gets the flood, without `Content-Length`.
async fn flooding_leader() -> Url {
    raw_peer::start(|request| {
        if request.is("PUT", "/") {
            Answer::Body {
                status: "201 Created",
                content_type: "application/octet-stream",
                body: Vec::new(),
            }
        } else {
            Answer::flood("application/dap-collection")
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_collection_is_refused_at_the_vdaf_derived_cap_without_growing_memory() {
    let s = setup().await;
    let collector = dyad_collector::CollectorBuilder::new(
        s.task_id,
        flooding_leader().await,
        s.token.clone(),
        s.keypair.clone(),
    )
    .retry_policy(RetryPolicy::new(5 * MS, 20 * MS).with_max_attempts(2))
    .build(AnyVdaf(VdafInstance::Prio3Count))
    .unwrap();
    let job = collector
        .start_collection(Query::TimeInterval(interval()), &AggregationParam::Empty)
        .await
        .unwrap();
    // A first poll sets up what any request needs, so the figures below are
    // the flood's alone.
    assert!(collector.poll_once(&job).await.is_err());
    let hwm_before = own_kib("VmHWM");
    let rss_before = own_kib("VmRSS");
    let error = collector.poll_once(&job).await.unwrap_err();
    let hwm_after = own_kib("VmHWM");
    let rss_after = own_kib("VmRSS");
    println!(
        "{error}; VmRSS {rss_before} -> {rss_after} KiB; VmHWM {hwm_before} -> {hwm_after} KiB"
    );
    // Prio3Count's aggregate share is 8 bytes: the cap is both shares plus
    // 16 KiB of framing.
    let cap = 2 * 8 + 16 * 1024;
    assert!(
        matches!(error, CollectorError::BodyTooLarge(limit) if limit == cap),
        "{error}"
    );
    let growth = hwm_after.saturating_sub(hwm_before);
    assert!(
        growth * 1024 < (cap + 1024 * 1024) as u64,
        "peak RSS grew by {growth} KiB against a cap of {cap} bytes"
    );
}
