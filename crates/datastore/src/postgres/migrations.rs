//! The PostgreSQL schema migrations, embedded in the binary from
//! `migrations/postgres/` and applied with sqlx's migrator (which records
//! them in `_sqlx_migrations`, so `sqlx migrate info` reads the state).
//!
//! sqlx's PostgreSQL migrator holds a session-level advisory lock (keyed by
//! the database's name) while it checks and applies migrations, so replicas
//! starting together migrate one after the other: the first applies, the
//! others then find nothing to do. Because the lock belongs to the session
//! and the migrator does not release it when a migration fails, migrations
//! run on a dedicated connection that is closed afterwards (see
//! `PostgresDatastore::migrate`), never on a pooled one.

use sqlx::migrate::{Migration, MigrationType, Migrator};
use std::borrow::Cow;

/// `(version, description, SQL)` of every migration, in order.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "initial",
    include_str!("../../migrations/postgres/0001_initial.sql"),
)];

/// The migrator holding every embedded migration.
pub(super) fn migrator() -> Migrator {
    let migrations: Vec<Migration> = MIGRATIONS
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                Cow::Borrowed(*sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}
