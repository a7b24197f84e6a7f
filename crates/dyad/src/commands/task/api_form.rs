//! The management API's spellings of a task's VDAF and batch mode, read
//! back into dyad's types: the inverse of
//! `dyad_aggregator::management::task_json::{vdaf_json, query_type_json}`
//! (the aggregator API's `VdafInstance` and `QueryType` forms).

use anyhow::{bail, Context as _};
use dyad_core::task::BatchMode;
use dyad_core::vdaf::VdafInstance;
use serde_json::{Map, Value};

/// The VDAF of the API's form: a bare name (`"Prio3Count"`) or
/// `{"Name": {parameters}}`. `dp_strategy` must be none (dyad adds no
/// noise); `bitsize` is spelled `BitSize16` there.
pub fn vdaf(json: &Value) -> anyhow::Result<VdafInstance> {
    let (name, parameters) = match json {
        Value::String(name) => (name.as_str(), Map::new()),
        Value::Object(outer) if outer.len() == 1 => {
            let (name, parameters) = outer.iter().next().expect("one member");
            let parameters = parameters
                .as_object()
                .with_context(|| format!("the parameters of {name} are not an object"))?;
            (name.as_str(), parameters.clone())
        }
        other => bail!("{other} is not a VDAF in the management API's form"),
    };
    let mut object = Map::new();
    object.insert("type".to_owned(), Value::String(name.to_owned()));
    for (member, value) in parameters {
        match member.as_str() {
            "dp_strategy" => {
                let strategy = value.get("dp_strategy").and_then(Value::as_str);
                if strategy != Some("NoDifferentialPrivacy") {
                    bail!(
                        "{name} with dp_strategy {value}: dyad adds no differential-privacy noise"
                    );
                }
            }
            "bitsize" => {
                let bits = value
                    .as_str()
                    .and_then(|text| text.strip_prefix("BitSize"))
                    .with_context(|| format!("{name}'s bitsize {value} is not BitSize16/32/64"))?;
                object.insert(member, Value::String(bits.to_owned()));
            }
            _ => {
                object.insert(member, value);
            }
        }
    }
    Value::Object(object)
        .to_string()
        .parse::<VdafInstance>()
        .map_err(anyhow::Error::new)
}

/// The batch mode of the API's `QueryType`: `"TimeInterval"`, or
/// `{"FixedSize": {"max_batch_size": n|null, "batch_time_window_size":
/// null}}` (dyad has no batch time windows).
pub fn batch_mode(json: &Value) -> anyhow::Result<BatchMode> {
    if json.as_str() == Some("TimeInterval") {
        return Ok(BatchMode::TimeInterval);
    }
    let Some(fixed) = json.get("FixedSize").and_then(Value::as_object) else {
        bail!("{json} is not TimeInterval or FixedSize");
    };
    if !fixed
        .get("batch_time_window_size")
        .is_none_or(Value::is_null)
    {
        bail!("a batch_time_window_size, which dyad does not support");
    }
    let max_batch_size = match fixed.get("max_batch_size") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            value
                .as_u64()
                .with_context(|| format!("max_batch_size {value} is not a count"))?,
        ),
    };
    Ok(BatchMode::FixedSize { max_batch_size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_aggregator::management::task_json::{query_type_json, vdaf_json};
    use dyad_core::vdaf::FixedPointBitSize;

    #[test]
    fn every_vdaf_reads_back_from_the_form_the_api_writes() {
        for instance in [
            VdafInstance::Prio3Count,
            VdafInstance::Prio3Sum { bits: 8 },
            VdafInstance::Prio3SumVec {
                bits: 8,
                length: 10,
                chunk_length: 4,
            },
            VdafInstance::Prio3Histogram {
                length: 5,
                chunk_length: 2,
            },
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs: 2,
                bits: 4,
                length: 6,
                chunk_length: 3,
            },
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize32,
                length: 3,
            },
            VdafInstance::Poplar1 { bits: 16 },
        ] {
            assert_eq!(vdaf(&vdaf_json(&instance)).unwrap(), instance);
        }
    }

    #[test]
    fn every_batch_mode_reads_back_from_the_form_the_api_writes() {
        for mode in [
            BatchMode::TimeInterval,
            BatchMode::FixedSize {
                max_batch_size: Some(500),
            },
            BatchMode::FixedSize {
                max_batch_size: None,
            },
        ] {
            assert_eq!(batch_mode(&query_type_json(&mode)).unwrap(), mode);
        }
    }

    #[test]
    fn forms_dyad_cannot_hold_are_refused_saying_why() {
        let noisy = serde_json::json!({"Prio3Histogram": {"length": 4, "chunk_length": 2,
            "dp_strategy": {"dp_strategy": "PureDpDiscreteLaplace"}}});
        let error = format!("{:#}", vdaf(&noisy).unwrap_err());
        assert!(error.contains("no differential-privacy noise"), "{error}");
        let error = format!("{:#}", vdaf(&serde_json::json!("Prio4")).unwrap_err());
        assert!(error.contains("Prio4"), "{error}");
        let windowed = serde_json::json!({"FixedSize": {"max_batch_size": 10,
            "batch_time_window_size": 3600}});
        let error = format!("{:#}", batch_mode(&windowed).unwrap_err());
        assert!(error.contains("batch_time_window_size"), "{error}");
    }
}
