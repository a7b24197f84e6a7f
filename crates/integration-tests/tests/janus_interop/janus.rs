//! The Janus side of the interop tests: `janus_client` and
//! `janus_collector` driven with a dyad task's parameters, converted into
//! Janus's own types (task ID from its bytes, the Collector's HPKE
//! configuration decoded by Janus from the bytes `dyad task add` wrote, the
//! token as a Bearer token, the VDAF from `prio`'s constructors).

use super::{Collected, Mode};
use anyhow::{bail, Context as _};
use backoff::ExponentialBackoff;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dyad_core::vdaf::{AggregateResult, Measurement, VdafInstance};
use dyad_integration_tests::{CollectorCredentials, WAIT};
use dyad_messages::draft09 as d;
use janus_messages as j;
use janus_messages::codec::Decode as _;
use prio::vdaf::prio3::{Prio3, Prio3Count, Prio3Histogram, Prio3Sum, Prio3SumVec};
use std::time::{Duration, Instant};

const DAP_INVALID_BATCH_SIZE: &str = "urn:ietf:params:ppm:dap:error:invalidBatchSize";

/// A Prio3 instance Janus can shard and unshard, with the conversions of its
/// measurements and results from and to dyad's.
pub(crate) trait JanusVdaf:
    prio::vdaf::Client<16> + prio::vdaf::Collector<AggregationParam = ()>
{
    fn measurement(measurement: &Measurement) -> anyhow::Result<Self::Measurement>;
    fn result(result: Self::AggregateResult) -> AggregateResult;
}

impl JanusVdaf for Prio3Count {
    fn measurement(measurement: &Measurement) -> anyhow::Result<bool> {
        match measurement {
            Measurement::Count(value) => Ok(*value),
            other => bail!("not a Prio3Count measurement: {other:?}"),
        }
    }
    fn result(result: u64) -> AggregateResult {
        AggregateResult::Count(result)
    }
}

impl JanusVdaf for Prio3Sum {
    fn measurement(measurement: &Measurement) -> anyhow::Result<u128> {
        match measurement {
            Measurement::Sum(value) => Ok(*value),
            other => bail!("not a Prio3Sum measurement: {other:?}"),
        }
    }
    fn result(result: u128) -> AggregateResult {
        AggregateResult::Sum(result)
    }
}

impl JanusVdaf for Prio3SumVec {
    fn measurement(measurement: &Measurement) -> anyhow::Result<Vec<u128>> {
        match measurement {
            Measurement::SumVec(values) => Ok(values.clone()),
            other => bail!("not a Prio3SumVec measurement: {other:?}"),
        }
    }
    fn result(result: Vec<u128>) -> AggregateResult {
        AggregateResult::SumVec(result)
    }
}

impl JanusVdaf for Prio3Histogram {
    fn measurement(measurement: &Measurement) -> anyhow::Result<usize> {
        match measurement {
            Measurement::Histogram(bucket) => Ok(*bucket),
            other => bail!("not a Prio3Histogram measurement: {other:?}"),
        }
    }
    fn result(result: Vec<u128>) -> AggregateResult {
        AggregateResult::Histogram(result)
    }
}

/// Runs `$body` with `$vdaf` bound to the `prio` instance of dyad's
/// `$instance` (two aggregators, as DAP requires).
macro_rules! with_janus_vdaf {
    ($instance:expr, |$vdaf:ident| $body:expr) => {
        match *$instance {
            VdafInstance::Prio3Count => {
                let $vdaf: Prio3Count = Prio3::new_count(2)?;
                $body
            }
            VdafInstance::Prio3Sum { bits } => {
                let $vdaf: Prio3Sum = Prio3::new_sum(2, usize::from(bits))?;
                $body
            }
            VdafInstance::Prio3SumVec {
                bits,
                length,
                chunk_length,
            } => {
                let $vdaf: Prio3SumVec = Prio3::new_sum_vec(
                    2,
                    usize::from(bits),
                    usize::try_from(length)?,
                    usize::try_from(chunk_length)?,
                )?;
                $body
            }
            VdafInstance::Prio3Histogram {
                length,
                chunk_length,
            } => {
                let $vdaf: Prio3Histogram = Prio3::new_histogram(
                    2,
                    usize::try_from(length)?,
                    usize::try_from(chunk_length)?,
                )?;
                $body
            }
            ref other => bail!("no Janus counterpart wired up for {other:?}"),
        }
    };
}

pub(crate) fn janus_task_id(task: &CollectorCredentials) -> j::TaskId {
    j::TaskId::from(*task.task_id.as_bytes())
}

pub(crate) fn janus_time(time: d::Time) -> j::Time {
    j::Time::from_seconds_since_epoch(time.as_seconds_since_epoch())
}

/// Janus's HTTP retry parameters, shortened so that a failing test fails
/// within [`WAIT`] instead of retrying for ten minutes.
pub(crate) fn janus_backoff(initial: Duration, max: Duration) -> ExponentialBackoff {
    let mut backoff = janus_core::retries::http_request_exponential_backoff();
    backoff.initial_interval = initial;
    backoff.max_interval = max;
    backoff.max_elapsed_time = Some(WAIT);
    backoff
}

pub(crate) async fn janus_upload(
    task: &CollectorCredentials,
    measurements: &[Measurement],
    times: Option<[d::Time; 2]>,
) -> anyhow::Result<()> {
    with_janus_vdaf!(&task.vdaf, |vdaf| {
        janus_upload_with(task, vdaf, measurements, times).await
    })
}

pub(crate) async fn janus_upload_with<V: JanusVdaf>(
    task: &CollectorCredentials,
    vdaf: V,
    measurements: &[Measurement],
    times: Option<[d::Time; 2]>,
) -> anyhow::Result<()> {
    let client = janus_client::Client::builder(
        janus_task_id(task),
        task.leader.clone(),
        task.helper.clone(),
        j::Duration::from_seconds(task.time_precision.as_seconds()),
        vdaf,
    )
    .with_backoff(janus_retry())
    .build()
    .await
    .context("janus_client fetching the HPKE configurations")?;
    for (i, measurement) in measurements.iter().enumerate() {
        let measurement = V::measurement(measurement)?;
        let upload = async {
            match times {
                Some(times) => {
                    let time = times[i % 2];
                    client
                        .upload_with_time(&measurement, janus_time(time))
                        .await
                }
                None => client.upload(&measurement).await,
            }
        };
        tokio::time::timeout(WAIT, upload)
            .await
            .context("janus_client upload timed out")??;
    }
    Ok(())
}

pub(crate) fn janus_retry() -> ExponentialBackoff {
    janus_backoff(Duration::from_millis(100), Duration::from_secs(1))
}

pub(crate) async fn janus_collect(
    task: &CollectorCredentials,
    mode: Mode,
    (start, duration): (u64, u64),
) -> anyhow::Result<Collected> {
    with_janus_vdaf!(&task.vdaf, |vdaf| {
        janus_collect_with(task, vdaf, mode, (start, duration)).await
    })
}

/// A `janus_collector` for `task`: the Collector's HPKE configuration is
/// decoded by Janus from the bytes dyad wrote, its token sent as a Bearer
/// token; polls every second or so.
pub(crate) fn janus_collector<V: JanusVdaf>(
    task: &CollectorCredentials,
    vdaf: V,
) -> anyhow::Result<janus_collector::Collector<V>> {
    let config = URL_SAFE_NO_PAD.decode(task.hpke_config.trim())?;
    let config = j::HpkeConfig::get_decoded(&config).context("Janus decoding hpke_config")?;
    let private_key = janus_core::hpke::HpkePrivateKey::new(
        URL_SAFE_NO_PAD.decode(task.hpke_private_key.trim())?,
    );
    let collector = janus_collector::Collector::builder(
        janus_task_id(task),
        task.leader.clone(),
        janus_core::auth_tokens::AuthenticationToken::new_bearer_token_from_string(
            task.collector_bearer_token.clone(),
        )?,
        janus_core::hpke::HpkeKeypair::new(config, private_key),
        vdaf,
    )
    .with_http_request_backoff(janus_retry())
    .with_collect_poll_backoff(janus_backoff(
        Duration::from_millis(200),
        Duration::from_secs(1),
    ))
    .build()?;
    Ok(collector)
}

pub(crate) async fn janus_collect_with<V: JanusVdaf>(
    task: &CollectorCredentials,
    vdaf: V,
    mode: Mode,
    (start, duration): (u64, u64),
) -> anyhow::Result<Collected> {
    let collector = janus_collector(task, vdaf)?;

    let began = Instant::now();
    loop {
        let outcome = match mode {
            Mode::TimeInterval => {
                let query = j::Query::new_time_interval(j::Interval::new(
                    j::Time::from_seconds_since_epoch(start),
                    j::Duration::from_seconds(duration),
                )?);
                collector.collect(query, &()).await.map(collected::<V, _>)
            }
            Mode::FixedSize => {
                let query = j::Query::new_fixed_size(j::FixedSizeQuery::CurrentBatch);
                collector.collect(query, &()).await.map(collected::<V, _>)
            }
        };
        match outcome {
            Ok(collected) => return collected,
            // A Leader may answer invalidBatchSize until the batch is big
            // enough (DAP-09 section 4.6.1): retry, bounded.
            Err(janus_collector::Error::Http(response))
                if response.type_uri() == Some(DAP_INVALID_BATCH_SIZE)
                    && began.elapsed() < WAIT =>
            {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(error) => return Err(error).context("janus_collector"),
        }
    }
}

/// Janus's collection result in dyad's terms.
pub(crate) fn collected<V: JanusVdaf, Q: j::query_type::QueryType>(
    collection: janus_collector::Collection<V::AggregateResult, Q>,
) -> anyhow::Result<Collected> {
    let (start, duration) = collection.interval();
    Ok(Collected {
        report_count: collection.report_count(),
        interval_start: u64::try_from(start.timestamp())?,
        interval_duration: u64::try_from(duration.num_seconds())?,
        result: V::result(collection.aggregate_result().clone()),
    })
}
