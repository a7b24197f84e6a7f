-- dyad datastore, SQLite schema, version 1.
--
-- Conventions: identifiers, encoded messages and opaque VDAF values are
-- BLOBs; times are INTEGER seconds since the UNIX epoch; intervals are stored
-- as [start, end) so range queries need no arithmetic; a batch identifier is
-- stored encoded (as a DAP BatchSelector) in `batch_identifier`, with its
-- interval bounds (time-interval batches) or batch ID (fixed-size batches)
-- beside it for queries. Everything of a task goes when the task goes.

CREATE TABLE tasks (
    task_id BLOB PRIMARY KEY NOT NULL,
    role INTEGER NOT NULL,
    query_type INTEGER NOT NULL,
    task_expiration INTEGER,
    created_at INTEGER NOT NULL,
    -- The task's serde (JSON) form: every task secret is in this one column,
    -- so that it alone needs encrypting at rest.
    task_document BLOB NOT NULL
);

CREATE TABLE client_reports (
    task_id BLOB NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    report_id BLOB NOT NULL,
    client_time INTEGER NOT NULL,
    public_share BLOB NOT NULL,
    leader_extensions BLOB NOT NULL,
    leader_input_share BLOB NOT NULL,
    helper_encrypted_input_share BLOB NOT NULL,
    aggregation_started INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, report_id)
);
CREATE INDEX client_reports_unaggregated
    ON client_reports (task_id, client_time, report_id)
    WHERE aggregation_started = 0;
CREATE INDEX client_reports_by_time ON client_reports (task_id, client_time);

CREATE TABLE aggregation_jobs (
    task_id BLOB NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    aggregation_job_id BLOB NOT NULL,
    aggregation_parameter BLOB NOT NULL,
    batch_id BLOB,
    client_interval_start INTEGER NOT NULL,
    client_interval_end INTEGER NOT NULL,
    state INTEGER NOT NULL,
    step INTEGER NOT NULL,
    last_request_hash BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    lease_token BLOB,
    lease_expiry INTEGER NOT NULL DEFAULT 0,
    lease_attempts INTEGER NOT NULL DEFAULT 0,
    retry_after INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, aggregation_job_id)
);
CREATE INDEX aggregation_jobs_acquirable
    ON aggregation_jobs (retry_after, created_at) WHERE state = 0;
CREATE INDEX aggregation_jobs_by_batch_id
    ON aggregation_jobs (task_id, batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX aggregation_jobs_by_interval
    ON aggregation_jobs (task_id, client_interval_start);

CREATE TABLE report_aggregations (
    task_id BLOB NOT NULL,
    aggregation_job_id BLOB NOT NULL,
    ord INTEGER NOT NULL,
    report_id BLOB NOT NULL,
    client_time INTEGER NOT NULL,
    state INTEGER NOT NULL,
    state_payload BLOB,
    prepare_error INTEGER,
    last_prep_resp BLOB,
    PRIMARY KEY (task_id, aggregation_job_id, ord),
    FOREIGN KEY (task_id, aggregation_job_id)
        REFERENCES aggregation_jobs (task_id, aggregation_job_id) ON DELETE CASCADE
);
CREATE INDEX report_aggregations_by_report ON report_aggregations (task_id, report_id);

-- One row per (task, batch, aggregation parameter, aggregation job): jobs
-- never contend for a row. Not tied to the job's row, so that deleting old
-- jobs keeps their aggregates.
CREATE TABLE batch_aggregations (
    task_id BLOB NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    batch_identifier BLOB NOT NULL,
    batch_interval_start INTEGER,
    batch_interval_end INTEGER,
    batch_id BLOB,
    aggregation_parameter BLOB NOT NULL,
    aggregation_job_id BLOB NOT NULL,
    aggregate_share BLOB NOT NULL,
    report_count INTEGER NOT NULL,
    checksum BLOB NOT NULL,
    client_interval_start INTEGER NOT NULL,
    client_interval_end INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, batch_identifier, aggregation_parameter, aggregation_job_id)
);
CREATE INDEX batch_aggregations_by_interval
    ON batch_aggregations (task_id, aggregation_parameter, batch_interval_start)
    WHERE batch_interval_start IS NOT NULL;
CREATE INDEX batch_aggregations_by_batch_id
    ON batch_aggregations (task_id, batch_id, aggregation_parameter)
    WHERE batch_id IS NOT NULL;
CREATE INDEX batch_aggregations_by_job ON batch_aggregations (task_id, aggregation_job_id);

CREATE TABLE collected_batches (
    task_id BLOB NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    batch_identifier BLOB NOT NULL,
    batch_interval_start INTEGER,
    batch_interval_end INTEGER,
    aggregation_parameter BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, batch_identifier, aggregation_parameter)
);
CREATE INDEX collected_batches_by_interval
    ON collected_batches (task_id, batch_interval_start)
    WHERE batch_interval_start IS NOT NULL;

CREATE TABLE collection_jobs (
    task_id BLOB NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    collection_job_id BLOB NOT NULL,
    query BLOB NOT NULL,
    aggregation_parameter BLOB NOT NULL,
    batch_identifier BLOB NOT NULL,
    batch_interval_start INTEGER,
    batch_interval_end INTEGER,
    request BLOB NOT NULL,
    state INTEGER NOT NULL,
    report_count INTEGER,
    result_interval_start INTEGER,
    result_interval_end INTEGER,
    leader_encrypted_agg_share BLOB,
    helper_encrypted_agg_share BLOB,
    problem_type TEXT,
    problem_detail TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    lease_token BLOB,
    lease_expiry INTEGER NOT NULL DEFAULT 0,
    lease_attempts INTEGER NOT NULL DEFAULT 0,
    retry_after INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, collection_job_id)
);
CREATE INDEX collection_jobs_acquirable
    ON collection_jobs (retry_after, created_at) WHERE state = 0;
CREATE INDEX collection_jobs_by_batch ON collection_jobs (task_id, batch_identifier);
CREATE INDEX collection_jobs_by_interval
    ON collection_jobs (task_id, batch_interval_start)
    WHERE batch_interval_start IS NOT NULL;

CREATE TABLE aggregate_share_jobs (
    task_id BLOB NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    batch_identifier BLOB NOT NULL,
    aggregation_parameter BLOB NOT NULL,
    report_count INTEGER NOT NULL,
    checksum BLOB NOT NULL,
    response BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, batch_identifier, aggregation_parameter)
);

CREATE TABLE helper_seen_reports (
    task_id BLOB NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    report_id BLOB NOT NULL,
    aggregation_parameter BLOB NOT NULL,
    client_time INTEGER NOT NULL,
    PRIMARY KEY (task_id, report_id, aggregation_parameter)
);
CREATE INDEX helper_seen_reports_by_time ON helper_seen_reports (task_id, client_time);

CREATE TABLE outstanding_batches (
    task_id BLOB NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    batch_id BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    filled INTEGER NOT NULL DEFAULT 0,
    collected INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, batch_id)
);
CREATE INDEX outstanding_batches_open
    ON outstanding_batches (task_id, created_at) WHERE collected = 0;
