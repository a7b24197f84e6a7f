//! The serde and text forms of [`VdafInstance`] (`Display`, `FromStr`): the
//! interop test API's VDAF object
//! (draft-dcook-ppm-dap-interop-test-design-07 section 4.1.1, "VDAF"), e.g.
//! `{"type":"Prio3SumVec","bits":"8","length":"10","chunk_length":"4"}`.
//!
//! Integer parameters are emitted as base-10 strings, as the draft requires;
//! when parsing, JSON (or YAML) numbers are accepted too. Parsing rejects
//! unknown types, missing and unexpected members, and invalid parameters.
//!
//! # Where is
//!
//! - parameters as base-10 strings (interop draft section 4.1.1) ->
//!   [`VdafInstance::parameters`], written by `Serialize`;
//! - a known `type`, every parameter present and no other member, then
//!   [`VdafInstance::validate`] -> `TryFrom<VdafObject>`;
//! - a parameter that is a non-negative base-10 integer -> `parse_decimal`.

use super::error::VdafInstanceError;
use super::instance::{FixedPointBitSize, VdafInstance};
use super::type_names::{
    PRIO3_COUNT, PRIO3_FIXED_POINT, PRIO3_HISTOGRAM, PRIO3_SUM, PRIO3_SUM_VEC,
    PRIO3_SUM_VEC_FIELD64_MULTIPROOF, VDAF_TYPES,
};
use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// One member of the VDAF object as parsed: text, or a non-negative integer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Member {
    Text(String),
    Integer(u64),
}

impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MemberVisitor;

        impl Visitor<'_> for MemberVisitor {
            type Value = Member;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a non-negative integer")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Member, E> {
                Ok(Member::Text(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Member, E> {
                Ok(Member::Integer(v))
            }

            // Negative and fractional numbers are kept as text so that the
            // parameter check reports them with the parameter's name.
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Member, E> {
                Ok(u64::try_from(v).map_or_else(|_| Member::Text(v.to_string()), Member::Integer))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Member, E> {
                Ok(Member::Text(v.to_string()))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Member, E> {
                Ok(Member::Text(v.to_string()))
            }
        }

        d.deserialize_any(MemberVisitor)
    }
}

/// The VDAF object as parsed, before its members are checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub(crate) struct VdafObject(BTreeMap<String, Member>);

/// The members of one VDAF object, taken one by one.
struct Params {
    vdaf: &'static str,
    members: BTreeMap<String, Member>,
}

impl Params {
    /// Removes and parses the integer parameter `param`.
    fn take<T: TryFrom<u64>>(&mut self, param: &'static str) -> Result<T, VdafInstanceError> {
        let vdaf = self.vdaf;
        let value = match self.members.remove(param) {
            None => return Err(VdafInstanceError::MissingParameter { vdaf, param }),
            Some(Member::Integer(n)) => n,
            Some(Member::Text(s)) => parse_decimal(&s).ok_or(VdafInstanceError::NotAnInteger {
                vdaf,
                param,
                value: s,
            })?,
        };
        T::try_from(value).map_err(|_| VdafInstanceError::OutOfRange {
            vdaf,
            param,
            value,
            reason: "too large".to_string(),
        })
    }

    /// Fails if any member was not taken.
    fn finish(self) -> Result<(), VdafInstanceError> {
        match self.members.into_keys().next() {
            None => Ok(()),
            Some(param) => Err(VdafInstanceError::UnexpectedParameter {
                vdaf: self.vdaf,
                param,
            }),
        }
    }
}

/// A non-empty string of ASCII digits as a `u64`.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl TryFrom<VdafObject> for VdafInstance {
    type Error = VdafInstanceError;

    fn try_from(object: VdafObject) -> Result<Self, Self::Error> {
        let mut members = object.0;
        let type_name = match members.remove("type") {
            None => return Err(VdafInstanceError::MissingType),
            Some(Member::Text(s)) => s,
            Some(Member::Integer(n)) => return Err(VdafInstanceError::UnknownType(n.to_string())),
        };
        let vdaf = VDAF_TYPES
            .into_iter()
            .find(|name| *name == type_name)
            .ok_or(VdafInstanceError::UnknownType(type_name))?;
        let mut p = Params { vdaf, members };
        let instance = match vdaf {
            PRIO3_COUNT => VdafInstance::Prio3Count,
            PRIO3_SUM => VdafInstance::Prio3Sum {
                bits: p.take("bits")?,
            },
            PRIO3_SUM_VEC => VdafInstance::Prio3SumVec {
                bits: p.take("bits")?,
                length: p.take("length")?,
                chunk_length: p.take("chunk_length")?,
            },
            PRIO3_HISTOGRAM => VdafInstance::Prio3Histogram {
                length: p.take("length")?,
                chunk_length: p.take("chunk_length")?,
            },
            PRIO3_SUM_VEC_FIELD64_MULTIPROOF => {
                VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                    proofs: p.take("proofs")?,
                    bits: p.take("bits")?,
                    length: p.take("length")?,
                    chunk_length: p.take("chunk_length")?,
                }
            }
            PRIO3_FIXED_POINT => {
                let bits: u64 = p.take("bitsize")?;
                let bitsize = FixedPointBitSize::from_bits(bits).ok_or_else(|| {
                    VdafInstanceError::OutOfRange {
                        vdaf,
                        param: "bitsize",
                        value: bits,
                        reason: "must be 16, 32 or 64".to_string(),
                    }
                })?;
                VdafInstance::Prio3FixedPointBoundedL2VecSum {
                    bitsize,
                    length: p.take("length")?,
                }
            }
            _ => VdafInstance::Poplar1 {
                bits: p.take("bits")?,
            },
        };
        p.finish()?;
        instance.validate()?;
        Ok(instance)
    }
}

impl VdafInstance {
    /// The parameters as `(name, value)` pairs, in the order they are emitted.
    pub fn parameters(&self) -> Vec<(&'static str, String)> {
        match *self {
            VdafInstance::Prio3Count => vec![],
            VdafInstance::Prio3Sum { bits } => vec![("bits", bits.to_string())],
            VdafInstance::Prio3SumVec {
                bits,
                length,
                chunk_length,
            } => vec![
                ("bits", bits.to_string()),
                ("length", length.to_string()),
                ("chunk_length", chunk_length.to_string()),
            ],
            VdafInstance::Prio3Histogram {
                length,
                chunk_length,
            } => vec![
                ("length", length.to_string()),
                ("chunk_length", chunk_length.to_string()),
            ],
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs,
                bits,
                length,
                chunk_length,
            } => vec![
                ("proofs", proofs.to_string()),
                ("bits", bits.to_string()),
                ("length", length.to_string()),
                ("chunk_length", chunk_length.to_string()),
            ],
            VdafInstance::Prio3FixedPointBoundedL2VecSum { bitsize, length } => vec![
                ("bitsize", bitsize.to_string()),
                ("length", length.to_string()),
            ],
            VdafInstance::Poplar1 { bits } => vec![("bits", bits.to_string())],
        }
    }
}

impl Serialize for VdafInstance {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let params = self.parameters();
        let mut map = s.serialize_map(Some(1 + params.len()))?;
        map.serialize_entry("type", self.type_name())?;
        for (name, value) in &params {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for VdafInstance {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let object = VdafObject::deserialize(d)?;
        VdafInstance::try_from(object).map_err(de::Error::custom)
    }
}

/// The VDAF object as compact JSON, e.g. `{"type":"Prio3Sum","bits":"8"}`.
impl fmt::Display for VdafInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&json)
    }
}

/// Parses the VDAF object from JSON and validates it.
impl FromStr for VdafInstance {
    type Err = VdafInstanceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let object: VdafObject =
            serde_json::from_str(s).map_err(|e| VdafInstanceError::Malformed(e.to_string()))?;
        VdafInstance::try_from(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn every_variant() -> Vec<VdafInstance> {
        vec![
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
                bitsize: FixedPointBitSize::BitSize16,
                length: 3,
            },
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize32,
                length: 3,
            },
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize64,
                length: 2,
            },
            VdafInstance::Poplar1 { bits: 16 },
        ]
    }

    #[test]
    fn every_variant_round_trips_through_json_yaml_and_display() {
        for instance in every_variant() {
            let json = serde_json::to_string(&instance).unwrap();
            assert_eq!(
                serde_json::from_str::<VdafInstance>(&json).unwrap(),
                instance
            );
            assert_eq!(instance.to_string(), json);
            assert_eq!(json.parse::<VdafInstance>().unwrap(), instance);
            let yaml = serde_yaml::to_string(&instance).unwrap();
            assert_eq!(
                serde_yaml::from_str::<VdafInstance>(&yaml).unwrap(),
                instance
            );
        }
    }

    #[test]
    fn integers_are_emitted_as_decimal_strings() {
        let instance = VdafInstance::Prio3SumVec {
            bits: 8,
            length: 10,
            chunk_length: 4,
        };
        assert_eq!(
            serde_json::to_value(instance).unwrap(),
            json!({"type": "Prio3SumVec", "bits": "8", "length": "10", "chunk_length": "4"})
        );
        assert_eq!(
            VdafInstance::Prio3Count.to_string(),
            r#"{"type":"Prio3Count"}"#
        );
        assert_eq!(
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize32,
                length: 7
            }
            .to_string(),
            r#"{"type":"Prio3FixedPointBoundedL2VecSum","bitsize":"32","length":"7"}"#
        );
    }

    /// The objects of the interop test design draft, section 4.1.1 "VDAF".
    #[test]
    fn interop_examples_parse() {
        let cases = [
            (json!({"type": "Prio3Count"}), VdafInstance::Prio3Count),
            (
                json!({"type": "Prio3Sum", "bits": "8"}),
                VdafInstance::Prio3Sum { bits: 8 },
            ),
            (
                json!({"type": "Prio3SumVec", "bits": "1", "length": "10", "chunk_length": "3"}),
                VdafInstance::Prio3SumVec {
                    bits: 1,
                    length: 10,
                    chunk_length: 3,
                },
            ),
            (
                json!({"type": "Prio3Histogram", "length": "4", "chunk_length": "2"}),
                VdafInstance::Prio3Histogram {
                    length: 4,
                    chunk_length: 2,
                },
            ),
            (
                json!({"type": "Poplar1", "bits": "64"}),
                VdafInstance::Poplar1 { bits: 64 },
            ),
        ];
        for (object, want) in cases {
            assert_eq!(
                serde_json::from_value::<VdafInstance>(object).unwrap(),
                want
            );
        }
    }

    #[test]
    fn json_numbers_are_accepted() {
        let parsed: VdafInstance = serde_json::from_value(
            json!({"type": "Prio3Histogram", "length": 4, "chunk_length": "2"}),
        )
        .unwrap();
        assert_eq!(
            parsed,
            VdafInstance::Prio3Histogram {
                length: 4,
                chunk_length: 2
            }
        );
        let yaml = "type: Prio3Sum\nbits: 16\n";
        assert_eq!(
            serde_yaml::from_str::<VdafInstance>(yaml).unwrap(),
            VdafInstance::Prio3Sum { bits: 16 }
        );
    }

    fn parse_err(text: &str) -> VdafInstanceError {
        text.parse::<VdafInstance>().unwrap_err()
    }

    #[test]
    fn invalid_objects_are_rejected_with_clear_errors() {
        use VdafInstanceError::*;
        assert!(matches!(parse_err("{}"), MissingType));
        assert!(matches!(parse_err("not json"), Malformed(_)));
        assert!(matches!(parse_err(r#"["Prio3Count"]"#), Malformed(_)));
        assert!(matches!(parse_err(r#"{"type":"Prio4"}"#), UnknownType(t) if t == "Prio4"));
        let message = parse_err(r#"{"type":"Prio4"}"#).to_string();
        for known in super::VDAF_TYPES {
            assert!(message.contains(known), "{message} lists {known}");
        }
        assert!(matches!(
            parse_err(r#"{"type":"Prio3Sum"}"#),
            MissingParameter {
                vdaf: "Prio3Sum",
                param: "bits"
            }
        ));
        assert!(matches!(
            parse_err(r#"{"type":"Prio3Count","bits":"8"}"#),
            UnexpectedParameter { param, .. } if param == "bits"
        ));
        for bad in ["-1", "8.5", "0x10", "", " 8", "+8", "eight"] {
            let text = format!(r#"{{"type":"Prio3Sum","bits":"{bad}"}}"#);
            assert!(
                matches!(parse_err(&text), NotAnInteger { param: "bits", .. }),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_err(r#"{"type":"Prio3Sum","bits":-3}"#),
            NotAnInteger { param: "bits", .. }
        ));
        assert!(matches!(
            parse_err(r#"{"type":"Prio3Sum","bits":"300"}"#),
            OutOfRange {
                param: "bits",
                value: 300,
                ..
            }
        ));
        assert!(matches!(
            parse_err(r#"{"type":"Prio3Sum","bits":"65"}"#),
            OutOfRange {
                param: "bits",
                value: 65,
                ..
            }
        ));
        assert!(matches!(
            parse_err(r#"{"type":"Prio3Sum","bits":"0"}"#),
            OutOfRange {
                param: "bits",
                value: 0,
                ..
            }
        ));
        assert!(matches!(
            parse_err(r#"{"type":"Prio3SumVec","bits":"8","length":"0","chunk_length":"1"}"#),
            OutOfRange {
                param: "length",
                ..
            }
        ));
        assert!(matches!(
            parse_err(r#"{"type":"Prio3SumVec","bits":"128","length":"2","chunk_length":"1"}"#),
            OutOfRange { param: "bits", .. }
        ));
        assert!(matches!(
            parse_err(r#"{"type":"Prio3Histogram","length":"4","chunk_length":"0"}"#),
            OutOfRange {
                param: "chunk_length",
                ..
            }
        ));
        assert!(matches!(
            parse_err(r#"{"type":"Prio3Histogram","length":"4294967296","chunk_length":"1"}"#),
            OutOfRange {
                param: "length",
                ..
            }
        ));
        assert!(matches!(
            parse_err(
                r#"{"type":"Prio3SumVecField64MultiproofHmacSha256Aes128","proofs":"1","bits":"1","length":"2","chunk_length":"1"}"#
            ),
            OutOfRange {
                param: "proofs",
                ..
            }
        ));
        assert!(matches!(
            parse_err(
                r#"{"type":"Prio3SumVecField64MultiproofHmacSha256Aes128","proofs":"2","bits":"64","length":"2","chunk_length":"1"}"#
            ),
            OutOfRange { param: "bits", .. }
        ));
        assert!(matches!(
            parse_err(r#"{"type":"Prio3FixedPointBoundedL2VecSum","bitsize":"8","length":"2"}"#),
            OutOfRange {
                param: "bitsize",
                value: 8,
                ..
            }
        ));
        // prio rejects a 64-bit fixed-point vector whose norm cannot fit the field.
        assert!(matches!(
            parse_err(
                r#"{"type":"Prio3FixedPointBoundedL2VecSum","bitsize":"64","length":"1000"}"#
            ),
            Rejected { .. }
        ));
        assert!(matches!(
            parse_err(r#"{"type":"Poplar1","bits":"0"}"#),
            OutOfRange { param: "bits", .. }
        ));
        assert!(
            serde_json::from_str::<VdafInstance>(r#"{"type":"Prio3Sum","bits":null}"#).is_err()
        );
    }

    #[test]
    fn validate_rejects_hand_built_instances() {
        assert!(VdafInstance::Prio3Sum { bits: 0 }.validate().is_err());
        assert!(VdafInstance::Prio3Histogram {
            length: 0,
            chunk_length: 1
        }
        .validate()
        .is_err());
        for instance in every_variant() {
            instance.validate().unwrap();
        }
    }
}
