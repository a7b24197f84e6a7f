//! The Leader's report writes: `put_client_reports` in one transaction per
//! batch, as the upload writer commits them, on SQLite (a file in a
//! temporary folder) and, when `DYAD_TEST_DATABASE_URL` names a PostgreSQL
//! server, on a fresh database there. Throughput is in reports.
//!
//! `cargo bench -p dyad-datastore --bench report_insert`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dyad_datastore::testing::{fixtures, postgres_harness, sqlite_harness, TestDatastore};
use dyad_datastore::DatastoreExt;
use std::time::Duration;

/// Reports per transaction: one (a lone upload) and a full batch.
const BATCH_SIZES: [usize; 2] = [1, 64];

fn report_insert(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut backends: Vec<(&str, TestDatastore)> =
        vec![("sqlite", runtime.block_on(sqlite_harness()))];
    if let Some(postgres) = runtime.block_on(postgres_harness()) {
        backends.push(("postgres", postgres));
    }
    let task = fixtures::leader_task();
    let task_id = *task.task_id();
    let mut group = c.benchmark_group("put_client_reports");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    for (backend, harness) in &backends {
        runtime.block_on(fixtures::put_tasks(harness.datastore.as_ref(), &[&task]));
        for size in BATCH_SIZES {
            group.throughput(Throughput::Elements(size as u64));
            group.bench_with_input(BenchmarkId::new(*backend, size), &size, |b, &size| {
                b.iter(|| {
                    let reports: Vec<_> = (0..size)
                        .map(|i| fixtures::report(&task_id, 1_000 + i as u64, i as u8))
                        .collect();
                    runtime
                        .block_on(
                            harness
                                .datastore
                                .run_tx("bench_put_client_reports", move |tx| {
                                    let reports = reports.clone();
                                    Box::pin(
                                        async move { Ok(tx.put_client_reports(&reports).await?) },
                                    )
                                }),
                        )
                        .expect("stored")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, report_insert);
criterion_main!(benches);
