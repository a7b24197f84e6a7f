-- A report aggregation is inserted when its job is created and updated
-- once its preparation ends. None of the columns the update changes is
-- indexed, so PostgreSQL can update the row in place on its page (a
-- heap-only tuple) and skip both indexes, but only if the page has room
-- for the new version: leave half of each new page free for it.
ALTER TABLE report_aggregations SET (fillfactor = 50);
