-- Per-task statistics (`dyad task stats`): how uploads ended and how
-- reports came out of preparation, one column per counter. A task's counts
-- are spread over up to 32 shard rows (the writer picks one at random and
-- adds to it with an upsert), so concurrent writers seldom touch the same
-- row; a read sums the shards. Deleting the task deletes them.
CREATE TABLE task_counters (
    task_id BLOB NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    shard INTEGER NOT NULL,
    uploads_accepted INTEGER NOT NULL DEFAULT 0,
    uploads_duplicate INTEGER NOT NULL DEFAULT 0,
    uploads_too_early INTEGER NOT NULL DEFAULT 0,
    uploads_task_expired INTEGER NOT NULL DEFAULT 0,
    uploads_report_expired INTEGER NOT NULL DEFAULT 0,
    uploads_decrypt_failed INTEGER NOT NULL DEFAULT 0,
    uploads_outdated_config INTEGER NOT NULL DEFAULT 0,
    uploads_invalid_message INTEGER NOT NULL DEFAULT 0,
    uploads_batch_collected INTEGER NOT NULL DEFAULT 0,
    uploads_refused_request INTEGER NOT NULL DEFAULT 0,
    uploads_server_error INTEGER NOT NULL DEFAULT 0,
    reports_aggregated INTEGER NOT NULL DEFAULT 0,
    prepare_failed_batch_collected INTEGER NOT NULL DEFAULT 0,
    prepare_failed_report_replayed INTEGER NOT NULL DEFAULT 0,
    prepare_failed_report_dropped INTEGER NOT NULL DEFAULT 0,
    prepare_failed_hpke_unknown_config_id INTEGER NOT NULL DEFAULT 0,
    prepare_failed_hpke_decrypt_error INTEGER NOT NULL DEFAULT 0,
    prepare_failed_vdaf_prep_error INTEGER NOT NULL DEFAULT 0,
    prepare_failed_batch_saturated INTEGER NOT NULL DEFAULT 0,
    prepare_failed_task_expired INTEGER NOT NULL DEFAULT 0,
    prepare_failed_invalid_message INTEGER NOT NULL DEFAULT 0,
    prepare_failed_report_too_early INTEGER NOT NULL DEFAULT 0,
    prepare_failed_other INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, shard)
);
