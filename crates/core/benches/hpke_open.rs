//! HPKE open of an input share (DAP-09 section 4.5.1.3), as each aggregator
//! does once per report: every ciphersuite dyad supports, the mandatory one
//! (X25519, HKDF-SHA256, AES-128-GCM) first. Seal is timed for the
//! mandatory suite only (the Client's side).
//!
//! `hpke_open_before_after` times, in the same run and on the same
//! ciphertext, the mandatory suite's open through `hpke-dispatch` alone (as
//! dyad opened before it kept AWS-LC keys: the public key derived again on
//! every open) and through dyad's `open_input_share`, so the two compare
//! under the same load.
//!
//! `cargo bench -p dyad-core --bench hpke_open` (add `-- X25519` for the
//! X25519 suites only); compare runs with `--save-baseline NAME` and
//! `--baseline NAME`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dyad_core::hpke::{
    open_input_share, seal_input_share, supported_ciphersuites, HpkeCiphersuite, HpkeKeypair,
};
use dyad_messages::draft09::{
    HpkeConfigId, InputShareAad, PlaintextInputShare, ReportId, ReportMetadata, Role, TaskId, Time,
};
use std::hint::black_box;
use std::time::Duration;

/// A plaintext input share about as long as a Prio3Histogram(100) Leader
/// share with its seeds (the payload length barely matters next to the KEM).
const SHARE_LEN: usize = 256;

fn aad() -> InputShareAad {
    InputShareAad::new(
        TaskId::from_bytes([3; 32]),
        ReportMetadata::new(
            ReportId::from([5; 16]),
            Time::from_seconds_since_epoch(1_700_000_000),
        ),
        vec![9; 64],
    )
}

fn suite_name(suite: &HpkeCiphersuite) -> String {
    format!("{:?}/{:?}/{:?}", suite.kem, suite.kdf, suite.aead)
}

fn hpke_open(c: &mut Criterion) {
    let aad = aad();
    let share = PlaintextInputShare::new(Vec::new(), vec![0x5a; SHARE_LEN]);
    let mut group = c.benchmark_group("hpke_open");
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40);
    for suite in supported_ciphersuites() {
        let keypair = HpkeKeypair::generate(HpkeConfigId(1), suite.kem, suite.kdf, suite.aead)
            .expect("a supported suite");
        let ciphertext =
            seal_input_share(keypair.config(), Role::Leader, &aad, &share).expect("seals");
        group.bench_with_input(
            BenchmarkId::from_parameter(suite_name(&suite)),
            &ciphertext,
            |b, ciphertext| {
                b.iter(|| {
                    open_input_share(
                        &keypair,
                        Role::Leader,
                        black_box(&aad),
                        black_box(ciphertext),
                    )
                    .expect("opens")
                })
            },
        );
    }
    group.finish();
}

fn hpke_seal(c: &mut Criterion) {
    let aad = aad();
    let share = PlaintextInputShare::new(Vec::new(), vec![0x5a; SHARE_LEN]);
    let keypair = HpkeKeypair::generate_default(HpkeConfigId(1));
    let mut group = c.benchmark_group("hpke_seal");
    group.throughput(Throughput::Elements(1));
    group.bench_function(suite_name(&HpkeCiphersuite::DEFAULT), |b| {
        b.iter(|| {
            seal_input_share(
                keypair.config(),
                Role::Helper,
                black_box(&aad),
                black_box(&share),
            )
            .expect("seals")
        })
    });
    group.finish();
}

fn hpke_open_before_after(c: &mut Criterion) {
    use dyad_core::hpke::HpkeApplicationInfo;
    use dyad_messages::Encode as _;
    let aad = aad();
    let share = PlaintextInputShare::new(Vec::new(), vec![0x5a; SHARE_LEN]);
    let keypair = HpkeKeypair::generate_default(HpkeConfigId(1));
    let ciphertext = seal_input_share(keypair.config(), Role::Leader, &aad, &share).expect("seals");
    let info = HpkeApplicationInfo::input_share(Role::Leader);
    let encoded_aad = aad.get_encoded().expect("encodes");
    let dispatch = hpke_dispatch::Config {
        aead: hpke_dispatch::Aead::AesGcm128,
        kdf: hpke_dispatch::Kdf::Sha256,
        kem: hpke_dispatch::Kem::X25519HkdfSha256,
    };
    let mut group = c.benchmark_group("hpke_open_before_after");
    group.throughput(Throughput::Elements(1));
    group.bench_function("hpke-dispatch", |b| {
        b.iter(|| {
            dispatch
                .base_mode_open(
                    keypair.private_key().as_bytes(),
                    black_box(&ciphertext.encapsulated_key),
                    info.as_bytes(),
                    black_box(&ciphertext.payload),
                    &encoded_aad,
                )
                .expect("opens")
        })
    });
    group.bench_function("dyad", |b| {
        b.iter(|| {
            open_input_share(
                &keypair,
                Role::Leader,
                black_box(&aad),
                black_box(&ciphertext),
            )
            .expect("opens")
        })
    });
    group.finish();
}

criterion_group!(benches, hpke_open_before_after, hpke_open, hpke_seal);
criterion_main!(benches);
