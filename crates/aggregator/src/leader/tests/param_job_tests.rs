//! A VDAF whose aggregation parameter the Collector chooses (Poplar1),
//! against this crate's real Helper: no job before a collection names a
//! parameter, jobs per (batch, parameter), each report aggregated once per
//! parameter through the two-round preparation, a batch collected level
//! after level, and a Helper asked to prepare reports again with a
//! parameter they were prepared with refusing them (`report_replayed`)
//! without changing any collection.

use super::fixtures::{Env, HelperKind};
use super::*;
use crate::leader::new_job::{put_job, JobReports};
use dyad_core::task::BatchMode;
use dyad_core::vdaf::{Measurement, VdafInstance};
use dyad_datastore::models::{BatchIdentifier, ReportAggregationState};
use dyad_messages::draft09::{CollectionJobId, PrepareError, Query, ReportMetadata};
use prio::codec::Encode as _;
use prio::idpf::IdpfInput;
use prio::vdaf::poplar1::Poplar1AggregationParam;

fn bits(s: &str) -> Vec<bool> {
    s.chars().map(|c| c == '1').collect()
}

fn param(prefixes: &[&str]) -> Vec<u8> {
    Poplar1AggregationParam::try_from_prefixes(
        prefixes
            .iter()
            .map(|p| IdpfInput::from_bools(&bits(p)))
            .collect(),
    )
    .unwrap()
    .get_encoded()
    .unwrap()
}

/// Creates a collection job for `batch` with `agg_param`, the jobs it
/// needs (none if `aggregated` already), drives them and the collection;
/// the result and report count.
async fn collect_level(
    env: &Env,
    batch: Interval,
    agg_param: Vec<u8>,
    aggregated: bool,
) -> (String, u64) {
    let id: CollectionJobId = env
        .put_collection_job(
            Query::TimeInterval(batch),
            BatchIdentifier::TimeInterval(batch),
            agg_param,
        )
        .await;
    let created = if aggregated {
        Vec::new()
    } else {
        // The collection waits while reports lack a job with its parameter.
        collection_driver(env, &collection_config(2))
            .run_once()
            .await
            .unwrap();
        assert!(matches!(
            env.collection_job(id).await.state,
            dyad_datastore::models::CollectionJobState::Start
        ));
        create_jobs(env, creator_config(1, 4)).await
    };
    assert_eq!(created.is_empty(), aggregated);
    assert!(
        create_jobs(env, creator_config(1, 4)).await.is_empty(),
        "a report is put in one job per parameter"
    );
    drive_all(env).await;
    for (job, _) in env.jobs(&created).await {
        assert_eq!(
            job.state,
            dyad_datastore::models::AggregationJobState::Finished
        );
    }
    env.clock().advance(Duration::from_seconds(2));
    collection_driver(env, &collection_config(2))
        .run_once()
        .await
        .unwrap();
    env.collected_result(&env.collection_job(id).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poplar1_is_aggregated_per_collection_parameter_level_after_level() {
    let env = Env::with_helper(
        HelperKind::Real,
        VdafInstance::Poplar1 { bits: 4 },
        BatchMode::TimeInterval,
        3,
    )
    .await;
    let start = bucket_time(&env, 2);
    let strings = ["1010", "1010", "1010", "1011", "1011", "0001"];
    let measurements: Vec<_> = strings
        .iter()
        .map(|s| Measurement::Poplar1(bits(s)))
        .collect();
    let report_ids = env.upload(&measurements, start).await;
    assert!(
        create_jobs(&env, creator_config(1, 4)).await.is_empty(),
        "nothing is aggregated before a collection names a parameter"
    );
    let batch = interval(start, 2);

    let level0 = param(&["0", "1"]);
    assert_eq!(
        collect_level(&env, batch, level0.clone(), false).await,
        ("[1, 5]".to_owned(), 6)
    );
    assert_eq!(
        collect_level(&env, batch, param(&["10", "11"]), false).await,
        ("[5, 0]".to_owned(), 6)
    );
    // A level may be skipped; the leaf level counts in the leaf field.
    assert_eq!(
        collect_level(&env, batch, param(&["1010", "1011"]), false).await,
        ("[3, 2]".to_owned(), 6)
    );

    // The Helper is asked to prepare the reports again at level 0: every
    // one is `report_replayed`, and the level-0 collection is unchanged.
    let task_id = env.task_id();
    let again = {
        let reports: Vec<ReportMetadata> = report_ids
            .iter()
            .map(|id| ReportMetadata::new(*id, start))
            .collect();
        let level0 = level0.clone();
        env.ds()
            .run_tx("put_job", move |tx| {
                let (reports, level0) = (reports.clone(), level0.clone());
                Box::pin(async move {
                    put_job(tx, &task_id, &level0, None, &reports, JobReports::Rows).await
                })
            })
            .await
            .unwrap()
    };
    drive_all(&env).await;
    let (_, reports) = env.jobs(&[again]).await.pop().unwrap();
    assert_eq!(reports.len(), strings.len());
    for report in reports {
        assert_eq!(
            report.state,
            ReportAggregationState::Failed(PrepareError::ReportReplayed)
        );
    }
    assert_eq!(
        collect_level(&env, batch, level0, true).await,
        ("[1, 5]".to_owned(), 6)
    );
}
