//! The interop test API's VDAF-level values
//! (draft-dcook-ppm-dap-interop-test-design-07): the VDAF object (section
//! 4.1.1), measurements (section 4.2.2, `/internal/test/upload`), aggregate
//! results (section 4.4.4, `/internal/test/collection_poll`), and the query
//! object and query type numbers (section 4.1.2).
//!
//! | VDAF `type` | measurement | result |
//! |---|---|---|
//! | Prio3Count | `"0"` or `"1"` | `"7"` |
//! | Prio3Sum | `"42"` | `"4242"` |
//! | Prio3SumVec | `["1", "0", "3"]` | `["10", "0", "31"]` |
//! | Prio3Histogram | the bucket index, `"2"` | `["3", "0", "9"]` |
//! | Prio3SumVecField64MultiproofHmacSha256Aes128 (dyad extension) | as Prio3SumVec | as Prio3SumVec |
//! | Prio3FixedPointBoundedL2VecSum (dyad extension) | `["0.25", "-0.5"]` | `["1.5", "-2.25"]` |
//! | Poplar1 | an array of booleans (or, a dyad extension, a string of `0` and `1`), most significant bit first | `["12", "0"]`, one count per candidate prefix |
//!
//! A collection's `agg_param` (section 4.4.1) is base64url: empty for
//! Prio3, Poplar1's encoded candidate prefixes (VDAF-08 section 8.2.6.4).

use super::api::{decimal_string, decimal_strings, Request};
use anyhow::{anyhow, bail, Context as _};
use dyad_core::task::BatchMode;
use dyad_core::vdaf::{AggregateResult, AggregationParam, Measurement, VdafInstance};
use dyad_messages::draft09::{
    BatchId, Duration, FixedSizeQuery, Interval, PartialBatchSelector, Query, Time,
};
use serde_json::Value;

/// The VDAF object of a request, naming a VDAF of the catalogue.
pub fn parse_vdaf(value: &Value) -> anyhow::Result<VdafInstance> {
    serde_json::from_value(value.clone()).map_err(|e| anyhow!("invalid vdaf: {e}"))
}

/// An upload's `measurement` for `vdaf`, checked against its parameters.
pub fn parse_measurement(vdaf: &VdafInstance, value: &Value) -> anyhow::Result<Measurement> {
    let measurement = match vdaf {
        VdafInstance::Prio3Count => match value.as_str() {
            Some("0") => Measurement::Count(false),
            Some("1") => Measurement::Count(true),
            _ => bail!("a Prio3Count measurement is \"0\" or \"1\", not {value}"),
        },
        VdafInstance::Prio3Sum { .. } => Measurement::Sum(decimal_string("measurement", value)?),
        VdafInstance::Prio3SumVec { .. }
        | VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 { .. } => {
            Measurement::SumVec(decimal_strings("measurement", value)?)
        }
        VdafInstance::Prio3Histogram { .. } => {
            Measurement::Histogram(decimal_string("measurement", value)?)
        }
        VdafInstance::Prio3FixedPointBoundedL2VecSum { .. } => {
            let Value::Array(items) = value else {
                bail!("a fixed-point measurement is an array of decimal strings, not {value}");
            };
            Measurement::FixedPointVec(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        item.as_str()
                            .and_then(|text| text.parse::<f64>().ok())
                            .filter(|number| number.is_finite())
                            .with_context(|| {
                                format!("measurement[{index}] is not a decimal string: {item}")
                            })
                    })
                    .collect::<anyhow::Result<_>>()?,
            )
        }
        VdafInstance::Poplar1 { .. } => Measurement::Poplar1(bit_string(value)?),
    };
    measurement
        .check(vdaf)
        .map_err(|e| anyhow!("the measurement does not fit the VDAF: {e}"))?;
    Ok(measurement)
}

/// A collection's `result` (section 4.4.4): a base-10 string for
/// Prio3Count and Prio3Sum, an array of them for the vector VDAFs.
pub fn result_json(result: &AggregateResult) -> Value {
    match result {
        AggregateResult::Count(count) => Value::from(count.to_string()),
        AggregateResult::Sum(sum) => Value::from(sum.to_string()),
        AggregateResult::SumVec(values) | AggregateResult::Histogram(values) => strings(values),
        AggregateResult::FixedPointVec(values) => strings(values),
        AggregateResult::Poplar1(counts) => strings(counts),
    }
}

fn strings<T: ToString>(values: &[T]) -> Value {
    Value::Array(values.iter().map(|v| Value::from(v.to_string())).collect())
}

/// A Poplar1 measurement: an array of booleans (section 4.2.2), or a
/// string of `0` and `1`.
fn bit_string(value: &Value) -> anyhow::Result<Vec<bool>> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                item.as_bool()
                    .with_context(|| format!("measurement[{index}] is not a boolean: {item}"))
            })
            .collect(),
        Value::String(text) => text
            .chars()
            .map(|c| match c {
                '0' => Ok(false),
                '1' => Ok(true),
                other => bail!("a bit string holds only 0 and 1, not {other:?}"),
            })
            .collect(),
        other => bail!("a Poplar1 measurement is an array of booleans, not {other}"),
    }
}

/// A collection's `agg_param` for `vdaf`: empty for Prio3, the encoded
/// candidate prefixes for Poplar1.
pub fn parse_aggregation_param(
    vdaf: &VdafInstance,
    encoded: &[u8],
) -> anyhow::Result<AggregationParam> {
    vdaf.decode_aggregation_parameter(encoded)
        .map_err(|e| anyhow!("agg_param: {e}"))
}

/// A task's query type number (section 4.1.2: the `QueryType` code point
/// of DAP-09, 1 `time_interval`, 2 `fixed_size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryType {
    TimeInterval,
    FixedSize,
}

impl QueryType {
    pub fn from_code(code: u64) -> anyhow::Result<Self> {
        match code {
            1 => Ok(QueryType::TimeInterval),
            2 => Ok(QueryType::FixedSize),
            other => bail!("unknown query_type {other} (1 is time_interval, 2 fixed_size)"),
        }
    }
}

/// An aggregator task's batch mode from `query_type` and, for fixed-size,
/// `max_batch_size` (absent or null: no maximum).
pub fn batch_mode(query_type: QueryType, max_batch_size: Option<u64>) -> BatchMode {
    match query_type {
        QueryType::TimeInterval => BatchMode::TimeInterval,
        QueryType::FixedSize => BatchMode::FixedSize { max_batch_size },
    }
}

/// The query object of `collection_start` (section 4.1.2, "Query").
pub fn parse_query(value: &Value) -> anyhow::Result<Query> {
    let query = Request::from_value("query", value)?;
    let context = "query";
    Ok(
        match QueryType::from_code(query.number("type").context(context)?)? {
            QueryType::TimeInterval => {
                let start = query.number("batch_interval_start").context(context)?;
                let duration = query.number("batch_interval_duration").context(context)?;
                Query::TimeInterval(
                    Interval::new(
                        Time::from_seconds_since_epoch(start),
                        Duration::from_seconds(duration),
                    )
                    .map_err(|e| anyhow!("query: invalid batch interval: {e}"))?,
                )
            }
            QueryType::FixedSize => match query.number("subtype").context(context)? {
                0 => Query::FixedSize(FixedSizeQuery::ByBatchId(
                    query.id::<BatchId>("batch_id").context(context)?,
                )),
                1 => Query::FixedSize(FixedSizeQuery::CurrentBatch),
                other => bail!(
                    "query: unknown fixed-size subtype {other} (0 by_batch_id, 1 current_batch)"
                ),
            },
        },
    )
}

/// Which query type a query is of.
pub fn query_type_of(query: &Query) -> QueryType {
    match query {
        Query::TimeInterval(_) => QueryType::TimeInterval,
        Query::FixedSize(_) => QueryType::FixedSize,
    }
}

/// The batch ID of a fixed-size collection, if it is one.
pub fn collected_batch_id(selector: &PartialBatchSelector) -> Option<BatchId> {
    match selector {
        PartialBatchSelector::FixedSize(batch_id) => Some(*batch_id),
        PartialBatchSelector::TimeInterval => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The JSON form of a measurement (what a test runner sends).
    fn measurement_json(measurement: &Measurement) -> Value {
        match measurement {
            Measurement::Count(bit) => Value::from(if *bit { "1" } else { "0" }),
            Measurement::Sum(value) => Value::from(value.to_string()),
            Measurement::SumVec(values) => strings(values),
            Measurement::Histogram(index) => Value::from(index.to_string()),
            Measurement::FixedPointVec(values) => strings(values),
            Measurement::Poplar1(bits) => Value::from(bits.clone()),
        }
    }

    fn vdaf(json: Value) -> VdafInstance {
        parse_vdaf(&json).unwrap()
    }

    #[test]
    fn measurements_of_each_prio3() {
        let cases = [
            (
                json!({"type": "Prio3Count"}),
                json!("1"),
                Measurement::Count(true),
            ),
            (
                json!({"type": "Prio3Sum", "bits": "8"}),
                json!("200"),
                Measurement::Sum(200),
            ),
            (
                json!({"type": "Prio3SumVec", "bits": "8", "length": "3", "chunk_length": "2"}),
                json!(["1", "0", "255"]),
                Measurement::SumVec(vec![1, 0, 255]),
            ),
            (
                json!({"type": "Prio3Histogram", "length": "5", "chunk_length": "2"}),
                json!("4"),
                Measurement::Histogram(4),
            ),
            (
                json!({"type": "Prio3FixedPointBoundedL2VecSum", "bitsize": "16", "length": "2"}),
                json!(["0.25", "-0.5"]),
                Measurement::FixedPointVec(vec![0.25, -0.5]),
            ),
        ];
        for (vdaf_json, measurement_json_value, expected) in cases {
            let instance = vdaf(vdaf_json);
            assert_eq!(
                parse_measurement(&instance, &measurement_json_value).unwrap(),
                expected
            );
            assert_eq!(measurement_json(&expected), measurement_json_value);
        }
    }

    #[test]
    fn bad_measurements_are_refused_with_a_reason() {
        let count = VdafInstance::Prio3Count;
        let sum = vdaf(json!({"type": "Prio3Sum", "bits": "8"}));
        let hist = vdaf(json!({"type": "Prio3Histogram", "length": "5", "chunk_length": "2"}));
        let vec =
            vdaf(json!({"type": "Prio3SumVec", "bits": "8", "length": "3", "chunk_length": "2"}));
        for (instance, value, needle) in [
            (count, json!(1), "\"0\" or \"1\""),
            (count, json!("2"), "\"0\" or \"1\""),
            (sum, json!(200), "base-10 string"),
            (sum, json!("256"), "does not fit"),
            (sum, json!("-1"), "base-10 integer"),
            (hist, json!("5"), "does not fit"),
            (vec, json!(["1", "2"]), "does not fit"),
            (vec, json!([1, 2, 3]), "measurement[0]"),
        ] {
            let error = format!("{:#}", parse_measurement(&instance, &value).unwrap_err());
            assert!(error.contains(needle), "{value}: {error}");
        }
    }

    #[test]
    fn poplar1_measurements_and_parameters() {
        let poplar = vdaf(json!({"type": "Poplar1", "bits": "4"}));
        let want = Measurement::Poplar1(vec![true, false, true, true]);
        assert_eq!(
            parse_measurement(&poplar, &json!([true, false, true, true])).unwrap(),
            want
        );
        assert_eq!(measurement_json(&want), json!([true, false, true, true]));
        assert_eq!(parse_measurement(&poplar, &json!("1011")).unwrap(), want);
        for bad in [
            json!([true, false]),
            json!([1, 0, 1, 1]),
            json!("10x1"),
            json!(5),
        ] {
            assert!(parse_measurement(&poplar, &bad).is_err(), "{bad}");
        }
        // Level 0, two prefixes: `0` then `1` (VDAF-08 section 8.2.6.4).
        assert_eq!(
            parse_aggregation_param(&poplar, &[0, 0, 0, 0, 0, 2, 0b10]).unwrap(),
            AggregationParam::Poplar1 {
                prefixes: vec![vec![false], vec![true]]
            }
        );
        // Unsorted.
        assert!(parse_aggregation_param(&poplar, &[0, 0, 0, 0, 0, 2, 0b01]).is_err());
        assert!(parse_aggregation_param(&VdafInstance::Prio3Count, &[1]).is_err());
        assert_eq!(
            parse_aggregation_param(&VdafInstance::Prio3Count, &[]).unwrap(),
            AggregationParam::Empty
        );
    }

    #[test]
    fn bad_vdafs_are_refused() {
        assert!(parse_vdaf(&json!({"type": "Prio3Sum"})).is_err());
        assert!(parse_vdaf(&json!({"type": "Prio3Sum", "bits": "x"})).is_err());
        assert!(parse_vdaf(&json!("Prio3Count")).is_err());
    }

    #[test]
    fn results_are_base10_strings() {
        assert_eq!(result_json(&AggregateResult::Count(7)), json!("7"));
        assert_eq!(
            result_json(&AggregateResult::Sum(u128::from(u64::MAX) * 3)),
            json!("55340232221128654845")
        );
        assert_eq!(
            result_json(&AggregateResult::Histogram(vec![3, 0, 9])),
            json!(["3", "0", "9"])
        );
    }

    #[test]
    fn queries_parse_and_bad_ones_are_refused() {
        assert_eq!(
            parse_query(
                &json!({"type": 1, "batch_interval_start": 3600, "batch_interval_duration": 7200})
            )
            .unwrap(),
            Query::TimeInterval(
                Interval::new(
                    Time::from_seconds_since_epoch(3600),
                    Duration::from_seconds(7200)
                )
                .unwrap()
            )
        );
        assert_eq!(
            parse_query(&json!({"type": 2, "subtype": 1})).unwrap(),
            Query::FixedSize(FixedSizeQuery::CurrentBatch)
        );
        let batch_id = BatchId::random();
        assert_eq!(
            parse_query(&json!({"type": 2, "subtype": 0, "batch_id": batch_id.to_string()}))
                .unwrap(),
            Query::FixedSize(FixedSizeQuery::ByBatchId(batch_id))
        );
        for bad in [
            json!({"type": 3}),
            json!({"type": 1, "batch_interval_start": "3600", "batch_interval_duration": 3600}),
            json!({"type": 1, "batch_interval_start": 3600}),
            json!({"type": 2, "subtype": 2}),
            json!({"type": 2, "subtype": 0, "batch_id": "not base64!"}),
            json!([]),
        ] {
            assert!(parse_query(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn batch_modes() {
        assert_eq!(
            batch_mode(QueryType::TimeInterval, Some(3)),
            BatchMode::TimeInterval
        );
        assert_eq!(
            batch_mode(QueryType::FixedSize, Some(10)),
            BatchMode::FixedSize {
                max_batch_size: Some(10)
            }
        );
        assert_eq!(
            batch_mode(QueryType::FixedSize, None),
            BatchMode::FixedSize {
                max_batch_size: None
            }
        );
        assert!(QueryType::from_code(0).is_err());
        assert_eq!(QueryType::from_code(2).unwrap(), QueryType::FixedSize);
    }
}
