//! The PostgreSQL schema migrations, embedded in the binary from
//! `migrations/postgres/` (a new file there is a new migration) and applied
//! with sqlx's migrator (which records
//! them in `_sqlx_migrations`, so `sqlx migrate info` reads the state).
//!
//! sqlx's PostgreSQL migrator holds a session-level advisory lock (keyed by
//! the database's name) while it checks and applies migrations, so replicas
//! starting together migrate one after the other: the first applies, the
//! others then find nothing to do. Because the lock belongs to the session
//! and the migrator does not release it when a migration fails, migrations
//! run on a dedicated connection that is closed afterwards (see
//! `PostgresDatastore::migrate`), never on a pooled one.

/// The migrator holding every migration of `migrations/postgres/`,
/// embedded at compile time.
pub(super) fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations/postgres")
}
