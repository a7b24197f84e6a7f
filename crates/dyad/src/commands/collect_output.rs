//! How `dyad collect` prints a collection: the batch (its interval in RFC
//! 3339, or its batch ID), the report count, the interval of the reports'
//! timestamps and the aggregate result, as a table for people (vector
//! results one row per bucket or element), one JSON document, or CSV (one
//! row per element, the batch repeated on each, ready for a spreadsheet).
//!
//! A noisy result (a task with a differential-privacy strategy) says so: a
//! `noise:` line in the table, `"noisy": true` with the strategy in JSON,
//! and its entries are signed (noise may take a count below zero or above
//! the report count).

use crate::output::{rfc3339, OutputFormat, Table};
use dyad_core::vdaf::{AggregateResult, DpStrategy, NoisedResult, VdafInstance};
use dyad_messages::draft09::{BatchId, Interval};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// Which batch was collected (DAP-09 section 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollectedBatch {
    /// A time-interval batch: the query's interval.
    Interval(Interval),
    /// A fixed-size batch: the ID the Leader returned.
    Id(BatchId),
}

/// A finished collection, as the command prints it.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectionView<'a> {
    pub batch: CollectedBatch,
    pub report_count: u64,
    /// The smallest interval aligned to the time precision holding every
    /// report's timestamp (DAP-09 section 4.6.1).
    pub report_times: Interval,
    pub result: ResultView<'a>,
}

/// The aggregate result: exact, or noisy with the noise that was added.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ResultView<'a> {
    Exact(&'a AggregateResult),
    Noisy {
        result: &'a NoisedResult,
        dp_strategy: &'a DpStrategy,
        vdaf: &'a VdafInstance,
    },
}

impl<'a> From<&'a AggregateResult> for ResultView<'a> {
    fn from(result: &'a AggregateResult) -> Self {
        ResultView::Exact(result)
    }
}

/// What a noisy result's `noise:` line says.
fn noise_text(strategy: &DpStrategy) -> String {
    format!(
        "{strategy}, added by each aggregator: every entry is the true total plus random \
         noise, and may be negative"
    )
}

/// The answer in `format`, ending with a line break.
pub fn render(view: &CollectionView<'_>, format: OutputFormat) -> String {
    match format {
        OutputFormat::Table => render_table(view),
        OutputFormat::Json => {
            let mut text =
                serde_json::to_string_pretty(&to_json(view)).expect("JSON values always print");
            text.push('\n');
            text
        }
        OutputFormat::Csv => render_csv(view),
    }
}

fn span(interval: &Interval, separator: &str) -> String {
    format!(
        "{}{separator}{}",
        rfc3339(interval.start()),
        rfc3339(interval.end())
    )
}

/// Column names of a vector result's rows: (index, value).
fn vector_columns(result: ResultView<'_>) -> Option<(&'static str, &'static str)> {
    let result = match result {
        ResultView::Exact(result) => result,
        ResultView::Noisy { vdaf, .. } => {
            return Some(match vdaf {
                VdafInstance::Prio3Histogram { .. } => ("bucket", "noisy count"),
                _ => ("element", "noisy sum"),
            })
        }
    };
    match result {
        AggregateResult::Count(_) | AggregateResult::Sum(_) => None,
        AggregateResult::Histogram(_) => Some(("bucket", "count")),
        AggregateResult::SumVec(_) | AggregateResult::FixedPointVec(_) => Some(("element", "sum")),
        AggregateResult::Poplar1(_) => Some(("prefix", "count")),
    }
}

/// A scalar result's text, or each element's.
fn values(result: ResultView<'_>) -> Vec<String> {
    let result = match result {
        ResultView::Exact(result) => result,
        ResultView::Noisy { result, .. } => {
            return match result {
                NoisedResult::Integers(v) => v.iter().map(i128::to_string).collect(),
                NoisedResult::FixedPointVec(v) => v.iter().map(f64::to_string).collect(),
            }
        }
    };
    match result {
        AggregateResult::Count(n) => vec![n.to_string()],
        AggregateResult::Sum(n) => vec![n.to_string()],
        AggregateResult::SumVec(v) | AggregateResult::Histogram(v) => {
            v.iter().map(u128::to_string).collect()
        }
        AggregateResult::FixedPointVec(v) => v.iter().map(f64::to_string).collect(),
        AggregateResult::Poplar1(v) => v.iter().map(u64::to_string).collect(),
    }
}

fn render_table(view: &CollectionView<'_>) -> String {
    let mut summary: Vec<(&str, String)> = Vec::new();
    match &view.batch {
        CollectedBatch::Interval(interval) => summary.push(("batch", span(interval, " to "))),
        CollectedBatch::Id(id) => summary.push(("batch ID", id.to_string())),
    }
    summary.push(("report count", view.report_count.to_string()));
    summary.push(("report times", span(&view.report_times, " to ")));
    if let ResultView::Noisy { dp_strategy, .. } = view.result {
        summary.push(("noise", noise_text(dp_strategy)));
    }
    let columns = vector_columns(view.result);
    if columns.is_none() {
        summary.push(("result", values(view.result).concat()));
    }
    let width = summary.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in &summary {
        let _ = writeln!(out, "{:<width$}  {value}", format!("{key}:"));
    }
    if let Some((index, value)) = columns {
        let mut table = Table::new([index.to_uppercase(), value.to_uppercase()]);
        for (i, v) in values(view.result).into_iter().enumerate() {
            table.row([i.to_string(), v]);
        }
        out.push('\n');
        out.push_str(&table.render());
    }
    out
}

fn render_csv(view: &CollectionView<'_>) -> String {
    let batch = match &view.batch {
        CollectedBatch::Interval(interval) => span(interval, "/"),
        CollectedBatch::Id(id) => id.to_string(),
    };
    let count = view.report_count.to_string();
    match vector_columns(view.result) {
        None => {
            let mut table = Table::new(["batch", "report_count", "result"]);
            table.row([batch, count, values(view.result).concat()]);
            table.render_csv()
        }
        Some((index, value)) => {
            let mut table = Table::new(["batch", "report_count", index, value]);
            for (i, v) in values(view.result).into_iter().enumerate() {
                table.row([batch.clone(), count.clone(), i.to_string(), v]);
            }
            table.render_csv()
        }
    }
}

/// A number as JSON: integers beyond what JSON readers hold exactly (2^53)
/// stay exact as strings.
fn json_u128(n: u128) -> Value {
    match u64::try_from(n) {
        Ok(n) if n < (1 << 53) => json!(n),
        _ => json!(n.to_string()),
    }
}

fn to_json(view: &CollectionView<'_>) -> Value {
    let exact = match view.result {
        ResultView::Exact(result) => result,
        ResultView::Noisy {
            result,
            dp_strategy,
            ..
        } => {
            let values = match result {
                NoisedResult::Integers(v) => v.iter().map(|n| json_i128(*n)).collect(),
                NoisedResult::FixedPointVec(v) => v.iter().map(|x| json!(x)).collect(),
            };
            let mut answer = summary_json(view);
            answer["result"] = Value::Array(values);
            answer["noisy"] = json!(true);
            answer["dp_strategy"] = json!(dp_strategy);
            answer["epsilon"] = json!(dp_strategy.budget().map(|b| b.epsilon_text()));
            return answer;
        }
    };
    let result = match exact {
        AggregateResult::Count(n) => json_u128(u128::from(*n)),
        AggregateResult::Sum(n) => json_u128(*n),
        AggregateResult::SumVec(v) | AggregateResult::Histogram(v) => {
            Value::Array(v.iter().map(|n| json_u128(*n)).collect())
        }
        AggregateResult::FixedPointVec(v) => json!(v),
        AggregateResult::Poplar1(v) => {
            Value::Array(v.iter().map(|n| json_u128(u128::from(*n))).collect())
        }
    };
    let mut answer = summary_json(view);
    answer["result"] = result;
    answer
}

/// A signed number as JSON, exact as a string beyond 2^53 in magnitude.
fn json_i128(n: i128) -> Value {
    match i64::try_from(n) {
        Ok(n) if n.unsigned_abs() < (1 << 53) => json!(n),
        _ => json!(n.to_string()),
    }
}

/// The batch, report count and report times (the result is set after).
fn summary_json(view: &CollectionView<'_>) -> Value {
    let batch = match &view.batch {
        CollectedBatch::Interval(interval) => json!({
            "start": rfc3339(interval.start()),
            "end": rfc3339(interval.end()),
        }),
        CollectedBatch::Id(id) => json!({ "batch_id": id.to_string() }),
    };
    json!({
        "batch": batch,
        "report_count": view.report_count,
        "report_times": {
            "start": rfc3339(view.report_times.start()),
            "end": rfc3339(view.report_times.end()),
        },
        "result": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_messages::draft09::{Duration, Time};

    /// 2023-11-14T22:00:00Z, one hour.
    fn hour() -> Interval {
        Interval::new(
            Time::from_seconds_since_epoch(1_699_999_200),
            Duration::from_seconds(3600),
        )
        .unwrap()
    }

    fn day() -> Interval {
        Interval::new(
            Time::from_seconds_since_epoch(1_699_999_200),
            Duration::from_seconds(86_400),
        )
        .unwrap()
    }

    fn view(
        batch: CollectedBatch,
        report_count: u64,
        result: &AggregateResult,
    ) -> CollectionView<'_> {
        CollectionView {
            batch,
            report_count,
            report_times: hour(),
            result: ResultView::Exact(result),
        }
    }

    static COUNT: AggregateResult = AggregateResult::Count(17);

    fn count() -> CollectionView<'static> {
        view(CollectedBatch::Interval(hour()), 40, &COUNT)
    }

    fn histogram(result: &AggregateResult) -> CollectionView<'_> {
        view(CollectedBatch::Interval(day()), 12, result)
    }

    static SUM: AggregateResult = AggregateResult::Sum(4242);

    fn fixed_size() -> CollectionView<'static> {
        view(CollectedBatch::Id(BatchId::from_bytes([7; 32])), 100, &SUM)
    }

    #[test]
    fn a_count_prints_as_a_summary_table() {
        assert_eq!(
            render(&count(), OutputFormat::Table),
            "\
batch:         2023-11-14T22:00:00Z to 2023-11-14T23:00:00Z
report count:  40
report times:  2023-11-14T22:00:00Z to 2023-11-14T23:00:00Z
result:        17
"
        );
    }

    #[test]
    fn a_count_prints_as_json() {
        assert_eq!(
            render(&count(), OutputFormat::Json),
            r#"{
  "batch": {
    "end": "2023-11-14T23:00:00Z",
    "start": "2023-11-14T22:00:00Z"
  },
  "report_count": 40,
  "report_times": {
    "end": "2023-11-14T23:00:00Z",
    "start": "2023-11-14T22:00:00Z"
  },
  "result": 17
}
"#
        );
    }

    #[test]
    fn a_count_prints_as_one_csv_row() {
        assert_eq!(
            render(&count(), OutputFormat::Csv),
            "batch,report_count,result\n2023-11-14T22:00:00Z/2023-11-14T23:00:00Z,40,17\n"
        );
    }

    #[test]
    fn a_histogram_prints_one_row_per_bucket() {
        let result = AggregateResult::Histogram(vec![3, 0, 9]);
        assert_eq!(
            render(&histogram(&result), OutputFormat::Table),
            "\
batch:         2023-11-14T22:00:00Z to 2023-11-15T22:00:00Z
report count:  12
report times:  2023-11-14T22:00:00Z to 2023-11-14T23:00:00Z

BUCKET  COUNT
0       3
1       0
2       9
"
        );
        assert_eq!(
            render(&histogram(&result), OutputFormat::Csv),
            "\
batch,report_count,bucket,count
2023-11-14T22:00:00Z/2023-11-15T22:00:00Z,12,0,3
2023-11-14T22:00:00Z/2023-11-15T22:00:00Z,12,1,0
2023-11-14T22:00:00Z/2023-11-15T22:00:00Z,12,2,9
"
        );
        assert_eq!(
            render(&histogram(&result), OutputFormat::Json),
            r#"{
  "batch": {
    "end": "2023-11-15T22:00:00Z",
    "start": "2023-11-14T22:00:00Z"
  },
  "report_count": 12,
  "report_times": {
    "end": "2023-11-14T23:00:00Z",
    "start": "2023-11-14T22:00:00Z"
  },
  "result": [
    3,
    0,
    9
  ]
}
"#
        );
    }

    #[test]
    fn a_fixed_size_batch_prints_its_batch_id() {
        let id = BatchId::from_bytes([7; 32]).to_string();
        assert_eq!(
            render(&fixed_size(), OutputFormat::Table),
            format!(
                "\
batch ID:      {id}
report count:  100
report times:  2023-11-14T22:00:00Z to 2023-11-14T23:00:00Z
result:        4242
"
            )
        );
        assert_eq!(
            render(&fixed_size(), OutputFormat::Csv),
            format!("batch,report_count,result\n{id},100,4242\n")
        );
        assert_eq!(
            render(&fixed_size(), OutputFormat::Json),
            format!(
                r#"{{
  "batch": {{
    "batch_id": "{id}"
  }},
  "report_count": 100,
  "report_times": {{
    "end": "2023-11-14T23:00:00Z",
    "start": "2023-11-14T22:00:00Z"
  }},
  "result": 4242
}}
"#
            )
        );
    }

    #[test]
    fn huge_sums_stay_exact_in_json() {
        let result = AggregateResult::SumVec(vec![1, u128::MAX]);
        let view = CollectionView {
            result: ResultView::Exact(&result),
            ..count()
        };
        let json: Value = serde_json::from_str(&render(&view, OutputFormat::Json)).unwrap();
        assert_eq!(json["result"], json!([1, u128::MAX.to_string()]));
        assert!(render(&view, OutputFormat::Table).contains("ELEMENT  SUM\n0        1\n"));
    }

    #[test]
    fn a_noisy_result_says_so_with_its_strategy_and_signed_counts() {
        let result = NoisedResult::Integers(vec![-2, 13, 0]);
        let strategy: DpStrategy = "PureDpDiscreteLaplace:1/2".parse().unwrap();
        let vdaf = VdafInstance::Prio3Histogram {
            length: 3,
            chunk_length: 1,
        };
        let view = CollectionView {
            result: ResultView::Noisy {
                result: &result,
                dp_strategy: &strategy,
                vdaf: &vdaf,
            },
            ..count()
        };
        let table = render(&view, OutputFormat::Table);
        assert!(
            table.contains(
                "noise:         PureDpDiscreteLaplace (epsilon 1/2), added by each aggregator"
            ),
            "{table}"
        );
        assert!(
            table.contains("BUCKET  NOISY COUNT\n0       -2\n1       13\n2       0\n"),
            "{table}"
        );
        let json: Value = serde_json::from_str(&render(&view, OutputFormat::Json)).unwrap();
        assert_eq!(json["result"], json!([-2, 13, 0]));
        assert_eq!(json["noisy"], json!(true));
        assert_eq!(json["epsilon"], json!("1/2"));
        assert_eq!(
            json["dp_strategy"],
            json!({"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[1], [2]]}})
        );
        assert_eq!(json["report_count"], json!(40));
        let csv = render(&view, OutputFormat::Csv);
        assert!(csv.contains(",40,0,-2\n"), "{csv}");
        // An exact result has no noise line.
        assert!(!render(&count(), OutputFormat::Table).contains("noise"));
    }
}
