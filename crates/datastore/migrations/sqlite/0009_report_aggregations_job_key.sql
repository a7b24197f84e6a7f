-- PostgreSQL's migration 0009 drops report_aggregations' foreign key to
-- aggregation_jobs, whose per-row check was costly there. SQLite keeps it:
-- its check is a lookup in its own page cache, and dropping it would mean
-- rebuilding the table. This migration keeps both backends' schema
-- versions in step.
SELECT 1;
