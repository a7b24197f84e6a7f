-- The Leader's unaggregated reports move from a flag on client_reports
-- (with a partial index) to a table of their own: a report's key is
-- inserted with it and deleted when a job takes it. Setting the flag was
-- an update that could never stay on its page (it changed an indexed
-- condition), so each report's row was copied, with new entries in every
-- index; deleting a small row of this table is far cheaper.
-- No foreign key: a key is inserted in the transaction that inserts its
-- report, whose own key on tasks already holds the task, or put back from
-- a stored report; deleting a task deletes its keys first
-- (`delete_task`). A second check per report cost as much as the insert.
CREATE TABLE unaggregated_reports (
    task_id BYTEA NOT NULL,
    client_time BIGINT NOT NULL,
    report_id BYTEA NOT NULL,
    PRIMARY KEY (task_id, client_time, report_id)
);
INSERT INTO unaggregated_reports (task_id, client_time, report_id)
    SELECT task_id, client_time, report_id FROM client_reports WHERE NOT aggregation_started;
DROP INDEX client_reports_unaggregated;
ALTER TABLE client_reports DROP COLUMN aggregation_started;
