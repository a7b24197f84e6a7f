-- Poplar1 (any VDAF whose aggregation parameter the Collector chooses):
-- the Leader aggregates a batch's reports once per parameter, so a task's
-- aggregation jobs grow by one set per level of a heavy-hitters walk. The
-- questions asked per collection name one parameter ("which reports of
-- the batch has no job with this parameter taken yet", "are jobs with
-- this parameter still running"): this index answers them from that
-- parameter's jobs alone, instead of every job of the task's interval,
-- so a level costs the same at the end of a walk as at its start.
CREATE INDEX aggregation_jobs_by_parameter
    ON aggregation_jobs (task_id, aggregation_parameter, client_interval_start);
