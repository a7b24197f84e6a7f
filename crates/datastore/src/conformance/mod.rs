//! The conformance suite: what every datastore backend must do, as generic
//! async test functions over a fresh datastore ([`TestDatastore`]).
//!
//! A backend runs the whole suite with one line, which makes one test per
//! function (each on its own fresh datastore, with a [`MockClock`] the test
//! moves):
//!
//! ```text
//! dyad_datastore::datastore_conformance_tests!(my_backend_harness);
//! ```
//!
//! where `my_backend_harness` is an `async fn() -> TestDatastore` in scope.
//! The SQLite backend runs it with [`sqlite_harness`] (a temporary file per
//! test); the PostgreSQL backend with
//! `datastore_conformance_tests!(optional postgres_harness)`, whose harness
//! gives `None` (and the tests pass without running) when no test server is
//! configured (see `crate::postgres::testing`).

pub mod aggregate_share_jobs;
pub mod aggregation_jobs;
pub mod batch_aggregations;
pub mod client_reports;
pub mod collected_batches;
pub mod collection_jobs;
pub mod fixtures;
pub mod helper_replay;
pub mod leases;
pub mod outstanding_batches;
pub mod report_aggregations;
pub mod reseal;
pub mod task_admin;
pub mod tasks;
pub mod transactions;

use crate::sqlite::SqliteDatastore;
use crate::{Datastore, DatastoreError, DatastoreKeys, DatastoreOptions};
use dyad_core::clock::MockClock;
use futures::future::BoxFuture;
use std::any::Any;
use std::future::Future;
use std::sync::Arc;

/// Opens another handle on a test's database with other keys (to test
/// what a process configured with those keys would see).
pub type Reopen = Arc<
    dyn Fn(DatastoreKeys) -> BoxFuture<'static, Result<Arc<dyn Datastore>, DatastoreError>>
        + Send
        + Sync,
>;

/// Opens another handle on a test's database with other options (to test
/// what a process configured with those options would see).
pub type ReopenWith = Arc<
    dyn Fn(DatastoreOptions) -> BoxFuture<'static, Result<Arc<dyn Datastore>, DatastoreError>>
        + Send
        + Sync,
>;

/// A fresh datastore for one test, with the clock it reads, the keys it was
/// opened with, a way to reopen its database with other keys, and whatever
/// must live as long as it (a temporary directory, a test database).
pub struct TestDatastore {
    pub datastore: Arc<dyn Datastore>,
    pub clock: MockClock,
    pub keys: DatastoreKeys,
    pub reopen: Reopen,
    pub reopen_with: ReopenWith,
    _keep_alive: Box<dyn Any + Send + Sync>,
}

impl TestDatastore {
    /// Wraps a datastore reading `clock`, opened with `keys`; `reopen_with`
    /// opens another handle on its database; `keep_alive` is dropped with it.
    pub fn new(
        datastore: Arc<dyn Datastore>,
        clock: MockClock,
        keys: DatastoreKeys,
        reopen_with: ReopenWith,
        keep_alive: Box<dyn Any + Send + Sync>,
    ) -> Self {
        let with = reopen_with.clone();
        let reopen: Reopen = Arc::new(move |keys| with(DatastoreOptions::new(keys)));
        Self {
            datastore,
            clock,
            keys,
            reopen,
            reopen_with,
            _keep_alive: keep_alive,
        }
    }
}

/// A SQLite datastore in a fresh temporary file.
pub async fn sqlite_harness() -> TestDatastore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("dyad.sqlite").display());
    let clock = MockClock::default();
    let keys = DatastoreKeys::generate();
    let options = DatastoreOptions::new(keys.clone());
    let datastore = SqliteDatastore::open(&url, Arc::new(clock.clone()), &options)
        .await
        .expect("open SQLite datastore");
    let reopen_clock = clock.clone();
    let reopen: ReopenWith = Arc::new(move |options| {
        let (url, clock) = (url.clone(), reopen_clock.clone());
        Box::pin(async move {
            let datastore = SqliteDatastore::open(&url, Arc::new(clock), &options).await?;
            Ok(Arc::new(datastore) as Arc<dyn Datastore>)
        })
    });
    TestDatastore::new(Arc::new(datastore), clock, keys, reopen, Box::new(dir))
}

/// Runs one test future on a multi-threaded runtime (so that concurrent
/// transactions really run in parallel).
pub fn run_test<F: Future<Output = ()>>(test: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(test)
}

/// Makes one `#[test]` per conformance test function, each on a fresh
/// datastore from the given `async fn() -> TestDatastore`.
///
/// With `optional` before it, the harness is an
/// `async fn() -> Option<TestDatastore>`; when it gives `None` (a database
/// server that is not configured; the harness says so on stderr) the test
/// returns at once, passing.
#[macro_export]
macro_rules! datastore_conformance_tests {
    (optional $harness:path) => {
        $crate::__datastore_conformance_tests! { @optional $harness }
    };
    ($harness:path) => {
        $crate::__datastore_conformance_tests! { @required $harness }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __datastore_conformance_tests {
    (@$mode:ident $harness:path) => {
        $crate::__datastore_conformance_test_fns! {
            $mode $harness;
            tasks {
                put_get_list_delete,
                put_same_task_again,
                delete_task_removes_its_data,
                secrets_need_the_keys_and_survive_rotation,
            }
            task_admin {
                delete_counts_what_it_removes,
                empty_and_unknown_tasks,
                aborted_delete_keeps_everything,
                update_expiration,
                read_only_transactions_cannot_delete_or_update,
            }
            reseal {
                reseal_then_the_old_key_can_go,
                reseal_beside_a_writer_loses_nothing,
            }
            transactions {
                commit_returns_the_value,
                aborted_transaction_leaves_no_trace,
                failed_operation_rolls_back_everything,
                read_only_transaction_rejects_writes,
                now_comes_from_the_clock,
                concurrent_writers_all_commit,
                dropped_callers_leave_no_half_transaction,
                hanging_body_is_cut_at_the_bound,
            }
            client_reports {
                round_trip,
                duplicate_report_kept_once,
                get_many_keeps_order_and_skips_missing,
                unaggregated_reports_oldest_first,
                reports_put_back_in_the_pool_are_taken_again,
                delete_old_reports,
            }
            aggregation_jobs {
                put_get_update,
                duplicate_job_is_rejected,
                update_of_missing_job_fails,
                unfinished_jobs_for_batch,
            }
            leases {
                acquire_only_due_leader_jobs,
                acquisition_is_exclusive_under_concurrency,
                expired_lease_is_reacquired,
                writes_with_lost_lease_fail_and_change_nothing,
                release_sets_retry_time_and_attempts,
                collection_job_leases,
                renewal_extends_a_held_lease_only,
            }
            report_aggregations {
                every_state_round_trips_in_order,
                update_states_and_responses,
                duplicate_ord_is_rejected,
                update_of_missing_row_fails,
            }
            batch_aggregations {
                rows_per_job_are_summed_by_the_caller,
                time_interval_reads_buckets_inside,
                rewrite_replaces_the_jobs_row,
            }
            collected_batches {
                distinct_parameters_are_counted,
                overlapping_intervals_are_found,
                collected_checks,
            }
            collection_jobs {
                every_state_round_trips,
                repeated_put_is_idempotent,
                jobs_for_batch,
                update_of_missing_job_fails,
            }
            aggregate_share_jobs {
                round_trip_and_idempotency,
            }
            helper_replay {
                replays_are_reported,
                parameters_and_expiry,
            }
            outstanding_batches {
                reservations_fill_batches,
                released_room_reopens_a_batch,
                current_batch_needs_min_size_and_is_taken_once,
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __datastore_conformance_test_fns {
    ($mode:ident $harness:path; $($area:ident { $($test:ident),* $(,)? })*) => {
        $(
            mod $area {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[test]
                    fn $test() {
                        $crate::conformance::run_test(async {
                            let harness = $crate::__datastore_conformance_harness!($mode $harness);
                            $crate::conformance::$area::$test(harness).await;
                        });
                    }
                )*
            }
        )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __datastore_conformance_harness {
    (required $harness:path) => {
        $harness().await
    };
    (optional $harness:path) => {
        match $harness().await {
            Some(harness) => harness,
            None => return,
        }
    };
}
