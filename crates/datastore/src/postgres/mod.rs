//! The PostgreSQL backend, for production: one database shared by any number
//! of replicas of every aggregator role, opened from a `postgres://` (or
//! `postgresql://`) URL.
//!
//! # Isolation
//!
//! Read-write transactions run at `SERIALIZABLE`. The aggregator's
//! transaction bodies were written against SQLite, where writers run one at
//! a time, and some of them rely on that across tables: for example the
//! Helper checks that a batch is not collected before adding to its batch
//! aggregations while an `AggregateShareReq` reads those aggregations and
//! marks the batch collected. Under `REPEATABLE READ` both could commit
//! (write skew) and the two aggregators' shares would disagree; under
//! `SERIALIZABLE` PostgreSQL aborts one of them with a serialization failure
//! (SQLSTATE 40001) and the body is run again, so every body keeps the
//! meaning it has on SQLite. The price is retries under contention, which
//! the schema and queries keep rare: writers touch disjoint rows (one batch
//! aggregation row per job, leases taken with `SKIP LOCKED`), and the
//! acquisition indexes stay unchanged by lease writes.
//!
//! Claims (`TxMode::Claim`: the job creator taking unaggregated reports,
//! drivers acquiring and renewing leases) run at `REPEATABLE READ, READ
//! WRITE`. Their rules rest only on rows they
//! lock or write, which `REPEATABLE READ` protects as well (a row another
//! transaction changed since the snapshot aborts the claim with a
//! serialization failure); under `SERIALIZABLE` the range of reports a
//! claim read made it the pivot between the uploads inserting into that
//! range and the job drivers reading reports on the same pages, and it was
//! aborted run after run while both kept writing; an acquisition's range
//! of due jobs likewise conflicted with every job written meanwhile.
//!
//! Read-only transactions run at `REPEATABLE READ, READ ONLY`: one snapshot,
//! never aborted, never the cause of a writer's abort. (A read-only
//! transaction may see a state no serial order would show, which no
//! read-only body of the aggregator cares about.)
//!
//! # Leases and job queues
//!
//! Acquiring jobs is one `UPDATE` over candidates chosen `FOR NO KEY UPDATE
//! SKIP LOCKED` (see `leases`; the rest of leasing is shared:
//! `crate::tables::leases`): acquirers in other transactions or other
//! replicas never wait for one another and never get the same job. The job
//! creator reads unaggregated reports the same way, so two creators take
//! disjoint reports. Writes under a lease lock the job's row while checking
//! the token.
//!
//! # Retries
//!
//! A body that fails with a serialization failure, a deadlock, a statement
//! timeout, or a failed connection (I/O error, server restart, no
//! connection free in time) is rolled back and run again after the retry
//! policy's backoff, up to its `max_attempts`; then the transaction fails
//! with [`DatastoreError::RetriesExhausted`]. A connection lost while
//! committing is not retried ([`DatastoreError::CommitInDoubt`]): the commit
//! may have happened. Every connection has `statement_timeout` set from the
//! options, and "now" always comes from the injected clock, never from the
//! database's.
//!
//! All SQL specific to PostgreSQL lives in this module; the schema is in
//! `migrations/postgres/`.

pub mod admin;
mod leases;
mod migrations;
mod row;

use crate::pooled::PooledDatastore;
use crate::schema::{self, Migrated};
use crate::{DatastoreError, DatastoreOptions};
use dyad_core::clock::Clock;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::sync::Arc;
use tracing::debug;

/// A datastore in one PostgreSQL database.
pub type PostgresDatastore = PooledDatastore<sqlx::Postgres>;

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The connection options of `url`, checked to be a PostgreSQL URL.
fn connect_options(url: &str) -> Result<PgConnectOptions, DatastoreError> {
    if !is_postgres_url(url) {
        return Err(DatastoreError::Config(
            "not a PostgreSQL URL (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)".into(),
        ));
    }
    // The parser's errors name the part that is wrong, never the password.
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| DatastoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
    Ok(match options.get_application_name() {
        Some(_) => options,
        None => options.application_name("dyad"),
    })
}

/// `host:port/database` of the options.
fn target(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    )
}

impl PooledDatastore<sqlx::Postgres> {
    /// Opens the database at `url` (`postgres://USER:PASSWORD@HOST:PORT/DB`)
    /// with the given options; brings its schema up to date if
    /// `options.apply_migrations`, else checks that it is.
    pub async fn open(
        url: &str,
        clock: Arc<dyn Clock>,
        options: &DatastoreOptions,
    ) -> Result<Self, DatastoreError> {
        options.validate()?;
        let connect = connect_options(url)?;
        let target = target(&connect);
        let timeout_ms = options.statement_timeout.as_millis().max(1).to_string();
        // `client_min_messages = error`: a COMMIT that fails (say, on a
        // serialization failure) ends the transaction server-side, and the
        // driver's ROLLBACK that follows draws a "there is no transaction in
        // progress" WARNING; the failure itself is handled (retried) here,
        // so such notices would only be noise in the logs.
        let pooled = connect.clone().options([
            ("statement_timeout", timeout_ms.as_str()),
            ("client_min_messages", "error"),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(pooled)
            .await?;
        let migrator = migrations::migrator();
        if options.apply_migrations {
            migrate_with(&connect).await?;
        } else {
            crate::schema::check_database(&pool, &migrator).await?;
        }
        debug!(
            target = %target,
            max_connections = options.max_connections,
            "opened PostgreSQL datastore"
        );
        Ok(Self::new(pool, clock, options, target))
    }

    /// Applies pending migrations to the database at `url` (which must
    /// exist); returns the schema versions it was and is at. Safe to run
    /// from many replicas at once (see `migrations`).
    pub async fn migrate(url: &str) -> Result<Migrated, DatastoreError> {
        migrate_with(&connect_options(url)?).await
    }
}

/// Applies the migrations on a dedicated connection, closed afterwards (it
/// holds the migrator's advisory lock); returns what changed (with
/// migrators running at once, `before` is what this one saw before it took
/// the lock).
async fn migrate_with(connect: &PgConnectOptions) -> Result<Migrated, DatastoreError> {
    let migrator = migrations::migrator();
    // A pool of one connection of its own, not the datastore's pool.
    let dedicated = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(connect.clone())
        .await?;
    let result = async {
        let before = schema::applied_versions(&dedicated).await?;
        migrator.run(&dedicated).await?;
        let after = schema::applied_versions(&dedicated).await?;
        Ok(Migrated::between(&before, &after))
    }
    .await;
    // Closing ends the session, releasing the advisory lock even when a
    // migration failed.
    dedicated.close().await;
    result
}

#[cfg(test)]
mod tests;
