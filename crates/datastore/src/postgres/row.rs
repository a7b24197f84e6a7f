//! PostgreSQL's side of the shared column conversions (`crate::columns`):
//! state codes in `SMALLINT`, steps in `INTEGER`, native `BOOLEAN`s; and
//! its side of [`crate::backend::Backend`].

use crate::columns::{plain_reads, StoredRow};
use sqlx::postgres::PgRow;
use sqlx::Row as _;

impl StoredRow for PgRow {
    plain_reads!();

    /// A `SMALLINT` code, widened.
    fn code(&self, column: &str) -> sqlx::Result<i64> {
        self.try_get::<i16, _>(column).map(i64::from)
    }

    /// A `SMALLINT` code that may be NULL, widened.
    fn opt_code(&self, column: &str) -> sqlx::Result<Option<i64>> {
        self.try_get::<Option<i16>, _>(column)
            .map(|code| code.map(i64::from))
    }

    /// An `INTEGER`, widened.
    fn small_int(&self, column: &str) -> sqlx::Result<i64> {
        self.try_get::<i32, _>(column).map(i64::from)
    }

    fn bool(&self, column: &str) -> std::result::Result<bool, String> {
        self.try_get(column).map_err(|e| e.to_string())
    }
}

impl crate::backend::Backend for sqlx::Postgres {
    /// `SERIALIZABLE` writers, one-snapshot readers (see the module doc of
    /// `crate::postgres`, "Isolation"); a COMMIT cut by a lost connection
    /// may have reached the server: in doubt.
    const BEGIN: crate::backend::Begin = crate::backend::Begin {
        read_write: "BEGIN ISOLATION LEVEL SERIALIZABLE, READ WRITE",
        read_only: "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        claim: "BEGIN ISOLATION LEVEL REPEATABLE READ, READ WRITE",
        commit_can_be_in_doubt: true,
    };

    const FALSE: &'static str = "FALSE";

    const SKIP_ROWS_LOCKED_FOR_UPDATE: &'static str = " FOR NO KEY UPDATE SKIP LOCKED";
    const SKIP_ROWS_LOCKED_FOR_DELETE: &'static str = " FOR UPDATE SKIP LOCKED";
    const INCREMENTAL_VACUUM: bool = false;
    const KEEP_BUILT_STATEMENTS: bool = true;
    const INSERT_RETURNS_IDS: bool = true;

    fn statement_chunks<T>(items: &[T], _columns: usize, wanted: usize) -> Vec<&[T]> {
        items.chunks(wanted.max(1)).collect()
    }

    fn push_rows<'a>(builder: &mut sqlx::QueryBuilder<'a, Self>, rows: crate::backend::Rows) {
        use crate::backend::Column;
        builder.push("SELECT * FROM UNNEST(");
        for (i, column) in rows.0.into_iter().enumerate() {
            if i > 0 {
                builder.push(", ");
            }
            match column {
                Column::Bytes(v) => builder.push_bind(v).push("::BYTEA[]"),
                Column::OptBytes(v) => builder.push_bind(v).push("::BYTEA[]"),
                Column::BigInt(v) => builder.push_bind(v).push("::BIGINT[]"),
                Column::OptBigInt(v) => builder.push_bind(v).push("::BIGINT[]"),
                Column::SmallInt(v) => builder.push_bind(v).push("::SMALLINT[]"),
                Column::OptSmallInt(v) => builder.push_bind(v).push("::SMALLINT[]"),
            };
        }
        builder.push(")");
    }

    fn push_task_reports<'a>(
        builder: &mut sqlx::QueryBuilder<'a, Self>,
        table: &str,
        alias: &str,
        task_id: Vec<u8>,
        report_ids: Vec<Vec<u8>>,
    ) {
        builder.push(format!(
            "{alias}.ctid = ANY(ARRAY(SELECT found.ctid FROM UNNEST("
        ));
        builder.push_bind(report_ids);
        builder.push(format!(
            "::BYTEA[]) AS wanted(report_id) CROSS JOIN LATERAL (SELECT ctid FROM {table} \
             WHERE task_id = "
        ));
        builder.push_bind(task_id);
        builder.push(" AND report_id = wanted.report_id OFFSET 0) AS found))");
    }

    const LOCK_LEASED_ROW: &'static str = " FOR NO KEY UPDATE";

    const REFERENCED_TASK_LOCK: Option<&'static str> = Some(" FOR KEY SHARE");

    fn acquire_leases<'c>(
        conn: &'c mut <sqlx::Postgres as sqlx::Database>::Connection,
        request: crate::backend::LeaseRequest<'c>,
    ) -> futures::future::BoxFuture<
        'c,
        crate::columns::Result<
            Vec<crate::backend::Acquired<<sqlx::Postgres as sqlx::Database>::Row>>,
        >,
    > {
        Box::pin(super::leases::acquire(conn, request))
    }

    crate::backend::statement_methods!(sqlx::Postgres);
}
