-- dyad datastore, PostgreSQL schema, version 1.
--
-- The same tables as the SQLite schema (migrations/sqlite/0001_initial.sql),
-- with PostgreSQL's types. Conventions: identifiers, encoded messages and
-- opaque VDAF values are BYTEA; times are BIGINT seconds since the UNIX epoch
-- (set from the aggregator's clock, never the database's); intervals are
-- stored as [start, end) so range queries need no arithmetic; state, role and
-- query type codes are SMALLINT; a batch identifier is stored encoded (as a
-- DAP BatchSelector) in `batch_identifier`, with its interval bounds
-- (time-interval batches) or batch ID (fixed-size batches) beside it for
-- queries. Everything of a task goes when the task goes.
--
-- The leased tables' acquisition indexes leave the lease columns out, so
-- taking or renewing a lease can be a HOT update (no index change): acquirers
-- scanning the index in order do not conflict on index pages with each
-- other's leases.

CREATE TABLE tasks (
    task_id BYTEA PRIMARY KEY,
    role SMALLINT NOT NULL,
    query_type SMALLINT NOT NULL,
    task_expiration BIGINT,
    created_at BIGINT NOT NULL,
    -- The task's serde (JSON) form, sealed under the datastore keys: every
    -- task secret is in this one column, so that it alone needs encrypting.
    task_document BYTEA NOT NULL
);

CREATE TABLE client_reports (
    task_id BYTEA NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    report_id BYTEA NOT NULL,
    client_time BIGINT NOT NULL,
    public_share BYTEA NOT NULL,
    leader_extensions BYTEA NOT NULL,
    leader_input_share BYTEA NOT NULL,
    helper_encrypted_input_share BYTEA NOT NULL,
    aggregation_started BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, report_id)
);
CREATE INDEX client_reports_unaggregated
    ON client_reports (task_id, client_time, report_id)
    WHERE NOT aggregation_started;
CREATE INDEX client_reports_by_time ON client_reports (task_id, client_time);

CREATE TABLE aggregation_jobs (
    task_id BYTEA NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    aggregation_job_id BYTEA NOT NULL,
    aggregation_parameter BYTEA NOT NULL,
    batch_id BYTEA,
    client_interval_start BIGINT NOT NULL,
    client_interval_end BIGINT NOT NULL,
    state SMALLINT NOT NULL,
    step INTEGER NOT NULL,
    last_request_hash BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    lease_token BYTEA,
    lease_expiry BIGINT NOT NULL DEFAULT 0,
    lease_attempts BIGINT NOT NULL DEFAULT 0,
    retry_after BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, aggregation_job_id)
);
CREATE INDEX aggregation_jobs_acquirable
    ON aggregation_jobs (retry_after, created_at, aggregation_job_id) WHERE state = 0;
CREATE INDEX aggregation_jobs_by_batch_id
    ON aggregation_jobs (task_id, batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX aggregation_jobs_by_interval
    ON aggregation_jobs (task_id, client_interval_start);

CREATE TABLE report_aggregations (
    task_id BYTEA NOT NULL,
    aggregation_job_id BYTEA NOT NULL,
    ord BIGINT NOT NULL,
    report_id BYTEA NOT NULL,
    client_time BIGINT NOT NULL,
    state SMALLINT NOT NULL,
    state_payload BYTEA,
    prepare_error SMALLINT,
    last_prep_resp BYTEA,
    PRIMARY KEY (task_id, aggregation_job_id, ord),
    FOREIGN KEY (task_id, aggregation_job_id)
        REFERENCES aggregation_jobs (task_id, aggregation_job_id) ON DELETE CASCADE
);
CREATE INDEX report_aggregations_by_report ON report_aggregations (task_id, report_id);

-- One row per (task, batch, aggregation parameter, aggregation job): jobs
-- never contend for a row. Not tied to the job's row, so that deleting old
-- jobs keeps their aggregates.
CREATE TABLE batch_aggregations (
    task_id BYTEA NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    batch_identifier BYTEA NOT NULL,
    batch_interval_start BIGINT,
    batch_interval_end BIGINT,
    batch_id BYTEA,
    aggregation_parameter BYTEA NOT NULL,
    aggregation_job_id BYTEA NOT NULL,
    aggregate_share BYTEA NOT NULL,
    report_count BIGINT NOT NULL,
    checksum BYTEA NOT NULL,
    client_interval_start BIGINT NOT NULL,
    client_interval_end BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
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
    task_id BYTEA NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    batch_identifier BYTEA NOT NULL,
    batch_interval_start BIGINT,
    batch_interval_end BIGINT,
    aggregation_parameter BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, batch_identifier, aggregation_parameter)
);
CREATE INDEX collected_batches_by_interval
    ON collected_batches (task_id, batch_interval_start)
    WHERE batch_interval_start IS NOT NULL;

CREATE TABLE collection_jobs (
    task_id BYTEA NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    collection_job_id BYTEA NOT NULL,
    query BYTEA NOT NULL,
    aggregation_parameter BYTEA NOT NULL,
    batch_identifier BYTEA NOT NULL,
    batch_interval_start BIGINT,
    batch_interval_end BIGINT,
    request BYTEA NOT NULL,
    state SMALLINT NOT NULL,
    report_count BIGINT,
    result_interval_start BIGINT,
    result_interval_end BIGINT,
    leader_encrypted_agg_share BYTEA,
    helper_encrypted_agg_share BYTEA,
    problem_type TEXT,
    problem_detail TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    lease_token BYTEA,
    lease_expiry BIGINT NOT NULL DEFAULT 0,
    lease_attempts BIGINT NOT NULL DEFAULT 0,
    retry_after BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, collection_job_id)
);
CREATE INDEX collection_jobs_acquirable
    ON collection_jobs (retry_after, created_at, collection_job_id) WHERE state = 0;
CREATE INDEX collection_jobs_by_batch ON collection_jobs (task_id, batch_identifier);
CREATE INDEX collection_jobs_by_interval
    ON collection_jobs (task_id, batch_interval_start)
    WHERE batch_interval_start IS NOT NULL;

CREATE TABLE aggregate_share_jobs (
    task_id BYTEA NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    batch_identifier BYTEA NOT NULL,
    aggregation_parameter BYTEA NOT NULL,
    report_count BIGINT NOT NULL,
    checksum BYTEA NOT NULL,
    response BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, batch_identifier, aggregation_parameter)
);

CREATE TABLE helper_seen_reports (
    task_id BYTEA NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    report_id BYTEA NOT NULL,
    aggregation_parameter BYTEA NOT NULL,
    client_time BIGINT NOT NULL,
    PRIMARY KEY (task_id, report_id, aggregation_parameter)
);
CREATE INDEX helper_seen_reports_by_time ON helper_seen_reports (task_id, client_time);

CREATE TABLE outstanding_batches (
    task_id BYTEA NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    batch_id BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    size BIGINT NOT NULL DEFAULT 0,
    filled BOOLEAN NOT NULL DEFAULT FALSE,
    collected BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (task_id, batch_id)
);
CREATE INDEX outstanding_batches_open
    ON outstanding_batches (task_id, created_at) WHERE NOT collected;
