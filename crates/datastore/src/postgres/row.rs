//! Conversions between model values and PostgreSQL columns: integers that
//! must fit in `BIGINT`, state codes in `SMALLINT`, identifiers and encoded
//! messages in `BYTEA`. Reading a value that does not convert back is a
//! [`DatastoreError::Corrupt`] error, never a panic.

use crate::models::BatchIdentifier;
use crate::DatastoreError;
use dyad_messages::draft09::{Duration, Interval, Time};
use dyad_messages::{Decode, Encode};
use sqlx::postgres::PgRow;
use sqlx::Row as _;

pub(super) type Result<T> = std::result::Result<T, DatastoreError>;

/// A `u64` as stored (`BIGINT` is signed 64-bit).
pub(super) fn int(value: u64, what: &'static str) -> Result<i64> {
    i64::try_from(value).map_err(|_| DatastoreError::invalid(what, "exceeds 2^63-1"))
}

/// A state or other code as stored (`SMALLINT`).
pub(super) fn code(value: i64, what: &'static str) -> Result<i16> {
    i16::try_from(value).map_err(|_| DatastoreError::invalid(what, "code out of range"))
}

/// A time as stored.
pub(super) fn time(value: Time, what: &'static str) -> Result<i64> {
    int(value.as_seconds_since_epoch(), what)
}

/// `now + duration` as stored.
pub(super) fn time_after(now: Time, duration: Duration, what: &'static str) -> Result<i64> {
    let later = now
        .checked_add(duration)
        .ok_or_else(|| DatastoreError::invalid(what, "time overflows"))?;
    time(later, what)
}

/// An interval as stored: `(start, end)`.
pub(super) fn interval(value: &Interval, what: &'static str) -> Result<(i64, i64)> {
    Ok((time(value.start(), what)?, time(value.end(), what)?))
}

/// The encoding of a message.
pub(super) fn encode<T: Encode>(value: &T, what: &'static str) -> Result<Vec<u8>> {
    value
        .get_encoded()
        .map_err(|e| DatastoreError::invalid(what, e))
}

/// A batch identifier's stored columns: encoded form, interval bounds,
/// batch ID.
pub(super) struct BatchColumns {
    pub(super) encoded: Vec<u8>,
    pub(super) start: Option<i64>,
    pub(super) end: Option<i64>,
    pub(super) batch_id: Option<Vec<u8>>,
}

pub(super) fn batch_columns(batch: &BatchIdentifier) -> Result<BatchColumns> {
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

/// Typed, checked reads of one row of one table.
pub(super) struct RowReader<'r> {
    row: &'r PgRow,
    table: &'static str,
}

impl<'r> RowReader<'r> {
    pub(super) fn new(row: &'r PgRow, table: &'static str) -> Self {
        Self { row, table }
    }

    pub(super) fn corrupt(&self, column: &'static str, reason: impl ToString) -> DatastoreError {
        DatastoreError::corrupt(self.table, column, reason)
    }

    fn get<T>(&self, column: &'static str) -> Result<T>
    where
        T: for<'a> sqlx::Decode<'a, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        self.row
            .try_get::<T, _>(column)
            .map_err(|e| self.corrupt(column, e))
    }

    pub(super) fn blob(&self, column: &'static str) -> Result<Vec<u8>> {
        self.get(column)
    }

    pub(super) fn opt_blob(&self, column: &'static str) -> Result<Option<Vec<u8>>> {
        self.get(column)
    }

    pub(super) fn i64(&self, column: &'static str) -> Result<i64> {
        self.get(column)
    }

    pub(super) fn i32(&self, column: &'static str) -> Result<i32> {
        self.get(column)
    }

    /// A `SMALLINT` code, widened.
    pub(super) fn code(&self, column: &'static str) -> Result<i64> {
        self.get::<i16>(column).map(i64::from)
    }

    /// A `SMALLINT` code that may be NULL, widened.
    pub(super) fn opt_code(&self, column: &'static str) -> Result<Option<i64>> {
        self.get::<Option<i16>>(column)
            .map(|code| code.map(i64::from))
    }

    pub(super) fn opt_text(&self, column: &'static str) -> Result<Option<String>> {
        self.get(column)
    }

    pub(super) fn bool(&self, column: &'static str) -> Result<bool> {
        self.get(column)
    }

    pub(super) fn u64(&self, column: &'static str) -> Result<u64> {
        let value = self.i64(column)?;
        u64::try_from(value).map_err(|_| self.corrupt(column, "negative"))
    }

    pub(super) fn time(&self, column: &'static str) -> Result<Time> {
        self.u64(column).map(Time::from_seconds_since_epoch)
    }

    /// An interval stored as `[start, end)`.
    pub(super) fn interval(&self, start: &'static str, end: &'static str) -> Result<Interval> {
        let start_time = self.time(start)?;
        let end_time = self.time(end)?;
        let duration = end_time
            .checked_difference(start_time)
            .ok_or_else(|| self.corrupt(end, "interval ends before it starts"))?;
        Interval::new(start_time, duration).map_err(|e| self.corrupt(end, e))
    }

    /// A fixed-length identifier.
    pub(super) fn id<I>(&self, column: &'static str) -> Result<I>
    where
        I: for<'b> TryFrom<&'b [u8]>,
        for<'b> <I as TryFrom<&'b [u8]>>::Error: std::fmt::Display,
    {
        let bytes = self.blob(column)?;
        I::try_from(bytes.as_slice()).map_err(|e| self.corrupt(column, e))
    }

    /// An identifier that may be NULL.
    pub(super) fn opt_id<I>(&self, column: &'static str) -> Result<Option<I>>
    where
        I: for<'b> TryFrom<&'b [u8]>,
        for<'b> <I as TryFrom<&'b [u8]>>::Error: std::fmt::Display,
    {
        match self.opt_blob(column)? {
            None => Ok(None),
            Some(bytes) => I::try_from(bytes.as_slice())
                .map(Some)
                .map_err(|e| self.corrupt(column, e)),
        }
    }

    /// A 32-byte array (hashes, checksums).
    pub(super) fn array32(&self, column: &'static str) -> Result<[u8; 32]> {
        let bytes = self.blob(column)?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| self.corrupt(column, format!("expected 32 bytes, got {}", bytes.len())))
    }

    /// A 32-byte array that may be NULL.
    pub(super) fn opt_array32(&self, column: &'static str) -> Result<Option<[u8; 32]>> {
        self.opt_blob(column)?
            .map(|bytes| {
                <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                    self.corrupt(column, format!("expected 32 bytes, got {}", bytes.len()))
                })
            })
            .transpose()
    }

    /// An encoded message.
    pub(super) fn decode<T: Decode>(&self, column: &'static str) -> Result<T> {
        let bytes = self.blob(column)?;
        T::get_decoded(&bytes).map_err(|e| self.corrupt(column, e))
    }

    /// An encoded message that may be NULL.
    pub(super) fn opt_decode<T: Decode>(&self, column: &'static str) -> Result<Option<T>> {
        match self.opt_blob(column)? {
            None => Ok(None),
            Some(bytes) => T::get_decoded(&bytes)
                .map(Some)
                .map_err(|e| self.corrupt(column, e)),
        }
    }

    /// A batch identifier stored encoded.
    pub(super) fn batch_identifier(&self, column: &'static str) -> Result<BatchIdentifier> {
        let bytes = self.blob(column)?;
        BatchIdentifier::from_bytes(&bytes).map_err(|e| self.corrupt(column, e))
    }
}

/// A `COUNT(*)` (or other non-negative `BIGINT` aggregate) as a `u64`.
pub(super) fn count(value: i64, table: &'static str) -> Result<u64> {
    u64::try_from(value).map_err(|_| DatastoreError::corrupt(table, "COUNT(*)", "negative"))
}

/// Keeps the first copy of every key, in order; `key` names an item.
pub(super) fn first_of_each<T, K: std::hash::Hash + Eq>(
    items: &[T],
    key: impl Fn(&T) -> K,
) -> Vec<&T> {
    let mut seen = std::collections::HashSet::new();
    items.iter().filter(|item| seen.insert(key(item))).collect()
}

/// Keeps the last copy of every key, in the order of the kept copies (what
/// running one write per item in order would leave).
pub(super) fn last_of_each<T, K: std::hash::Hash + Eq>(
    items: &[T],
    key: impl Fn(&T) -> K,
) -> Vec<&T> {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<&T> = items
        .iter()
        .rev()
        .filter(|item| seen.insert(key(item)))
        .collect();
    kept.reverse();
    kept
}
