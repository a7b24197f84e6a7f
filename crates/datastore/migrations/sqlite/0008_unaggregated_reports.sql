-- The Leader's unaggregated reports move from a flag on client_reports
-- (with a partial index) to a table of their own: a report's key is
-- inserted with it and deleted when a job takes it. Marking a report taken
-- rewrote its whole row (shares included) on a page of its own; deleting
-- a key from this table touches the few pages a job's keys share.
-- No foreign key: a key is inserted in the transaction that inserts its
-- report, whose own key on tasks already holds the task, or put back from
-- a stored report; deleting a task deletes its keys first
-- (`delete_task`). A second check per report cost as much as the insert.
CREATE TABLE unaggregated_reports (
    task_id BLOB NOT NULL,
    client_time INTEGER NOT NULL,
    report_id BLOB NOT NULL,
    PRIMARY KEY (task_id, client_time, report_id)
) WITHOUT ROWID;
INSERT INTO unaggregated_reports (task_id, client_time, report_id)
    SELECT task_id, client_time, report_id FROM client_reports WHERE aggregation_started = 0;
DROP INDEX client_reports_unaggregated;
ALTER TABLE client_reports DROP COLUMN aggregation_started;
