-- How two hot tables are laid out on PostgreSQL's pages.
--
-- A report aggregation is inserted when its job is created and updated
-- once its preparation ends. None of the columns the update changes is
-- indexed, so PostgreSQL can update the row in place on its page (a
-- heap-only tuple) and skip both indexes, but only if the page has room
-- for the new version: leave half of each new page free for it.
ALTER TABLE report_aggregations SET (fillfactor = 50);

-- A report's shares are random-looking bytes (field elements, ciphertext)
-- that never compress. A share long enough to be moved out of the row
-- (past about 2 KiB) is moved without the compression attempt first.
ALTER TABLE client_reports ALTER COLUMN public_share SET STORAGE EXTERNAL;
ALTER TABLE client_reports ALTER COLUMN leader_input_share SET STORAGE EXTERNAL;
ALTER TABLE client_reports ALTER COLUMN helper_encrypted_input_share SET STORAGE EXTERNAL;
