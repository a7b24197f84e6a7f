//! How the command line prints answers: `--format table` (the default, for
//! people), `json` (for scripts) and, where a result is tabular, `csv`; an
//! aligned [`Table`]; times as RFC 3339.

use clap::ValueEnum;
use dyad_messages::draft09::Time;
use std::fmt::Write as _;

/// The `--format` of a command's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// An aligned table for people.
    #[default]
    Table,
    /// JSON, one document.
    Json,
    /// Comma-separated values with a header line.
    Csv,
}

/// A table with a header row, printed with aligned columns (table format) or
/// as CSV.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(header: I) -> Self {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, cells: I) -> &mut Self {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// Columns padded to their widest cell, two spaces apart; no trailing
    /// spaces.
    pub fn render(&self) -> String {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let _ = write!(line, "{cell:<width$}", width = widths[i]);
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// RFC 4180 CSV: cells holding a comma, quote or line break are quoted.
    pub fn render_csv(&self) -> String {
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}

fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

/// A DAP time (seconds since the epoch) as RFC 3339 in UTC, e.g.
/// `2026-12-01T22:00:00Z`.
pub fn rfc3339(time: Time) -> String {
    rfc3339_seconds(time.as_seconds_since_epoch())
}

/// Seconds since the epoch as RFC 3339 in UTC; out-of-range values are
/// printed as plain seconds.
pub fn rfc3339_seconds(seconds: u64) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("{seconds}s since the epoch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_trim_trailing_space() {
        let mut table = Table::new(["TASK ID", "ROLE"]);
        table
            .row(["abc", "leader"])
            .row(["a-much-longer-id", "helper"]);
        assert_eq!(
            table.render(),
            "TASK ID           ROLE\nabc               leader\na-much-longer-id  helper\n"
        );
    }

    #[test]
    fn csv_quotes_only_cells_that_need_it() {
        let mut table = Table::new(["name", "value"]);
        table.row(["plain", "[1, 2]"]).row(["say \"hi\"", "x"]);
        assert_eq!(
            table.render_csv(),
            "name,value\nplain,\"[1, 2]\"\n\"say \"\"hi\"\"\",x\n"
        );
    }

    #[test]
    fn times_print_as_rfc3339_utc() {
        assert_eq!(
            rfc3339(Time::from_seconds_since_epoch(1_700_000_000)),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            rfc3339_seconds(u64::MAX),
            "18446744073709551615s since the epoch"
        );
    }
}
