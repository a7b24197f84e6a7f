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
//! test).

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
pub mod tasks;
pub mod transactions;

use crate::sqlite::SqliteDatastore;
use crate::Datastore;
use dyad_core::clock::MockClock;
use std::any::Any;
use std::future::Future;
use std::sync::Arc;

/// A fresh datastore for one test, with the clock it reads and whatever
/// must live as long as it (a temporary directory, a test database).
pub struct TestDatastore {
    pub datastore: Arc<dyn Datastore>,
    pub clock: MockClock,
    _keep_alive: Box<dyn Any + Send + Sync>,
}

impl TestDatastore {
    /// Wraps a datastore reading `clock`; `keep_alive` is dropped with it.
    pub fn new(
        datastore: Arc<dyn Datastore>,
        clock: MockClock,
        keep_alive: Box<dyn Any + Send + Sync>,
    ) -> Self {
        Self {
            datastore,
            clock,
            _keep_alive: keep_alive,
        }
    }
}

/// A SQLite datastore in a fresh temporary file.
pub async fn sqlite_harness() -> TestDatastore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("dyad.sqlite").display());
    let clock = MockClock::default();
    let datastore = SqliteDatastore::open(&url, Arc::new(clock.clone()))
        .await
        .expect("open SQLite datastore");
    TestDatastore::new(Arc::new(datastore), clock, Box::new(dir))
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
#[macro_export]
macro_rules! datastore_conformance_tests {
    ($harness:path) => {
        $crate::__datastore_conformance_tests! {
            $harness;
            tasks {
                put_get_list_delete,
                put_same_task_again,
                delete_task_removes_its_data,
            }
            transactions {
                commit_returns_the_value,
                aborted_transaction_leaves_no_trace,
                failed_operation_rolls_back_everything,
                read_only_transaction_rejects_writes,
                now_comes_from_the_clock,
                concurrent_writers_all_commit,
            }
            client_reports {
                round_trip,
                duplicate_report_kept_once,
                get_many_keeps_order_and_skips_missing,
                unaggregated_reports_oldest_first,
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
macro_rules! __datastore_conformance_tests {
    ($harness:path; $($area:ident { $($test:ident),* $(,)? })*) => {
        $(
            mod $area {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[test]
                    fn $test() {
                        $crate::conformance::run_test(async {
                            let harness = $harness().await;
                            $crate::conformance::$area::$test(harness).await;
                        });
                    }
                )*
            }
        )*
    };
}
