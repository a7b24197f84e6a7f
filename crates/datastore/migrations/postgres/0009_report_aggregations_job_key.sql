-- report_aggregations loses its foreign key to aggregation_jobs on
-- PostgreSQL, where a foreign key is checked by a query per inserted row
-- that also locks the job's row: with a job's hundreds of rows inserted
-- at once by both aggregators, those checks took more of the server than
-- the inserts. The key never held anything the code does not: a job's
-- report aggregations are inserted in the transaction that inserts the
-- job, updated only under the job's lease, and deleted before the job
-- (by the garbage collector and by task deletion alike). SQLite keeps
-- its key (a lookup in its own page cache, and dropping it would mean
-- rebuilding the table); its migration 0009 does nothing.
ALTER TABLE report_aggregations
    DROP CONSTRAINT report_aggregations_task_id_aggregation_job_id_fkey;
