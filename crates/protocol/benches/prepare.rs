//! The aggregators' per-report protocol work, step by step, for
//! Prio3Count and Prio3Histogram (length 100): the Leader's upload
//! validation (decode, HPKE open, shares decode), an aggregation job's
//! initialization on the Leader and on the Helper (HPKE open of the
//! Helper's share and VDAF preparation), the Leader's processing of the
//! Helper's answer (its continuation: for a one-round VDAF, where its
//! reports finish), and the whole job with both sides' aggregation
//! ([`dyad_protocol::in_memory`], the crypto limit `dyad bench` measures).
//!
//! Poplar1 over 16- and 64-bit strings: a whole job at several levels of
//! the prefix tree (`poplar1_bits16/level_7` and so on), each with up to
//! [`POPLAR1_CANDIDATES`] candidate prefixes, what a heavy-hitters walk
//! asks once its survivors settle.
//!
//! `cargo bench -p dyad-protocol --bench prepare`; throughput is in reports.

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use dyad_core::vdaf::{
    random_measurement, AggregationParam, CatalogueVdaf, Measurement, VdafInstance,
};
use dyad_messages::draft09::{PartialBatchSelector, Time};
use dyad_messages::Encode as _;
use dyad_protocol::helper_init::{helper_initialize, HelperInitContext, KnownFacts};
use dyad_protocol::idempotency::RequestHash;
use dyad_protocol::in_memory::Deployment;
use dyad_protocol::leader_prepare::{
    leader_initialize, leader_process_response, LeaderReportShare,
};
use dyad_protocol::upload::NO_EXTENSIONS;
use dyad_protocol::vdaf_codec::DapAggregator;
use prio::codec::Encode as _;
use std::hint::black_box;
use std::time::Duration;

/// Reports per aggregation job in the job benches.
const JOB_SIZE: usize = 32;

const VDAFS: [(&str, &str); 2] = [
    ("Prio3Count", r#"{"type":"Prio3Count"}"#),
    (
        "Prio3Histogram100",
        r#"{"type":"Prio3Histogram","length":"100","chunk_length":"10"}"#,
    ),
];

/// Candidate prefixes per Poplar1 level (fewer where the level has fewer
/// strings): a walk keeping a dozen survivors asks for their 24 children.
const POPLAR1_CANDIDATES: usize = 24;

fn now() -> Time {
    Time::from_seconds_since_epoch(1_700_000_000)
}

fn prepare(c: &mut Criterion) {
    for (name, json) in VDAFS {
        let instance: VdafInstance = json.parse().expect("a catalogue VDAF");
        let deployment = Deployment::new(instance).expect("a deployment");
        let mut rng = rand::thread_rng();
        let reports: Vec<Vec<u8>> = (0..JOB_SIZE)
            .map(|_| {
                let measurement = random_measurement(&instance, &mut rng);
                let report = deployment.report(&measurement, now()).expect("a report");
                report.get_encoded().expect("encodes")
            })
            .collect();
        let shares: Vec<LeaderReportShare> = reports
            .iter()
            .map(|r| deployment.upload(r, now()).expect("valid"))
            .collect();

        let mut group = c.benchmark_group(name);
        group
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .sample_size(30);
        group.throughput(Throughput::Elements(1));
        group.bench_function("upload", |b| {
            b.iter(|| {
                deployment
                    .upload(black_box(&reports[0]), now())
                    .expect("valid")
            })
        });
        group.throughput(Throughput::Elements(JOB_SIZE as u64));
        group.bench_function("whole_job", |b| {
            b.iter(|| {
                deployment
                    .aggregate(black_box(&shares), now())
                    .expect("aggregates")
            })
        });
        dyad_core::vdaf_dispatch!(instance, |vdaf, V, VERIFY_KEY_LEN| {
            steps::<V, VERIFY_KEY_LEN>(&mut group, &vdaf, &deployment, &shares);
            Ok::<_, prio::vdaf::VdafError>(())
        })
        .expect("a catalogue VDAF");
        group.finish();
    }
}

/// Each step of the job's initialization, over [`JOB_SIZE`] reports.
fn steps<V: DapAggregator<L> + CatalogueVdaf, const L: usize>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    vdaf: &V,
    deployment: &Deployment,
    shares: &[LeaderReportShare],
) {
    let agg_param = vdaf
        .to_vdaf_aggregation_param(&AggregationParam::Empty)
        .expect("no parameter")
        .get_encoded()
        .expect("encodes");
    let init = |shares: &[LeaderReportShare]| {
        leader_initialize::<V, L>(
            vdaf,
            deployment.leader_task(),
            &agg_param,
            PartialBatchSelector::TimeInterval,
            shares,
        )
        .expect("initializes")
    };
    group.bench_function("prepare_init_leader", |b| {
        b.iter(|| init(black_box(shares)))
    });

    let leader_init = init(shares);
    let request = leader_init.request.clone().expect("a request");
    let hash = RequestHash::of_body(&request.get_encoded().expect("encodes"));
    let facts = KnownFacts::default();
    let ctx = HelperInitContext {
        task: deployment.helper_task(),
        keys: deployment.helper_keys(),
        facts: &facts,
        now: now(),
        recognized_extensions: NO_EXTENSIONS,
        batch_capacity: None,
    };
    let helper_init =
        |request| helper_initialize::<V, L, _, _>(vdaf, &ctx, request, hash).expect("initializes");
    group.bench_function("prepare_init_helper", |b| {
        b.iter(|| helper_init(black_box(&request)))
    });

    let response = helper_init(&request).response;
    group.bench_function("prepare_continue_leader", |b| {
        b.iter(|| {
            leader_process_response::<V, L>(
                vdaf,
                &agg_param,
                black_box(&leader_init.reports),
                black_box(&response),
            )
            .expect("processes")
        })
    });
}

/// A whole Poplar1 job (both rounds, both sides, aggregation) at levels
/// across the tree, for 16- and 64-bit strings.
fn poplar1_levels(c: &mut Criterion) {
    for (bits, levels) in [(16u16, &[0usize, 7, 15][..]), (64, &[0, 15, 31, 63][..])] {
        let instance = VdafInstance::Poplar1 { bits };
        let deployment = Deployment::new(instance).expect("a deployment");
        let mut rng = rand::thread_rng();
        let strings: Vec<Vec<bool>> = (0..JOB_SIZE)
            .map(|_| (0..bits).map(|_| rand::Rng::gen(&mut rng)).collect())
            .collect();
        let shares: Vec<LeaderReportShare> = strings
            .iter()
            .map(|string| {
                let report = deployment
                    .report(&Measurement::Poplar1(string.clone()), now())
                    .expect("a report");
                deployment
                    .upload(&report.get_encoded().expect("encodes"), now())
                    .expect("valid")
            })
            .collect();
        let mut group = c.benchmark_group(format!("poplar1_bits{bits}"));
        group
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .sample_size(10);
        group.throughput(Throughput::Elements(JOB_SIZE as u64));
        for &level in levels {
            let prefixes = candidates(&strings, level);
            let param = AggregationParam::Poplar1 { prefixes };
            group.bench_function(format!("level_{level}"), |b| {
                b.iter(|| {
                    deployment
                        .aggregate_with(black_box(&shares), now(), &param)
                        .expect("aggregates")
                })
            });
        }
        group.finish();
    }
}

/// Up to [`POPLAR1_CANDIDATES`] distinct sorted prefixes of length
/// `level + 1`: those of the job's strings first, then others.
fn candidates(strings: &[Vec<bool>], level: usize) -> Vec<Vec<bool>> {
    let mut prefixes: std::collections::BTreeSet<Vec<bool>> = strings
        .iter()
        .map(|s| s[..=level].to_vec())
        .take(POPLAR1_CANDIDATES)
        .collect();
    let mut n: u64 = 0;
    while prefixes.len() < POPLAR1_CANDIDATES && (level >= 63 || n < 1 << (level + 1)) {
        prefixes.insert((0..=level).map(|i| i < 64 && n >> i & 1 == 1).collect());
        n += 1;
    }
    prefixes.into_iter().collect()
}

criterion_group!(benches, prepare, poplar1_levels);
criterion_main!(benches);
