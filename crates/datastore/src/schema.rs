//! Schema versions, shared by the backends: whether a database's applied
//! migrations (sqlx's `_sqlx_migrations`) match the ones built in, for a
//! process told not to apply them itself (`apply_migrations: false`, the
//! usual setting of many replicas sharing one database migrated by
//! `dyad migrate`).

use crate::backend::{sql, Backend};
use crate::columns::RowReader;
use crate::DatastoreError;
use sqlx::migrate::Migrator;
use sqlx::Pool;

/// The schema version this build migrates databases to (the latest
/// migration's; both backends have the same ones, in
/// `migrations/sqlite/` and `migrations/postgres/`).
pub fn schema_version() -> i64 {
    let migrator = sqlx::migrate!("./migrations/sqlite");
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// What [`crate::migrate`] did to a database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migrated {
    /// The schema version the database was at (0: it had no dyad schema).
    pub before: i64,
    /// The version it is at now ([`schema_version`]).
    pub after: i64,
    /// The migrations applied meanwhile, in order (on PostgreSQL, by this
    /// call or by another migrator running at the same time); empty when
    /// the database was up to date.
    pub applied: Vec<i64>,
}

impl Migrated {
    /// Compares the migrations applied before and after a run.
    pub(crate) fn between(before: &[i64], after: &[i64]) -> Self {
        Self {
            before: before.last().copied().unwrap_or(0),
            after: after.last().copied().unwrap_or(0),
            applied: after
                .iter()
                .copied()
                .filter(|v| !before.contains(v))
                .collect(),
        }
    }
}

/// Checks that exactly `migrator`'s migrations were applied to the
/// database of `pool` (none are if it has no migrations table).
pub(crate) async fn check_database<DB: Backend>(
    pool: &Pool<DB>,
    migrator: &Migrator,
) -> Result<(), DatastoreError> {
    let applied = applied_versions(pool).await?;
    check_up_to_date(&applied, migrator)
}

/// The migrations applied to the database of `pool`, in order.
pub(crate) async fn applied_versions<DB: Backend>(
    pool: &Pool<DB>,
) -> Result<Vec<i64>, DatastoreError> {
    let mut conn = pool.acquire().await?;
    let query = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
    let applied = match sql::<DB>(query).fetch_all(&mut *conn).await {
        Ok(rows) => rows
            .iter()
            .map(|row| RowReader::new(row, "_sqlx_migrations").i64("version"))
            .collect::<Result<Vec<i64>, _>>()?,
        // No migrations table (SQLite "no such table", PostgreSQL
        // undefined_table): nothing applied yet.
        Err(sqlx::Error::Database(db))
            if db.message().contains("no such table") || db.code().as_deref() == Some("42P01") =>
        {
            Vec::new()
        }
        Err(error) => return Err(error.into()),
    };
    Ok(applied)
}

/// Checks that exactly the built-in migrations were applied.
pub(crate) fn check_up_to_date(applied: &[i64], migrator: &Migrator) -> Result<(), DatastoreError> {
    let expected: Vec<i64> = migrator.iter().map(|m| m.version).collect();
    let latest = expected.last().copied().unwrap_or(0);
    let current = applied.iter().copied().max().unwrap_or(0);
    if let Some(unknown) = applied.iter().find(|v| !expected.contains(v)) {
        return Err(DatastoreError::Config(format!(
            "the database has schema migration {unknown}, which this dyad does not know \
             (it is older than the one that migrated the database)"
        )));
    }
    if applied.len() != expected.len() {
        return Err(DatastoreError::Config(format!(
            "the database schema is at version {current}, this dyad needs {latest}: \
             run `dyad migrate --database URL` (or set datastore_apply_migrations: true)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::migrate::{Migration, MigrationType};
    use std::borrow::Cow;

    fn migrator(versions: &[i64]) -> Migrator {
        Migrator {
            migrations: Cow::Owned(
                versions
                    .iter()
                    .map(|v| {
                        Migration::new(
                            *v,
                            Cow::Borrowed("m"),
                            MigrationType::Simple,
                            Cow::Borrowed(""),
                            false,
                        )
                    })
                    .collect(),
            ),
            ..Migrator::DEFAULT
        }
    }

    #[test]
    fn a_run_reports_the_versions_it_found_and_left_and_what_it_applied() {
        assert_eq!(
            Migrated::between(&[], &[1, 2, 3]),
            Migrated {
                before: 0,
                after: 3,
                applied: vec![1, 2, 3]
            }
        );
        assert_eq!(
            Migrated::between(&[1, 2], &[1, 2, 3]),
            Migrated {
                before: 2,
                after: 3,
                applied: vec![3]
            }
        );
        assert_eq!(
            Migrated::between(&[1, 2, 3], &[1, 2, 3]),
            Migrated {
                before: 3,
                after: 3,
                applied: vec![]
            }
        );
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        let versions = |m: Migrator| {
            m.iter()
                .map(|m| (m.version, m.description.to_string()))
                .collect::<Vec<_>>()
        };
        let sqlite = versions(sqlx::migrate!("./migrations/sqlite"));
        assert_eq!(sqlite, versions(sqlx::migrate!("./migrations/postgres")));
        assert_eq!(sqlite.last().unwrap().0, schema_version());
    }

    #[test]
    fn missing_and_unknown_migrations_are_refused() {
        let m = migrator(&[1, 2]);
        assert!(check_up_to_date(&[1, 2], &m).is_ok());
        let behind = check_up_to_date(&[1], &m).unwrap_err().to_string();
        assert!(
            behind.contains("version 1") && behind.contains("needs 2"),
            "{behind}"
        );
        assert!(check_up_to_date(&[], &m).is_err());
        assert!(check_up_to_date(&[1, 2, 3], &m).is_err());
    }
}
