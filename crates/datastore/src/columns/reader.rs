//! Typed, checked reads of one stored row ([`RowReader`]), over the few
//! reads whose column types differ between the backends ([`StoredRow`]).

type Result<T> = std::result::Result<T, DatastoreError>;
use crate::models::BatchIdentifier;
use crate::DatastoreError;
use dyad_messages::draft09::{Interval, Time};
use dyad_messages::Decode;

/// The driver-level reads of one row of a backend. Every backend stores
/// identifiers and messages as byte strings, integers as signed 64-bit and
/// text as text; what differs is below: codes (SQLite `INTEGER`,
/// PostgreSQL `SMALLINT`), small integers (SQLite `INTEGER`, PostgreSQL
/// `INTEGER`, 32-bit) and booleans (SQLite `INTEGER` 0 or 1, PostgreSQL
/// `BOOLEAN`). The plain reads come from [`plain_reads!`].
pub(crate) trait StoredRow {
    fn blob(&self, column: &str) -> sqlx::Result<Vec<u8>>;
    fn opt_blob(&self, column: &str) -> sqlx::Result<Option<Vec<u8>>>;
    fn i64(&self, column: &str) -> sqlx::Result<i64>;
    fn opt_text(&self, column: &str) -> sqlx::Result<Option<String>>;
    /// A state or other code, widened.
    fn code(&self, column: &str) -> sqlx::Result<i64>;
    /// A code that may be NULL, widened.
    fn opt_code(&self, column: &str) -> sqlx::Result<Option<i64>>;
    /// A 32-bit integer column, widened.
    fn small_int(&self, column: &str) -> sqlx::Result<i64>;
    /// A boolean; the error is why the stored value is not one.
    fn bool(&self, column: &str) -> std::result::Result<bool, String>;
}

/// The [`StoredRow`] reads that are the same for every backend (the row
/// type must implement [`sqlx::Row`]).
macro_rules! plain_reads {
    () => {
        fn blob(&self, column: &str) -> sqlx::Result<Vec<u8>> {
            sqlx::Row::try_get(self, column)
        }

        fn opt_blob(&self, column: &str) -> sqlx::Result<Option<Vec<u8>>> {
            sqlx::Row::try_get(self, column)
        }

        fn i64(&self, column: &str) -> sqlx::Result<i64> {
            sqlx::Row::try_get(self, column)
        }

        fn opt_text(&self, column: &str) -> sqlx::Result<Option<String>> {
            sqlx::Row::try_get(self, column)
        }
    };
}
pub(crate) use plain_reads;

/// Typed, checked reads of one row of one table: a value that does not
/// convert is a [`DatastoreError::Corrupt`] error naming table and column.
pub(crate) struct RowReader<'r, R> {
    row: &'r R,
    table: &'static str,
}

impl<'r, R: StoredRow> RowReader<'r, R> {
    pub(crate) fn new(row: &'r R, table: &'static str) -> Self {
        Self { row, table }
    }

    pub(crate) fn corrupt(&self, column: &'static str, reason: impl ToString) -> DatastoreError {
        DatastoreError::corrupt(self.table, column, reason)
    }

    pub(crate) fn blob(&self, column: &'static str) -> Result<Vec<u8>> {
        self.row.blob(column).map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn opt_blob(&self, column: &'static str) -> Result<Option<Vec<u8>>> {
        self.row
            .opt_blob(column)
            .map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn i64(&self, column: &'static str) -> Result<i64> {
        self.row.i64(column).map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn opt_text(&self, column: &'static str) -> Result<Option<String>> {
        self.row
            .opt_text(column)
            .map_err(|e| self.corrupt(column, e))
    }

    /// A state or other code, widened.
    pub(crate) fn code(&self, column: &'static str) -> Result<i64> {
        self.row.code(column).map_err(|e| self.corrupt(column, e))
    }

    /// A code that may be NULL, widened.
    pub(crate) fn opt_code(&self, column: &'static str) -> Result<Option<i64>> {
        self.row
            .opt_code(column)
            .map_err(|e| self.corrupt(column, e))
    }

    /// A 32-bit integer column, widened.
    pub(crate) fn small_int(&self, column: &'static str) -> Result<i64> {
        self.row
            .small_int(column)
            .map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn bool(&self, column: &'static str) -> Result<bool> {
        self.row.bool(column).map_err(|e| self.corrupt(column, e))
    }

    pub(crate) fn u64(&self, column: &'static str) -> Result<u64> {
        let value = self.i64(column)?;
        u64::try_from(value).map_err(|_| self.corrupt(column, "negative"))
    }

    pub(crate) fn time(&self, column: &'static str) -> Result<Time> {
        self.u64(column).map(Time::from_seconds_since_epoch)
    }

    /// An interval stored as `[start, end)`.
    pub(crate) fn interval(&self, start: &'static str, end: &'static str) -> Result<Interval> {
        let start_time = self.time(start)?;
        let end_time = self.time(end)?;
        let duration = end_time
            .checked_difference(start_time)
            .ok_or_else(|| self.corrupt(end, "interval ends before it starts"))?;
        Interval::new(start_time, duration).map_err(|e| self.corrupt(end, e))
    }

    /// A fixed-length identifier.
    pub(crate) fn id<I>(&self, column: &'static str) -> Result<I>
    where
        I: for<'b> TryFrom<&'b [u8]>,
        for<'b> <I as TryFrom<&'b [u8]>>::Error: std::fmt::Display,
    {
        let bytes = self.blob(column)?;
        I::try_from(bytes.as_slice()).map_err(|e| self.corrupt(column, e))
    }

    /// An identifier that may be NULL.
    pub(crate) fn opt_id<I>(&self, column: &'static str) -> Result<Option<I>>
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
    pub(crate) fn array32(&self, column: &'static str) -> Result<[u8; 32]> {
        let bytes = self.blob(column)?;
        self.to_array32(column, &bytes)
    }

    /// A 32-byte array that may be NULL.
    pub(crate) fn opt_array32(&self, column: &'static str) -> Result<Option<[u8; 32]>> {
        self.opt_blob(column)?
            .map(|bytes| self.to_array32(column, &bytes))
            .transpose()
    }

    fn to_array32(&self, column: &'static str, bytes: &[u8]) -> Result<[u8; 32]> {
        <[u8; 32]>::try_from(bytes)
            .map_err(|_| self.corrupt(column, format!("expected 32 bytes, got {}", bytes.len())))
    }

    /// An encoded message.
    pub(crate) fn decode<T: Decode>(&self, column: &'static str) -> Result<T> {
        let bytes = self.blob(column)?;
        T::get_decoded(&bytes).map_err(|e| self.corrupt(column, e))
    }

    /// An encoded message that may be NULL.
    pub(crate) fn opt_decode<T: Decode>(&self, column: &'static str) -> Result<Option<T>> {
        match self.opt_blob(column)? {
            None => Ok(None),
            Some(bytes) => T::get_decoded(&bytes)
                .map(Some)
                .map_err(|e| self.corrupt(column, e)),
        }
    }

    /// A batch identifier stored encoded.
    pub(crate) fn batch_identifier(&self, column: &'static str) -> Result<BatchIdentifier> {
        let bytes = self.blob(column)?;
        BatchIdentifier::from_bytes(&bytes).map_err(|e| self.corrupt(column, e))
    }
}
