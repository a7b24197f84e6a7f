//! Conformance: the Leader's client reports (DAP-09 section 4.4.2).

use dyad_datastore::models::{
    LeaderStoredReport, ReportAggregation, ReportAggregationState, ReportWriteOutcome,
};
use dyad_datastore::testing::fixtures::{self, aggregation_job, interval, leader_task, report, t};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreExt};
use dyad_messages::draft09::{PrepareError, ReportId, ReportMetadata, TaskId};

async fn put(
    datastore: &dyn Datastore,
    reports: Vec<LeaderStoredReport>,
) -> Vec<ReportWriteOutcome> {
    datastore
        .run_tx("put_client_reports", move |tx| {
            let reports = reports.clone();
            Box::pin(async move { Ok(tx.put_client_reports(&reports).await?) })
        })
        .await
        .unwrap()
}

async fn get_one(
    datastore: &dyn Datastore,
    task_id: TaskId,
    report_id: ReportId,
) -> Option<LeaderStoredReport> {
    datastore
        .run_read_tx("get_client_report", move |tx| {
            Box::pin(async move { Ok(tx.get_client_report(&task_id, &report_id).await?) })
        })
        .await
        .unwrap()
}

/// A stored report reads back field for field.
pub async fn round_trip(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let stored = report(task.task_id(), 7200, 3);
    let mut no_extensions = report(task.task_id(), 7201, 4);
    no_extensions.leader_extensions.clear();
    no_extensions.public_share.clear();
    let outcomes = put(
        h.datastore.as_ref(),
        vec![stored.clone(), no_extensions.clone()],
    )
    .await;
    assert_eq!(outcomes, vec![ReportWriteOutcome::Stored; 2]);
    for expected in [stored, no_extensions] {
        let found = get_one(
            h.datastore.as_ref(),
            expected.task_id,
            *expected.report_id(),
        )
        .await;
        assert_eq!(found, Some(expected));
    }
}

/// A report of a task that is not stored is refused with `NotFound`, and
/// the reports of the stored task in the same call are not kept either:
/// the transaction wrote nothing.
pub async fn reports_of_a_task_not_stored_are_refused(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let kept = report(task.task_id(), 3600, 1);
    let orphan = report(leader_task().task_id(), 3600, 2);
    let reports = vec![kept.clone(), orphan];
    let result = h
        .datastore
        .run_tx("put_client_reports", move |tx| {
            let reports = reports.clone();
            Box::pin(async move { Ok(tx.put_client_reports(&reports).await?) })
        })
        .await;
    crate::assert_not_found(&result);
    assert_eq!(
        get_one(h.datastore.as_ref(), kept.task_id, *kept.report_id()).await,
        None
    );
}

/// A report ID seen twice, in one batch or across batches, is stored once:
/// the first copy wins and the duplicates are reported as such.
pub async fn duplicate_report_kept_once(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let first = report(task.task_id(), 3600, 1);
    let mut same_id = report(task.task_id(), 3700, 2);
    same_id.metadata = ReportMetadata::new(*first.report_id(), t(3700));
    let other = report(task.task_id(), 3800, 3);

    let outcomes = put(
        h.datastore.as_ref(),
        vec![first.clone(), same_id.clone(), other.clone()],
    )
    .await;
    assert_eq!(
        outcomes,
        vec![
            ReportWriteOutcome::Stored,
            ReportWriteOutcome::Duplicate,
            ReportWriteOutcome::Stored
        ]
    );
    let again = put(
        h.datastore.as_ref(),
        vec![same_id, other.clone(), first.clone()],
    )
    .await;
    assert_eq!(again, vec![ReportWriteOutcome::Duplicate; 3]);
    // A batch mixing reports stored before with a new one stores the new
    // one only.
    let newer = report(task.task_id(), 3900, 4);
    let mixed = put(
        h.datastore.as_ref(),
        vec![other, newer.clone(), first.clone()],
    )
    .await;
    assert_eq!(
        mixed,
        vec![
            ReportWriteOutcome::Duplicate,
            ReportWriteOutcome::Stored,
            ReportWriteOutcome::Duplicate
        ]
    );
    let found = get_one(h.datastore.as_ref(), newer.task_id, *newer.report_id()).await;
    assert_eq!(found, Some(newer));

    let found = get_one(h.datastore.as_ref(), first.task_id, *first.report_id()).await;
    assert_eq!(found, Some(first));
    let task_id = *task.task_id();
    let count = h
        .datastore
        .run_read_tx("count", move |tx| {
            Box::pin(async move { Ok(tx.count_unaggregated_client_reports(&task_id, None).await?) })
        })
        .await
        .unwrap();
    assert_eq!(count, 3);
}

/// `get_client_reports` answers in the order asked, without missing IDs.
pub async fn get_many_keeps_order_and_skips_missing(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let reports: Vec<_> = (0..5)
        .map(|i| report(task.task_id(), 3600 + i, i as u8))
        .collect();
    put(h.datastore.as_ref(), reports.clone()).await;
    let wanted = vec![
        *reports[3].report_id(),
        ReportId::random(),
        *reports[0].report_id(),
        *reports[4].report_id(),
    ];
    let task_id = *task.task_id();
    let found = h
        .datastore
        .run_read_tx("get many", move |tx| {
            let wanted = wanted.clone();
            Box::pin(async move { Ok(tx.get_client_reports(&task_id, &wanted).await?) })
        })
        .await
        .unwrap();
    assert_eq!(
        found,
        vec![reports[3].clone(), reports[0].clone(), reports[4].clone()]
    );
}

/// Unaggregated reports come oldest first up to the limit; marked ones no
/// longer come or count; counts can be limited to an interval.
pub async fn unaggregated_reports_oldest_first(h: TestDatastore) {
    let task = leader_task();
    let other = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task, &other]).await;
    let times = [7300, 3600, 10_900, 3700, 7200];
    let reports: Vec<_> = times
        .iter()
        .map(|s| report(task.task_id(), *s, 0))
        .collect();
    let mut all = reports.clone();
    all.push(report(other.task_id(), 3600, 0));
    put(h.datastore.as_ref(), all).await;

    let task_id = *task.task_id();
    let ids_by_time = |order: &[usize]| -> Vec<ReportMetadata> {
        order.iter().map(|i| reports[*i].metadata).collect()
    };
    let oldest = h
        .datastore
        .run_read_tx("oldest", move |tx| {
            Box::pin(async move { Ok(tx.get_unaggregated_client_reports(&task_id, 3).await?) })
        })
        .await
        .unwrap();
    assert_eq!(oldest, ids_by_time(&[1, 3, 4]));

    let to_mark = vec![
        *reports[1].report_id(),
        *reports[4].report_id(),
        ReportId::random(),
    ];
    let (marked, marked_again, rest, in_first_hour, total) = h
        .datastore
        .run_tx("mark", move |tx| {
            let to_mark = to_mark.clone();
            Box::pin(async move {
                let marked = tx
                    .mark_client_reports_aggregation_started(&task_id, &to_mark)
                    .await?;
                let again = tx
                    .mark_client_reports_aggregation_started(&task_id, &to_mark)
                    .await?;
                Ok((
                    marked,
                    again,
                    tx.get_unaggregated_client_reports(&task_id, 10).await?,
                    tx.count_unaggregated_client_reports(&task_id, Some(interval(3600, 3600)))
                        .await?,
                    tx.count_unaggregated_client_reports(&task_id, None).await?,
                ))
            })
        })
        .await
        .unwrap();
    assert_eq!((marked, marked_again), (2, 0));
    assert_eq!(rest, ids_by_time(&[3, 0, 2]));
    assert_eq!((in_first_hour, total), (1, 3));
}

/// A report taken for a job and put back (the Helper said
/// `report_too_early`) is unaggregated again, for the next job to take; only
/// marked reports of this task change.
pub async fn reports_put_back_in_the_pool_are_taken_again(h: TestDatastore) {
    let task = leader_task();
    let other = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task, &other]).await;
    let reports: Vec<_> = [100, 200, 300]
        .iter()
        .map(|s| report(task.task_id(), *s, 0))
        .collect();
    let elsewhere = report(other.task_id(), 100, 0);
    let mut all = reports.clone();
    all.push(elsewhere.clone());
    put(h.datastore.as_ref(), all).await;
    let task_id = *task.task_id();
    let other_id = *other.task_id();
    let taken: Vec<ReportId> = reports.iter().map(|r| *r.report_id()).collect();
    let elsewhere_id = *elsewhere.report_id();
    let (unmarked, unmarked_again, wrong_task, rest, marked_again) = h
        .datastore
        .run_tx("put back", move |tx| {
            let taken = taken.clone();
            Box::pin(async move {
                tx.mark_client_reports_aggregation_started(&task_id, &taken)
                    .await?;
                tx.mark_client_reports_aggregation_started(&other_id, &[elsewhere_id])
                    .await?;
                let back = [taken[1], ReportId::random()];
                let unmarked = tx
                    .unmark_client_reports_aggregation_started(&task_id, &back)
                    .await?;
                let again = tx
                    .unmark_client_reports_aggregation_started(&task_id, &back)
                    .await?;
                // Another task's report is not touched through this task.
                let wrong_task = tx
                    .unmark_client_reports_aggregation_started(&task_id, &[elsewhere_id])
                    .await?;
                let rest = tx.get_unaggregated_client_reports(&task_id, 10).await?;
                let marked_again = tx
                    .mark_client_reports_aggregation_started(&task_id, &taken)
                    .await?;
                Ok((unmarked, again, wrong_task, rest, marked_again))
            })
        })
        .await
        .unwrap();
    assert_eq!((unmarked, unmarked_again, wrong_task), (1, 0, 0));
    assert_eq!(rest, vec![reports[1].metadata]);
    assert_eq!(marked_again, 1);
    let other_left = h
        .datastore
        .run_read_tx("other", move |tx| {
            Box::pin(async move {
                Ok(tx
                    .count_unaggregated_client_reports(&other_id, None)
                    .await?)
            })
        })
        .await
        .unwrap();
    assert_eq!(other_left, 0);
}

/// Reports older than a time are deleted, at most `limit` at a time.
pub async fn delete_old_reports(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let reports: Vec<_> = [100, 200, 300, 400]
        .iter()
        .map(|s| report(task.task_id(), *s, 0))
        .collect();
    put(h.datastore.as_ref(), reports.clone()).await;
    let task_id = *task.task_id();
    let (first, second, left) = h
        .datastore
        .run_tx("delete", move |tx| {
            Box::pin(async move {
                let first = tx.delete_client_reports_before(&task_id, t(350), 2).await?;
                let second = tx.delete_client_reports_before(&task_id, t(350), 2).await?;
                Ok((
                    first,
                    second,
                    tx.get_unaggregated_client_reports(&task_id, 10).await?,
                ))
            })
        })
        .await
        .unwrap();
    assert_eq!((first, second), (2, 1));
    assert_eq!(left, vec![reports[3].metadata]);
}

/// Puts one job with `aggregation_parameter` holding `reports` (their
/// report aggregations in `state`).
async fn aggregate_with(
    datastore: &dyn Datastore,
    task_id: &TaskId,
    aggregation_parameter: &[u8],
    reports: &[&LeaderStoredReport],
    state: ReportAggregationState,
) {
    let job = aggregation_job(task_id, aggregation_parameter, None, interval(0, 86_400));
    fixtures::put_aggregation_jobs(datastore, std::slice::from_ref(&job)).await;
    let rows: Vec<ReportAggregation> = reports
        .iter()
        .enumerate()
        .map(|(ord, report)| {
            ReportAggregation::new(
                job.task_id,
                job.aggregation_job_id,
                ord as u64,
                *report.report_id(),
                report.metadata.time,
                state.clone(),
            )
        })
        .collect();
    datastore
        .run_tx("put report aggregations", move |tx| {
            let rows = rows.clone();
            Box::pin(async move { Ok(tx.put_report_aggregations(&rows, None).await?) })
        })
        .await
        .unwrap();
}

/// For VDAFs whose aggregation parameter the Collector chooses (DAP-09
/// section 4.6.1), a report that a job holds with parameter A is not taken
/// again for A, whatever became of its preparation, but is for B; reports
/// of other tasks or outside the interval never come; oldest first, up to
/// the limit; the count agrees with the unlimited list. The
/// queue of reports no job has taken (`unaggregated_reports`) plays no part.
pub async fn reports_are_taken_once_per_aggregation_parameter(h: TestDatastore) {
    let task = leader_task();
    let other = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task, &other]).await;
    // r[0..4] in the hour [3600, 7200), given out of time order; r[4] just
    // before it, r[5] at its end (excluded: intervals are half open).
    let r: Vec<_> = [3900, 3600, 3800, 3700, 3599, 7200]
        .iter()
        .map(|s| report(task.task_id(), *s, 0))
        .collect();
    let elsewhere = report(other.task_id(), 3600, 0);
    let mut all = r.clone();
    all.push(elsewhere.clone());
    put(h.datastore.as_ref(), all).await;
    let datastore = h.datastore.as_ref();
    // Parameter A: one report finished, one failed; B: one report. The
    // other task's report is held with A too.
    aggregate_with(
        datastore,
        task.task_id(),
        b"A",
        &[&r[1]],
        ReportAggregationState::Finished,
    )
    .await;
    aggregate_with(
        datastore,
        task.task_id(),
        b"A",
        &[&r[3]],
        ReportAggregationState::Failed(PrepareError::VdafPrepError),
    )
    .await;
    aggregate_with(
        datastore,
        task.task_id(),
        b"B",
        &[&r[2]],
        ReportAggregationState::Start,
    )
    .await;
    aggregate_with(
        datastore,
        other.task_id(),
        b"A",
        &[&elsewhere],
        ReportAggregationState::Start,
    )
    .await;
    // Marking a report as started (Prio3's pool) changes nothing here.
    let task_id = *task.task_id();
    let marked = *r[0].report_id();
    h.datastore
        .run_tx("mark", move |tx| {
            Box::pin(async move {
                Ok(tx
                    .mark_client_reports_aggregation_started(&task_id, &[marked])
                    .await?)
            })
        })
        .await
        .unwrap();

    let hour = interval(3600, 3600);
    let query = |parameter: &'static [u8], limit: u64| {
        let datastore = h.datastore.clone();
        async move {
            datastore
                .run_read_tx("not aggregated with", move |tx| {
                    Box::pin(async move {
                        Ok((
                            tx.get_client_reports_not_aggregated_with(
                                &task_id, hour, parameter, limit,
                            )
                            .await?,
                            tx.count_client_reports_not_aggregated_with(&task_id, hour, parameter)
                                .await?,
                        ))
                    })
                })
                .await
                .unwrap()
        }
    };
    let metadata =
        |order: &[usize]| -> Vec<ReportMetadata> { order.iter().map(|i| r[*i].metadata).collect() };
    assert_eq!(query(b"A", 10).await, (metadata(&[2, 0]), 2), "A");
    assert_eq!(query(b"B", 10).await, (metadata(&[1, 3, 0]), 3), "B");
    assert_eq!(query(b"C", 10).await, (metadata(&[1, 3, 2, 0]), 4), "C");
    assert_eq!(
        query(b"C", 3).await,
        (metadata(&[1, 3, 2]), 4),
        "the limit cuts the list, not the count"
    );
    assert_eq!(query(b"A", 0).await, (vec![], 2), "limit 0");

    // A job taking the rest with A leaves nothing for A, all for B.
    aggregate_with(
        datastore,
        task.task_id(),
        b"A",
        &[&r[2], &r[0]],
        ReportAggregationState::Start,
    )
    .await;
    assert_eq!(query(b"A", 10).await, (vec![], 0), "A after the last job");
    assert_eq!(query(b"B", 10).await, (metadata(&[1, 3, 0]), 3), "B again");
}
