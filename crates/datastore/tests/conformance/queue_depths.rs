//! Conformance: the Leader's queue depths count, over all tasks, the
//! reports not yet in an aggregation job and the collection jobs still in
//! `Start`.

use dyad_datastore::models::{BatchIdentifier, CollectionJob, CollectionJobState};
use dyad_datastore::testing::fixtures::{self, interval, leader_task, report};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreExt, QueueDepths};
use dyad_messages::draft09::{CollectionJobId, Query};

async fn depths(datastore: &dyn Datastore) -> QueueDepths {
    datastore
        .run_read_tx("depths", |tx| {
            Box::pin(async move { Ok(tx.count_queue_depths().await?) })
        })
        .await
        .unwrap()
}

pub async fn counts_unaggregated_reports_and_pending_collection_jobs(h: TestDatastore) {
    let ds = h.datastore.as_ref();
    assert_eq!(depths(ds).await, QueueDepths::default());
    let (first, second) = (leader_task(), leader_task());
    fixtures::put_tasks(ds, &[&first, &second]).await;
    let reports = vec![
        report(first.task_id(), 3600, 1),
        report(first.task_id(), 3601, 2),
        report(second.task_id(), 3602, 3),
    ];
    let marked = reports[0].metadata.id;
    let first_id = *first.task_id();
    let batch = interval(3600, 3600);
    let job = |state: CollectionJobState| {
        let mut job = CollectionJob::new(
            first_id,
            CollectionJobId::random(),
            Query::TimeInterval(batch),
            vec![],
            BatchIdentifier::TimeInterval(batch),
            vec![1],
        );
        job.state = state;
        job
    };
    let jobs = vec![
        job(CollectionJobState::Start),
        job(CollectionJobState::Start),
        job(CollectionJobState::Abandoned),
    ];
    ds.run_tx("put", move |tx| {
        let (reports, jobs) = (reports.clone(), jobs.clone());
        Box::pin(async move {
            tx.put_client_reports(&reports).await?;
            tx.mark_client_reports_aggregation_started(&first_id, &[marked])
                .await?;
            for job in &jobs {
                tx.put_collection_job(job).await?;
            }
            Ok(())
        })
    })
    .await
    .unwrap();
    assert_eq!(
        depths(ds).await,
        QueueDepths {
            unaggregated_reports: 2,
            pending_collection_jobs: 2,
        }
    );
}
