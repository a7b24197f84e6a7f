//! Tests of the batch rules of DAP-09 sections 4.1 and 4.6.5 at their edges.

use super::*;
use crate::test_util::Fixture;
use dyad_core::vdaf::VdafInstance;
use proptest::prelude::*;

fn t(s: u64) -> Time {
    Time::from_seconds_since_epoch(s)
}

fn iv(start: u64, duration: u64) -> Interval {
    Interval::new(t(start), Duration::from_seconds(duration)).unwrap()
}

const P: Duration = Duration::from_seconds(100);

fn task(max_queries: u64) -> Task {
    Fixture::with_mode(VdafInstance::Prio3Count, BatchMode::TimeInterval, |b| {
        b.min_batch_size(10)
            .max_batch_query_count(max_queries)
            .time_precision(P)
    })
    .leader_task
}

fn fixed_task(max: Option<u64>) -> Task {
    Fixture::with_mode(
        VdafInstance::Prio3Count,
        BatchMode::FixedSize {
            max_batch_size: max,
        },
        |b| b.min_batch_size(10),
    )
    .helper_task
}

fn problem<T: std::fmt::Debug>(result: Result<T, ProtocolError>) -> Option<DapProblemType> {
    result.unwrap_err().problem_type()
}

#[test]
fn boundary_check_edges() {
    assert!(check_time_interval_boundary(iv(0, 100), P).is_ok());
    assert!(check_time_interval_boundary(iv(1_000, 300), P).is_ok());
    for bad in [iv(0, 0), iv(0, 99), iv(0, 150), iv(50, 100), iv(1, 100)] {
        assert_eq!(
            problem(check_time_interval_boundary(bad, P)),
            Some(DapProblemType::BatchInvalid),
            "{bad}"
        );
    }
    assert!(check_time_interval_boundary(iv(0, 100), Duration::ZERO)
        .unwrap_err()
        .is_internal());
}

#[test]
fn size_check_edges() {
    let ti = task(1);
    assert_eq!(
        problem(check_batch_size(&ti, 9)),
        Some(DapProblemType::InvalidBatchSize)
    );
    assert!(check_batch_size(&ti, 10).is_ok());
    assert!(check_batch_size(&ti, u64::MAX).is_ok(), "no maximum");
    let fs = fixed_task(Some(12));
    assert!(check_batch_size(&fs, 12).is_ok());
    assert_eq!(
        problem(check_batch_size(&fs, 13)),
        Some(DapProblemType::InvalidBatchSize)
    );
    assert!(check_batch_size(&fixed_task(None), 1_000).is_ok());
}

#[test]
fn query_count_counts_distinct_aggregation_parameters() {
    let once = task(1);
    let none: [&[u8]; 0] = [];
    assert!(check_query_count(&once, &none, b"a").is_ok());
    // The same parameter again does not count anew (an identical retry).
    assert!(check_query_count(&once, &[b"a"], b"a").is_ok());
    assert_eq!(
        problem(check_query_count(&once, &[b"a"], b"b")),
        Some(DapProblemType::BatchQueriedTooManyTimes)
    );
    let twice = task(2);
    // Repeats of one parameter are one parameter.
    assert!(check_query_count(&twice, &[b"a", b"a", b"a"], b"b").is_ok());
    assert_eq!(
        problem(check_query_count(&twice, &[b"a", b"b"], b"c")),
        Some(DapProblemType::BatchQueriedTooManyTimes)
    );
}

#[test]
fn overlap_allows_identical_and_adjacent_intervals_only() {
    let collected = [iv(1_000, 200)];
    assert!(check_time_interval_overlap(iv(1_000, 200), &collected).is_ok());
    assert!(check_time_interval_overlap(iv(800, 200), &collected).is_ok());
    assert!(check_time_interval_overlap(iv(1_200, 100), &collected).is_ok());
    for overlapping in [iv(900, 200), iv(1_100, 100), iv(1_000, 100), iv(0, 5_000)] {
        assert_eq!(
            problem(check_time_interval_overlap(overlapping, &collected)),
            Some(DapProblemType::BatchOverlap),
            "{overlapping}"
        );
    }
}

fn facts<'a>(
    report_count: u64,
    params: &'a [&'a [u8]],
    previous: &'a [Interval],
) -> BatchFacts<'a, &'a [u8]> {
    BatchFacts {
        report_count,
        previous_agg_params: params,
        previously_collected_intervals: previous,
        batch_id_known: false,
    }
}

#[test]
fn validation_runs_in_the_specs_order() {
    let task = task(1);
    let batch = QueriedBatch::TimeInterval(iv(1_000, 100));
    let overlapping = [iv(1_050, 100)];
    let used: [&[u8]; 1] = [b"x"];
    assert!(validate_batch(&task, &batch, b"", &facts(10, &[], &[])).is_ok());
    // Everything wrong at once: each check is reached only when the ones
    // before it pass.
    let misaligned = QueriedBatch::TimeInterval(iv(1_001, 100));
    let fixed = QueriedBatch::FixedSize(BatchId::from([1; 32]));
    let cases = [
        (
            &fixed,
            facts(1, &used, &overlapping),
            DapProblemType::InvalidMessage,
        ),
        (
            &misaligned,
            facts(1, &used, &overlapping),
            DapProblemType::BatchInvalid,
        ),
        (
            &batch,
            facts(1, &used, &overlapping),
            DapProblemType::InvalidBatchSize,
        ),
        (
            &batch,
            facts(10, &used, &overlapping),
            DapProblemType::BatchQueriedTooManyTimes,
        ),
        (
            &batch,
            facts(10, &[], &overlapping),
            DapProblemType::BatchOverlap,
        ),
    ];
    for (batch, facts, expected) in cases {
        let err = validate_batch(&task, batch, b"", &facts).unwrap_err();
        assert_eq!(err.problem_type(), Some(expected));
        assert_eq!(err.task_id(), Some(task.task_id()));
    }
}

#[test]
fn fixed_size_batches_must_be_known() {
    let task = fixed_task(Some(20));
    let batch = QueriedBatch::FixedSize(BatchId::from([1; 32]));
    let mut facts = BatchFacts::<Vec<u8>> {
        report_count: 15,
        previous_agg_params: &[],
        previously_collected_intervals: &[],
        batch_id_known: false,
    };
    assert_eq!(
        problem(validate_batch(&task, &batch, b"", &facts)),
        Some(DapProblemType::BatchInvalid)
    );
    facts.batch_id_known = true;
    assert!(validate_batch(&task, &batch, b"", &facts).is_ok());
}

#[test]
fn buckets() {
    assert_eq!(bucket_of(t(1_234), P), Some(iv(1_200, 100)));
    assert_eq!(bucket_of(t(1_200), P), Some(iv(1_200, 100)));
    assert_eq!(bucket_of(t(u64::MAX), P), None, "end overflows");
    assert_eq!(bucket_of(t(5), Duration::ZERO), None);
    let covered: Vec<_> = buckets_in(iv(1_000, 300), P).unwrap().collect();
    assert_eq!(covered, [iv(1_000, 100), iv(1_100, 100), iv(1_200, 100)]);
    assert!(buckets_in(iv(1_000, 150), P).is_err());
    // Lazy: a huge aligned interval is fine to ask about.
    let mut huge = buckets_in(iv(0, u64::MAX - u64::MAX % 100), P).unwrap();
    assert_eq!(huge.next(), Some(iv(0, 100)));
}

#[test]
fn collection_interval_is_the_smallest_aligned_cover() {
    assert_eq!(
        TimestampSpan::EMPTY.aligned_interval(P).unwrap(),
        Interval::EMPTY
    );
    assert_eq!(
        TimestampSpan::of([t(1_250)]).aligned_interval(P).unwrap(),
        iv(1_200, 100)
    );
    // Times at bucket starts and ends.
    assert_eq!(
        TimestampSpan::of([t(1_300), t(1_299), t(1_100)])
            .aligned_interval(P)
            .unwrap(),
        iv(1_100, 300)
    );
    let mut a = TimestampSpan::of([t(500)]);
    a.merge(&TimestampSpan::of([t(999)]));
    a.merge(&TimestampSpan::EMPTY);
    assert_eq!(a.aligned_interval(P).unwrap(), iv(500, 500));
    assert!(TimestampSpan::of([t(u64::MAX)])
        .aligned_interval(P)
        .is_err());
}

#[test]
fn checksum_is_the_xor_of_sha256_hashes() {
    let id = ReportId::from([0; 16]);
    // SHA-256 of sixteen zero bytes.
    let expected = "374708fff7719dd5979ec875d56cd2286f6d3cf7ec317a3b25632aab28ec37bb";
    let hex: String = report_id_checksum(&id)
        .0
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, expected);
    assert_eq!(checksum_of([]), ReportIdChecksum::default());
}

#[test]
fn identifiers_convert_to_selectors() {
    let interval = iv(0, 100);
    let ti = QueriedBatch::TimeInterval(interval);
    assert_eq!(ti.batch_selector(), BatchSelector::TimeInterval(interval));
    assert_eq!(
        ti.partial_batch_selector(),
        PartialBatchSelector::TimeInterval
    );
    assert_eq!(ti.query_type(), QueryType::TimeInterval);
    let id = BatchId::from([9; 32]);
    let fs = QueriedBatch::FixedSize(id);
    assert_eq!(
        fs.partial_batch_selector(),
        PartialBatchSelector::FixedSize(id)
    );
    for ident in [ti, fs] {
        assert_eq!(QueriedBatch::from(BatchSelector::from(ident)), ident);
    }
    assert!(time_in_collected_interval(t(50), &[interval]));
    assert!(!time_in_collected_interval(t(100), &[interval]));
}

proptest! {
    #[test]
    fn checksum_ignores_order_and_cancels_pairs(
        ids in proptest::collection::vec(any::<[u8; 16]>().prop_map(ReportId::from), 0..20)
    ) {
        let mut reversed = ids.clone();
        reversed.reverse();
        prop_assert_eq!(checksum_of(&ids), checksum_of(&reversed));
        let doubled: Vec<_> = ids.iter().chain(&ids).copied().collect();
        prop_assert_eq!(checksum_of(&doubled), ReportIdChecksum::default());
    }

    /// The collection interval is aligned, holds every time, and is no
    /// bigger than needed: shrinking it by a bucket at either end loses a time.
    #[test]
    fn collection_interval_is_minimal(
        times in proptest::collection::vec(0u64..1_000_000, 1..20), p in 1u64..5_000
    ) {
        let precision = Duration::from_seconds(p);
        let interval = TimestampSpan::of(times.iter().map(|s| t(*s)))
            .aligned_interval(precision)
            .unwrap();
        prop_assert!(check_time_interval_boundary(interval, precision).is_ok());
        prop_assert!(times.iter().all(|s| interval.contains(t(*s))));
        let start = interval.start().as_seconds_since_epoch();
        let end = interval.end().as_seconds_since_epoch();
        prop_assert!(times.iter().any(|s| *s < start + p));
        prop_assert!(times.iter().any(|s| *s >= end - p));
    }

    /// Overlap is symmetric in the intervals' roles and never flags the
    /// identical interval.
    #[test]
    fn overlap_is_exactly_shared_instants(
        a in 0u64..50, al in 1u64..20, b in 0u64..50, bl in 1u64..20
    ) {
        let (x, y) = (iv(a, al), iv(b, bl));
        let shares_instant = (a..a + al).any(|s| y.contains(t(s)));
        let flagged = check_time_interval_overlap(x, &[y]).is_err();
        prop_assert_eq!(flagged, shares_instant && x != y);
        prop_assert_eq!(flagged, check_time_interval_overlap(y, &[x]).is_err());
    }
}

/// VDAF-08 section 8.2.3 with DAP-09 section 4.6.5: a Poplar1 batch is
/// collected once per level, in any order; a repeated level with other
/// prefixes and a malformed parameter are `invalidMessage`, the same
/// parameter again is the same collection, and a shallower level not
/// collected yet is allowed.
#[test]
fn a_poplar1_batch_is_collected_once_per_level_in_any_order() {
    use prio::codec::Encode as _;
    use prio::idpf::IdpfInput;
    use prio::vdaf::poplar1::Poplar1AggregationParam;
    let param = |prefixes: &[&[bool]]| {
        Poplar1AggregationParam::try_from_prefixes(
            prefixes.iter().map(|p| IdpfInput::from_bools(p)).collect(),
        )
        .unwrap()
        .get_encoded()
        .unwrap()
    };
    let task = Fixture::with_mode(
        VdafInstance::Poplar1 { bits: 8 },
        BatchMode::TimeInterval,
        |b| {
            b.min_batch_size(10)
                .max_batch_query_count(8)
                .time_precision(P)
        },
    )
    .leader_task;
    let batch = QueriedBatch::TimeInterval(iv(1_000, 100));
    let level0 = param(&[&[false], &[true]]);
    let level1 = param(&[&[true, false]]);
    let level1_other = param(&[&[true, true]]);
    let used: [&[u8]; 2] = [&level0, &level1];
    assert!(validate_batch(&task, &batch, &level1, &facts(10, &used, &[])).is_ok());
    assert!(validate_batch(&task, &batch, &param(&[&[true; 5]]), &facts(10, &used, &[])).is_ok());
    for bad in [level1_other.clone(), vec![0, 1, 0, 0, 0, 1]] {
        assert_eq!(
            problem(validate_batch(&task, &batch, &bad, &facts(10, &used, &[]))),
            Some(DapProblemType::InvalidMessage)
        );
    }
    let level3 = param(&[&[true, false, true, true]]);
    assert_eq!(
        problem(check_agg_param_sequence(
            &task,
            &[level3.clone(), level1],
            &level1_other
        )),
        Some(DapProblemType::InvalidMessage)
    );
    // Shallower, but not collected yet.
    assert!(check_agg_param_sequence(&task, &[level3], &level0).is_ok());
}
