-- PostgreSQL's migration 0007 leaves room on report_aggregations' pages
-- for in-place updates. SQLite has no such setting (it rewrites a row
-- within its page when it fits); this migration keeps both backends'
-- schema versions in step.
SELECT 1;
