//! What `dyad bench` measured, printed as a table or JSON: each throughput
//! beside its share of the crypto limit of all cores (one core's limit
//! times the cores), so that runs on different machines and commits
//! compare.

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
    /// From the last upload answered to the collection ready.
    pub aggregation: Phase,
    /// From the first upload sent to the collection ready.
    pub end_to_end: Phase,
    /// Each aggregator process's peak resident memory (`VmHWM`), where the
    /// system tells it.
    pub peak_rss_bytes: PeakRss,
    /// The collected aggregate equals the plaintext total of the
    /// measurements (a run where it does not fails).
    pub result_matches: bool,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct CryptoLimitFigures {
    /// Reports measured in memory.
    pub reports: u64,
    pub per_core_reports_per_sec: f64,
    pub all_cores_reports_per_sec: f64,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Phase {
    pub secs: f64,
    /// Reports of the run divided by the phase's time.
    pub reports_per_sec: f64,
    /// `reports_per_sec` over the crypto limit of all cores.
    pub ratio_of_limit: f64,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct PeakRss {
    pub leader: Option<u64>,
    pub helper: Option<u64>,
}

impl Phase {
    /// `reports` in `secs`, against `limit` reports/s.
    pub fn of(reports: u64, secs: f64, limit: f64) -> Self {
        let reports_per_sec = reports as f64 / secs.max(f64::EPSILON);
        Self {
            secs,
            reports_per_sec,
            ratio_of_limit: reports_per_sec / limit.max(f64::EPSILON),
        }
    }
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
        format!(
            "dyad bench: {} reports of {} over {} connections, {} datastore, {} cores\n",
            self.reports, self.vdaf, self.connections, self.datastore, self.cores
        )
    }

    fn table(&self) -> Table {
        let mut table = Table::new(["figure", "time", "reports/s", "of crypto limit x cores"]);
        let limit = &self.crypto_limit;
        table.row([
            format!("crypto limit, 1 core ({} reports in memory)", limit.reports),
            String::new(),
            format!("{:.0}", limit.per_core_reports_per_sec),
            format!("{:.0} %", 100.0 / self.cores.max(1) as f64),
        ]);
        table.row([
            format!("crypto limit x {} cores", self.cores),
            String::new(),
            format!("{:.0}", limit.all_cores_reports_per_sec),
            "100 %".to_owned(),
        ]);
        for (name, phase) in [
            ("upload ingest", &self.upload),
            (
                "aggregation (last upload to collection ready)",
                &self.aggregation,
            ),
            ("end to end", &self.end_to_end),
        ] {
            table.row([
                name.to_owned(),
                format!("{:.2} s", phase.secs),
                format!("{:.0}", phase.reports_per_sec),
                format!("{:.1} %", phase.ratio_of_limit * 100.0),
            ]);
        }
        for (name, bytes) in [
            ("peak RSS, leader", self.peak_rss_bytes.leader),
            ("peak RSS, helper", self.peak_rss_bytes.helper),
        ] {
            let shown = bytes.map_or_else(
                || "unknown".to_owned(),
                |b| format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
            );
            table.row([name.to_owned(), shown, String::new(), String::new()]);
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
                per_core_reports_per_sec: limit / 2.0,
                all_cores_reports_per_sec: limit,
            },
            upload: Phase::of(1000, 1.0, limit),
            aggregation: Phase::of(1000, 2.0, limit),
            end_to_end: Phase::of(1000, 4.0, limit),
            peak_rss_bytes: PeakRss {
                leader: Some(50 * 1024 * 1024),
                helper: None,
            },
            result_matches: true,
        }
    }

    #[test]
    fn phases_are_rates_and_shares_of_the_limit() {
        let phase = Phase::of(1000, 4.0, 2000.0);
        assert_eq!(phase.reports_per_sec, 250.0);
        assert_eq!(phase.ratio_of_limit, 0.125);
    }

    #[test]
    fn the_table_shows_each_figure_and_its_share() {
        let text = sample().render(OutputFormat::Table).unwrap();
        assert!(text.contains("upload ingest"), "{text}");
        assert!(text.contains("50.0 %"), "{text}");
        assert!(text.contains("12.5 %"), "{text}");
        assert!(text.contains("50.0 MiB"), "{text}");
        assert!(text.contains("unknown"), "{text}");
    }

    #[test]
    fn json_has_every_figure() {
        let json: serde_json::Value =
            serde_json::from_str(&sample().render(OutputFormat::Json).unwrap()).unwrap();
        assert_eq!(json["end_to_end"]["ratio_of_limit"], 0.125);
        assert_eq!(json["crypto_limit"]["all_cores_reports_per_sec"], 2000.0);
        assert_eq!(json["peak_rss_bytes"]["helper"], serde_json::Value::Null);
    }
}
