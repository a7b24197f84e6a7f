-- A Helper's aggregation job that finishes in its initialization (every
-- VDAF of one round, Prio3 among them) keeps its answer, the encoded
-- `AggregationJobResp`, on its own row. Its reports get no rows in
-- report_aggregations: a replayed initialization is answered from this
-- column, and nothing else ever reads a finished job's reports on the
-- Helper. That was one row and two index entries written per report, for
-- nothing but that answer. NULL for every other job.
ALTER TABLE aggregation_jobs ADD COLUMN init_response BLOB;
