-- The in-progress aggregation jobs that list their reports on their row
-- (`report_list`), by task and client interval. The garbage collector
-- asks, before each chunk of old reports it deletes, for the earliest
-- client interval among them (a report from there on may still be read by
-- such a job); with only the index of all of a task's jobs by interval,
-- that read every finished job of the task still kept, and a busy task
-- keeps thousands. The collector's query names the same condition as
-- literals, so that both backends' planners match it to this index.
CREATE INDEX aggregation_jobs_listed_in_progress
    ON aggregation_jobs (task_id, client_interval_start)
    WHERE state = 0 AND report_list IS NOT NULL;
