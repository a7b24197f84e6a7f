//! Aggregators that answer with 200 MB, streamed chunk by chunk from a raw
//! TCP socket (never held whole): as an HPKE config list, and as the problem
//! document of a refused upload. The client stops reading at its cap (the
//! largest encodable `HpkeConfigList`, 64 KiB of problem document), and its
//! peak resident memory (`VmHWM`) does not follow the flood.

use crate::{fast_retries, PRECISION};
use dyad_client::{ClientBuilder, ClientError};
use dyad_core::hpke::HpkeKeypair;
use dyad_core::vdaf::new_prio3_sum;
use dyad_messages::draft09::{Duration, HpkeConfigId, HpkeConfigList, TaskId};
use dyad_messages::Encode;
use dyad_test_support::memory::own_kib;
use dyad_test_support::raw_peer::{self, Answer};
use url::Url;

/// What the aggregator floods.
#[derive(Clone, Copy, PartialEq)]
enum Flood {
    /// `GET /hpke_config` answers 200 and the flood.
    HpkeConfig,
    /// `GET /hpke_config` answers a real list; uploads answer 400 and a
    /// flood declared as a problem document.
    UploadProblem,
}

/// Starts the flooding aggregator; its base URL.
async fn flooding_aggregator(flood: Flood) -> Url {
    let config_list = HpkeConfigList(vec![HpkeKeypair::generate_default(HpkeConfigId(1))
        .config()
        .clone()])
    .get_encoded()
    .unwrap();
    raw_peer::start(move |request| {
        let is_config = request.is("GET", "/hpke_config");
        match (is_config, flood) {
            (true, Flood::UploadProblem) => Answer::Body {
                status: "200 OK",
                content_type: "application/dap-hpke-config-list",
                body: config_list.clone(),
            },
            (true, Flood::HpkeConfig) => Answer::Flood {
                status: "200 OK",
                content_type: "application/dap-hpke-config-list",
                declare_length: false,
                fill: b' ',
            },
            (false, _) => Answer::Flood {
                status: "400 Bad Request",
                content_type: "application/problem+json",
                declare_length: false,
                fill: b' ',
            },
        }
    })
    .await
}

fn client(url: &Url) -> dyad_client::Client<prio::vdaf::prio3::Prio3Sum> {
    ClientBuilder::new(
        TaskId::random(),
        url.clone(),
        url.clone(),
        Duration::from_seconds(PRECISION),
    )
    .retry_policy(fast_retries().with_max_attempts(1))
    .build(new_prio3_sum(8).unwrap())
    .unwrap()
}

/// Runs `upload` twice (the first sets up what any request needs) and
/// returns the second error with the peak RSS growth in KiB.
async fn measured<F, Fut>(upload: F) -> (ClientError, u64)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ClientError>,
{
    let _ = upload().await;
    let hwm_before = own_kib("VmHWM");
    let rss_before = own_kib("VmRSS");
    let error = upload().await;
    let hwm_after = own_kib("VmHWM");
    let rss_after = own_kib("VmRSS");
    println!(
        "{error}; VmRSS {rss_before} -> {rss_after} KiB; VmHWM {hwm_before} -> {hwm_after} KiB"
    );
    (error, hwm_after.saturating_sub(hwm_before))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_hpke_config_list_is_refused_at_the_largest_encodable_list() {
    let url = flooding_aggregator(Flood::HpkeConfig).await;
    let (error, growth) = measured(|| async {
        let client = client(&url);
        client.upload(&3).await.unwrap_err()
    })
    .await;
    let cap = 2 + 65535;
    assert!(
        matches!(error, ClientError::BodyTooLarge { limit, .. } if limit == cap),
        "{error}"
    );
    assert!(
        growth * 1024 < (cap + 1024 * 1024) as u64,
        "peak RSS grew by {growth} KiB against a cap of {cap} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_problem_document_leaves_the_status_to_tell_the_refusal() {
    let url = flooding_aggregator(Flood::UploadProblem).await;
    let (error, growth) = measured(|| async {
        let client = client(&url);
        client.upload(&3).await.unwrap_err()
    })
    .await;
    match &error {
        ClientError::ErrorResponse { response, .. } => {
            assert_eq!(response.status, 400);
            assert!(response.problem.is_none());
        }
        other => panic!("expected the 400, got {other}"),
    }
    let cap = 64 * 1024;
    assert!(
        growth * 1024 < (cap + 1024 * 1024) as u64,
        "peak RSS grew by {growth} KiB against a cap of {cap} bytes"
    );
}
