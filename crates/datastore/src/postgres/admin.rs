//! Whole databases on a PostgreSQL server: creating and dropping the
//! throwaway databases of the quickstart and the tests. (Production
//! databases are created by their operators; dyad only migrates them.)

use crate::DatastoreError;
use sqlx::{Connection as _, PgConnection};

/// Checks that `name` is a plain lowercase identifier (it is spliced into
/// `CREATE DATABASE`, which takes no bind parameters).
fn check_name(name: &str) -> Result<(), DatastoreError> {
    let plain = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        Ok(())
    } else {
        Err(DatastoreError::Config(format!(
            "database name {name:?} must be lowercase letters, digits and _"
        )))
    }
}

/// The URL of database `name` on the server of `server_url` (same host,
/// port, user and options).
pub fn database_url(server_url: &str, name: &str) -> Result<String, DatastoreError> {
    check_name(name)?;
    let mut url = url::Url::parse(server_url)
        .map_err(|e| DatastoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// Creates the empty database `name` on the server of `server_url` (a URL
/// of any database there the user may connect to); its URL.
pub async fn create_database(server_url: &str, name: &str) -> Result<String, DatastoreError> {
    let url = database_url(server_url, name)?;
    let mut conn = PgConnection::connect(server_url).await?;
    let created = sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    created?;
    Ok(url)
}

/// Drops the database `name` if it exists, closing connections left to it.
pub async fn drop_database(server_url: &str, name: &str) -> Result<(), DatastoreError> {
    check_name(name)?;
    let mut conn = PgConnection::connect(server_url).await?;
    let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    dropped?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_urls_keep_the_server() {
        assert_eq!(
            database_url(
                "postgres://u:p@db.example:5433/postgres?sslmode=disable",
                "dyad_x1"
            )
            .unwrap(),
            "postgres://u:p@db.example:5433/dyad_x1?sslmode=disable"
        );
        for bad in ["", "X", "1abc", "a-b", "a;drop", "a b"] {
            assert!(
                database_url("postgres://db/postgres", bad).is_err(),
                "{bad:?}"
            );
        }
    }
}
