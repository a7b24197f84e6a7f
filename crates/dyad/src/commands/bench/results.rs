//! What `dyad bench` measured, printed as a table or JSON: each throughput
//! beside its share of the crypto limit of all cores (one core's limit
//! times the cores), so that runs on different machines and commits
//! compare; and, because wall time on a shared machine also counts other
//! programs' turns on the cores, each phase's CPU time (Leader, Helper,
//! loader, the other programs together, and idle) and the reports per
//! CPU-second of both aggregators beside the crypto limit per CPU-second of
//! the thread that measured it.

use super::proc_stats::MachineCpu;
use crate::output::{OutputFormat, Table};
use serde::Serialize;

/// One run's figures. The JSON form is this structure.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResults {
    pub vdaf: String,
    /// `sqlite` or `postgres`.
    pub datastore: &'static str,
    pub reports: u64,
    pub connections: usize,
    /// Cores this process may use (the limit of all cores is per core
    /// times this).
    pub cores: usize,
    pub crypto_limit: CryptoLimitFigures,
    /// Reports durably stored by the Leader, from the first upload sent to
    /// the last one answered.
    pub upload: Phase,
    /// How long each upload took, from sent to answered, as the loader saw
    /// it (milliseconds).
    pub upload_latency_ms: Latency,
    /// From the last upload answered to the collection ready.
    pub aggregation: Phase,
    /// From the first upload sent to the collection ready.
    pub end_to_end: Phase,
    /// Each aggregator process's peak resident memory (`VmHWM`), where the
    /// system tells it.
    pub peak_rss_bytes: PeakRss,
    /// The peaks of each aggregator's anonymous (heap, stacks) and
    /// file-backed (binary, mapped files) resident memory, sampled during
    /// the run.
    pub peak_rss_split_bytes: PeakRssSplit,
    /// The collected aggregate equals the plaintext total of the
    /// measurements (a run where it does not fails).
    pub result_matches: bool,
    /// With `--rounds`, every round's end to end and which round these
    /// figures are.
    pub rounds: Rounds,
}

/// Every round's end-to-end throughput as a share of the crypto limit of
/// all cores, in the order they ran, and which of them (counting from 1)
/// the other figures are: the median's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rounds {
    pub end_to_end_ratio_of_limit: Vec<f64>,
    pub shown: usize,
}

impl Rounds {
    /// A round on its own, whose end to end was `ratio`.
    pub fn only(ratio: f64) -> Self {
        Self {
            end_to_end_ratio_of_limit: vec![ratio],
            shown: 1,
        }
    }
}

/// The round whose end-to-end throughput is the median of `rounds` (of an
/// even count, the lower of the two middle ones), with every round's
/// end to end beside its figures. `rounds` is not empty.
pub fn median_round(rounds: Vec<BenchResults>) -> BenchResults {
    let ratios: Vec<f64> = rounds
        .iter()
        .map(|round| round.end_to_end.ratio_of_limit)
        .collect();
    let mut order: Vec<usize> = (0..rounds.len()).collect();
    order.sort_by(|&a, &b| ratios[a].total_cmp(&ratios[b]));
    let median = order[(order.len() - 1) / 2];
    let mut shown = rounds
        .into_iter()
        .nth(median)
        .expect("a round at the median's index");
    shown.rounds = Rounds {
        end_to_end_ratio_of_limit: ratios,
        shown: median + 1,
    };
    shown
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct CryptoLimitFigures {
    /// Reports measured in memory.
    pub reports: u64,
    /// Wall time of the measurement.
    pub secs: f64,
    pub per_core_reports_per_sec: f64,
    pub all_cores_reports_per_sec: f64,
    /// CPU time of the measuring thread (`CLOCK_THREAD_CPUTIME_ID`).
    pub cpu_secs: Option<f64>,
    /// Reports per CPU-second of that thread: the limit whatever else
    /// runs on the machine.
    pub reports_per_cpu_sec: Option<f64>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Phase {
    pub secs: f64,
    /// Reports of the run divided by the phase's time.
    pub reports_per_sec: f64,
    /// `reports_per_sec` over the crypto limit of all cores.
    pub ratio_of_limit: f64,
    /// CPU time (user + system) each process used during the phase.
    pub cpu_secs: CpuSecs,
    /// Reports of the run divided by the Leader's and the Helper's CPU
    /// time together.
    pub reports_per_aggregator_cpu_sec: Option<f64>,
    /// `reports_per_aggregator_cpu_sec` over the crypto limit per
    /// CPU-second.
    pub cpu_ratio_of_limit: Option<f64>,
}

/// CPU seconds of each process, and of the rest of the machine, where
/// the system tells them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CpuSecs {
    pub leader: Option<f64>,
    pub helper: Option<f64>,
    /// `dyad bench` itself: the uploads, the collection and the progress.
    pub loader: Option<f64>,
    /// Every other program's: the machine's busy time less the three
    /// above. On PostgreSQL the database server's is here; on SQLite,
    /// anything but a few tenths of a second means the run was shared.
    pub others: Option<f64>,
    /// The cores' idle time: CPU no program used.
    pub idle: Option<f64>,
}

/// A reading of each process's CPU time so far and of the machine's.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuReading {
    /// The three processes' times (`others` and `idle` unset).
    pub processes: CpuSecs,
    pub machine: Option<MachineCpu>,
}

impl CpuReading {
    /// What each process, the other programs and no program used from
    /// `self` to `later`.
    pub fn until(self, later: CpuReading) -> CpuSecs {
        let spent = |a: Option<f64>, b: Option<f64>| Some((b? - a?).max(0.0));
        let (before, after) = (self.processes, later.processes);
        let leader = spent(before.leader, after.leader);
        let helper = spent(before.helper, after.helper);
        let loader = spent(before.loader, after.loader);
        let machine = self.machine.zip(later.machine);
        // Process times tick in hundredths of a second: a difference just
        // below zero is rounding.
        let others = machine
            .and_then(|(a, b)| Some((b.busy - a.busy - leader? - helper? - loader?).max(0.0)));
        CpuSecs {
            leader,
            helper,
            loader,
            others,
            idle: machine.map(|(a, b)| (b.idle - a.idle).max(0.0)),
        }
    }
}

impl CpuSecs {
    /// The two aggregators' CPU time together.
    fn aggregators(self) -> Option<f64> {
        Some(self.leader? + self.helper?)
    }
}

/// Percentiles of a set of durations, in milliseconds (nearest rank).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// The percentiles of `millis` (all 0 for none).
    pub fn of(mut millis: Vec<f64>) -> Self {
        millis.sort_by(f64::total_cmp);
        let rank = |percent: usize| -> f64 {
            if millis.is_empty() {
                return 0.0;
            }
            // Nearest rank: the smallest value with at least `percent` % of
            // the values at or below it.
            let index = (millis.len() * percent).div_ceil(100).max(1) - 1;
            millis[index.min(millis.len() - 1)]
        };
        Self {
            p50: rank(50),
            p90: rank(90),
            p99: rank(99),
            max: rank(100),
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct PeakRssSplit {
    pub leader: Option<RssSplit>,
    pub helper: Option<RssSplit>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RssSplit {
    /// Peak anonymous resident memory (`RssAnon`).
    pub anon: u64,
    /// Peak file-backed resident memory (`RssFile`).
    pub file: u64,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct PeakRss {
    pub leader: Option<u64>,
    pub helper: Option<u64>,
}

impl Phase {
    /// `reports` in `secs`, against `limit` reports/s, with the processes'
    /// CPU time `cpu` against `limit_per_cpu_sec` reports per CPU-second.
    pub fn of(
        reports: u64,
        secs: f64,
        limit: f64,
        cpu: CpuSecs,
        limit_per_cpu_sec: Option<f64>,
    ) -> Self {
        let reports_per_sec = reports as f64 / secs.max(f64::EPSILON);
        let reports_per_aggregator_cpu_sec = cpu
            .aggregators()
            .map(|cpu_secs| reports as f64 / cpu_secs.max(f64::EPSILON));
        Self {
            secs,
            reports_per_sec,
            ratio_of_limit: reports_per_sec / limit.max(f64::EPSILON),
            cpu_secs: cpu,
            reports_per_aggregator_cpu_sec,
            cpu_ratio_of_limit: reports_per_aggregator_cpu_sec
                .zip(limit_per_cpu_sec)
                .map(|(rate, limit)| rate / limit.max(f64::EPSILON)),
        }
    }
}

/// `value` with `decimals`, or `-` where it is not known.
fn or_dash(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_owned(), |r| format!("{:.1} %", r * 100.0))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

impl BenchResults {
    /// The run in `format`.
    pub fn render(&self, format: OutputFormat) -> anyhow::Result<String> {
        Ok(match format {
            OutputFormat::Json => format!("{}\n", serde_json::to_string_pretty(self)?),
            OutputFormat::Table => format!("{}\n{}", self.heading(), self.table().render()),
            OutputFormat::Csv => self.table().render_csv(),
        })
    }

    fn heading(&self) -> String {
        let mut heading = format!(
            "dyad bench: {} reports of {} over {} connections, {} datastore, {} cores\n",
            self.reports, self.vdaf, self.connections, self.datastore, self.cores
        );
        let ratios = &self.rounds.end_to_end_ratio_of_limit;
        if ratios.len() > 1 {
            let each: Vec<String> = ratios
                .iter()
                .map(|ratio| format!("{:.1} %", ratio * 100.0))
                .collect();
            heading.push_str(&format!(
                "{} rounds, end to end of the crypto limit x cores: {}; the figures are round {}'s, the median\n",
                ratios.len(),
                each.join(", "),
                self.rounds.shown
            ));
        }
        heading
    }

    fn table(&self) -> Table {
        let mut table = Table::new([
            "figure",
            "time",
            "reports/s",
            "of crypto limit x cores",
            "CPU s (leader + helper + loader)",
            "CPU s (other programs / idle)",
            "reports per aggregator CPU-s",
            "of crypto limit per CPU-s",
        ]);
        let limit = &self.crypto_limit;
        table.row([
            format!("crypto limit, 1 core ({} reports in memory)", limit.reports),
            format!("{:.2} s", limit.secs),
            format!("{:.0}", limit.per_core_reports_per_sec),
            format!("{:.0} %", 100.0 / self.cores.max(1) as f64),
            or_dash(limit.cpu_secs, 2),
            String::new(),
            or_dash(limit.reports_per_cpu_sec, 0),
            if limit.reports_per_cpu_sec.is_some() {
                "100 %".to_owned()
            } else {
                "-".to_owned()
            },
        ]);
        table.row([
            format!("crypto limit x {} cores", self.cores),
            String::new(),
            format!("{:.0}", limit.all_cores_reports_per_sec),
            "100 %".to_owned(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
        for (name, phase) in [
            ("upload ingest", &self.upload),
            (
                "aggregation (last upload to collection ready)",
                &self.aggregation,
            ),
            ("end to end", &self.end_to_end),
        ] {
            let cpu = phase.cpu_secs;
            table.row([
                name.to_owned(),
                format!("{:.2} s", phase.secs),
                format!("{:.0}", phase.reports_per_sec),
                format!("{:.1} %", phase.ratio_of_limit * 100.0),
                format!(
                    "{} + {} + {}",
                    or_dash(cpu.leader, 2),
                    or_dash(cpu.helper, 2),
                    or_dash(cpu.loader, 2)
                ),
                format!("{} / {}", or_dash(cpu.others, 2), or_dash(cpu.idle, 2)),
                or_dash(phase.reports_per_aggregator_cpu_sec, 0),
                percent(phase.cpu_ratio_of_limit),
            ]);
        }
        let latency = &self.upload_latency_ms;
        table.row([
            "upload latency, p50 / p90 / p99 / max".to_owned(),
            format!(
                "{:.1} / {:.1} / {:.1} / {:.1} ms",
                latency.p50, latency.p90, latency.p99, latency.max
            ),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
        for (name, bytes, split) in [
            (
                "peak RSS, leader (anon / file)",
                self.peak_rss_bytes.leader,
                self.peak_rss_split_bytes.leader,
            ),
            (
                "peak RSS, helper (anon / file)",
                self.peak_rss_bytes.helper,
                self.peak_rss_split_bytes.helper,
            ),
        ] {
            let mut shown = bytes.map_or_else(|| "unknown".to_owned(), mib);
            if let Some(split) = split {
                shown.push_str(&format!(" ({} / {})", mib(split.anon), mib(split.file)));
            }
            table.row([
                name.to_owned(),
                shown,
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BenchResults {
        let limit = 2000.0;
        BenchResults {
            vdaf: "Prio3Count".to_owned(),
            datastore: "sqlite",
            reports: 1000,
            connections: 16,
            cores: 2,
            crypto_limit: CryptoLimitFigures {
                reports: 500,
                secs: 0.5,
                per_core_reports_per_sec: limit / 2.0,
                all_cores_reports_per_sec: limit,
                cpu_secs: Some(0.4),
                reports_per_cpu_sec: Some(1250.0),
            },
            upload: Phase::of(1000, 1.0, limit, cpu(1.0, 0.5, 0.5), Some(1250.0)),
            upload_latency_ms: Latency::of((1..=100).map(f64::from).collect()),
            aggregation: Phase::of(1000, 2.0, limit, CpuSecs::default(), Some(1250.0)),
            end_to_end: Phase::of(1000, 4.0, limit, cpu(2.0, 2.0, 1.0), Some(1250.0)),
            peak_rss_bytes: PeakRss {
                leader: Some(50 * 1024 * 1024),
                helper: None,
            },
            peak_rss_split_bytes: PeakRssSplit {
                leader: Some(RssSplit {
                    anon: 30 * 1024 * 1024,
                    file: 20 * 1024 * 1024,
                }),
                helper: None,
            },
            result_matches: true,
            rounds: Rounds::only(0.125),
        }
    }

    fn cpu(leader: f64, helper: f64, loader: f64) -> CpuSecs {
        CpuSecs {
            leader: Some(leader),
            helper: Some(helper),
            loader: Some(loader),
            others: Some(0.5),
            idle: Some(0.25),
        }
    }

    #[test]
    fn phases_are_rates_and_shares_of_the_limit() {
        let phase = Phase::of(1000, 4.0, 2000.0, cpu(2.0, 2.0, 1.0), Some(1250.0));
        assert_eq!(phase.reports_per_sec, 250.0);
        assert_eq!(phase.ratio_of_limit, 0.125);
        // 1000 reports over 4 CPU-seconds of the aggregators (the loader's
        // are not theirs): 250 per CPU-second, 20 % of 1250.
        assert_eq!(phase.reports_per_aggregator_cpu_sec, Some(250.0));
        assert_eq!(phase.cpu_ratio_of_limit, Some(0.2));
    }

    #[test]
    fn without_cpu_times_there_is_no_cpu_ratio() {
        let phase = Phase::of(1000, 4.0, 2000.0, CpuSecs::default(), Some(1250.0));
        assert_eq!(phase.reports_per_aggregator_cpu_sec, None);
        assert_eq!(phase.cpu_ratio_of_limit, None);
        let phase = Phase::of(1000, 4.0, 2000.0, cpu(1.0, 1.0, 1.0), None);
        assert_eq!(phase.reports_per_aggregator_cpu_sec, Some(500.0));
        assert_eq!(phase.cpu_ratio_of_limit, None);
    }

    #[test]
    fn cpu_spent_is_the_difference_of_two_readings_where_both_are_known() {
        let reading = |leader, helper: Option<f64>, loader, busy, idle| CpuReading {
            processes: CpuSecs {
                leader: Some(leader),
                helper,
                loader: Some(loader),
                ..CpuSecs::default()
            },
            machine: Some(MachineCpu { busy, idle }),
        };
        let before = reading(1.0, Some(0.0), 2.0, 10.0, 50.0);
        let after = reading(3.5, Some(1.0), 2.25, 15.0, 51.5);
        // 5 s busy, 3.75 s of it the three processes'.
        assert_eq!(
            before.until(after),
            CpuSecs {
                leader: Some(2.5),
                helper: Some(1.0),
                loader: Some(0.25),
                others: Some(1.25),
                idle: Some(1.5),
            }
        );
        // A process time unknown: the others' cannot be told apart.
        let unknown = reading(1.0, None, 2.0, 10.0, 50.0);
        let spent = unknown.until(after);
        assert_eq!((spent.helper, spent.others), (None, None));
        assert_eq!(spent.idle, Some(1.5));
        // No machine reading: neither.
        let blind = CpuReading {
            machine: None,
            ..before
        };
        let spent = blind.until(after);
        assert_eq!(
            (spent.leader, spent.others, spent.idle),
            (Some(2.5), None, None)
        );
    }

    #[test]
    fn the_table_shows_each_figure_and_its_share() {
        let text = sample().render(OutputFormat::Table).unwrap();
        assert!(text.contains("upload ingest"), "{text}");
        assert!(text.contains("50.0 %"), "{text}");
        assert!(text.contains("12.5 %"), "{text}");
        assert!(text.contains("50.0 MiB (30.0 MiB / 20.0 MiB)"), "{text}");
        assert!(text.contains("unknown"), "{text}");
        assert!(text.contains("2.00 + 2.00 + 1.00"), "{text}");
        assert!(text.contains("20.0 %"), "{text}");
        assert!(text.contains("- + - + -"), "{text}");
        assert!(text.contains("0.50 / 0.25"), "{text}");
        assert!(text.contains("- / -"), "{text}");
        assert!(text.contains("50.0 / 90.0 / 99.0 / 100.0 ms"), "{text}");
    }

    #[test]
    fn latency_percentiles_are_nearest_ranks() {
        // Unsorted on purpose: 1 ms to 100 ms.
        let millis: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(
            Latency::of(millis),
            Latency {
                p50: 50.0,
                p90: 90.0,
                p99: 99.0,
                max: 100.0,
            }
        );
        let one = Latency::of(vec![7.0]);
        assert_eq!((one.p50, one.p99, one.max), (7.0, 7.0, 7.0));
        assert_eq!(Latency::of(Vec::new()), Latency::default());
        // Ten values: p99 and the maximum are both the slowest.
        let ten = Latency::of((1..=10).map(f64::from).collect());
        assert_eq!((ten.p50, ten.p90, ten.p99), (5.0, 9.0, 10.0));
    }

    /// A run whose end to end took `secs` (1000 reports, a limit of 2000/s).
    fn round(secs: f64) -> BenchResults {
        let mut round = sample();
        round.end_to_end = Phase::of(1000, secs, 2000.0, CpuSecs::default(), None);
        round
    }

    #[test]
    fn the_median_round_is_shown_with_every_rounds_end_to_end() {
        // 1000 reports in 4, 2 and 5 s: 12.5 %, 25 % and 10 % of 2000/s.
        let shown = median_round(vec![round(4.0), round(2.0), round(5.0)]);
        assert_eq!(shown.end_to_end.ratio_of_limit, 0.125);
        assert_eq!(
            shown.rounds,
            Rounds {
                end_to_end_ratio_of_limit: vec![0.125, 0.25, 0.1],
                shown: 1,
            }
        );
        let table = shown.render(OutputFormat::Table).unwrap();
        assert!(
            table.contains(
                "3 rounds, end to end of the crypto limit x cores: 12.5 %, 25.0 %, 10.0 %; \
                 the figures are round 1's, the median"
            ),
            "{table}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&shown.render(OutputFormat::Json).unwrap()).unwrap();
        assert_eq!(json["rounds"]["shown"], 1);
        assert_eq!(json["rounds"]["end_to_end_ratio_of_limit"][1], 0.25);

        // An even count: the lower of the two middle ones.
        let shown = median_round(vec![round(2.0), round(4.0), round(5.0), round(1.0)]);
        assert_eq!(shown.rounds.shown, 2);
        // One round: itself, and no line about rounds.
        let shown = median_round(vec![round(4.0)]);
        assert_eq!(shown.rounds.end_to_end_ratio_of_limit, vec![0.125]);
        assert!(!shown
            .render(OutputFormat::Table)
            .unwrap()
            .contains("rounds"));
    }

    #[test]
    fn json_has_every_figure() {
        let json: serde_json::Value =
            serde_json::from_str(&sample().render(OutputFormat::Json).unwrap()).unwrap();
        assert_eq!(json["end_to_end"]["ratio_of_limit"], 0.125);
        assert_eq!(json["crypto_limit"]["all_cores_reports_per_sec"], 2000.0);
        assert_eq!(json["peak_rss_bytes"]["helper"], serde_json::Value::Null);
        assert_eq!(json["crypto_limit"]["reports_per_cpu_sec"], 1250.0);
        assert_eq!(json["end_to_end"]["cpu_secs"]["loader"], 1.0);
        assert_eq!(json["end_to_end"]["cpu_secs"]["others"], 0.5);
        assert_eq!(json["end_to_end"]["cpu_secs"]["idle"], 0.25);
        assert_eq!(json["end_to_end"]["reports_per_aggregator_cpu_sec"], 250.0);
        assert_eq!(json["end_to_end"]["cpu_ratio_of_limit"], 0.2);
        assert_eq!(json["upload_latency_ms"]["p99"], 99.0);
        assert_eq!(
            json["aggregation"]["cpu_ratio_of_limit"],
            serde_json::Value::Null
        );
        assert_eq!(
            json["peak_rss_split_bytes"]["leader"]["anon"],
            30 * 1024 * 1024
        );
    }
}
