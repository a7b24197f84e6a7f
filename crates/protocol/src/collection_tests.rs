//! Tests of collection: query interpretation, the Helper's batch-mismatch
//! check, and shares sealed so that only the Collector, with the right
//! batch selector, opens them.

use super::*;
use crate::batch::checksum_of;
use crate::seal::{aggregate_share_aad, seal_leader_aggregate_share};
use crate::test_util::Fixture;
use dyad_core::hpke::open_aggregate_share;
use dyad_core::task::BatchMode;
use dyad_core::vdaf::VdafInstance;
use dyad_messages::draft09::{BatchId, Duration, ReportId, Role, Time};

fn iv(start: u64, duration: u64) -> Interval {
    Interval::new(
        Time::from_seconds_since_epoch(start),
        Duration::from_seconds(duration),
    )
    .unwrap()
}

#[test]
fn queries_become_targets() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let task = &fx.leader_task;
    let aligned = iv(3600 * 10, 3600 * 2);
    assert_eq!(
        collection_target(task, &Query::TimeInterval(aligned)).unwrap(),
        CollectionTarget::Batch(QueriedBatch::TimeInterval(aligned))
    );
    let err = collection_target(task, &Query::TimeInterval(iv(3600 * 10 + 1, 3600))).unwrap_err();
    assert_eq!(err.problem_type(), Some(DapProblemType::BatchInvalid));
    let err = collection_target(task, &Query::FixedSize(FixedSizeQuery::CurrentBatch)).unwrap_err();
    assert_eq!(err.problem_type(), Some(DapProblemType::InvalidMessage));

    let fixed = Fixture::with_mode(
        VdafInstance::Prio3Count,
        BatchMode::FixedSize {
            max_batch_size: None,
        },
        |b| b,
    );
    let id = BatchId::from([5; 32]);
    assert_eq!(
        collection_target(
            &fixed.leader_task,
            &Query::FixedSize(FixedSizeQuery::ByBatchId(id))
        )
        .unwrap(),
        CollectionTarget::Batch(QueriedBatch::FixedSize(id))
    );
    assert_eq!(
        collection_target(
            &fixed.leader_task,
            &Query::FixedSize(FixedSizeQuery::CurrentBatch)
        )
        .unwrap(),
        CollectionTarget::CurrentBatch
    );
    assert!(collection_target(&fixed.leader_task, &Query::TimeInterval(aligned)).is_err());
}

#[test]
fn the_helper_refuses_a_batch_it_counts_differently() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let ids = [ReportId::from([1; 16]), ReportId::from([2; 16])];
    let batch = QueriedBatch::TimeInterval(iv(0, 3600));
    let request = build_aggregate_share_req(&batch, b"param", 2, checksum_of(&ids));
    let share = b"aggregate share bytes";

    let fewer = answer_aggregate_share_req(&fx.helper_task, &request, 1, &checksum_of(&ids), share)
        .unwrap_err();
    assert_eq!(fewer.problem_type(), Some(DapProblemType::BatchMismatch));
    let other = checksum_of(&[ids[0], ReportId::from([3; 16])]);
    let differs =
        answer_aggregate_share_req(&fx.helper_task, &request, 2, &other, share).unwrap_err();
    assert_eq!(differs.problem_type(), Some(DapProblemType::BatchMismatch));
    assert!(differs.detail().contains("checksums differ"));

    let answer =
        answer_aggregate_share_req(&fx.helper_task, &request, 2, &checksum_of(&ids), share)
            .unwrap();
    let aad = aggregate_share_aad(&fx.helper_task, request.batch_selector, b"param");
    let opened = open_aggregate_share(
        &fx.collector,
        Role::Helper,
        &aad,
        &answer.encrypted_aggregate_share,
    )
    .unwrap();
    assert_eq!(opened, share);
    // Not as the Leader's share, nor for another batch or parameter.
    assert!(open_aggregate_share(
        &fx.collector,
        Role::Leader,
        &aad,
        &answer.encrypted_aggregate_share
    )
    .is_err());
    let other_aad = aggregate_share_aad(&fx.helper_task, request.batch_selector, b"other");
    assert!(open_aggregate_share(
        &fx.collector,
        Role::Helper,
        &other_aad,
        &answer.encrypted_aggregate_share
    )
    .is_err());
}

#[test]
fn the_leaders_share_and_the_collection() {
    let fx = Fixture::with_mode(
        VdafInstance::Prio3Count,
        BatchMode::FixedSize {
            max_batch_size: None,
        },
        |b| b,
    );
    let batch = QueriedBatch::FixedSize(BatchId::from([8; 32]));
    let leader = seal_leader_aggregate_share(&fx.leader_task, &batch, b"", b"leader").unwrap();
    let helper = seal_leader_aggregate_share(&fx.leader_task, &batch, b"", b"other").unwrap();
    let collection = build_collection(&batch, 12, iv(0, 3600), leader, helper);
    assert_eq!(collection.report_count, 12);
    let query = Query::FixedSize(FixedSizeQuery::CurrentBatch);
    let selector = collector_batch_selector(&query, &collection).unwrap();
    assert_eq!(selector, batch.batch_selector());
    let aad = aggregate_share_aad(&fx.leader_task, selector, b"");
    let opened = open_aggregate_share(
        &fx.collector,
        Role::Leader,
        &aad,
        &collection.leader_encrypted_agg_share,
    )
    .unwrap();
    assert_eq!(opened, b"leader");
    assert!(collector_batch_selector(&Query::TimeInterval(iv(0, 3600)), &collection).is_err());
}

#[test]
fn aggregate_share_requests_are_batch_validated() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let request = build_aggregate_share_req(
        &QueriedBatch::TimeInterval(iv(1, 3600)),
        b"",
        1,
        ReportIdChecksum::default(),
    );
    let facts = BatchFacts::<Vec<u8>> {
        report_count: 1,
        previous_agg_params: &[],
        previously_collected_intervals: &[],
        batch_id_known: false,
    };
    let err = check_aggregate_share_req(&fx.helper_task, &request, &facts).unwrap_err();
    assert_eq!(err.problem_type(), Some(DapProblemType::BatchInvalid));
}
