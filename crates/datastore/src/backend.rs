//! What the shared table code ([`crate::tables`]) needs of a backend: one
//! trait, [`Backend`], implemented by sqlx's `Sqlite` and `Postgres`
//! databases (in `sqlite/row.rs` and `postgres/row.rs`), and the
//! statement type the table code runs through it ([`Sql`]).
//!
//! Why this shape: a table's SQL is written once, as text both backends
//! parse (SQLite reads PostgreSQL's `$1` placeholders, and since 3.35 has
//! `RETURNING`, `ON CONFLICT ... DO UPDATE`, `NULLS FIRST`, `TRUE`/`FALSE`),
//! and its functions are generic over the backend: `async fn put<DB:
//! Backend>(conn: &mut DB::Connection, ...)`. sqlx's own generic API needs a
//! list of `Encode`/`Type`/`Executor`/`IntoArguments` bounds at every such
//! function (Rust does not carry a trait's where-clauses to its users), so
//! the trait instead offers those few operations as methods, each
//! implemented once per backend where the bounds are concrete, and
//! [`Bind`] names the values every backend binds the same way.
//!
//! The real differences between the backends are the trait's other items,
//! each named for why it differs:
//! - how a transaction begins and whether a lost COMMIT is in doubt
//!   ([`Backend::BEGIN`]);
//! - how `false` is spelled for the partial indexes ([`Backend::FALSE`]);
//! - how rows are claimed without two transactions taking the same one
//!   ([`Backend::SKIP_ROWS_LOCKED_FOR_UPDATE`],
//!   [`Backend::SKIP_ROWS_LOCKED_FOR_DELETE`], [`Backend::LOCK_LEASED_ROW`])
//!   and how a job is leased ([`Backend::acquire_leases`]);
//! - how many rows one statement writes and how they are passed
//!   ([`Backend::statement_chunks`], [`Backend::push_rows`] over
//!   [`Rows`], [`Backend::push_task_reports`]).

use crate::columns::{Result, StoredRow};
use crate::lease::{LeaseToken, LeasedTable};
use dyad_messages::draft09::{Duration, Time};
use futures::future::BoxFuture;
use sqlx::{Database, Encode, Postgres, QueryBuilder, Sqlite, Type};

/// A sqlx query over `DB`: SQL borrowed for `'q`, arguments for `'a`.
pub(crate) type Query<'q, 'a, DB> = sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'a>>;

/// A value every backend binds the same way (byte strings, 64-bit integers,
/// text, booleans and their `Option`s).
pub(crate) trait Bind<'a>:
    'a + Send + Encode<'a, Sqlite> + Type<Sqlite> + Encode<'a, Postgres> + Type<Postgres>
{
}

impl<'a, T> Bind<'a> for T where
    T: 'a + Send + Encode<'a, Sqlite> + Type<Sqlite> + Encode<'a, Postgres> + Type<Postgres>
{
}

/// A database the shared table code runs on.
pub(crate) trait Backend:
    Database<Row: StoredRow> + sqlx::database::HasStatementCache
{
    /// How a transaction begins (its isolation, and on SQLite whether it
    /// takes the write lock at once) and whether a COMMIT cut by a lost
    /// connection may have happened.
    const BEGIN: Begin;

    /// How `false` is written in a condition (`collected = {FALSE}`) so that
    /// the backend's partial indexes serve it: SQLite's are declared
    /// `WHERE ... = 0` and SQLite matches a query's condition to them only
    /// as written (`NOT x` or `x = FALSE` would scan the table); PostgreSQL
    /// refuses `boolean = integer` and reads `x = FALSE` as the `NOT x` its
    /// indexes are declared with.
    const FALSE: &'static str;

    /// What follows a `SELECT` of rows to update (jobs, reports) so that two
    /// transactions never take the same row nor wait for each other: rows
    /// another holds are skipped. Empty on SQLite, whose read-write
    /// transactions hold the database's one write lock from `BEGIN
    /// IMMEDIATE` on.
    const SKIP_ROWS_LOCKED_FOR_UPDATE: &'static str;

    /// The same for a `SELECT` of rows to delete.
    const SKIP_ROWS_LOCKED_FOR_DELETE: &'static str;

    /// Whether the database file gives the pages of deleted rows back with
    /// `PRAGMA incremental_vacuum` (SQLite, whose files are created with
    /// `auto_vacuum = INCREMENTAL`); PostgreSQL's autovacuum makes the
    /// space of deleted rows reusable on its own.
    const INCREMENTAL_VACUUM: bool;

    /// The statements `items` are written (or looked up) in, in order,
    /// for items of `columns` values each, given the table's own bound
    /// `wanted`. PostgreSQL binds one array per column, so its chunks are
    /// just `wanted` long. SQLite binds each value as a parameter of its
    /// own, so a statement's text depends on its row count and it bounds
    /// the parameters of one statement: its chunks have power-of-two
    /// lengths (a full chunk, then the remainder's binary digits), so that
    /// a handful of texts per table is all a connection ever prepares (see
    /// [`Self::KEEP_BUILT_STATEMENTS`]).
    fn statement_chunks<T>(items: &[T], columns: usize, wanted: usize) -> Vec<&[T]>;

    /// Whether a statement a query builder built ([`Sql::built`]) is kept
    /// prepared on its connection for reuse. Both are: PostgreSQL's built
    /// text does not depend on the row count ([`Self::push_rows`],
    /// [`Self::push_task_reports`]), and SQLite's depends on it only
    /// through [`Self::statement_chunks`]' few power-of-two lengths. Each
    /// SQLite row count was once prepared for its one run: parsing a
    /// statement of a hundred rows took about a tenth of the writer's
    /// time, and while the writer parses, every other writer waits.
    const KEEP_BUILT_STATEMENTS: bool;

    /// How a batch insert where a row already there is left as it is
    /// learns which rows it inserted ([`crate::tables::insert_new`]):
    /// `true`, the insert returns their IDs (`RETURNING`); `false`, a
    /// lookup first finds those already there and only the others are
    /// inserted. PostgreSQL returns, in the statement's one answer: a
    /// Leader's 64-report batch took 16-30 % less time than with the
    /// lookup (criterion, `put_client_reports`). SQLite looks up: each
    /// returned row is a message of its own from the connection's thread,
    /// and the same batch took 13-19 % more time returning.
    const INSERT_RETURNS_IDS: bool;

    /// Pushes `rows` as the source of an `INSERT INTO t (...) `: SQLite
    /// `VALUES (...), (...)`, one parameter per value; PostgreSQL `SELECT *
    /// FROM UNNEST($1::BYTEA[], ...)`, one array per column, so a
    /// statement's text does not depend on its row count.
    fn push_rows<'a>(builder: &mut QueryBuilder<'a, Self>, rows: Rows);

    /// Pushes a condition, for the `WHERE` of a statement on `table`
    /// (named `alias` in it), that holds for the rows of task `task_id`
    /// whose `report_id` is one of `report_ids`, in a form whose plan looks
    /// each ID up in the primary key whatever the table's statistics say:
    /// SQLite `task_id = ? AND report_id IN (?, ...)`; PostgreSQL a
    /// `ctid` list collected by one primary-key probe per ID (`LATERAL`,
    /// kept from being flattened by `OFFSET 0`), over one array. On
    /// PostgreSQL the plain `report_id = ANY($n)` was planned while a new
    /// table was nearly empty and kept as the prepared statement's generic
    /// plan: a scan of every row of the task, each compared with every ID
    /// in the array, which took most of a second per statement at 40,000
    /// reports (and, in a serializable transaction, a read of the whole
    /// table that conflicted with every insert).
    fn push_task_reports<'a>(
        builder: &mut QueryBuilder<'a, Self>,
        table: &str,
        alias: &str,
        task_id: Vec<u8>,
        report_ids: Vec<Vec<u8>>,
    );

    /// What follows the `SELECT` that checks a lease token before a write
    /// under the lease, so that an acquirer skips the job meanwhile (a row
    /// lock on PostgreSQL; nothing on SQLite, whose writers take turns).
    const LOCK_LEASED_ROW: &'static str;

    /// How [`crate::tables::tasks::hold_task`] stands in for the foreign
    /// key to `tasks` of the tables written once per report
    /// (`client_reports`, `helper_seen_reports`). `None` where they keep
    /// it (SQLite: its check is a lookup in its own page cache). Otherwise
    /// the lock with which the task's row is read once per call: on
    /// PostgreSQL (migration 0013 dropped the keys; each was a query per
    /// inserted row, which cost as much as the insert) the lock its own key
    /// check would take, `FOR KEY SHARE`: the task cannot be deleted until
    /// the transaction ends, and nothing else waits.
    const REFERENCED_TASK_LOCK: Option<&'static str>;

    /// Leases the jobs `request` asks for without two transactions taking
    /// the same job; `request.max` is positive. The one part of leasing
    /// that differs: see `sqlite/leases.rs` and `postgres/leases.rs`.
    fn acquire_leases<'c>(
        conn: &'c mut Self::Connection,
        request: LeaseRequest<'c>,
    ) -> BoxFuture<'c, Result<Vec<Acquired<Self::Row>>>>;

    /// `query` with `value` bound to its next placeholder.
    fn bind<'a, T: Bind<'a>>(query: Query<'a, 'a, Self>, value: T) -> Query<'a, 'a, Self>;

    /// Pushes `value` as the builder's next placeholder (this backend's
    /// own placeholder syntax).
    fn push_bind<'a, T: Bind<'a>>(builder: &mut QueryBuilder<'a, Self>, value: T);

    /// Runs `query`; the number of rows it changed.
    fn execute<'c, 'q: 'c, 'a: 'q>(
        conn: &'c mut Self::Connection,
        query: Query<'q, 'a, Self>,
    ) -> BoxFuture<'c, sqlx::Result<u64>>;

    /// Runs `query`; all its rows.
    fn fetch_all<'c, 'q: 'c, 'a: 'q>(
        conn: &'c mut Self::Connection,
        query: Query<'q, 'a, Self>,
    ) -> BoxFuture<'c, sqlx::Result<Vec<Self::Row>>>;

    /// Runs `query`; its first row, which must exist.
    fn fetch_one<'c, 'q: 'c, 'a: 'q>(
        conn: &'c mut Self::Connection,
        query: Query<'q, 'a, Self>,
    ) -> BoxFuture<'c, sqlx::Result<Self::Row>>;

    /// Runs `query`; its first row if any.
    fn fetch_optional<'c, 'q: 'c, 'a: 'q>(
        conn: &'c mut Self::Connection,
        query: Query<'q, 'a, Self>,
    ) -> BoxFuture<'c, sqlx::Result<Option<Self::Row>>>;
}

/// The rows one statement writes, column by column (all columns as long).
#[derive(Default)]
pub(crate) struct Rows(pub(crate) Vec<Column>);

/// The values of one column of [`Rows`].
pub(crate) enum Column {
    Bytes(Vec<Vec<u8>>),
    OptBytes(Vec<Option<Vec<u8>>>),
    BigInt(Vec<i64>),
    OptBigInt(Vec<Option<i64>>),
    SmallInt(Vec<i16>),
    OptSmallInt(Vec<Option<i16>>),
}

/// One value of a [`Column`].
pub(crate) enum Value {
    Bytes(Vec<u8>),
    OptBytes(Option<Vec<u8>>),
    BigInt(i64),
    OptBigInt(Option<i64>),
    SmallInt(i16),
    OptSmallInt(Option<i16>),
}

impl Column {
    /// The column's values, in row order.
    pub(crate) fn into_values(self) -> std::vec::IntoIter<Value> {
        let values: Vec<Value> = match self {
            Column::Bytes(v) => v.into_iter().map(Value::Bytes).collect(),
            Column::OptBytes(v) => v.into_iter().map(Value::OptBytes).collect(),
            Column::BigInt(v) => v.into_iter().map(Value::BigInt).collect(),
            Column::OptBigInt(v) => v.into_iter().map(Value::OptBigInt).collect(),
            Column::SmallInt(v) => v.into_iter().map(Value::SmallInt).collect(),
            Column::OptSmallInt(v) => v.into_iter().map(Value::OptSmallInt).collect(),
        };
        values.into_iter()
    }
}

impl Value {
    /// Pushes the value as `builder`'s next placeholder.
    pub(crate) fn push_bind<DB: Backend>(self, builder: &mut QueryBuilder<'_, DB>) {
        match self {
            Value::Bytes(v) => DB::push_bind(builder, v),
            Value::OptBytes(v) => DB::push_bind(builder, v),
            Value::BigInt(v) => DB::push_bind(builder, v),
            Value::OptBigInt(v) => DB::push_bind(builder, v),
            Value::SmallInt(v) => DB::push_bind(builder, v),
            Value::OptSmallInt(v) => DB::push_bind(builder, v),
        }
    }
}

/// Keeps the first copy of every key, in order: what one write per item in
/// order would leave when the first write wins (later copies are
/// duplicates). One statement must not write a row twice.
pub(crate) fn first_of_each<T, K: std::hash::Hash + Eq>(
    items: &[T],
    key: impl Fn(&T) -> K,
) -> Vec<&T> {
    let mut seen = std::collections::HashSet::new();
    items.iter().filter(|item| seen.insert(key(item))).collect()
}

/// Keeps the last copy of every key, in the order of the kept copies: what
/// one write per item in order would leave when the last write wins.
pub(crate) fn last_of_each<T, K: std::hash::Hash + Eq>(
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

/// Implements [`Backend`]'s statement methods for a concrete database, where
/// sqlx's bounds hold.
macro_rules! statement_methods {
    ($db:ty) => {
        fn bind<'a, T: $crate::backend::Bind<'a>>(
            query: $crate::backend::Query<'a, 'a, Self>,
            value: T,
        ) -> $crate::backend::Query<'a, 'a, Self> {
            query.bind(value)
        }

        fn push_bind<'a, T: $crate::backend::Bind<'a>>(
            builder: &mut sqlx::QueryBuilder<'a, Self>,
            value: T,
        ) {
            builder.push_bind(value);
        }

        fn execute<'c, 'q: 'c, 'a: 'q>(
            conn: &'c mut <$db as sqlx::Database>::Connection,
            query: $crate::backend::Query<'q, 'a, Self>,
        ) -> futures::future::BoxFuture<'c, sqlx::Result<u64>> {
            let query: $crate::backend::Query<'q, 'q, Self> = query;
            Box::pin(async move { Ok(query.execute(conn).await?.rows_affected()) })
        }

        fn fetch_all<'c, 'q: 'c, 'a: 'q>(
            conn: &'c mut <$db as sqlx::Database>::Connection,
            query: $crate::backend::Query<'q, 'a, Self>,
        ) -> futures::future::BoxFuture<'c, sqlx::Result<Vec<<$db as sqlx::Database>::Row>>> {
            let query: $crate::backend::Query<'q, 'q, Self> = query;
            Box::pin(query.fetch_all(conn))
        }

        fn fetch_one<'c, 'q: 'c, 'a: 'q>(
            conn: &'c mut <$db as sqlx::Database>::Connection,
            query: $crate::backend::Query<'q, 'a, Self>,
        ) -> futures::future::BoxFuture<'c, sqlx::Result<<$db as sqlx::Database>::Row>> {
            let query: $crate::backend::Query<'q, 'q, Self> = query;
            Box::pin(query.fetch_one(conn))
        }

        fn fetch_optional<'c, 'q: 'c, 'a: 'q>(
            conn: &'c mut <$db as sqlx::Database>::Connection,
            query: $crate::backend::Query<'q, 'a, Self>,
        ) -> futures::future::BoxFuture<'c, sqlx::Result<Option<<$db as sqlx::Database>::Row>>> {
            let query: $crate::backend::Query<'q, 'q, Self> = query;
            Box::pin(query.fetch_optional(conn))
        }
    };
}
pub(crate) use statement_methods;

/// One statement of the shared table code, run on backend `DB`: sqlx's
/// query with the binds and runs of [`Backend`].
pub(crate) struct Sql<'q, 'a, DB: Backend>(Query<'q, 'a, DB>);

/// A statement from its SQL text (placeholders `$1`, `$2`, ...).
pub(crate) fn sql<DB: Backend>(text: &str) -> Sql<'_, '_, DB> {
    Sql(sqlx::query(text))
}

impl<'a, DB: Backend> Sql<'a, 'a, DB> {
    /// Binds `value` to the next placeholder.
    pub(crate) fn bind<T: Bind<'a>>(self, value: T) -> Self {
        Sql(DB::bind(self.0, value))
    }
}

impl<'q, 'a: 'q, DB: Backend> Sql<'q, 'a, DB> {
    /// The statement a query builder built: kept prepared for reuse only
    /// where its text does not depend on its row count
    /// ([`Backend::KEEP_BUILT_STATEMENTS`]).
    pub(crate) fn built(builder: &'q mut QueryBuilder<'a, DB>) -> Self {
        Sql(builder.build().persistent(DB::KEEP_BUILT_STATEMENTS))
    }

    /// Runs the statement; the number of rows it changed.
    pub(crate) async fn execute(self, conn: &mut DB::Connection) -> sqlx::Result<u64> {
        DB::execute(conn, self.0).await
    }

    /// Runs the statement; all its rows.
    pub(crate) async fn fetch_all(self, conn: &mut DB::Connection) -> sqlx::Result<Vec<DB::Row>> {
        DB::fetch_all(conn, self.0).await
    }

    /// Runs the statement; its first row, which must exist.
    pub(crate) async fn fetch_one(self, conn: &mut DB::Connection) -> sqlx::Result<DB::Row> {
        DB::fetch_one(conn, self.0).await
    }

    /// Runs the statement; its first row if any.
    pub(crate) async fn fetch_optional(
        self,
        conn: &mut DB::Connection,
    ) -> sqlx::Result<Option<DB::Row>> {
        DB::fetch_optional(conn, self.0).await
    }
}

/// Pushes `value` as `builder`'s next placeholder.
pub(crate) fn push_bind<'a, DB: Backend, T: Bind<'a>>(
    builder: &mut QueryBuilder<'a, DB>,
    value: T,
) {
    DB::push_bind(builder, value);
}

/// How a backend begins and ends a run.
pub(crate) struct Begin {
    /// The `BEGIN` statement of a read-write transaction.
    pub(crate) read_write: &'static str,
    /// The `BEGIN` statement of a read-only transaction.
    pub(crate) read_only: &'static str,
    /// The `BEGIN` statement of a claim (`TxMode::Claim`).
    pub(crate) claim: &'static str,
    /// Whether a connection failure during COMMIT may hide a commit (a
    /// server at the other end of a network): then it is
    /// `CommitInDoubt`, never rerun.
    pub(crate) commit_can_be_in_doubt: bool,
}

/// Which jobs to lease: up to `max` jobs of `table` in state `state_code`
/// whose lease is free or expired and whose retry time has come, oldest
/// retry time first. `columns` are the columns to return, qualified with
/// the alias `j`; `join` and `filter` (SQL with no parameters) narrow the
/// candidates.
pub(crate) struct LeaseRequest<'a> {
    pub(crate) table: LeasedTable,
    pub(crate) columns: &'a str,
    pub(crate) state_code: i64,
    pub(crate) join: &'a str,
    pub(crate) filter: &'a str,
    pub(crate) now: Time,
    pub(crate) duration: Duration,
    pub(crate) max: u64,
}

/// What `tables::leases::acquire` took: the job's row (the request's columns), its new
/// token, expiry and attempt count.
pub(crate) struct Acquired<R> {
    pub(crate) row: R,
    pub(crate) token: LeaseToken,
    pub(crate) expiry: Time,
    pub(crate) attempts: u32,
    /// The job's previous lease ran out rather than being released.
    pub(crate) previous_lease_expired: bool,
}
