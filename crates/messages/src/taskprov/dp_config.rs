//! `DpConfig` and `DpMechanism` (taskprov-06 section 3): the differential
//! privacy mechanism of a task, carried in `VdafConfig.dp_config`.

use crate::codec::{Decode, DecodeContext, DecodeError, Encode, EncodeError, Reader};

/// `enum { reserved(0), none(1), (255) } DpMechanism` with the body it selects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DpMechanism {
    /// `none(1)`: no differential privacy; `Empty` body.
    None,
    /// A mechanism this build does not implement, including `reserved(0)`,
    /// which the draft keeps for testing and gives no layout. `data` is the
    /// rest of the `dp_config`, uninterpreted.
    Other { code: u8, data: Vec<u8> },
}

impl DpMechanism {
    /// The wire value of the mechanism.
    pub fn code(&self) -> u8 {
        match self {
            DpMechanism::None => 1,
            DpMechanism::Other { code, .. } => *code,
        }
    }
}

/// `struct DpConfig`: the content of `VdafConfig.dp_config<1..2^16-1>`.
///
/// Decoding an unknown mechanism consumes the rest of the reader, as the
/// structure only ever appears inside its length-prefixed `dp_config`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DpConfig {
    pub dp_mechanism: DpMechanism,
}

impl DpConfig {
    pub fn new(dp_mechanism: DpMechanism) -> Self {
        Self { dp_mechanism }
    }
}

impl Encode for DpConfig {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.dp_mechanism.code());
        if let DpMechanism::Other { data, .. } = &self.dp_mechanism {
            out.extend_from_slice(data);
        }
        Ok(())
    }
}

impl Decode for DpConfig {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let dp_mechanism = match r.u8().at("DpConfig", "dp_mechanism")? {
            1 => DpMechanism::None,
            code => DpMechanism::Other {
                code,
                data: r.take_rest().to_vec(),
            },
        };
        Ok(Self { dp_mechanism })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_is_one_byte_and_unknown_mechanisms_are_kept() {
        let none = DpConfig::new(DpMechanism::None);
        assert_eq!(none.get_encoded().unwrap(), [1]);
        assert!(DpConfig::get_decoded(&[1, 0]).is_err());
        let other = DpConfig::get_decoded(&[7, 1, 2]).unwrap();
        assert_eq!(
            other.dp_mechanism,
            DpMechanism::Other {
                code: 7,
                data: vec![1, 2]
            }
        );
        assert_eq!(other.get_encoded().unwrap(), [7, 1, 2]);
        assert!(DpConfig::get_decoded(&[]).is_err());
    }
}
