-- Keep a report's row whole on its heap page.
--
-- PostgreSQL moves a row's long values into the table's TOAST table once
-- the row passes `toast_tuple_target` (about 2 KiB by default). A Leader's
-- input share of a long VDAF (Prio3Histogram of length 100: about 3 KiB)
-- was moved there on every upload: a second heap insert and a TOAST index
-- insert per report, and a second lookup to read it back for its job.
-- Rows up to a whole page (8160 bytes) now stay inline; longer ones are
-- still moved out, without the compression attempt (migration 0007).
ALTER TABLE client_reports SET (toast_tuple_target = 8160);
