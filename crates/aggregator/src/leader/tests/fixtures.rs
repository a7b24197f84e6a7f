//! Test fixtures: a Leader task and its Helper twin, a temporary SQLite
//! datastore on a [`MockClock`], reports made the way a client makes them,
//! and reading a finished collection back the way a Collector does.

use super::helper_stub::StubHelper;
use dyad_core::clock::MockClock;
use dyad_core::hpke::{open_aggregate_share, seal_input_share, HpkeKeypair};
use dyad_core::task::{AuthenticationToken, AuthenticationTokenType, BatchMode, Task, VerifyKey};
use dyad_core::vdaf::{shard_measurement, Measurement, VdafInstance};
use dyad_core::vdaf_dispatch;
use dyad_datastore::models::{
    AggregationJob, BatchIdentifier, CollectionJob, CollectionJobState, LeaderStoredReport,
    ReportAggregation,
};
use dyad_datastore::testing::{sqlite_harness, TestDatastore};
use dyad_datastore::{Datastore, DatastoreExt};
use dyad_messages::draft09::{
    AggregateShareAad, AggregationJobId, BatchSelector, CollectionJobId, Duration, HpkeConfigId,
    InputShareAad, Interval, PlaintextInputShare, Query, ReportId, ReportMetadata, Role, TaskId,
    Time,
};
use dyad_protocol::collection::unshard;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use url::Url;

/// The `time_precision` of test tasks.
pub(crate) const PRECISION: u64 = 3600;

async fn put_task(ds: &dyn Datastore, task: &Task) {
    let task = task.clone();
    ds.run_tx("put_task", move |tx| {
        let task = task.clone();
        Box::pin(async move { Ok(tx.put_task(&task).await?) })
    })
    .await
    .expect("put task");
}

/// A Leader task whose Helper is at `helper`, with fresh secrets.
pub(crate) fn leader_task_with_helper(helper: Url) -> Task {
    TaskPair::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1, helper).leader
}

/// The two aggregators' views of one task, and the Collector's key.
pub(crate) struct TaskPair {
    pub leader: Task,
    pub helper: Task,
    pub collector: HpkeKeypair,
}

impl TaskPair {
    pub fn new(
        vdaf: VdafInstance,
        batch_mode: BatchMode,
        min_batch_size: u64,
        helper: Url,
    ) -> Self {
        let collector = HpkeKeypair::generate_default(HpkeConfigId(7));
        let helper_keys = HpkeKeypair::generate_default(HpkeConfigId(1));
        let token = AuthenticationToken::random(AuthenticationTokenType::DapAuth);
        let base = Task::builder()
            .task_id(TaskId::random())
            .leader_aggregator_endpoint("https://leader.example/".parse().expect("URL"))
            .helper_aggregator_endpoint(helper)
            .vdaf(vdaf)
            .vdaf_verify_key(VerifyKey::random(vdaf.verify_key_length()))
            .batch_mode(batch_mode)
            .min_batch_size(min_batch_size)
            // Once, or once per level of a VDAF collected level by level.
            .max_batch_query_count(match dyad_core::vdaf::param_kind(&vdaf) {
                dyad_core::vdaf::ParamKind::Levelled { levels } => levels,
                dyad_core::vdaf::ParamKind::Single(_) => 1,
            })
            .time_precision(Duration::from_seconds(PRECISION))
            .collector_hpke_config(collector.config().clone())
            .aggregator_auth_token(token.clone());
        let leader = base
            .clone()
            .role(Role::Leader)
            .collector_auth_token(AuthenticationToken::random(AuthenticationTokenType::Bearer))
            .build()
            .expect("leader task");
        let helper = base
            .role(Role::Helper)
            .aggregator_auth_token(token.hash())
            .hpke_keys(vec![helper_keys])
            .build()
            .expect("helper task");
        Self {
            leader,
            helper,
            collector,
        }
    }

    /// A report as the Leader stores it at upload: its own share decrypted,
    /// the Helper's sealed.
    pub fn report(&self, measurement: &Measurement, time: Time) -> LeaderStoredReport {
        let metadata = ReportMetadata::new(ReportId::random(), time);
        let sharded = shard_measurement(self.leader.vdaf(), measurement, metadata.id.as_bytes())
            .expect("shard");
        let aad = InputShareAad::new(
            *self.leader.task_id(),
            metadata,
            sharded.public_share.clone(),
        );
        let helper_config = self.helper.hpke_keys()[0].config();
        let helper_encrypted_input_share = seal_input_share(
            helper_config,
            Role::Helper,
            &aad,
            &PlaintextInputShare::new(vec![], sharded.helper_input_share.clone()),
        )
        .expect("seal");
        LeaderStoredReport {
            task_id: *self.leader.task_id(),
            metadata,
            public_share: sharded.public_share,
            leader_extensions: vec![],
            leader_input_share: sharded.leader_input_share,
            helper_encrypted_input_share,
        }
    }
}

/// Which Helper the Leader talks to.
pub(crate) enum HelperKind {
    /// The stand-in of [`super::helper_stub`], with faults to inject.
    Stub,
    /// This crate's own Helper endpoints over a datastore of their own.
    Real,
}

/// A Leader with its datastore and a Helper.
pub(crate) struct Env {
    pub store: TestDatastore,
    pub tasks: TaskPair,
    stub: Option<StubHelper>,
    /// The real Helper's datastore and the token that stops its server.
    _real: Option<(TestDatastore, CancellationToken)>,
    pub http: reqwest::Client,
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some((_, shutdown)) = &self._real {
            shutdown.cancel();
        }
    }
}

impl Env {
    /// A Leader talking to the stand-in Helper.
    pub async fn new(vdaf: VdafInstance, batch_mode: BatchMode, min_batch_size: u64) -> Self {
        Self::with_helper(HelperKind::Stub, vdaf, batch_mode, min_batch_size).await
    }

    pub async fn with_helper(
        kind: HelperKind,
        vdaf: VdafInstance,
        batch_mode: BatchMode,
        min_batch_size: u64,
    ) -> Self {
        let store = sqlite_harness().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let url: Url = format!("http://{address}/").parse().expect("URL");
        let tasks = TaskPair::new(vdaf, batch_mode, min_batch_size, url);
        let (stub, real) = match kind {
            HelperKind::Stub => (
                Some(StubHelper::start(
                    listener,
                    tasks.helper.clone(),
                    store.clock.clone(),
                )),
                None,
            ),
            HelperKind::Real => {
                let helper_store = sqlite_harness().await;
                put_task(helper_store.datastore.as_ref(), &tasks.helper).await;
                let shutdown = CancellationToken::new();
                tokio::spawn(crate::http::serve_on(
                    listener,
                    Arc::clone(&helper_store.datastore),
                    crate::state::ApiConfig::default(),
                    shutdown.clone(),
                ));
                (None, Some((helper_store, shutdown)))
            }
        };
        put_task(store.datastore.as_ref(), &tasks.leader).await;
        Self {
            store,
            tasks,
            stub,
            _real: real,
            http: reqwest::Client::new(),
        }
    }

    /// The stand-in Helper (for environments made with it).
    pub fn stub(&self) -> &StubHelper {
        self.stub
            .as_ref()
            .expect("this environment uses the stand-in Helper")
    }

    pub fn ds(&self) -> Arc<dyn Datastore> {
        Arc::clone(&self.store.datastore)
    }

    pub fn clock(&self) -> &MockClock {
        &self.store.clock
    }

    pub fn task_id(&self) -> TaskId {
        *self.tasks.leader.task_id()
    }

    /// Stores one report per measurement, all at `time`.
    pub async fn upload(&self, measurements: &[Measurement], time: Time) -> Vec<ReportId> {
        let reports: Vec<_> = measurements
            .iter()
            .map(|m| self.tasks.report(m, time))
            .collect();
        let ids = reports.iter().map(|r| r.metadata.id).collect();
        self.store
            .datastore
            .run_tx("upload", move |tx| {
                let reports = reports.clone();
                Box::pin(async move { Ok(tx.put_client_reports(&reports).await?) })
            })
            .await
            .expect("put reports");
        ids
    }

    /// The given aggregation jobs with their report aggregations.
    pub async fn jobs(
        &self,
        ids: &[AggregationJobId],
    ) -> Vec<(AggregationJob, Vec<ReportAggregation>)> {
        let task_id = self.task_id();
        let ids = ids.to_vec();
        self.store
            .datastore
            .run_read_tx("jobs", move |tx| {
                let ids = ids.clone();
                Box::pin(async move {
                    let mut out = Vec::new();
                    for job_id in ids {
                        let job = tx.get_aggregation_job(&task_id, &job_id).await?;
                        let ras = tx.get_report_aggregations(&task_id, &job_id).await?;
                        out.extend(job.map(|job| (job, ras)));
                    }
                    Ok(out)
                })
            })
            .await
            .expect("read jobs")
    }

    /// The task's counters.
    pub async fn counters(&self) -> dyad_datastore::models::TaskCounters {
        let task_id = self.task_id();
        self.store
            .datastore
            .run_read_tx("counters", move |tx| {
                Box::pin(async move { Ok(tx.get_task_counters(&task_id).await?) })
            })
            .await
            .expect("read counters")
            .unwrap_or_default()
    }

    /// Stores a collection job for the time interval `batch`, with no
    /// aggregation parameter.
    pub async fn put_interval_collection_job(&self, batch: Interval) -> CollectionJobId {
        self.put_collection_job(
            Query::TimeInterval(batch),
            BatchIdentifier::TimeInterval(batch),
            vec![],
        )
        .await
    }

    /// Stores a collection job for `query` with the batch it resolves to.
    pub async fn put_collection_job(
        &self,
        query: Query,
        batch: BatchIdentifier,
        aggregation_parameter: Vec<u8>,
    ) -> CollectionJobId {
        let job = CollectionJob::new(
            self.task_id(),
            CollectionJobId::random(),
            query,
            aggregation_parameter,
            batch,
            vec![1, 2, 3],
        );
        let id = job.collection_job_id;
        self.store
            .datastore
            .run_tx("put_collection_job", move |tx| {
                let job = job.clone();
                Box::pin(async move { Ok(tx.put_collection_job(&job).await.map(drop)?) })
            })
            .await
            .expect("put collection job");
        id
    }

    pub async fn collection_job(&self, id: CollectionJobId) -> CollectionJob {
        let task_id = self.task_id();
        self.store
            .datastore
            .run_read_tx("get_collection_job", move |tx| {
                Box::pin(async move { Ok(tx.get_collection_job(&task_id, &id).await?) })
            })
            .await
            .expect("read collection job")
            .expect("collection job exists")
    }

    /// Polls the collection job until it has left the start state, for at
    /// most a minute (`why` says what the wait expects, should it not end).
    pub async fn wait_until_collected(&self, id: CollectionJobId, why: &str) -> CollectionJob {
        tokio::time::timeout(std::time::Duration::from_secs(60), async {
            loop {
                let job = self.collection_job(id).await;
                if !matches!(job.state, CollectionJobState::Start) {
                    return job;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
        .await
        .expect(why)
    }

    /// Opens and unshards a finished collection job as the Collector would:
    /// the encoded aggregate result (debug form) and the report count.
    pub fn collected_result(&self, job: &CollectionJob) -> (String, u64) {
        let CollectionJobState::Finished {
            report_count,
            leader_encrypted_agg_share,
            helper_encrypted_agg_share,
            ..
        } = &job.state
        else {
            panic!("collection job not finished: {:?}", job.state)
        };
        let selector: BatchSelector = job.batch_identifier.to_batch_selector();
        let aad =
            AggregateShareAad::new(self.task_id(), job.aggregation_parameter.clone(), selector);
        let leader = open_aggregate_share(
            &self.tasks.collector,
            Role::Leader,
            &aad,
            leader_encrypted_agg_share,
        )
        .expect("open Leader share");
        let helper = open_aggregate_share(
            &self.tasks.collector,
            Role::Helper,
            &aad,
            helper_encrypted_agg_share,
        )
        .expect("open Helper share");
        let param = job.aggregation_parameter.clone();
        let count = *report_count;
        let result = vdaf_dispatch!(self.tasks.leader.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
            unshard(&vdaf, &param, &leader, &helper, count).map(|r| format!("{r:?}"))
        })
        .expect("unshard");
        (result, count)
    }
}
