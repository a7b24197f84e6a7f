//! The conformance suite: what every datastore backend must do, as async
//! test functions over a fresh datastore (`dyad_datastore::testing::TestDatastore`),
//! one module per table or concern, run on SQLite (a temporary file per
//! test) and on PostgreSQL (a fresh database per test on the server named
//! by `DYAD_TEST_DATABASE_URL`; without it those tests pass at once,
//! saying so on stderr).

mod aggregate_share_jobs;
mod aggregation_jobs;
mod batch_aggregations;
mod client_reports;
mod collected_batches;
mod collection_jobs;
mod garbage_collection;
mod global_hpke_keys;
mod helper_replay;
mod leases;
mod outstanding_batches;
mod queue_depths;
mod report_aggregations;
mod reseal;
mod task_admin;
mod task_counters;
mod taskprov_peer_aggregators;
mod tasks;
mod transactions;

/// Asserts that a transaction failed with [`dyad_datastore::DatastoreError::NotFound`].
fn assert_not_found<T: std::fmt::Debug>(result: &Result<T, dyad_datastore::TxError>) {
    assert!(
        matches!(
            result,
            Err(dyad_datastore::TxError::Datastore(
                dyad_datastore::DatastoreError::NotFound { .. }
            ))
        ),
        "{result:?}"
    );
}

macro_rules! harness {
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

macro_rules! test_fns {
    ($mode:ident $harness:path; $($area:ident { $($test:ident),* $(,)? })*) => {
        $(
            mod $area {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[test]
                    fn $test() {
                        dyad_datastore::testing::run_test(async {
                            let harness = harness!($mode $harness);
                            crate::$area::$test(harness).await;
                        });
                    }
                )*
            }
        )*
    };
}

macro_rules! all_tests {
    (@$mode:ident $harness:path) => {
        test_fns! {
            $mode $harness;
            tasks {
                put_get_list_delete,
                put_same_task_again,
                delete_task_removes_its_data,
                secrets_need_the_keys_and_survive_rotation,
                task_ids_page_in_byte_order_after_a_given_id,
            }
            task_admin {
                delete_counts_what_it_removes,
                empty_and_unknown_tasks,
                aborted_delete_keeps_everything,
                update_expiration,
                read_only_transactions_cannot_delete_or_update,
            }
            global_hpke_keys {
                states_and_times_round_trip,
                private_keys_are_sealed_and_resealed,
                lock_serializes_concurrent_writers,
            }
            taskprov_peer_aggregators {
                round_trip_lookup_and_delete,
                documents_are_sealed_and_resealed,
                provisioned_task_keeps_its_task_config,
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
                a_panicking_body_leaves_no_half_transaction,
            }
            client_reports {
                round_trip,
                reports_of_a_task_not_stored_are_refused,
                duplicate_report_kept_once,
                get_many_keeps_order_and_skips_missing,
                unaggregated_reports_oldest_first,
                reports_put_back_in_the_pool_are_taken_again,
                delete_old_reports,
                reports_are_taken_once_per_aggregation_parameter,
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
                waiting_collection_jobs_are_expedited_failed_and_leased_ones_not,
                renewal_extends_a_held_lease_only,
            }
            queue_depths {
                counts_unaggregated_reports_and_pending_collection_jobs,
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
                waiting_batches_are_the_distinct_pairs_of_waiting_jobs,
            }
            aggregate_share_jobs {
                round_trip_and_idempotency,
            }
            helper_replay {
                replays_are_reported,
                reports_of_a_task_not_stored_are_refused,
                parameters_and_expiry,
                clash_prefix_gives_the_clashing_and_the_first_parameters,
            }
            task_counters {
                counts_add_up_per_task,
                concurrent_increments_sum_exactly,
                deleted_tasks_keep_no_counters,
            }
            garbage_collection {
                expired_reports_spare_in_progress_jobs,
                expired_reports_spare_the_span_of_an_in_progress_listed_job,
                jobs_go_after_their_expired_buckets,
                abandoned_helper_jobs_go_with_their_rows,
                fixed_size_batches_go_whole,
                collection_records_go_after_their_interval,
                task_rows_go_in_bounded_chunks,
            }
            outstanding_batches {
                reservations_fill_batches,
                released_room_reopens_a_batch,
                current_batch_needs_min_size_and_is_taken_once,
            }
        }
    };
}

/// Makes one `#[test]` per conformance test function, each on a fresh
/// datastore from the given `async fn() -> TestDatastore`. With `optional`
/// before it, the harness is an `async fn() -> Option<TestDatastore>`; when
/// it gives `None` (a database server that is not configured; the harness
/// says so on stderr) the test returns at once, passing.
macro_rules! conformance_tests {
    (optional $harness:path) => {
        all_tests! { @optional $harness }
    };
    ($harness:path) => {
        all_tests! { @required $harness }
    };
}

mod sqlite {
    conformance_tests!(dyad_datastore::testing::sqlite_harness);
}

mod postgres {
    conformance_tests!(optional dyad_datastore::testing::postgres_harness);
}
