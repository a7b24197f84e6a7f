//! What both backends share about columns: conversions of model values into
//! stored column values (integers that must fit in a signed 64-bit column,
//! times, intervals, encoded messages, batch identifiers, a collection
//! job's state), the typed reader of a stored row ([`RowReader`], over the
//! backend hooks of [`StoredRow`]) and the decoders that turn one row of
//! each table back into its model ([`rows`]). The backends keep only the
//! column types that differ (see [`StoredRow`]). Values that do
//! not convert are [`DatastoreError::InvalidValue`] errors; rows that do not
//! convert back are [`DatastoreError::Corrupt`] errors, never panics.

mod reader;
pub(crate) mod rows;

pub(crate) use reader::{plain_reads, RowReader, StoredRow};

use crate::models::{BatchIdentifier, CollectionJobState};
use crate::DatastoreError;
use dyad_messages::draft09::{Duration, Interval, Time};
use dyad_messages::Encode;

pub(crate) type Result<T> = std::result::Result<T, DatastoreError>;

/// A `u64` as stored (SQLite integers and PostgreSQL `BIGINT` are signed
/// 64-bit).
pub(crate) fn int(value: u64, what: &'static str) -> Result<i64> {
    i64::try_from(value).map_err(|_| DatastoreError::invalid(what, "exceeds 2^63-1"))
}

/// A state or other code as bound: a 16-bit integer (PostgreSQL
/// `SMALLINT`, which refuses a 64-bit bind; an `INTEGER` on SQLite).
pub(crate) fn code(value: i64, what: &'static str) -> Result<i16> {
    i16::try_from(value).map_err(|_| DatastoreError::invalid(what, "code out of range"))
}

/// The latest time a datastore can hold: times are stored in signed 64-bit
/// columns, so a DAP `Time` (a `u64`) at or above 2^63 has no stored form.
/// Callers refuse such times at the edge, before a transaction sees them.
pub const LATEST_STORABLE_TIME: Time = Time::from_seconds_since_epoch(i64::MAX as u64);

/// Whether `interval` can be stored: its end (`start + duration`) is at
/// most [`LATEST_STORABLE_TIME`].
pub fn is_storable_interval(interval: &Interval) -> bool {
    interval.end() <= LATEST_STORABLE_TIME
}

/// A time as stored.
pub(crate) fn time(value: Time, what: &'static str) -> Result<i64> {
    int(value.as_seconds_since_epoch(), what)
}

/// `now + duration` as stored.
pub(crate) fn time_after(now: Time, duration: Duration, what: &'static str) -> Result<i64> {
    let later = now
        .checked_add(duration)
        .ok_or_else(|| DatastoreError::invalid(what, "time overflows"))?;
    time(later, what)
}

/// An interval as stored: `(start, end)`.
pub(crate) fn interval(value: &Interval, what: &'static str) -> Result<(i64, i64)> {
    Ok((time(value.start(), what)?, time(value.end(), what)?))
}

/// The encoding of a message.
pub(crate) fn encode<T: Encode>(value: &T, what: &'static str) -> Result<Vec<u8>> {
    value
        .get_encoded()
        .map_err(|e| DatastoreError::invalid(what, e))
}

/// A `COUNT(*)` (or other non-negative aggregate) of `table` as a `u64`.
pub(crate) fn count(value: i64, table: &'static str) -> Result<u64> {
    u64::try_from(value).map_err(|_| DatastoreError::corrupt(table, "COUNT(*)", "negative"))
}

/// The `count` column of a row (a `COUNT(*) AS count`) of `table` as a
/// `u64`.
pub(crate) fn count_of(row: &impl StoredRow, table: &'static str) -> Result<u64> {
    let value = row
        .i64("count")
        .map_err(|e| DatastoreError::corrupt(table, "COUNT(*)", e))?;
    count(value, table)
}

/// A batch identifier's stored columns: encoded form, interval bounds,
/// batch ID.
pub(crate) struct BatchColumns {
    pub(crate) encoded: Vec<u8>,
    pub(crate) start: Option<i64>,
    pub(crate) end: Option<i64>,
    pub(crate) batch_id: Option<Vec<u8>>,
}

pub(crate) fn batch_columns(batch: &BatchIdentifier) -> Result<BatchColumns> {
    Ok(match batch {
        BatchIdentifier::TimeInterval(i) => {
            let (start, end) = interval(i, "batch interval")?;
            BatchColumns {
                encoded: batch.to_bytes(),
                start: Some(start),
                end: Some(end),
                batch_id: None,
            }
        }
        BatchIdentifier::FixedSize(id) => BatchColumns {
            encoded: batch.to_bytes(),
            start: None,
            end: None,
            batch_id: Some(id.as_bytes().to_vec()),
        },
    })
}

/// A collection job state's columns, in the order the table's statements
/// bind them (`tables::collection_jobs::bind_state`): state code, report
/// count, result interval, the two encrypted shares, problem type and detail.
#[derive(Default)]
pub(crate) struct CollectionJobStateColumns {
    pub(crate) code: i16,
    pub(crate) report_count: Option<i64>,
    pub(crate) start: Option<i64>,
    pub(crate) end: Option<i64>,
    pub(crate) leader_share: Option<Vec<u8>>,
    pub(crate) helper_share: Option<Vec<u8>>,
    pub(crate) problem_type: Option<&'static str>,
    pub(crate) problem_detail: Option<String>,
}

pub(crate) fn collection_job_state_columns(
    state: &CollectionJobState,
) -> Result<CollectionJobStateColumns> {
    let mut columns = CollectionJobStateColumns {
        code: code(state.code(), "state")?,
        ..Default::default()
    };
    match state {
        CollectionJobState::Finished {
            report_count,
            interval: result_interval,
            leader_encrypted_agg_share,
            helper_encrypted_agg_share,
        } => {
            columns.report_count = Some(int(*report_count, "report_count")?);
            let (start, end) = interval(result_interval, "collection interval")?;
            columns.start = Some(start);
            columns.end = Some(end);
            columns.leader_share = Some(encode(leader_encrypted_agg_share, "leader share")?);
            columns.helper_share = Some(encode(helper_encrypted_agg_share, "helper share")?);
        }
        CollectionJobState::Failed {
            problem_type,
            detail,
        } => {
            columns.problem_type = Some(problem_type.urn());
            columns.problem_detail = Some(detail.clone());
        }
        _ => {}
    }
    Ok(columns)
}
