//! The PostgreSQL schema and what is stored in it: migrations shared by
//! replicas, the refusal to run on an unmigrated database, secrets sealed at
//! rest, corrupt rows, and the URL's password kept out of Debug and errors.

use super::{with_database, Fixture};
use crate::datastore::RetryPolicy;
use crate::postgres::{connect_options, target, PostgresDatastore};
use crate::testing::fixtures::{self, aggregation_job, interval, leader_task, report};
use crate::testing::run_test;
use crate::{DatastoreError, DatastoreExt, DatastoreKeys, DatastoreOptions};
use dyad_core::clock::MockClock;
use dyad_core::task::{AuthenticationToken, Task};
use sqlx::postgres::PgPoolOptions;
use std::sync::Arc;
use std::time::Duration as StdDuration;

async fn applied(f: &Fixture) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut f.connect().await)
        .await
        .unwrap()
}

/// Replicas migrating one fresh database at once all succeed (the
/// migrator's advisory lock lets one apply, the others find it done), and
/// migrating again changes nothing.
#[test]
fn migrations_are_shared_by_replicas_and_idempotent() {
    with_database(|f| async move {
        let url = f.db.url().to_owned();
        let replicas: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { PostgresDatastore::migrate(&url).await })
            })
            .collect();
        // Migrations are numbered 1, 2, ... without gaps.
        let all: Vec<i64> = super::super::migrations::migrator()
            .iter()
            .map(|m| m.version)
            .collect();
        let latest = *all.last().unwrap();
        assert_eq!(all, (1..=latest).collect::<Vec<_>>());
        for replica in replicas {
            let migrated = replica.await.unwrap().unwrap();
            assert_eq!(migrated.after, latest);
            // Each names the migrations applied after the version it
            // found (none, some or all of them, as the others went on).
            let after_found: Vec<i64> = all
                .iter()
                .copied()
                .filter(|v| *v > migrated.before)
                .collect();
            assert_eq!(migrated.applied, after_found);
        }
        let up_to_date = crate::Migrated {
            before: latest,
            after: latest,
            applied: vec![],
        };
        assert_eq!(PostgresDatastore::migrate(&url).await.unwrap(), up_to_date);
        assert_eq!(crate::migrate(&url).await.unwrap(), up_to_date);
        assert_eq!(applied(&f).await, all);

        // A database one release behind (the latest migration taken back):
        // only that one is applied, and the answer says from where.
        let mut conn = f.connect().await;
        sqlx::query("DROP INDEX aggregation_jobs_listed_in_progress")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
            .bind(latest)
            .execute(&mut conn)
            .await
            .unwrap();
        drop(conn);
        assert_eq!(
            crate::migrate(&url).await.unwrap(),
            crate::Migrated {
                before: latest - 1,
                after: latest,
                applied: vec![latest],
            }
        );
    });
}

/// A process told not to migrate refuses an unmigrated database with a
/// message naming the fix, and opens it once it is migrated.
#[test]
fn unmigrated_database_is_refused_without_apply_migrations() {
    with_database(|f| async move {
        let options = DatastoreOptions {
            apply_migrations: false,
            ..f.options()
        };
        let clock = Arc::new(MockClock::default());
        match PostgresDatastore::open(f.db.url(), clock.clone(), &options).await {
            Err(DatastoreError::Config(message)) => assert!(
                message.contains("version 0") && message.contains("dyad migrate"),
                "{message}"
            ),
            other => panic!("expected a configuration error, got {other:?}"),
        }
        PostgresDatastore::migrate(f.db.url()).await.unwrap();
        let datastore = PostgresDatastore::open(f.db.url(), clock, &options)
            .await
            .unwrap();
        fixtures::put_tasks(&datastore, &[&leader_task()]).await;
    });
}

/// A failed migration leaves no lock behind: after the obstacle is
/// removed, migrating again succeeds at once.
#[test]
fn failed_migration_releases_the_lock() {
    with_database(|f| async move {
        let mut conn = f.connect().await;
        sqlx::query("CREATE TABLE tasks (obstacle INTEGER)")
            .execute(&mut conn)
            .await
            .unwrap();
        let failed = PostgresDatastore::migrate(f.db.url()).await;
        assert!(
            matches!(failed, Err(DatastoreError::Migration(_))),
            "{failed:?}"
        );
        sqlx::query("DROP TABLE tasks")
            .execute(&mut conn)
            .await
            .unwrap();
        let again = tokio::time::timeout(
            StdDuration::from_secs(20),
            PostgresDatastore::migrate(f.db.url()),
        )
        .await
        .expect("the failed migration left the advisory lock held");
        let latest = super::super::migrations::migrator().iter().count() as i64;
        assert_eq!(again.unwrap().after, latest);
    });
}

/// The stored task document is sealed: neither the task's tokens nor its
/// VDAF verify key appear in the row's bytes.
#[test]
fn task_secrets_are_sealed_at_rest() {
    with_database(|f| async move {
        let datastore = f.open(f.options()).await;
        let token = "dyad-at-rest-check-7d1c0a9e52b4";
        let task: Task = leader_task()
            .to_builder()
            .aggregator_auth_token(AuthenticationToken::new_dap_auth(token).unwrap())
            .build()
            .unwrap();
        fixtures::put_tasks(&datastore, &[&task]).await;
        let stored: Vec<u8> = sqlx::query_scalar("SELECT task_document FROM tasks")
            .fetch_one(&mut f.connect().await)
            .await
            .unwrap();
        let contains = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
        assert!(!contains(token.as_bytes()));
        assert!(!contains(b"aggregator_auth_token"));
        assert!(!contains(task.vdaf_verify_key().as_bytes()));
        // The document opens with the keys, and only with them.
        let wrong = PostgresDatastore::open(
            f.db.url(),
            Arc::new(f.clock.clone()),
            &DatastoreOptions::new(DatastoreKeys::generate()),
        )
        .await
        .unwrap();
        let id = *task.task_id();
        let result = wrong
            .run_read_tx("get", move |tx| {
                Box::pin(async move { Ok(tx.get_task(&id).await?) })
            })
            .await;
        assert!(result.is_err());
    });
}

/// Rows that do not convert back are `Corrupt` errors, not panics.
#[test]
fn corrupt_rows_are_errors() {
    with_database(|f| async move {
        let datastore = f.open(f.options()).await;
        let task = leader_task();
        fixtures::put_tasks(&datastore, &[&task]).await;
        let job = aggregation_job(task.task_id(), b"", None, interval(0, 10));
        fixtures::put_aggregation_jobs(&datastore, std::slice::from_ref(&job)).await;
        let stored = report(task.task_id(), 100, 1);
        let put = stored.clone();
        datastore
            .run_tx("put", move |tx| {
                let put = put.clone();
                Box::pin(async move { Ok(tx.put_client_reports(&[put]).await?) })
            })
            .await
            .unwrap();
        sqlx::raw_sql(
            "UPDATE aggregation_jobs SET state = 99;
             UPDATE client_reports SET helper_encrypted_input_share = '\\x01';
             UPDATE tasks SET task_document = '\\x7b7d';",
        )
        .execute(&mut f.connect().await)
        .await
        .unwrap();

        let (task_id, job_id, report_id) =
            (job.task_id, job.aggregation_job_id, *stored.report_id());
        let results = datastore
            .run_read_tx("read", move |tx| {
                Box::pin(async move {
                    Ok([
                        tx.get_aggregation_job(&task_id, &job_id).await.err(),
                        tx.get_client_report(&task_id, &report_id).await.err(),
                        tx.get_task(&task_id).await.err(),
                    ])
                })
            })
            .await
            .unwrap();
        for (error, column) in
            results
                .iter()
                .zip(["state", "helper_encrypted_input_share", "task_document"])
        {
            match error {
                Some(DatastoreError::Corrupt { column: c, .. }) => assert_eq!(*c, column),
                // A document that is not sealed under the keys.
                Some(DatastoreError::Decrypt { column: c, .. }) => assert_eq!(*c, column),
                other => panic!("expected a corrupt {column}, got {other:?}"),
            }
        }
    });
}

/// The password in the URL appears neither in the datastore's Debug nor in
/// the error of a failed login.
#[test]
fn the_password_stays_out_of_debug_and_errors() {
    run_test(async {
        let url = "postgres://dyad:Sup3r-Secret-Pw@db.invalid:5433/dyad";
        let options = connect_options(url).unwrap();
        let datastore = PostgresDatastore::new(
            PgPoolOptions::new().connect_lazy_with(options.clone()),
            Arc::new(MockClock::default()),
            &DatastoreOptions::new(DatastoreKeys::generate()),
            target(&options),
        );
        let shown = format!("{datastore:?}");
        assert!(shown.contains("db.invalid:5433/dyad"), "{shown}");
        assert!(!shown.contains("Sup3r-Secret-Pw"), "{shown}");
    });
    with_database(|f| async move {
        let mut url = url::Url::parse(f.db.url()).unwrap();
        url.set_password(Some("Wr0ng-Secret-Pw")).unwrap();
        let options = DatastoreOptions {
            retry: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            acquire_timeout: StdDuration::from_secs(5),
            ..f.options()
        };
        // (A server that lets anyone in has no failed login to check.)
        if let Err(error) =
            PostgresDatastore::open(url.as_str(), Arc::new(f.clock.clone()), &options).await
        {
            let shown = format!("{error:?} {error}");
            assert!(!shown.contains("Wr0ng-Secret-Pw"), "{shown}");
        }
    });
}

/// URLs of other schemes, and malformed ones, are configuration errors.
#[test]
fn bad_urls_are_refused() {
    run_test(async {
        let clock = Arc::new(MockClock::default());
        let options = DatastoreOptions::new(DatastoreKeys::generate());
        for url in [
            "sqlite:///tmp/x.sqlite",
            "mysql://db/x",
            "postgres://db:notaport/x",
        ] {
            let opened = PostgresDatastore::open(url, clock.clone(), &options).await;
            assert!(matches!(opened, Err(DatastoreError::Config(_))), "{url}");
            let migrated = PostgresDatastore::migrate(url).await;
            assert!(matches!(migrated, Err(DatastoreError::Config(_))), "{url}");
        }
    });
}

/// Report aggregations' pages keep half their room free, so that the
/// update a row gets when its preparation ends can stay on its page (a
/// heap-only tuple: no new entries in either index).
#[test]
fn report_aggregation_pages_leave_room_for_updates_in_place() {
    with_database(|f| async move {
        f.open(f.options()).await;
        let options: Option<Vec<String>> = sqlx::query_scalar(
            "SELECT reloptions FROM pg_class WHERE relname = 'report_aggregations'",
        )
        .fetch_one(&mut f.connect().await)
        .await
        .unwrap();
        assert_eq!(options, Some(vec!["fillfactor=50".to_owned()]));
    });
}

/// A report's shares never compress: long ones are moved out of the row
/// without a compression attempt (storage `EXTERNAL`, `e`).
#[test]
fn report_shares_are_stored_without_compression() {
    with_database(|f| async move {
        f.open(f.options()).await;
        let storage: Vec<(String, String)> = sqlx::query_as(
            "SELECT attname::TEXT, attstorage::TEXT FROM pg_attribute
             WHERE attrelid = 'client_reports'::regclass
               AND attname IN ('public_share', 'leader_input_share', 'helper_encrypted_input_share')
             ORDER BY attname",
        )
        .fetch_all(&mut f.connect().await)
        .await
        .unwrap();
        assert_eq!(
            storage,
            [
                ("helper_encrypted_input_share".to_owned(), "e".to_owned()),
                ("leader_input_share".to_owned(), "e".to_owned()),
                ("public_share".to_owned(), "e".to_owned()),
            ]
        );
    });
}

/// A report's row stays whole on its page up to a page's length
/// (migration 0010): a long Leader share is not moved to the TOAST table.
#[test]
fn report_rows_stay_inline_up_to_a_page() {
    with_database(|f| async move {
        f.open(f.options()).await;
        let options: Option<Vec<String>> =
            sqlx::query_scalar("SELECT reloptions FROM pg_class WHERE relname = 'client_reports'")
                .fetch_one(&mut f.connect().await)
                .await
                .unwrap();
        assert_eq!(options, Some(vec!["toast_tuple_target=8160".to_owned()]));
    });
}

/// Report aggregations carry no foreign key to their job on PostgreSQL
/// (migration 0009): the only foreign key left on the table is none.
#[test]
fn report_aggregations_have_no_foreign_key_to_their_job() {
    with_database(|f| async move {
        f.open(f.options()).await;
        let keys: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_constraint
             WHERE conrelid = 'report_aggregations'::regclass AND contype = 'f'",
        )
        .fetch_one(&mut f.connect().await)
        .await
        .unwrap();
        assert_eq!(keys, 0);
    });
}

/// The tables written once per report carry no foreign key to their task
/// on PostgreSQL (migration 0013): each insert reads the task's row once
/// instead (`tables::tasks::hold_task`).
#[test]
fn per_report_tables_have_no_foreign_key_to_their_task() {
    with_database(|f| async move {
        f.open(f.options()).await;
        for table in ["client_reports", "helper_seen_reports"] {
            let keys: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM pg_constraint
                 WHERE conrelid = '{table}'::regclass AND contype = 'f'"
            ))
            .fetch_one(&mut f.connect().await)
            .await
            .unwrap();
            assert_eq!(keys, 0, "{table}");
        }
    });
}
