//! The crypto limit: how many reports per second one core can take through
//! both aggregators' protocol work (the Leader's upload validation with its
//! HPKE open, both sides' VDAF preparation with the Helper's HPKE open, and
//! both sides' aggregation), with dyad's own code
//! ([`dyad_protocol::in_memory`]) and no storage or HTTP. Every other figure
//! of `dyad bench` is read against it, times the cores. Beside the wall
//! time, the measuring thread's own CPU time is taken, so that the limit
//! per CPU-second holds even when other programs share the cores.
//!
//! The reports are timed in three parts and the limit is the median of the
//! three parts' rates: on a shared machine a part slowed by another
//! program's burst moved a single timing by up to a quarter, and every
//! ratio of the run with it.

use super::proc_stats;
use dyad_core::vdaf::{random_measurement, VdafInstance};
use dyad_messages::draft09::Time;
use dyad_messages::Encode as _;
use dyad_protocol::in_memory::Deployment;
use std::time::Instant;

/// Reports per in-memory aggregation job (about a driver's job size).
const JOB_SIZE: usize = 100;

/// The measured limit.
#[derive(Clone, Copy, Debug)]
pub struct CryptoLimit {
    /// Reports measured.
    pub reports: u64,
    /// Reports per second on one core.
    pub per_core: f64,
    /// Wall time of the measurement.
    pub secs: f64,
    /// CPU time of the measuring thread, where the system tells it.
    pub cpu_secs: Option<f64>,
    /// Reports per CPU-second of the measuring thread (the median part's),
    /// where the system tells it.
    per_cpu_sec: Option<f64>,
}

impl CryptoLimit {
    /// Reports per CPU-second of the measuring thread.
    pub fn per_cpu_sec(&self) -> Option<f64> {
        self.per_cpu_sec
    }
}

/// Measures the limit on `reports` fresh reports of `instance`, on one
/// core: the calling thread, in a rayon pool of one thread
/// ([`dyad_protocol::parallel::on_one_core`]) so that a job's reports are
/// not spread over the cores as the aggregators spread them (run it where
/// blocking is fine). `progress` is told of each report done.
pub fn measure(
    instance: VdafInstance,
    reports: u64,
    progress: impl Fn(u64) + Send,
) -> anyhow::Result<CryptoLimit> {
    dyad_protocol::parallel::on_one_core(move || measure_here(instance, reports, progress))?
}

fn measure_here(
    instance: VdafInstance,
    reports: u64,
    progress: impl Fn(u64),
) -> anyhow::Result<CryptoLimit> {
    let deployment = Deployment::new(instance)?;
    let now = dyad_core::clock::Clock::now(&dyad_core::clock::RealClock);
    let time = Time::from_seconds_since_epoch(
        now.as_seconds_since_epoch() - now.as_seconds_since_epoch() % 3600,
    );
    let mut rng = rand::thread_rng();
    // The Clients' work, not timed.
    let encoded: Vec<Vec<u8>> = (0..reports)
        .map(|_| {
            let measurement = random_measurement(&instance, &mut rng);
            Ok(deployment.report(&measurement, time)?.get_encoded()?)
        })
        .collect::<anyhow::Result<_>>()?;
    let started = Instant::now();
    let cpu_started = proc_stats::thread_cpu_secs();
    let mut aggregated = 0;
    let mut rates = Vec::with_capacity(PARTS);
    let mut cpu_rates = Vec::with_capacity(PARTS);
    for part in parts(&encoded) {
        let part_started = Instant::now();
        let part_cpu_started = proc_stats::thread_cpu_secs();
        for chunk in part.chunks(JOB_SIZE) {
            let shares = chunk
                .iter()
                .map(|report| deployment.upload(report, now))
                .collect::<Result<Vec<_>, _>>()?;
            aggregated += deployment.aggregate(&shares, now)?.aggregated;
            progress(chunk.len() as u64);
        }
        let part_secs = part_started.elapsed().as_secs_f64();
        rates.push(part.len() as f64 / part_secs.max(f64::EPSILON));
        if let Some(cpu) = part_cpu_started
            .zip(proc_stats::thread_cpu_secs())
            .map(|(start, end)| end - start)
        {
            cpu_rates.push(part.len() as f64 / cpu.max(f64::EPSILON));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    // The rayon pool of one thread runs all of the work on this thread.
    let cpu_secs = cpu_started
        .zip(proc_stats::thread_cpu_secs())
        .map(|(start, end)| end - start);
    anyhow::ensure!(
        aggregated == reports,
        "the in-memory run aggregated {aggregated} of {reports} reports"
    );
    Ok(CryptoLimit {
        reports,
        per_core: median(&mut rates),
        per_cpu_sec: (cpu_rates.len() == rates.len()).then(|| median(&mut cpu_rates)),
        secs,
        cpu_secs,
    })
}

/// The reports are timed in this many parts.
const PARTS: usize = 3;

/// `reports` cut into [`PARTS`] parts as even as can be (fewer when there
/// are fewer reports), in order.
fn parts<T>(reports: &[T]) -> Vec<&[T]> {
    let size = reports.len().div_ceil(PARTS).max(1);
    reports.chunks(size).collect()
}

/// The median of `rates` (the mean of the middle two for an even count);
/// 0 for none.
fn median(rates: &mut [f64]) -> f64 {
    rates.sort_by(f64::total_cmp);
    match rates.len() {
        0 => 0.0,
        n if n % 2 == 1 => rates[n / 2],
        n => (rates[n / 2 - 1] + rates[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_reports_give_a_positive_limit() {
        let done = std::sync::atomic::AtomicU64::new(0);
        let limit = measure(VdafInstance::Prio3Count, 3, |n| {
            done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(limit.reports, 3);
        assert!(limit.per_core > 0.0);
        assert_eq!(done.into_inner(), 3);
        if cfg!(target_os = "linux") {
            // The thread's CPU time is known, and at most its wall time
            // (plus the clock's rounding).
            let cpu = limit.cpu_secs.unwrap();
            assert!(cpu > 0.0 && cpu <= limit.secs + 0.01, "{limit:?}");
            assert!(limit.per_cpu_sec().unwrap() >= limit.per_core * 0.99);
        }
    }

    #[test]
    fn reports_are_timed_in_three_parts_in_order() {
        let reports: Vec<u32> = (0..10).collect();
        let cut = parts(&reports);
        assert_eq!(cut, vec![&reports[0..4], &reports[4..8], &reports[8..10]]);
        assert_eq!(parts(&reports[..2]).len(), 2);
        assert!(parts::<u32>(&[]).is_empty());
    }

    #[test]
    fn the_limit_is_the_median_part_so_one_slowed_part_does_not_move_it() {
        assert_eq!(median(&mut [20_000.0, 5_000.0, 21_000.0]), 20_000.0);
        assert_eq!(median(&mut [3.0, 1.0]), 2.0);
        assert_eq!(median(&mut []), 0.0);
    }
}
