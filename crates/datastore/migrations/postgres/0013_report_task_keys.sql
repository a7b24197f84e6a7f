-- client_reports and helper_seen_reports lose their foreign key to tasks
-- on PostgreSQL, where a foreign key is checked by a query per inserted
-- row (a trigger running `SELECT ... FOR KEY SHARE` on the task's row):
-- on the hot insert of each aggregator, one row per report, that check
-- cost about as much as the insert itself (7 of 16 us a row).
--
-- What the key held is now held once per call instead: the inserts
-- first read the task's row `FOR KEY SHARE` (`tables::tasks::hold_task`)
-- and fail if it is gone, so a report cannot be stored for a task that is
-- not, and deleting a task (which deletes these rows first, then the task
-- row) waits for the inserts in flight; at SERIALIZABLE, an insert that
-- committed between the two is a serialization failure for one of them.
-- SQLite keeps its keys (a lookup in its own page cache, and dropping one
-- would mean rebuilding the table); its migration 0013 does nothing.
ALTER TABLE client_reports DROP CONSTRAINT client_reports_task_id_fkey;
ALTER TABLE helper_seen_reports DROP CONSTRAINT helper_seen_reports_task_id_fkey;
