//! What `dyad quickstart` and `dyad bench` share: a Leader and a Helper on
//! this machine, each on its own datastore ([`Databases`]: a SQLite file,
//! or a fresh database on a PostgreSQL server, dropped at the end), one
//! task provisioned on both as the parties would ([`DemoTask`]), random
//! measurements with their plaintext total, the configuration every
//! aggregator of the run gets ([`aggregator_yaml`]), and the collection of
//! every report with the aggregation's progress on stderr
//! ([`collect_all`]).
//!
//! Both commands play every party in one run, so the process holds every
//! party's keys; each is still made by its owner's code path (the
//! Collector's keypair as `dyad collector init` makes it, the Leader's task
//! as `task add --generate` does, the Helper's keypair by its own import of
//! the Leader's task file).

use crate::progress::Step;
use crate::provision::{self, LocalPolicy, TaskParameters};
use crate::task_files::CollectorKeyFile;
use anyhow::{bail, Context as _};
use dyad_collector::{AnyVdaf as CollectorVdaf, Collection, Collector, CollectorBuilder};
use dyad_core::clock::{Clock, RealClock};
use dyad_core::hpke::HpkeKeypair;
use dyad_core::task::{AuthenticationToken, BatchMode, Task};
use dyad_core::vdaf::{
    plaintext_aggregate, random_measurement, AggregateResult, AggregationParam, Measurement,
    VdafInstance,
};
use dyad_datastore::{postgres, Datastore, DatastoreExt, DatastoreKeys, DatastoreOptions};
use dyad_messages::draft09::{Duration, HpkeConfigId, Interval, Query, Role, TaskId, Time};
use std::path::Path;
use std::sync::Arc;

/// Report timestamps are rounded down to this (seconds).
pub const TIME_PRECISION: u64 = 3600;

/// Where the two aggregators keep their state.
pub enum Databases {
    Sqlite,
    /// Fresh databases (Leader's, Helper's) on this server.
    Postgres {
        server: String,
        names: [String; 2],
    },
}

impl Databases {
    /// From a command's `--datastore` value: none is a SQLite file per
    /// aggregator; a `postgres://` URL a fresh database per aggregator
    /// there, named `<prefix>_<random>_leader` and `..._helper`.
    pub fn from_arg(datastore: Option<&str>, prefix: &str) -> anyhow::Result<Self> {
        match datastore {
            None => Ok(Databases::Sqlite),
            Some(url) if postgres::is_postgres_url(url) => {
                let run = format!("{prefix}_{:08x}", rand::random::<u32>());
                Ok(Databases::Postgres {
                    server: url.to_owned(),
                    names: [format!("{run}_leader"), format!("{run}_helper")],
                })
            }
            Some(_) => bail!(
                "--datastore takes a postgres:// URL (without it, each aggregator gets a SQLite file)"
            ),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn name(&self) -> &'static str {
        match self {
            Databases::Sqlite => "sqlite",
            Databases::Postgres { .. } => "postgres",
        }
    }

    /// The two aggregators' datastore URLs (Leader's, Helper's), creating
    /// databases as needed; SQLite files go in `dir`.
    pub async fn create(&self, dir: &Path) -> anyhow::Result<[String; 2]> {
        match self {
            Databases::Sqlite => Ok(["leader", "helper"]
                .map(|name| format!("sqlite://{}", dir.join(format!("{name}.sqlite")).display()))),
            Databases::Postgres { server, names } => {
                let mut urls = Vec::new();
                for name in names {
                    urls.push(
                        postgres::admin::create_database(server, name)
                            .await
                            .with_context(|| format!("creating database {name}"))?,
                    );
                }
                Ok([urls[0].clone(), urls[1].clone()])
            }
        }
    }

    /// Drops what [`Self::create`] made (whatever of it exists).
    pub async fn drop_all(&self) -> anyhow::Result<()> {
        if let Databases::Postgres { server, names } = self {
            for name in names {
                postgres::admin::drop_database(server, name)
                    .await
                    .with_context(|| format!("dropping database {name}"))?;
            }
        }
        Ok(())
    }
}

/// The run's task on both aggregators, and the Collector's side of it.
pub struct DemoTask {
    pub leader_task: Task,
    pub helper_task: Task,
    pub collector_keypair: HpkeKeypair,
    pub collector_token: AuthenticationToken,
}

impl DemoTask {
    /// A time-interval task of `vdaf` between `leader` and `helper` whose
    /// one batch must hold all `reports` (so that the collection can be
    /// compared with the plaintext total).
    pub fn provision(
        leader: &url::Url,
        helper: &url::Url,
        vdaf: VdafInstance,
        reports: u64,
    ) -> anyhow::Result<Self> {
        let (collector_keypair, _) = CollectorKeyFile::generate(HpkeConfigId(1))?;
        let leader_side = provision::generate(
            &TaskParameters {
                leader: leader.clone(),
                helper: helper.clone(),
                vdaf,
                dp_strategy: dyad_core::vdaf::DpStrategy::NoDifferentialPrivacy,
                batch_mode: BatchMode::TimeInterval,
                min_batch_size: reports,
                time_precision: Duration::from_seconds(TIME_PRECISION),
                // A heavy-hitters walk collects the batch once per level.
                max_batch_query_count: dyad_collector::tree_levels(&vdaf).unwrap_or(1),
                task_expiration: None,
            },
            Role::Leader,
            collector_keypair.config().clone(),
            &LocalPolicy::default(),
        )?;
        let helper_task = provision::import(&leader_side.peer_file, &LocalPolicy::default())?.task;
        let collector_token = AuthenticationToken::new_bearer(
            leader_side
                .mine
                .collector_file
                .context("the Leader's side has the collector's file")?
                .collector_bearer_token,
        )?;
        Ok(Self {
            leader_task: leader_side.mine.task,
            helper_task,
            collector_keypair,
            collector_token,
        })
    }

    pub fn task_id(&self) -> TaskId {
        *self.leader_task.task_id()
    }

    /// The task's Collector, on the Leader at `leader`.
    pub fn collector(&self, leader: &url::Url) -> anyhow::Result<Collector<CollectorVdaf>> {
        Ok(self
            .collector_builder(leader)
            .build(CollectorVdaf(*self.leader_task.vdaf()))?)
    }

    /// The task's Collector, polling a pending collection every `every`
    /// (within the default overall wait) whatever `Retry-After` says: for
    /// a measurement of when the collection is ready, which the default
    /// backoff (250 ms, growing) would see only at its next poll.
    pub fn collector_polling_every(
        &self,
        leader: &url::Url,
        every: std::time::Duration,
    ) -> anyhow::Result<Collector<CollectorVdaf>> {
        let policy = dyad_core::retry::RetryPolicy::new(every, every)
            .with_jitter(0.0)
            .with_max_elapsed(CollectorBuilder::DEFAULT_MAX_WAIT);
        Ok(self
            .collector_builder(leader)
            .poll_policy(policy)
            .build(CollectorVdaf(*self.leader_task.vdaf()))?)
    }

    fn collector_builder(&self, leader: &url::Url) -> CollectorBuilder {
        CollectorBuilder::new(
            self.task_id(),
            leader.clone(),
            self.collector_token.clone(),
            self.collector_keypair.clone(),
        )
    }
}

/// `n` random measurements of `vdaf` and their plaintext total.
pub fn measurements(
    vdaf: &VdafInstance,
    n: u64,
) -> anyhow::Result<(Vec<Measurement>, AggregateResult)> {
    let mut rng = rand::thread_rng();
    let measurements: Vec<_> = (0..n).map(|_| random_measurement(vdaf, &mut rng)).collect();
    let expected = plaintext_aggregate(vdaf, &AggregationParam::Empty, &measurements)?;
    Ok((measurements, expected))
}

/// Opens `database` with `keys` (applying migrations) and stores `task`;
/// the handle stays open for the run's progress queries.
pub async fn store_task(
    database: &str,
    keys: &DatastoreKeys,
    task: &Task,
) -> anyhow::Result<Arc<dyn Datastore>> {
    let options = DatastoreOptions::new(keys.clone());
    let datastore: Arc<dyn Datastore> =
        dyad_aggregator::runtime::open_datastore(database, Arc::new(RealClock), &options).await?;
    let task = task.clone();
    datastore
        .run_tx("local_deployment_put_task", move |tx| {
            let task = task.clone();
            Box::pin(async move { Ok(tx.put_task(&task).await?) })
        })
        .await
        .context("storing the task")?;
    Ok(datastore)
}

/// The configuration file of an aggregator of the run: `roles` (a YAML
/// list's items) on `database`, serving HTTP on `listen` if given, with
/// short background intervals so that a collection is ready soon after
/// the last upload.
pub fn aggregator_yaml(
    listen: Option<std::net::SocketAddr>,
    database: &str,
    roles: &str,
) -> String {
    let listen = match listen {
        Some(address) => format!("listen_address: \"{address}\"\n"),
        None => String::new(),
    };
    format!(
        "{listen}\
         datastore: \"{database}\"\n\
         roles: [{roles}]\n\
         log: {{ level: warn }}\n\
         collection_retry_after_secs: 1\n\
         aggregation_job_creator: {{ interval_ms: 200 }}\n\
         aggregation_job_driver: {{ interval_ms: 200 }}\n\
         collection_job_driver: {{ interval_ms: 200 }}\n"
    )
}

/// The batch interval holding every report timestamped from `first` to
/// `last`.
pub fn batch_interval(first: Time, last: Time) -> anyhow::Result<Interval> {
    let precision = Duration::from_seconds(TIME_PRECISION);
    let start = first.to_batch_interval_start(precision);
    let end = last.to_batch_interval_start(precision);
    Ok(Interval::new(
        start,
        Duration::from_seconds(
            end.as_seconds_since_epoch() - start.as_seconds_since_epoch() + TIME_PRECISION,
        ),
    )?)
}

/// Collects `interval` (the whole batch of `reports` reports), showing on
/// `step` how many of them the Leader (whose datastore is `leader_ds`) has
/// put in aggregation jobs, until the collection is ready. The step is
/// left for the caller to finish or abandon.
pub async fn collect_all(
    collector: &Collector<CollectorVdaf>,
    interval: Interval,
    leader_ds: &Arc<dyn Datastore>,
    task_id: TaskId,
    reports: u64,
    step: &Step,
) -> anyhow::Result<Collection<AggregateResult>> {
    let collected = async {
        let job = collector
            .start_collection(Query::TimeInterval(interval), &AggregationParam::Empty)
            .await?;
        let poll = collector.poll_until_complete(&job);
        tokio::pin!(poll);
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        loop {
            tokio::select! {
                collection = &mut poll => break collection,
                _ = tick.tick() => {
                    if let Ok(waiting) = unaggregated_reports(leader_ds, task_id).await {
                        step.set_position(reports.saturating_sub(waiting));
                    }
                }
            }
        }
    }
    .await;
    Ok(collected?)
}

/// How many of the task's reports the Leader has not yet put in an
/// aggregation job.
async fn unaggregated_reports(
    datastore: &Arc<dyn Datastore>,
    task_id: TaskId,
) -> anyhow::Result<u64> {
    Ok(datastore
        .run_read_tx("local_deployment_progress", move |tx| {
            Box::pin(async move { Ok(tx.count_unaggregated_client_reports(&task_id, None).await?) })
        })
        .await?)
}

/// The time now, by the system clock.
pub fn now() -> Time {
    RealClock.now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_interval_covers_the_first_and_last_report_buckets() {
        let first = Time::from_seconds_since_epoch(2 * TIME_PRECISION + 5);
        let last = Time::from_seconds_since_epoch(4 * TIME_PRECISION + 1);
        let interval = batch_interval(first, last).unwrap();
        assert_eq!(
            interval.start(),
            Time::from_seconds_since_epoch(2 * TIME_PRECISION)
        );
        assert_eq!(interval.duration().as_seconds(), 3 * TIME_PRECISION);
    }

    #[test]
    fn a_datastore_argument_that_is_not_postgres_is_refused_naming_the_form() {
        assert!(matches!(
            Databases::from_arg(None, "x").unwrap(),
            Databases::Sqlite
        ));
        let refused = Databases::from_arg(Some("mysql://h/db"), "x")
            .err()
            .unwrap();
        assert!(refused.to_string().contains("postgres:// URL"), "{refused}");
        match Databases::from_arg(Some("postgres://u@h/db"), "dyad_bench").unwrap() {
            Databases::Postgres { names, .. } => {
                assert!(names[0].starts_with("dyad_bench_") && names[0].ends_with("_leader"));
                assert!(names[1].ends_with("_helper"));
            }
            Databases::Sqlite => panic!("a postgres URL gives databases there"),
        }
    }
}
