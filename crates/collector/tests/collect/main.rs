//! The collector against an in-process Leader serving real aggregate shares
//! sealed to the collector: results unshard to the plaintext aggregate,
//! `Retry-After` is honoured, refusals surface instead of being polled
//! forever, transient failures are retried.

mod aggregate_shares;
mod fake_leader;
mod flood;

use aggregate_shares::aggregate_shares;
use dyad_collector::{
    AnyVdaf, CollectionJob, Collector, CollectorBuilder, CollectorError, PollResult,
};
use dyad_core::hpke::HpkeKeypair;
use dyad_core::retry::RetryPolicy;
use dyad_core::task::AuthenticationToken;
use dyad_core::vdaf::{
    new_poplar1, new_prio3_histogram, new_prio3_sum, AggregateResult, AggregationParam,
    VdafInstance,
};
use dyad_messages::draft09::{
    BatchId, Duration, FixedSizeQuery, HpkeConfigId, Interval, PartialBatchSelector, Query, Role,
    TaskId, Time,
};
use dyad_messages::problem::DapProblemType;
use fake_leader::{Batch, FakeLeader, Scripted};
use prio::idpf::IdpfInput;
use prio::vdaf::poplar1::Poplar1AggregationParam;
use std::time::Instant;

const MS: std::time::Duration = std::time::Duration::from_millis(1);

struct Setup {
    leader: FakeLeader,
    task_id: TaskId,
    token: AuthenticationToken,
    keypair: HpkeKeypair,
}

async fn setup() -> Setup {
    setup_with(AuthenticationToken::new_dap_auth("collector-token-xyz").unwrap()).await
}

async fn setup_with(token: AuthenticationToken) -> Setup {
    let task_id = TaskId::random();
    let keypair = HpkeKeypair::generate_default(HpkeConfigId(9));
    let leader = FakeLeader::start(task_id, keypair.config().clone(), token.clone()).await;
    Setup {
        leader,
        task_id,
        token,
        keypair,
    }
}

impl Setup {
    fn builder(&self) -> CollectorBuilder {
        CollectorBuilder::new(
            self.task_id,
            self.leader.url.clone(),
            self.token.clone(),
            self.keypair.clone(),
        )
        .retry_policy(RetryPolicy::new(5 * MS, 20 * MS).with_max_attempts(4))
        .poll_policy(RetryPolicy::new(10 * MS, 40 * MS).with_max_elapsed(10_000 * MS))
    }
}

fn interval() -> Interval {
    Interval::new(
        Time::from_seconds_since_epoch(1_699_999_200),
        Duration::from_seconds(7200),
    )
    .unwrap()
}

fn batch(shares: aggregate_shares::AggregateShares) -> Batch {
    Batch {
        shares,
        interval: Interval::new(
            Time::from_seconds_since_epoch(1_699_999_200),
            Duration::from_seconds(3600),
        )
        .unwrap(),
        batch_id: BatchId::from_bytes([0x42; 32]),
    }
}

#[tokio::test]
async fn a_time_interval_collection_unshards_to_the_total_after_pending_polls() {
    let s = setup().await;
    let vdaf = new_prio3_sum(8).unwrap();
    s.leader
        .set_batch(batch(aggregate_shares(&vdaf, &(), &[3, 5, 250, 1])));
    // First 202 asks for a second; the second says nothing (backoff). The
    // poll policy's own delays (10 ms, 20 ms) are shorter than the second
    // asked for, so the collector polls sooner.
    s.leader.pending_polls([Some("1".to_owned()), None]);
    let collector = s.builder().build(vdaf).unwrap();

    let start = Instant::now();
    let collection = collector
        .collect(Query::TimeInterval(interval()), &())
        .await
        .unwrap();
    assert!(
        start.elapsed() < 900 * MS,
        "waited out Retry-After instead of polling sooner: {:?}",
        start.elapsed()
    );
    assert_eq!(collection.aggregate_result, 259);
    assert_eq!(collection.report_count, 4);
    assert_eq!(
        collection.partial_batch_selector,
        PartialBatchSelector::TimeInterval
    );
    assert_eq!(collection.interval.duration(), Duration::from_seconds(3600));
    assert_eq!(s.leader.create_requests(), 1);
    assert_eq!(s.leader.poll_requests(), 3);
    assert!(s.leader.sent_aggregation_parameter().is_empty());
}

#[tokio::test]
async fn a_catalogue_vdaf_collects_a_fixed_size_batch() {
    let s = setup().await;
    let shares = aggregate_shares(&new_prio3_histogram(4, 2).unwrap(), &(), &[0, 3, 3, 3, 1]);
    s.leader.set_batch(batch(shares));
    let collector = s
        .builder()
        .build(AnyVdaf(VdafInstance::Prio3Histogram {
            length: 4,
            chunk_length: 2,
        }))
        .unwrap();
    let collection = collector
        .collect(
            Query::FixedSize(FixedSizeQuery::CurrentBatch),
            &AggregationParam::Empty,
        )
        .await
        .unwrap();
    assert_eq!(
        collection.aggregate_result,
        AggregateResult::Histogram(vec![1, 1, 0, 3])
    );
    assert_eq!(
        collection.partial_batch_selector,
        PartialBatchSelector::FixedSize(BatchId::from_bytes([0x42; 32]))
    );

    // Asking for a batch by ID and getting another is refused.
    let other = BatchId::from_bytes([1; 32]);
    let error = collector
        .collect(
            Query::FixedSize(FixedSizeQuery::ByBatchId(other)),
            &AggregationParam::Empty,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, CollectorError::BatchMismatch { requested, .. } if requested == other),
        "{error}"
    );
}

#[tokio::test]
async fn the_poplar1_aggregation_parameter_is_sent_and_binds_the_shares() {
    let s = setup().await;
    let bits = |s: &str| s.chars().map(|c| c == '1').collect::<Vec<bool>>();
    let prefixes = vec![bits("01"), bits("11")];
    let vdaf = new_poplar1(4).unwrap();
    let typed_param = Poplar1AggregationParam::try_from_prefixes(
        prefixes.iter().map(|p| IdpfInput::from_bools(p)).collect(),
    )
    .unwrap();
    let measurements: Vec<_> = ["0110", "1101", "0111", "0001", "1111"]
        .iter()
        .map(|m| IdpfInput::from_bools(&bits(m)))
        .collect();
    s.leader
        .set_batch(batch(aggregate_shares(&vdaf, &typed_param, &measurements)));
    let collector = s
        .builder()
        .build(AnyVdaf(VdafInstance::Poplar1 { bits: 4 }))
        .unwrap();
    let collection = collector
        .collect(
            Query::TimeInterval(interval()),
            &AggregationParam::Poplar1 { prefixes },
        )
        .await
        .unwrap();
    assert_eq!(
        collection.aggregate_result,
        AggregateResult::Poplar1(vec![2, 2])
    );
    assert_eq!(
        s.leader.sent_aggregation_parameter(),
        prio::codec::Encode::get_encoded(&typed_param).unwrap()
    );
}

#[tokio::test]
async fn an_eager_invalid_batch_size_is_surfaced_not_polled() {
    let s = setup().await;
    s.leader
        .script_create([Scripted::Problem(DapProblemType::InvalidBatchSize)]);
    let collector = s.builder().build(new_prio3_sum(8).unwrap()).unwrap();
    let error = collector
        .collect(Query::TimeInterval(interval()), &())
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.problem_type(), Some(DapProblemType::InvalidBatchSize));
    assert_eq!(error.problem().unwrap().taskid, Some(s.task_id));
    assert_eq!(s.leader.create_requests(), 1);
    assert_eq!(s.leader.poll_requests(), 0);
}

#[tokio::test]
async fn a_failed_job_is_surfaced_from_the_poll() {
    let s = setup().await;
    s.leader.script_poll([
        Scripted::Status(202),
        Scripted::Problem(DapProblemType::BatchMismatch),
    ]);
    let collector = s.builder().build(new_prio3_sum(8).unwrap()).unwrap();
    let error = collector
        .collect(Query::TimeInterval(interval()), &())
        .await
        .unwrap_err();
    assert_eq!(error.problem_type(), Some(DapProblemType::BatchMismatch));
    assert_eq!(s.leader.poll_requests(), 2);
}

#[tokio::test]
async fn server_errors_are_retried() {
    let s = setup().await;
    let vdaf = new_prio3_sum(8).unwrap();
    s.leader
        .set_batch(batch(aggregate_shares(&vdaf, &(), &[7, 8])));
    s.leader.script_create([Scripted::Status(500)]);
    s.leader
        .script_poll([Scripted::Status(503), Scripted::Status(429)]);
    let collector = s.builder().build(vdaf).unwrap();
    let collection = collector
        .collect(Query::TimeInterval(interval()), &())
        .await
        .unwrap();
    assert_eq!(collection.aggregate_result, 15);
    assert_eq!(s.leader.create_requests(), 2);
    assert_eq!(s.leader.poll_requests(), 3);

    // A Leader that keeps failing: the policy's four attempts, then the error.
    s.leader
        .script_poll(std::iter::repeat_n(Scripted::Status(500), 10));
    let job = collector
        .start_collection(Query::TimeInterval(interval()), &())
        .await
        .unwrap();
    let error = collector.poll_once(&job).await.unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert_eq!(s.leader.poll_requests(), 3 + 4);
}

#[tokio::test]
async fn the_collector_token_is_required() {
    for token in [
        AuthenticationToken::new_dap_auth("collector-token-xyz").unwrap(),
        AuthenticationToken::new_bearer("collector-token-xyz").unwrap(),
    ] {
        let s = setup_with(token.clone()).await;
        let wrong = CollectorBuilder::new(
            s.task_id,
            s.leader.url.clone(),
            AuthenticationToken::new(token.kind(), "not-the-token").unwrap(),
            s.keypair.clone(),
        )
        .build(new_prio3_sum(8).unwrap())
        .unwrap();
        let error = wrong
            .start_collection(Query::TimeInterval(interval()), &())
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(403));
        assert_eq!(
            error.problem_type(),
            Some(DapProblemType::UnauthorizedRequest)
        );
        let right = s.builder().build(new_prio3_sum(8).unwrap()).unwrap();
        right
            .start_collection(Query::TimeInterval(interval()), &())
            .await
            .unwrap();
        assert_eq!(s.leader.create_requests(), 2);
    }
}

#[tokio::test]
async fn a_share_sealed_for_another_batch_does_not_open() {
    let s = setup().await;
    let vdaf = new_prio3_sum(8).unwrap();
    s.leader
        .set_batch(batch(aggregate_shares(&vdaf, &(), &[1])));
    s.leader.tamper_helper_aad();
    let collector = s.builder().build(vdaf).unwrap();
    let error = collector
        .collect(Query::TimeInterval(interval()), &())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            CollectorError::OpenAggregateShare {
                role: Role::Helper,
                ..
            }
        ),
        "{error}"
    );

    // Nor does anything sealed to another collector key.
    let s = setup().await;
    let vdaf = new_prio3_sum(8).unwrap();
    s.leader
        .set_batch(batch(aggregate_shares(&vdaf, &(), &[1])));
    let other_key = CollectorBuilder::new(
        s.task_id,
        s.leader.url.clone(),
        s.token.clone(),
        HpkeKeypair::generate_default(HpkeConfigId(9)),
    )
    .build(vdaf)
    .unwrap();
    let error = other_key
        .collect(Query::TimeInterval(interval()), &())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            CollectorError::OpenAggregateShare {
                role: Role::Leader,
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn the_collector_never_waits_longer_than_the_leader_asks() {
    let s = setup().await;
    let vdaf = new_prio3_sum(8).unwrap();
    s.leader
        .set_batch(batch(aggregate_shares(&vdaf, &(), &[1, 2])));
    s.leader
        .pending_polls([Some("0".to_owned()), Some("1".to_owned())]);
    // The poll policy alone would wait 5 s, then 10 s.
    let collector = s
        .builder()
        .poll_policy(RetryPolicy::new(5000 * MS, 10_000 * MS).with_jitter(0.0))
        .build(vdaf)
        .unwrap();
    let mut seen = Vec::new();
    let job = collector
        .start_collection(Query::TimeInterval(interval()), &())
        .await
        .unwrap();
    let start = Instant::now();
    let collection = collector
        .poll_until_complete_with(&job, |progress| seen.push(*progress))
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(collection.aggregate_result, 3);
    // Retry-After 0 is taken as the 100 ms floor, Retry-After 1 as 1 s.
    assert!(elapsed >= 1100 * MS && elapsed < 4000 * MS, "{elapsed:?}");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!((seen[0].polls, seen[1].polls), (1, 2));
    assert_eq!(seen[0].next_delay, 100 * MS);
    assert_eq!(seen[1].retry_after, Some(1000 * MS));
    assert_eq!(seen[1].next_delay, 1000 * MS);
}

#[tokio::test]
async fn a_timed_out_job_can_be_polled_again_later() {
    let s = setup().await;
    let vdaf = new_prio3_sum(8).unwrap();
    s.leader
        .set_batch(batch(aggregate_shares(&vdaf, &(), &[9, 9])));
    s.leader.pending_polls(std::iter::repeat_n(None, 1000));
    let collector = s
        .builder()
        .poll_policy(RetryPolicy::new(10 * MS, 20 * MS).with_max_elapsed(100 * MS))
        .build(vdaf)
        .unwrap();
    let start = Instant::now();
    let error = collector
        .collect(Query::TimeInterval(interval()), &())
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    let CollectorError::Timeout { job_id, .. } = error else {
        panic!("expected a timeout, got {error}");
    };
    assert!(elapsed >= 100 * MS && elapsed < 5000 * MS, "{elapsed:?}");
    assert!(s.leader.poll_requests() >= 3);

    // A later poll, with the job rebuilt from its parts.
    let job = CollectionJob::new(job_id, Query::TimeInterval(interval()), ());
    s.leader.finish_jobs();
    s.leader
        .pending_polls([Some("Wed, 21 Oct 2099 07:28:00 GMT".to_owned())]);
    match collector.poll_once(&job).await.unwrap() {
        PollResult::Pending {
            retry_after: Some(delay),
        } => assert!(delay > std::time::Duration::from_secs(365 * 24 * 3600)),
        other => panic!("expected pending with a date, got {other:?}"),
    }
    match collector.poll_once(&job).await.unwrap() {
        PollResult::Ready(collection) => assert_eq!(collection.aggregate_result, 18),
        other => panic!("expected ready, got {other:?}"),
    }
}

#[tokio::test]
async fn a_deleted_job_is_gone() {
    let s = setup().await;
    let collector = Collector::new(
        s.task_id,
        s.leader.url.clone(),
        s.token.clone(),
        s.keypair.clone(),
        new_prio3_sum(8).unwrap(),
    )
    .unwrap();
    let job = collector
        .start_collection(Query::TimeInterval(interval()), &())
        .await
        .unwrap();
    collector.delete_collection_job(&job).await.unwrap();
    assert_eq!(s.leader.delete_requests(), 1);
    let error = collector.poll_once(&job).await.unwrap_err();
    assert!(
        matches!(error, CollectorError::CollectionDeleted(id) if id == job.id()),
        "{error}"
    );
    // Deleting a job the Leader never heard of is an error.
    let unknown = CollectionJob::new(
        dyad_messages::draft09::CollectionJobId::random(),
        Query::TimeInterval(interval()),
        (),
    );
    let error = collector.delete_collection_job(&unknown).await.unwrap_err();
    assert_eq!(error.status(), Some(404));
}

#[tokio::test]
async fn debug_output_hides_the_secrets() {
    let s = setup().await;
    let builder = s.builder();
    let text = format!("{builder:?}");
    assert!(!text.contains("collector-token-xyz"), "{text}");
    let collector = builder.build(new_prio3_sum(8).unwrap()).unwrap();
    let text = format!("{collector:?}");
    assert!(!text.contains("collector-token-xyz"), "{text}");
    let private = format!("{:?}", s.keypair.private_key().as_bytes());
    assert!(!text.contains(&private));
}

#[tokio::test]
async fn a_task_config_collector_advertises_the_task_and_waits_for_the_leader_to_know_it() {
    use dyad_messages::taskprov::{
        DpConfig, DpMechanism, QueryConfig, QueryTypeConfig, TaskConfig, VdafConfig, VdafType,
    };
    let token = AuthenticationToken::new_bearer("collector-token-xyz").unwrap();
    let keypair = HpkeKeypair::generate_default(HpkeConfigId(9));
    let mut config = None;
    let leader = FakeLeader::start_with(
        |url| {
            let c = TaskConfig {
                task_info: b"collector test".to_vec(),
                leader_aggregator_endpoint: url.as_str().try_into().unwrap(),
                helper_aggregator_endpoint: "https://helper.example/".try_into().unwrap(),
                query_config: QueryConfig {
                    time_precision: Duration::from_seconds(3600),
                    max_batch_query_count: 1,
                    min_batch_size: 1,
                    query: QueryTypeConfig::TimeInterval,
                },
                task_expiration: Time::from_seconds_since_epoch(2_000_000_000),
                vdaf_config: VdafConfig::new(
                    DpConfig::new(DpMechanism::None),
                    VdafType::Prio3Sum { bits: 8 },
                ),
            };
            let id = dyad_core::task_config::task_id_of(&c).unwrap();
            config = Some(c);
            id
        },
        keypair.config().clone(),
        token.clone(),
    )
    .await;
    let config = config.unwrap();
    let vdaf = new_prio3_sum(8).unwrap();
    leader.set_batch(batch(aggregate_shares(&vdaf, &(), &[3, 5])));
    // The Leader does not know the task for its first answer.
    leader.script_create([Scripted::Problem(DapProblemType::UnrecognizedTask)]);
    let collector = CollectorBuilder::from_task_config(&config, token.clone(), keypair.clone())
        .unwrap()
        .retry_policy(RetryPolicy::new(5 * MS, 20 * MS).with_max_attempts(4))
        .poll_policy(RetryPolicy::new(10 * MS, 40 * MS).with_max_elapsed(10_000 * MS))
        .wait_for_unrecognized_task(std::time::Duration::from_secs(5))
        .build(vdaf)
        .unwrap();
    let collection = collector
        .collect(Query::TimeInterval(interval()), &())
        .await
        .unwrap();
    assert_eq!(collection.aggregate_result, 8);
    let header = config.to_header_value().unwrap();
    assert_eq!(leader.create_requests(), 2);
    assert_eq!(leader.taskprov_headers(), vec![Some(header); 2]);

    // Without a wait, unrecognizedTask ends the collection at once.
    leader.script_create([Scripted::Problem(DapProblemType::UnrecognizedTask)]);
    let collector = CollectorBuilder::from_task_config(&config, token, keypair)
        .unwrap()
        .build(new_prio3_sum(8).unwrap())
        .unwrap();
    let error = collector
        .collect(Query::TimeInterval(interval()), &())
        .await
        .unwrap_err();
    assert_eq!(error.problem_type(), Some(DapProblemType::UnrecognizedTask));
}
