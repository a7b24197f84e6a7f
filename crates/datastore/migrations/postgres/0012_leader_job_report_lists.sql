-- A Leader's aggregation job of a VDAF of one round (every Prio3 VDAF)
-- lists its reports on its own row, in job order: each report's
-- ReportMetadata (ID, then time), 24 bytes, one after the other. Such a
-- job writes no report aggregations: they were one row and two index
-- entries per report, written in state Start, read back by the first step
-- and rewritten with a final state that nothing reads again (a report's
-- outcome is in its batch aggregation and the task's counters). NULL for
-- every other job, and on the Helper.
ALTER TABLE aggregation_jobs ADD COLUMN report_list BYTEA;
-- Random bytes: a long list is moved out of the row without a compression
-- attempt (as in 0007).
ALTER TABLE aggregation_jobs ALTER COLUMN report_list SET STORAGE EXTERNAL;
