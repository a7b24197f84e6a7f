//! Conformance: the Helper's anti-replay set (DAP-09 section 4.5.1.4).

use dyad_datastore::models::SeenReport;
use dyad_datastore::testing::fixtures::{self, helper_task, t};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreExt};
use dyad_messages::draft09::{ReportId, TaskId};

async fn put(
    datastore: &dyn Datastore,
    task_id: TaskId,
    p: &'static [u8],
    reports: Vec<SeenReport>,
) -> Vec<bool> {
    datastore
        .run_tx("put", move |tx| {
            let reports = reports.clone();
            Box::pin(async move { Ok(tx.put_helper_seen_reports(&task_id, p, &reports).await?) })
        })
        .await
        .unwrap()
}

fn seen(time: u64) -> SeenReport {
    SeenReport {
        report_id: ReportId::random(),
        time: t(time),
    }
}

/// A report seen before with the same parameter, or earlier in the same
/// batch, is a replay; the same ID with another parameter or task is not.
pub async fn replays_are_reported(h: TestDatastore) {
    let task = helper_task();
    let other = helper_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task, &other]).await;
    let (a, b, c) = (seen(100), seen(200), seen(300));
    let first = put(h.datastore.as_ref(), *task.task_id(), b"", vec![a, b, a]).await;
    assert_eq!(first, vec![false, false, true]);
    let second = put(h.datastore.as_ref(), *task.task_id(), b"", vec![c, b]).await;
    assert_eq!(second, vec![false, true]);
    let other_parameter = put(h.datastore.as_ref(), *task.task_id(), b"x", vec![a]).await;
    assert_eq!(other_parameter, vec![false]);
    let other_task = put(h.datastore.as_ref(), *other.task_id(), b"", vec![a]).await;
    assert_eq!(other_task, vec![false]);
}

/// Reports of a task that is not stored are refused with `NotFound`, and
/// nothing is kept of them.
pub async fn reports_of_a_task_not_stored_are_refused(h: TestDatastore) {
    let missing = *helper_task().task_id();
    let report = seen(100);
    let reports = vec![report];
    let result = h
        .datastore
        .run_tx("put", move |tx| {
            let reports = reports.clone();
            Box::pin(async move { Ok(tx.put_helper_seen_reports(&missing, b"", &reports).await?) })
        })
        .await;
    crate::assert_not_found(&result);
    let found = h
        .datastore
        .run_read_tx("seen", move |tx| {
            Box::pin(async move {
                Ok(tx
                    .get_helper_seen_aggregation_parameters(&missing, &[report.report_id], b"")
                    .await?)
            })
        })
        .await
        .unwrap();
    assert!(found.is_empty());
}

/// The parameters each report was seen with are listed; old entries can be
/// dropped by report time.
pub async fn parameters_and_expiry(h: TestDatastore) {
    let task = helper_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let (old, new) = (seen(100), seen(5000));
    put(h.datastore.as_ref(), task_id, b"1", vec![old, new]).await;
    put(h.datastore.as_ref(), task_id, b"2", vec![old]).await;
    let (parameters, deleted, after) = h
        .datastore
        .run_tx("params", move |tx| {
            Box::pin(async move {
                let ids = [old.report_id, new.report_id, ReportId::random()];
                let parameters = tx
                    .get_helper_seen_aggregation_parameters(&task_id, &ids, b"")
                    .await?;
                let deleted = tx
                    .delete_helper_seen_reports_before(&task_id, t(1000), 10)
                    .await?;
                let after = tx
                    .get_helper_seen_aggregation_parameters(&task_id, &ids, b"")
                    .await?;
                Ok((parameters, deleted, after))
            })
        })
        .await
        .unwrap();
    let mut parameters = parameters;
    parameters.sort();
    let mut expected = vec![
        (old.report_id, b"1".to_vec()),
        (old.report_id, b"2".to_vec()),
        (new.report_id, b"1".to_vec()),
    ];
    expected.sort();
    assert_eq!(parameters, expected);
    assert_eq!(deleted, 2);
    assert_eq!(after, vec![(new.report_id, b"1".to_vec())]);
}

/// With a clash prefix, a report seen with many parameters gives those
/// starting with the prefix and its first parameter in byte order, and
/// nothing more (so a Poplar1 report seen at many levels costs a row or
/// two to check); a report never seen is absent.
pub async fn clash_prefix_gives_the_clashing_and_the_first_parameters(h: TestDatastore) {
    let task = helper_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let (many, one, never) = (seen(100), seen(200), seen(300));
    // Level-like prefixes: two bytes, then the rest.
    put(h.datastore.as_ref(), task_id, b"\x00\x00a", vec![many]).await;
    put(h.datastore.as_ref(), task_id, b"\x00\x01b", vec![many, one]).await;
    put(h.datastore.as_ref(), task_id, b"\x00\x02c", vec![many]).await;
    put(h.datastore.as_ref(), task_id, b"\x00\x03d", vec![many]).await;
    let lookups = h
        .datastore
        .run_tx("clash", move |tx| {
            Box::pin(async move {
                let ids = [many.report_id, one.report_id, never.report_id];
                let mut found = Vec::new();
                for prefix in [&b"\x00\x02"[..], b"\x00\x01", b"\x00\x09", b""] {
                    found.push(
                        tx.get_helper_seen_aggregation_parameters(&task_id, &ids, prefix)
                            .await?,
                    );
                }
                Ok(found)
            })
        })
        .await
        .unwrap();
    let sorted = |rows: &[(ReportId, &[u8])]| {
        let mut rows: Vec<(ReportId, Vec<u8>)> =
            rows.iter().map(|(id, p)| (*id, p.to_vec())).collect();
        rows.sort();
        rows
    };
    let mut got: Vec<Vec<(ReportId, Vec<u8>)>> = lookups;
    for rows in &mut got {
        rows.sort();
    }
    let (m, o) = (many.report_id, one.report_id);
    assert_eq!(
        got[0],
        sorted(&[(m, b"\x00\x00a"), (m, b"\x00\x02c"), (o, b"\x00\x01b")]),
        "level 2: the clashing entry and each report's first"
    );
    assert_eq!(
        got[1],
        sorted(&[(m, b"\x00\x00a"), (m, b"\x00\x01b"), (o, b"\x00\x01b")]),
        "level 1: the first entry is also the clashing one for `one`"
    );
    assert_eq!(
        got[2],
        sorted(&[(m, b"\x00\x00a"), (o, b"\x00\x01b")]),
        "an unused level: only each report's first"
    );
    assert_eq!(got[3].len(), 5, "no prefix: every entry");
}
