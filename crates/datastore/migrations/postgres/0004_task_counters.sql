-- Per-task statistics (`dyad task stats`): how uploads ended and how
-- reports came out of preparation, one column per counter. A task's counts
-- are spread over up to 32 shard rows (the writer picks one at random and
-- adds to it with an upsert), so concurrent writers seldom touch the same
-- row; a read sums the shards. Deleting the task deletes them.
CREATE TABLE task_counters (
    task_id BYTEA NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    shard BIGINT NOT NULL,
    uploads_accepted BIGINT NOT NULL DEFAULT 0,
    uploads_duplicate BIGINT NOT NULL DEFAULT 0,
    uploads_too_early BIGINT NOT NULL DEFAULT 0,
    uploads_task_expired BIGINT NOT NULL DEFAULT 0,
    uploads_report_expired BIGINT NOT NULL DEFAULT 0,
    uploads_decrypt_failed BIGINT NOT NULL DEFAULT 0,
    uploads_outdated_config BIGINT NOT NULL DEFAULT 0,
    uploads_invalid_message BIGINT NOT NULL DEFAULT 0,
    uploads_batch_collected BIGINT NOT NULL DEFAULT 0,
    uploads_refused_request BIGINT NOT NULL DEFAULT 0,
    uploads_server_error BIGINT NOT NULL DEFAULT 0,
    reports_aggregated BIGINT NOT NULL DEFAULT 0,
    prepare_failed_batch_collected BIGINT NOT NULL DEFAULT 0,
    prepare_failed_report_replayed BIGINT NOT NULL DEFAULT 0,
    prepare_failed_report_dropped BIGINT NOT NULL DEFAULT 0,
    prepare_failed_hpke_unknown_config_id BIGINT NOT NULL DEFAULT 0,
    prepare_failed_hpke_decrypt_error BIGINT NOT NULL DEFAULT 0,
    prepare_failed_vdaf_prep_error BIGINT NOT NULL DEFAULT 0,
    prepare_failed_batch_saturated BIGINT NOT NULL DEFAULT 0,
    prepare_failed_task_expired BIGINT NOT NULL DEFAULT 0,
    prepare_failed_invalid_message BIGINT NOT NULL DEFAULT 0,
    prepare_failed_report_too_early BIGINT NOT NULL DEFAULT 0,
    prepare_failed_other BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, shard)
);
