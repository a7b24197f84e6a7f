-- PostgreSQL's migration 0013 drops the foreign keys of client_reports and
-- helper_seen_reports to tasks, whose per-row check was costly there.
-- SQLite keeps them: its check is a lookup in its own page cache, and
-- dropping one would mean rebuilding the table. This migration keeps both
-- backends' schema versions in step.
SELECT 1;
