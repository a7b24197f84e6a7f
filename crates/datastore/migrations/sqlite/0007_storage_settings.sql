-- PostgreSQL's migration 0007 sets how two tables are laid out on its
-- pages (free room for in-place updates, no compression of shares).
-- SQLite has no such settings; this migration keeps both backends' schema
-- versions in step.
SELECT 1;
