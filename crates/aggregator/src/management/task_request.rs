//! The body of `POST /tasks` ([`PostTaskRequest`]) and the reading of the
//! aggregator API's spellings back into dyad's types: its `VdafInstance`
//! with its `dp_strategy` ([`vdaf_from_json`]) and its `QueryType` ([`batch_mode_from_json`]), the
//! inverses of [`super::task_json::vdaf_json`] and
//! [`super::task_json::query_type_json`]. Each failure is a sentence saying
//! what is wrong, for a 400.

use super::models::{AuthTokenHashJson, AuthTokenJson, HpkeConfigJson};
use dyad_core::task::BatchMode;
use dyad_core::vdaf::{DpStrategy, FixedPointBitSize, VdafInstance};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// `POST /tasks`: a task as the aggregator API provisions it. The task ID
/// is not chosen by the caller: it is SHA-256 of the verify key's bytes.
/// `Debug` hides the verify key and the token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostTaskRequest {
    /// The other aggregator's DAP URL.
    pub peer_aggregator_endpoint: url::Url,
    /// `"TimeInterval"` or `{"FixedSize": {"max_batch_size": n,
    /// "batch_time_window_size": null}}`.
    pub query_type: Value,
    /// The VDAF, as [`super::task_json::vdaf_json`] writes it.
    pub vdaf: Value,
    /// This aggregator's role: `"Leader"` or `"Helper"`.
    pub role: String,
    /// Unpadded base64url, of the VDAF's verify key length.
    pub vdaf_verify_key: String,
    pub max_batch_query_count: u64,
    /// Seconds since the epoch, or `null` for none.
    pub task_expiration: Option<u64>,
    pub min_batch_size: u64,
    /// Seconds.
    pub time_precision: u64,
    pub collector_hpke_config: HpkeConfigJson,
    /// The Leader only (required there): the token it sends the Helper,
    /// the one the Helper's `POST /tasks` answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregator_auth_token: Option<AuthTokenJson>,
    /// The Leader only (required there): the hash of the token the
    /// Collector presents; ignored for a Helper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_auth_token_hash: Option<AuthTokenHashJson>,
}

impl fmt::Debug for PostTaskRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostTaskRequest")
            .field("peer_aggregator_endpoint", &self.peer_aggregator_endpoint)
            .field("query_type", &self.query_type)
            .field("vdaf", &self.vdaf)
            .field("role", &self.role)
            .field("vdaf_verify_key", &"<redacted>")
            .field("max_batch_query_count", &self.max_batch_query_count)
            .field("task_expiration", &self.task_expiration)
            .field("min_batch_size", &self.min_batch_size)
            .field("time_precision", &self.time_precision)
            .field("collector_hpke_config", &self.collector_hpke_config)
            .field("aggregator_auth_token", &self.aggregator_auth_token)
            .field("collector_auth_token_hash", &self.collector_auth_token_hash)
            .finish()
    }
}

/// The API's `QueryType` as a batch mode. dyad has no time-bucketed
/// fixed-size batches: a `batch_time_window_size` other than `null` is
/// refused.
pub fn batch_mode_from_json(value: &Value) -> Result<BatchMode, String> {
    let (name, fields) = variant(value, "query_type")?;
    match name {
        "TimeInterval" => {
            if fields.is_some() {
                return Err("query_type TimeInterval takes no parameters".to_owned());
            }
            Ok(BatchMode::TimeInterval)
        }
        "FixedSize" => {
            let fields = Fields::new(fields, "FixedSize")?;
            fields.only(&["max_batch_size", "batch_time_window_size"])?;
            match fields.get("batch_time_window_size") {
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(
                        "FixedSize batch_time_window_size must be null: dyad does not \
                                bucket fixed-size batches by time"
                            .to_owned(),
                    )
                }
            }
            let max_batch_size = match fields.get("max_batch_size") {
                None | Some(Value::Null) => None,
                Some(_) => Some(fields.unsigned("max_batch_size")?),
            };
            Ok(BatchMode::FixedSize { max_batch_size })
        }
        other => Err(format!(
            "unknown query_type {other:?}: expected TimeInterval or FixedSize"
        )),
    }
}

/// The API's `VdafInstance` as dyad's, its parameters checked (VDAF-08),
/// and its `dp_strategy` (absent: `NoDifferentialPrivacy`), which must be
/// one the VDAF supports (`PureDpDiscreteLaplace` for Prio3Histogram and
/// Prio3SumVec, `ZCdpDiscreteGaussian` for Prio3FixedPointBoundedL2VecSum).
pub fn vdaf_from_json(value: &Value) -> Result<(VdafInstance, DpStrategy), String> {
    let (name, fields) = variant(value, "vdaf")?;
    let mut dp_strategy = DpStrategy::NoDifferentialPrivacy;
    let vdaf = match name {
        "Prio3Count" => {
            if fields.is_some_and(|fields| !fields.is_empty()) {
                return Err("vdaf Prio3Count takes no parameters".to_owned());
            }
            VdafInstance::Prio3Count
        }
        "Prio3Sum" => {
            let fields = Fields::new(fields, name)?;
            fields.only(&["bits"])?;
            VdafInstance::Prio3Sum {
                bits: fields.narrow("bits")?,
            }
        }
        "Prio3SumVec" => {
            let fields = Fields::new(fields, name)?;
            fields.only(&["bits", "length", "chunk_length", "dp_strategy"])?;
            dp_strategy = fields.dp_strategy()?;
            VdafInstance::Prio3SumVec {
                bits: fields.narrow("bits")?,
                length: fields.narrow("length")?,
                chunk_length: fields.narrow("chunk_length")?,
            }
        }
        "Prio3Histogram" => {
            let fields = Fields::new(fields, name)?;
            fields.only(&["length", "chunk_length", "dp_strategy"])?;
            dp_strategy = fields.dp_strategy()?;
            VdafInstance::Prio3Histogram {
                length: fields.narrow("length")?,
                chunk_length: fields.narrow("chunk_length")?,
            }
        }
        "Prio3SumVecField64MultiproofHmacSha256Aes128" => {
            let fields = Fields::new(fields, name)?;
            fields.only(&["proofs", "bits", "length", "chunk_length", "dp_strategy"])?;
            dp_strategy = fields.dp_strategy()?;
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs: fields.narrow("proofs")?,
                bits: fields.narrow("bits")?,
                length: fields.narrow("length")?,
                chunk_length: fields.narrow("chunk_length")?,
            }
        }
        "Prio3FixedPointBoundedL2VecSum" => {
            let fields = Fields::new(fields, name)?;
            fields.only(&["bitsize", "length", "dp_strategy"])?;
            dp_strategy = fields.dp_strategy()?;
            let bitsize = match fields.get("bitsize").and_then(Value::as_str) {
                Some("BitSize16") => FixedPointBitSize::BitSize16,
                Some("BitSize32") => FixedPointBitSize::BitSize32,
                Some("BitSize64") => FixedPointBitSize::BitSize64,
                _ => {
                    return Err(
                        "Prio3FixedPointBoundedL2VecSum bitsize must be \"BitSize16\", \
                         \"BitSize32\" or \"BitSize64\""
                            .to_owned(),
                    )
                }
            };
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize,
                length: fields.narrow("length")?,
            }
        }
        "Poplar1" => {
            let fields = Fields::new(fields, name)?;
            fields.only(&["bits"])?;
            VdafInstance::Poplar1 {
                bits: fields.narrow("bits")?,
            }
        }
        other => {
            return Err(format!(
                "unknown vdaf {other:?}: expected one of {}",
                dyad_core::vdaf::VDAF_TYPES.join(", ")
            ))
        }
    };
    vdaf.validate().map_err(|error| format!("vdaf: {error}"))?;
    dp_strategy
        .check_for(&vdaf)
        .map_err(|error| format!("vdaf: {error}"))?;
    Ok((vdaf, dp_strategy))
}

/// A variant's name and, unless it is a bare name, its parameters.
type Variant<'a> = (&'a str, Option<&'a Map<String, Value>>);

/// An externally tagged enum value: a bare name, or `{"Name": {...}}`.
fn variant<'a>(value: &'a Value, what: &str) -> Result<Variant<'a>, String> {
    match value {
        Value::String(name) => Ok((name, None)),
        Value::Object(object) if object.len() == 1 => {
            let (name, fields) = object.iter().next().expect("one member");
            match fields {
                Value::Object(fields) => Ok((name, Some(fields))),
                _ => Err(format!("{what} {name:?}: its parameters must be an object")),
            }
        }
        _ => Err(format!(
            "{what} must be a name or an object with one member, {{\"Name\": {{parameters}}}}"
        )),
    }
}

/// The parameters of one variant.
struct Fields<'a> {
    name: &'a str,
    fields: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn new(fields: Option<&'a Map<String, Value>>, name: &'a str) -> Result<Self, String> {
        let fields = fields.ok_or_else(|| format!("{name} needs its parameters"))?;
        Ok(Self { name, fields })
    }

    fn only(&self, known: &[&str]) -> Result<(), String> {
        match self
            .fields
            .keys()
            .find(|key| !known.contains(&key.as_str()))
        {
            Some(unknown) => Err(format!(
                "{} has no parameter {unknown:?} (it takes {})",
                self.name,
                known.join(", ")
            )),
            None => Ok(()),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.fields.get(key)
    }

    fn unsigned(&self, key: &str) -> Result<u64, String> {
        self.get(key)
            .ok_or_else(|| format!("{} needs {key}", self.name))?
            .as_u64()
            .ok_or_else(|| format!("{} {key} must be a non-negative integer", self.name))
    }

    /// An integer parameter that must fit dyad's type for it.
    fn narrow<T: TryFrom<u64>>(&self, key: &str) -> Result<T, String> {
        let value = self.unsigned(key)?;
        T::try_from(value).map_err(|_| format!("{} {key} {value} is out of range", self.name))
    }

    /// `dp_strategy`, in its serde form (`{"dp_strategy": "NoDifferentialPrivacy"}`,
    /// `{"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[1], [2]]}}`,
    /// ...); absent, no noise.
    fn dp_strategy(&self) -> Result<DpStrategy, String> {
        match self.get("dp_strategy") {
            None => Ok(DpStrategy::NoDifferentialPrivacy),
            Some(strategy) => serde_json::from_value(strategy.clone())
                .map_err(|error| format!("{} dp_strategy: {error}", self.name)),
        }
    }
}
