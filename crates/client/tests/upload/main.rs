//! The client against an in-process Leader and Helper that open every
//! uploaded share: reports aggregate to the measured total, configs are
//! cached and refreshed, failures are retried or surfaced as they should be.

mod aggregate;
mod fake_aggregators;
mod flood;

use aggregate::aggregate_reports;
use dyad_client::{AnyVdaf, Client, ClientBuilder, ClientError};
use dyad_core::retry::RetryPolicy;
use dyad_core::task::AuthenticationToken;
use dyad_core::task_config::{task_id_of, vdaf_instance_of, TaskConfigError};
use dyad_core::vdaf::{new_prio3_histogram, new_prio3_sum, Measurement, VdafInstance};
use dyad_messages::draft09::{
    Duration, Extension, ExtensionType, HpkeAeadId, HpkeConfig, HpkeConfigId, HpkeKdfId, HpkeKemId,
    Role, TaskId, Time,
};
use dyad_messages::problem::DapProblemType;
use dyad_messages::taskprov::{
    taskprov_extension, DpConfig, DpMechanism, QueryConfig, QueryTypeConfig, TaskConfig,
    VdafConfig, VdafType,
};
use fake_aggregators::{FakeAggregators, Scripted};

const PRECISION: u64 = 3600;
/// 1_700_000_123 rounded down to the hour.
const NOW: u64 = 1_700_000_123;
const ROUNDED: u64 = 1_699_999_200;

fn fast_retries() -> RetryPolicy {
    RetryPolicy::new(
        std::time::Duration::from_millis(5),
        std::time::Duration::from_millis(20),
    )
    .with_max_attempts(4)
}

fn builder(server: &FakeAggregators, task_id: TaskId) -> ClientBuilder {
    ClientBuilder::new(
        task_id,
        server.leader_url.clone(),
        server.helper_url_without_slash.clone(),
        Duration::from_seconds(PRECISION),
    )
    .retry_policy(fast_retries())
    .fixed_time(Time::from_seconds_since_epoch(NOW))
}

async fn setup() -> (FakeAggregators, TaskId) {
    let task_id = TaskId::random();
    (FakeAggregators::start(task_id, PRECISION).await, task_id)
}

#[tokio::test]
async fn uploaded_reports_open_and_aggregate_to_the_measured_total() {
    let (server, task_id) = setup().await;
    let client = builder(&server, task_id)
        .build(new_prio3_sum(8).unwrap())
        .unwrap();
    let measurements = [1u128, 2, 3, 200, 255];
    let outcomes = client.upload_batch(&measurements, 3).await;
    let ids: Vec<_> = outcomes.into_iter().map(Result::unwrap).collect();

    let reports = server.reports();
    assert_eq!(reports.len(), measurements.len());
    let received: std::collections::BTreeSet<_> = reports.iter().map(|r| r.metadata.id).collect();
    assert_eq!(received, ids.iter().copied().collect());
    for report in &reports {
        assert_eq!(report.metadata.time.as_seconds_since_epoch(), ROUNDED);
        assert!(report.leader_share.extensions.is_empty());
        assert!(report.helper_share.extensions.is_empty());
    }
    assert_eq!(aggregate_reports(client.vdaf(), &(), &reports), 461);
    // One fetch per aggregator served every upload.
    assert_eq!(server.config_requests(Role::Leader), 1);
    assert_eq!(server.config_requests(Role::Helper), 1);
}

#[tokio::test]
async fn any_vdaf_uploads_catalogue_measurements_with_extensions() {
    let (server, task_id) = setup().await;
    let extension = Extension::new(ExtensionType::Other(0x7777), b"helper only".to_vec());
    let client = builder(&server, task_id)
        .helper_extensions(vec![extension.clone()])
        .build(AnyVdaf(VdafInstance::Prio3Histogram {
            length: 4,
            chunk_length: 2,
        }))
        .unwrap();
    for bucket in [3, 1, 3] {
        client
            .upload(&Measurement::Histogram(bucket))
            .await
            .unwrap();
    }
    let mismatched = client.upload(&Measurement::Sum(1)).await.unwrap_err();
    assert!(matches!(mismatched, ClientError::Vdaf(_)), "{mismatched}");

    let reports = server.reports();
    assert_eq!(reports.len(), 3);
    for report in &reports {
        assert!(report.leader_share.extensions.is_empty());
        assert_eq!(
            report.helper_share.extensions,
            std::slice::from_ref(&extension)
        );
    }
    let vdaf = new_prio3_histogram(4, 2).unwrap();
    assert_eq!(aggregate_reports(&vdaf, &(), &reports), [0, 1, 0, 2]);
}

#[tokio::test]
async fn outdated_config_refreshes_the_cache_and_retries_with_a_new_report() {
    let (server, task_id) = setup().await;
    let client = builder(&server, task_id)
        .build(new_prio3_sum(8).unwrap())
        .unwrap();
    client.upload(&10).await.unwrap();
    let new_id = server.rotate_leader_key();
    let second = client.upload(&20).await.unwrap();

    // The stale report was refused, then a fresh one went through.
    assert_eq!(server.upload_requests(), 3);
    assert_eq!(server.config_requests(Role::Leader), 2);
    assert_eq!(server.config_requests(Role::Helper), 2);
    let reports = server.reports();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1].metadata.id, second);
    assert_eq!(reports[1].leader_config_id, new_id);
    assert_eq!(aggregate_reports(client.vdaf(), &(), &reports), 30);

    // The refreshed config stays cached.
    client.upload(&1).await.unwrap();
    assert_eq!(server.config_requests(Role::Leader), 2);
}

#[tokio::test]
async fn outdated_config_after_a_refresh_is_an_error() {
    let (server, task_id) = setup().await;
    let client = builder(&server, task_id)
        .build(new_prio3_sum(8).unwrap())
        .unwrap();
    server.script_upload([
        Scripted::Problem(DapProblemType::OutdatedConfig),
        Scripted::Problem(DapProblemType::OutdatedConfig),
    ]);
    let error = client.upload(&1).await.unwrap_err();
    assert_eq!(error.problem_type(), Some(DapProblemType::OutdatedConfig));
    assert_eq!(server.upload_requests(), 2);
    assert_eq!(server.config_requests(Role::Leader), 2);
    assert!(server.reports().is_empty());
}

#[tokio::test]
async fn server_errors_are_retried_with_the_same_report() {
    let (server, task_id) = setup().await;
    let client = builder(&server, task_id)
        .build(new_prio3_sum(8).unwrap())
        .unwrap();
    server.script_upload([Scripted::Status(500), Scripted::Status(503)]);
    server.script_hpke_config(Role::Helper, [Scripted::Status(502)]);
    let id = client.upload(&7).await.unwrap();
    assert_eq!(server.upload_requests(), 3);
    assert_eq!(server.config_requests(Role::Helper), 2);
    let reports = server.reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].metadata.id, id);
}

#[tokio::test]
async fn each_retry_is_told_to_the_observer_with_its_cause_and_delay() {
    let (server, task_id) = setup().await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let client = builder(&server, task_id)
        .on_retry({
            let seen = seen.clone();
            move |notice| {
                seen.lock().unwrap().push((
                    notice.operation,
                    notice.role,
                    notice.attempt,
                    notice.error.status(),
                    notice.delay,
                ))
            }
        })
        .build(new_prio3_sum(8).unwrap())
        .unwrap();
    server.script_hpke_config(Role::Helper, [Scripted::Status(502)]);
    server.script_upload([Scripted::Status(500), Scripted::Status(503)]);
    client.upload(&7).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let summary: Vec<_> = seen
        .iter()
        .map(|(op, role, attempt, status, _)| (*op, *role, *attempt, *status))
        .collect();
    assert_eq!(
        summary,
        [
            ("fetch HPKE config", Role::Helper, 1, Some(502)),
            ("upload report", Role::Leader, 1, Some(500)),
            ("upload report", Role::Leader, 2, Some(503)),
        ]
    );
    assert!(seen
        .iter()
        .all(|(.., delay)| *delay <= std::time::Duration::from_millis(20)));
}

#[tokio::test]
async fn retries_stop_at_the_policy_limit() {
    let (server, task_id) = setup().await;
    let client = builder(&server, task_id)
        .build(new_prio3_sum(8).unwrap())
        .unwrap();
    server.script_upload(std::iter::repeat_n(Scripted::Status(500), 10));
    let error = client.upload(&7).await.unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert_eq!(server.upload_requests(), 4);
}

#[tokio::test]
async fn a_problem_document_is_surfaced_without_retrying() {
    let (server, task_id) = setup().await;
    let client = builder(&server, task_id)
        .build(new_prio3_sum(8).unwrap())
        .unwrap();
    server.script_upload([Scripted::Problem(DapProblemType::ReportRejected)]);
    let error = client.upload(&7).await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.problem_type(), Some(DapProblemType::ReportRejected));
    assert_eq!(error.problem().unwrap().taskid, Some(task_id));
    assert_eq!(server.upload_requests(), 1);

    // A 4xx without a problem document is an error too.
    server.script_upload([Scripted::Status(404)]);
    let error = client.upload(&7).await.unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert!(error.problem().is_none());
    assert_eq!(server.upload_requests(), 2);
}

#[tokio::test]
async fn any_success_status_is_success() {
    let (server, task_id) = setup().await;
    server.set_upload_status(200);
    let client = builder(&server, task_id)
        .build(new_prio3_sum(8).unwrap())
        .unwrap();
    client.upload(&1).await.unwrap();
    assert_eq!(server.reports().len(), 1);
}

#[tokio::test]
async fn the_upload_token_is_presented() {
    for token in [
        AuthenticationToken::new_dap_auth("upload-token-123").unwrap(),
        AuthenticationToken::new_bearer("upload-token-123").unwrap(),
    ] {
        let (server, task_id) = setup().await;
        server.require_upload_token(token.clone());
        let client = |token: Option<AuthenticationToken>| {
            let builder = builder(&server, task_id);
            match token {
                Some(token) => builder.auth_token(token),
                None => builder,
            }
            .build(new_prio3_sum(8).unwrap())
            .unwrap()
        };
        let wrong = AuthenticationToken::new(token.kind(), "another-token").unwrap();
        for refused in [None, Some(wrong)] {
            let error = client(refused).upload(&1).await.unwrap_err();
            assert_eq!(error.status(), Some(403));
            assert_eq!(
                error.problem_type(),
                Some(DapProblemType::UnauthorizedRequest)
            );
        }
        client(Some(token)).upload(&1).await.unwrap();
        assert_eq!(server.reports().len(), 1);
    }
}

#[tokio::test]
async fn cache_control_no_cache_refetches_every_time() {
    let (server, task_id) = setup().await;
    server.set_cache_control(Role::Helper, "no-cache");
    server.set_cache_control(Role::Leader, "max-age=86400");
    let client = builder(&server, task_id)
        .build(new_prio3_sum(8).unwrap())
        .unwrap();
    for _ in 0..3 {
        client.upload(&1).await.unwrap();
    }
    assert_eq!(server.config_requests(Role::Leader), 1);
    assert_eq!(server.config_requests(Role::Helper), 3);
}

fn x448_config(id: u8) -> HpkeConfig {
    HpkeConfig {
        id: HpkeConfigId(id),
        kem_id: HpkeKemId::X448HkdfSha512,
        kdf_id: HpkeKdfId::HkdfSha512,
        aead_id: HpkeAeadId::ChaCha20Poly1305,
        public_key: vec![7; 56].into(),
    }
}

#[tokio::test]
async fn unsupported_configs_are_skipped_and_none_supported_is_an_error() {
    let (server, task_id) = setup().await;
    server.serve_extra_configs(Role::Leader, vec![x448_config(50)], false);
    let client = builder(&server, task_id)
        .build(new_prio3_sum(8).unwrap())
        .unwrap();
    client.upload(&1).await.unwrap();
    assert_ne!(server.reports()[0].leader_config_id, HpkeConfigId(50));

    let (server, task_id) = setup().await;
    server.serve_extra_configs(Role::Helper, vec![x448_config(60), x448_config(61)], true);
    let client = builder(&server, task_id)
        .build(new_prio3_sum(8).unwrap())
        .unwrap();
    let error = client.upload(&1).await.unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::NoSupportedHpkeConfig { role: Role::Helper }
        ),
        "{error}"
    );
    assert_eq!(server.upload_requests(), 0);
}

#[tokio::test]
async fn an_unreachable_leader_is_a_transport_error_after_retries() {
    // A socket bound but not listening holds the port (no other test can
    // take it) and refuses every connection.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let url: url::Url = format!("http://{addr}/").parse().unwrap();
    let client = ClientBuilder::new(
        TaskId::random(),
        url.clone(),
        url,
        Duration::from_seconds(PRECISION),
    )
    .retry_policy(fast_retries())
    .build(new_prio3_sum(8).unwrap())
    .unwrap();
    let start = std::time::Instant::now();
    let error = client.upload(&1).await.unwrap_err();
    assert!(
        matches!(error, ClientError::Http(ref e) if e.is_connect()),
        "{error}"
    );
    // Three retries of at least 2.5 ms, 5 ms and 10 ms (jittered by half).
    assert!(start.elapsed() >= std::time::Duration::from_millis(17));
}

#[tokio::test]
async fn prepare_report_rounds_the_time_down() {
    let (server, task_id) = setup().await;
    let client = Client::new(
        task_id,
        server.leader_url.clone(),
        server.helper_url.clone(),
        Duration::from_seconds(PRECISION),
        new_prio3_sum(8).unwrap(),
    )
    .unwrap();
    let report = client
        .prepare_report(&5, Time::from_seconds_since_epoch(NOW))
        .await
        .unwrap();
    assert_eq!(report.metadata.time.as_seconds_since_epoch(), ROUNDED);
    assert!(server.reports().is_empty());
    client.upload_report(&report).await.unwrap();
    // Uploading the same report again is harmless to the client.
    client.upload_report(&report).await.unwrap();
    let reports = server.reports();
    assert_eq!(reports[0].metadata.id, report.metadata.id);
    assert_eq!(aggregate_reports(client.vdaf(), &(), &reports[..1]), 5);
}

/// A Prio3Count TaskConfig naming `leader` and `helper`, expiring at
/// `expiration`.
fn task_config(leader: &url::Url, helper: &url::Url, expiration: u64) -> TaskConfig {
    let url = |u: &url::Url| dyad_messages::draft09::Url::try_from(u.as_str()).unwrap();
    TaskConfig {
        task_info: b"client test".to_vec(),
        leader_aggregator_endpoint: url(leader),
        helper_aggregator_endpoint: url(helper),
        query_config: QueryConfig {
            time_precision: Duration::from_seconds(PRECISION),
            max_batch_query_count: 1,
            min_batch_size: 1,
            query: QueryTypeConfig::TimeInterval,
        },
        task_expiration: Time::from_seconds_since_epoch(expiration),
        vdaf_config: VdafConfig::new(DpConfig::new(DpMechanism::None), VdafType::Prio3Count),
    }
}

#[tokio::test]
async fn a_task_config_client_advertises_the_task_in_every_upload() {
    let mut config = None;
    let server = FakeAggregators::start_with(PRECISION, |leader, helper| {
        let c = task_config(leader, helper, NOW + 1000);
        let id = task_id_of(&c).unwrap();
        config = Some(c);
        id
    })
    .await;
    let config = config.unwrap();
    server.serve_task_independent_configs();
    let client = ClientBuilder::from_task_config(&config)
        .unwrap()
        .retry_policy(fast_retries())
        .fixed_time(Time::from_seconds_since_epoch(NOW))
        .build(AnyVdaf(vdaf_instance_of(&config.vdaf_config).unwrap()))
        .unwrap();
    assert_eq!(client.task_id(), &task_id_of(&config).unwrap());
    for measurement in [true, false, true] {
        client
            .upload(&Measurement::Count(measurement))
            .await
            .unwrap();
    }
    let reports = server.reports();
    assert_eq!(reports.len(), 3);
    for report in &reports {
        assert_eq!(report.leader_share.extensions, [taskprov_extension()]);
        assert_eq!(report.helper_share.extensions, [taskprov_extension()]);
    }
    let header = config.to_header_value().unwrap();
    assert_eq!(server.taskprov_headers(), vec![Some(header); 3]);
    // Fetched once each, without a task ID (the fake refuses one).
    assert_eq!(server.config_requests(Role::Leader), 1);
    assert_eq!(server.config_requests(Role::Helper), 1);
}

#[tokio::test]
async fn a_task_config_client_opts_out_of_an_expired_or_unsupported_task() {
    let mut config = None;
    let server = FakeAggregators::start_with(PRECISION, |leader, helper| {
        let c = task_config(leader, helper, NOW);
        let id = task_id_of(&c).unwrap();
        config = Some(c);
        id
    })
    .await;
    let config = config.unwrap();
    server.serve_task_independent_configs();
    let client = ClientBuilder::from_task_config(&config)
        .unwrap()
        .retry_policy(fast_retries())
        .fixed_time(Time::from_seconds_since_epoch(NOW))
        .build(AnyVdaf(VdafInstance::Prio3Count))
        .unwrap();
    let error = client.upload(&Measurement::Count(true)).await.unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::TaskConfig(TaskConfigError::Expired { .. })
        ),
        "{error}"
    );
    assert_eq!(server.upload_requests(), 0);

    let mut unknown = config.clone();
    unknown.vdaf_config.vdaf_type = VdafType::Other {
        code: 0xffff_0000,
        data: Vec::new(),
    };
    let error = ClientBuilder::from_task_config(&unknown).unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::TaskConfig(TaskConfigError::UnknownVdaf(0xffff_0000))
        ),
        "{error}"
    );
}
