-- PostgreSQL's migration 0010 keeps a report's row whole on its heap page
-- (`toast_tuple_target`). SQLite has no such setting (a row longer than a
-- page overflows to pages of its own either way); this migration keeps
-- both backends' schema versions in step.
SELECT 1;
