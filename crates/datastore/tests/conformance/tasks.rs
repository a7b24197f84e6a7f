//! Conformance: tasks (DAP-09 section 4.2).

use dyad_core::task::Task;
use dyad_datastore::testing::fixtures::{self, helper_task, leader_task, report};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{DatastoreError, DatastoreExt, DatastoreKeys, TxError};

/// Stored tasks read back equal, list in task ID order, and go when deleted.
pub async fn put_get_list_delete(h: TestDatastore) {
    let leader = leader_task();
    let helper = helper_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&leader, &helper]).await;

    let (leader_id, helper_id) = (*leader.task_id(), *helper.task_id());
    let (got, all) = h
        .datastore
        .run_read_tx("get", move |tx| {
            Box::pin(async move { Ok((tx.get_task(&leader_id).await?, tx.get_tasks().await?)) })
        })
        .await
        .unwrap();
    assert_eq!(got.as_ref(), Some(&leader));
    let mut expected = vec![leader.clone(), helper.clone()];
    expected.sort_by_key(|task| *task.task_id());
    assert_eq!(all, expected);

    let (deleted, deleted_again, gone) = h
        .datastore
        .run_tx("delete", move |tx| {
            Box::pin(async move {
                let deleted = tx.delete_task(&helper_id).await?;
                let deleted_again = tx.delete_task(&helper_id).await?;
                Ok((
                    deleted.is_some(),
                    deleted_again.is_some(),
                    tx.get_task(&helper_id).await?,
                ))
            })
        })
        .await
        .unwrap();
    assert!(deleted && !deleted_again);
    assert_eq!(gone, None);
}

/// Putting the identical task again succeeds; a different task under the
/// same ID is refused and leaves the stored one as it was.
pub async fn put_same_task_again(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;

    let changed: Task = task.to_builder().min_batch_size(999).build().unwrap();
    let result = h
        .datastore
        .run_tx("put changed", move |tx| {
            let changed = changed.clone();
            Box::pin(async move { Ok(tx.put_task(&changed).await?) })
        })
        .await;
    assert!(
        matches!(
            result,
            Err(TxError::Datastore(DatastoreError::AlreadyExists { .. }))
        ),
        "{result:?}"
    );

    let id = *task.task_id();
    let stored = h
        .datastore
        .run_read_tx("get", move |tx| {
            Box::pin(async move { Ok(tx.get_task(&id).await?) })
        })
        .await
        .unwrap();
    assert_eq!(stored, Some(task));
}

/// Deleting a task deletes its reports and jobs too.
pub async fn delete_task_removes_its_data(h: TestDatastore) {
    let task = leader_task();
    let other = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task, &other]).await;
    let kept = report(other.task_id(), 1000, 2);
    let reports = vec![report(task.task_id(), 1000, 1), kept.clone()];
    let job = fixtures::aggregation_job(task.task_id(), b"", None, fixtures::interval(0, 3600));
    let (task_id, job_id) = (*task.task_id(), job.aggregation_job_id);
    h.datastore
        .run_tx("fill", move |tx| {
            let (reports, job) = (reports.clone(), job.clone());
            Box::pin(async move {
                tx.put_client_reports(&reports).await?;
                tx.put_aggregation_job(&job).await?;
                tx.delete_task(&job.task_id).await?;
                Ok(())
            })
        })
        .await
        .unwrap();
    let (reports_left, job_left, other_report) = h
        .datastore
        .run_read_tx("check", move |tx| {
            let kept = kept.clone();
            Box::pin(async move {
                Ok((
                    tx.count_unaggregated_client_reports(&task_id, None).await?,
                    tx.get_aggregation_job(&task_id, &job_id).await?,
                    tx.get_client_report(&kept.task_id, kept.report_id())
                        .await?,
                ))
            })
        })
        .await
        .unwrap();
    assert_eq!(reports_left, 0);
    assert_eq!(job_left, None);
    assert!(other_report.is_some());
}

/// Task secrets are stored under the datastore keys: a process with the
/// wrong key gets a clear decryption error (not a task, not garbage); with
/// the new key first and the old one after it, old rows stay readable and
/// new rows are written under the new key.
pub async fn secrets_need_the_keys_and_survive_rotation(h: TestDatastore) {
    let old_task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&old_task]).await;
    let old_id = *old_task.task_id();
    let get = |datastore: std::sync::Arc<dyn dyad_datastore::Datastore>, task_id| async move {
        datastore
            .run_read_tx("get", move |tx| {
                Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
            })
            .await
    };

    let new_key = DatastoreKeys::generate();
    let wrong = (h.reopen)(new_key.clone()).await.unwrap();
    match get(wrong.clone(), old_id).await {
        Err(TxError::Datastore(error @ DatastoreError::Decrypt { .. })) => {
            let message = error.to_string();
            assert!(
                message.contains("tasks.task_document") && message.contains("datastore key"),
                "{message}"
            );
        }
        other => panic!("expected a decryption error, got {other:?}"),
    }
    assert!(wrong
        .run_read_tx("list", |tx| Box::pin(
            async move { Ok(tx.get_tasks().await?) }
        ))
        .await
        .is_err());
    wrong.close().await;

    let rotated_keys = DatastoreKeys::from_keys_in_order(&[&new_key, &h.keys]);
    let rotated = (h.reopen)(rotated_keys).await.unwrap();
    assert_eq!(get(rotated.clone(), old_id).await.unwrap(), Some(old_task));
    let new_task = helper_task();
    fixtures::put_tasks(rotated.as_ref(), &[&new_task]).await;
    rotated.close().await;

    let only_new = (h.reopen)(new_key).await.unwrap();
    assert_eq!(
        get(only_new.clone(), *new_task.task_id()).await.unwrap(),
        Some(new_task)
    );
    assert!(get(only_new.clone(), old_id).await.is_err());
    only_new.close().await;
}

/// Task IDs come in pages: ascending by their bytes, at most `limit`, each
/// strictly after the given ID; an ID past the last gives an empty page.
pub async fn task_ids_page_in_byte_order_after_a_given_id(h: TestDatastore) {
    let tasks: Vec<Task> = (0..5).map(|_| leader_task()).collect();
    fixtures::put_tasks(h.datastore.as_ref(), &tasks.iter().collect::<Vec<_>>()).await;
    let mut ids: Vec<_> = tasks.iter().map(|task| *task.task_id()).collect();
    ids.sort_by_key(|id| *id.as_bytes());
    let (last, expected) = (ids[4], ids.clone());
    let (first, second, third, all, none) = h
        .datastore
        .run_read_tx("pages", move |tx| {
            let expected = expected.clone();
            Box::pin(async move {
                let first = tx.get_task_ids(None, 2).await?;
                let second = tx.get_task_ids(Some(expected[1]), 2).await?;
                let third = tx.get_task_ids(Some(expected[3]), 2).await?;
                let all = tx.get_task_ids(None, 100).await?;
                let none = tx.get_task_ids(Some(last), 100).await?;
                Ok((first, second, third, all, none))
            })
        })
        .await
        .unwrap();
    assert_eq!(first, ids[..2]);
    assert_eq!(second, ids[2..4]);
    assert_eq!(third, ids[4..]);
    assert_eq!(all, ids);
    assert!(none.is_empty());
}
