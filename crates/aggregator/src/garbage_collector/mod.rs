//! The garbage collector (process role `garbage-collector`, YAML section
//! `garbage_collector`): deletes what a task no longer needs once its
//! reports are older than the task's `report_expiry_age`, and everything of
//! a task once it is past its `task_expiration` plus a grace period. It
//! runs on the Leader and on the Helper alike, each on its own datastore.
//!
//! Every `interval_secs` it visits each task. For a task past
//! `task_expiration + task_expiration_grace_secs` it deletes the task's
//! rows, then the task. For a task with a `report_expiry_age`, with
//! `cutoff = now - report_expiry_age - clock_skew_margin_secs`, it deletes:
//!
//! | rows | deleted when |
//! |---|---|
//! | batch aggregations, time interval | the row's `time_precision` bucket ends at or before `cutoff`, and no live in-progress aggregation job's report interval overlaps the bucket |
//! | batch aggregations, fixed size | no row of the batch holds a report at or after `cutoff`, and no aggregation job of the batch is live and in progress |
//! | report aggregations | their job is over (finished, abandoned or deleted; on the Helper, also in progress but abandoned by the Leader), its reports are all before `cutoff`, it was last changed before `cutoff`, and its batch aggregations are gone |
//! | aggregation jobs | as their report aggregations, once those are gone too |
//! | collected batches | a time interval ending at or before `cutoff`; a batch ID recorded before `cutoff` with no batch aggregation left |
//! | aggregate share jobs (Helper) | answered before `cutoff`, and their collected-batch record is gone |
//! | collection jobs (Leader) | not in state `Start`, last changed before `cutoff`, and (time interval) their interval ends at or before `cutoff` |
//! | outstanding batches (Leader, fixed size) | created before `cutoff`, with no aggregation job and no batch aggregation left |
//! | client reports (Leader) | their time is before `cutoff`, and no in-progress aggregation job holds them |
//! | anti-replay rows (Helper) | their report's time is before `cutoff` |
//!
//! Why this never deletes what is still needed:
//!
//! - DAP-09 lets an aggregator drop reports older than its expiry age: the
//!   Leader refuses such an upload (`reportRejected`, section 4.4.2, in
//!   `dyad_protocol::upload::check_report_time`) and the Helper refuses such
//!   a report in an aggregation job with `report_dropped` before it looks
//!   the report up for replay (section 4.5.1.4, in
//!   `dyad_protocol::helper_init::time_rejection`). So a deleted report or
//!   anti-replay row can never come back in: a replay of it is refused by
//!   its time. Both compare with their own clock, so `cutoff` is moved back
//!   by `clock_skew_margin_secs`: a replica whose clock is behind the
//!   collector's by less than that still refuses the report by its time
//!   before its row can be gone.
//! - A batch's aggregate is deleted only when every report it may hold is
//!   older than `cutoff`: a time-interval bucket ending by `cutoff` can
//!   receive no new report, and a fixed-size batch goes only as a whole,
//!   when none of its rows holds a recent report. Nothing of a batch goes
//!   while an in-progress aggregation job may still add to it, so a
//!   collection never sees half a job. A batch not yet collected whose
//!   reports are within the age keeps all its rows.
//! - An aggregation job outlives its contributions to batches (its rows go
//!   first) and is not deleted while in progress: the Leader's driver still
//!   reads its reports and the Helper still answers its repeated requests.
//!   The Leader's reports of in-progress jobs stay for the same reason. On
//!   the Helper only the Leader moves a job on, so a Helper's job still in
//!   progress but last changed before `cutoff` (a job of a multi-round VDAF
//!   that the Leader stopped continuing) is abandoned: it and its report
//!   aggregations go, and it no longer holds back its batches' rows. (Kept,
//!   it held back every batch its reports overlap, for ever.) The Leader
//!   gives a job up after its `max_attempts` with backoff, far sooner than
//!   any sensible `report_expiry_age`; a job's reports older than `cutoff`
//!   are refused by their time anyway.
//! - A collection job's result stays available for at least the expiry age
//!   after it was computed; a pending one is never deleted.
//!
//! Both aggregators apply the same rules to the same times, so they drop
//! the same buckets; a collection asked for after its reports expired may
//! fail (`batchMismatch` while one side has collected garbage and the other
//! not yet, or too few reports): collect batches before their reports
//! expire.
//!
//! Each delete takes at most `max_rows_per_transaction` rows in one short
//! transaction and is repeated until it finds fewer; deletes are
//! idempotent and skip rows another transaction holds, so any number of
//! replicas may run the role at once, with no lease. After a run that
//! deleted rows, the SQLite file's free pages go back to the file system
//! (`PRAGMA incremental_vacuum`, up to `vacuum_pages_per_transaction` per
//! transaction); PostgreSQL's autovacuum reuses the space by itself.
//!
//! Each run logs one line per task that lost rows (info, with the count per
//! table) and a debug line otherwise, and counts what it deleted in
//! `dyad_gc_rows_deleted_total{table}`.
//!
//! ## Where is
//!
//! - the section and its defaults → [`GarbageCollectorConfig`]
//! - the loop, one run, one task → [`run_garbage_collector`],
//!   [`collector::run_once`], [`collector::collect_task`]
//! - what a task's expiry means for each table → the datastore operations
//!   named in [`collector::EXPIRED_DELETES`]

mod collector;
mod config;

pub use collector::{run_garbage_collector, run_once, GcRun};
pub use config::GarbageCollectorConfig;
