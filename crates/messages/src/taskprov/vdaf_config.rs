//! `VdafConfig` and `VdafType` (taskprov-06 section 3): the VDAF of a task,
//! its parameters, and its differential privacy configuration, carried in
//! `TaskConfig.vdaf_config`.

use super::DpConfig;
use crate::codec::{
    put_nested, Decode, DecodeContext, DecodeError, Encode, EncodeError, LengthWidth, Reader,
};

/// `uint32 VdafType` with the parameters it selects. Code points are those of
/// VDAF-08 as listed by taskprov-06.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VdafType {
    /// `prio3_count(0x00000000)`: no parameters.
    Prio3Count,
    /// `prio3_sum(0x00000001)`: `uint8` bit length of the summand.
    Prio3Sum { bits: u8 },
    /// `prio3_sum_vec(0x00000002)`: `uint32` vector length, `uint8` bit length
    /// of each summand, `uint32` proof chunk length.
    Prio3SumVec {
        length: u32,
        bits: u8,
        chunk_length: u32,
    },
    /// `prio3_histogram(0x00000003)`: `uint32` number of buckets, `uint32`
    /// proof chunk length.
    Prio3Histogram { length: u32, chunk_length: u32 },
    /// `poplar1(0x00001000)`: `uint16` bit length of the input string.
    Poplar1 { bits: u16 },
    /// A VDAF this build does not name (for example a private code point
    /// `0xFFFFxxxx`). `data` is the rest of the `vdaf_config`, uninterpreted.
    Other { code: u32, data: Vec<u8> },
}

impl VdafType {
    pub const PRIO3_COUNT: u32 = 0x0000_0000;
    pub const PRIO3_SUM: u32 = 0x0000_0001;
    pub const PRIO3_SUM_VEC: u32 = 0x0000_0002;
    pub const PRIO3_HISTOGRAM: u32 = 0x0000_0003;
    pub const POPLAR1: u32 = 0x0000_1000;

    /// The wire value of the VDAF type.
    pub fn code(&self) -> u32 {
        match self {
            VdafType::Prio3Count => Self::PRIO3_COUNT,
            VdafType::Prio3Sum { .. } => Self::PRIO3_SUM,
            VdafType::Prio3SumVec { .. } => Self::PRIO3_SUM_VEC,
            VdafType::Prio3Histogram { .. } => Self::PRIO3_HISTOGRAM,
            VdafType::Poplar1 { .. } => Self::POPLAR1,
            VdafType::Other { code, .. } => *code,
        }
    }
}

impl Encode for VdafType {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.code().encode(out)?;
        match self {
            VdafType::Prio3Count => Ok(()),
            VdafType::Prio3Sum { bits } => bits.encode(out),
            VdafType::Prio3SumVec {
                length,
                bits,
                chunk_length,
            } => {
                length.encode(out)?;
                bits.encode(out)?;
                chunk_length.encode(out)
            }
            VdafType::Prio3Histogram {
                length,
                chunk_length,
            } => {
                length.encode(out)?;
                chunk_length.encode(out)
            }
            VdafType::Poplar1 { bits } => bits.encode(out),
            VdafType::Other { data, .. } => {
                out.extend_from_slice(data);
                Ok(())
            }
        }
    }
}

impl Decode for VdafType {
    /// Decoding an unknown type consumes the rest of the reader, as the type
    /// only ever ends a length-prefixed `vdaf_config`.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "VdafConfig";
        Ok(match r.u32().at(S, "vdaf_type")? {
            Self::PRIO3_COUNT => VdafType::Prio3Count,
            Self::PRIO3_SUM => VdafType::Prio3Sum {
                bits: r.u8().at(S, "bits")?,
            },
            Self::PRIO3_SUM_VEC => VdafType::Prio3SumVec {
                length: r.u32().at(S, "length")?,
                bits: r.u8().at(S, "bits")?,
                chunk_length: r.u32().at(S, "chunk_length")?,
            },
            Self::PRIO3_HISTOGRAM => VdafType::Prio3Histogram {
                length: r.u32().at(S, "length")?,
                chunk_length: r.u32().at(S, "chunk_length")?,
            },
            Self::POPLAR1 => VdafType::Poplar1 {
                bits: r.u16().at(S, "bits")?,
            },
            code => VdafType::Other {
                code,
                data: r.take_rest().to_vec(),
            },
        })
    }
}

/// `struct VdafConfig`: the content of `TaskConfig.vdaf_config<1..2^16-1>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VdafConfig {
    /// `opaque dp_config<1..2^16-1>`, holding a `DpConfig`.
    pub dp_config: DpConfig,
    /// `VdafType vdaf_type` and its parameters.
    pub vdaf_type: VdafType,
}

impl VdafConfig {
    pub fn new(dp_config: DpConfig, vdaf_type: VdafType) -> Self {
        Self {
            dp_config,
            vdaf_type,
        }
    }
}

impl Encode for VdafConfig {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        put_nested(
            out,
            LengthWidth::U16,
            1,
            &self.dp_config,
            ("VdafConfig", "dp_config"),
        )?;
        self.vdaf_type.encode(out)
    }
}

impl Decode for VdafConfig {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dp_config: r
                .nested(LengthWidth::U16, 1)
                .at("VdafConfig", "dp_config")?,
            vdaf_type: VdafType::decode(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taskprov::DpMechanism;

    #[test]
    fn vdaf_type_layouts() {
        let cases: [(VdafType, &[u8]); 5] = [
            (VdafType::Prio3Count, &[0, 0, 0, 0]),
            (VdafType::Prio3Sum { bits: 8 }, &[0, 0, 0, 1, 8]),
            (
                VdafType::Prio3SumVec {
                    length: 3,
                    bits: 2,
                    chunk_length: 4,
                },
                &[0, 0, 0, 2, 0, 0, 0, 3, 2, 0, 0, 0, 4],
            ),
            (
                VdafType::Prio3Histogram {
                    length: 5,
                    chunk_length: 6,
                },
                &[0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 6],
            ),
            (VdafType::Poplar1 { bits: 256 }, &[0, 0, 0x10, 0, 1, 0]),
        ];
        for (vdaf_type, bytes) in cases {
            assert_eq!(vdaf_type.get_encoded().unwrap(), bytes);
            assert_eq!(VdafType::get_decoded(bytes).unwrap(), vdaf_type);
        }
    }

    #[test]
    fn vdaf_config_nests_dp_config() {
        let c = VdafConfig::new(DpConfig::new(DpMechanism::None), VdafType::Prio3Count);
        let bytes = c.get_encoded().unwrap();
        assert_eq!(bytes, [0, 1, 1, 0, 0, 0, 0]);
        assert_eq!(VdafConfig::get_decoded(&bytes).unwrap(), c);
        // An empty dp_config is out of range.
        let err = VdafConfig::get_decoded(&[0, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(err.location(), Some(("VdafConfig", "dp_config")));
    }

    #[test]
    fn unknown_vdaf_types_are_kept() {
        let bytes = [0, 1, 1, 0xff, 0xff, 0x10, 0x03, 9, 9];
        let c = VdafConfig::get_decoded(&bytes).unwrap();
        assert_eq!(
            c.vdaf_type,
            VdafType::Other {
                code: 0xffff_1003,
                data: vec![9, 9]
            }
        );
        assert_eq!(c.get_encoded().unwrap(), bytes);
    }

    #[test]
    fn truncated_parameters_are_rejected() {
        let err = VdafType::get_decoded(&[0, 0, 0, 2, 0, 0, 0, 3, 2]).unwrap_err();
        assert_eq!(err.location(), Some(("VdafConfig", "chunk_length")));
    }
}
