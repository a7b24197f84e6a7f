//! `Role` (DAP-09 section 4): the four kinds of protocol participant.

use crate::codec::{Decode, DecodeError, DecodeErrorKind, Encode, EncodeError, Reader};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `enum { collector(0), client(1), leader(2), helper(3), (255) } Role`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Collector = 0,
    Client = 1,
    Leader = 2,
    Helper = 3,
}

impl Role {
    /// Whether this role is one of the two aggregators.
    pub fn is_aggregator(&self) -> bool {
        matches!(self, Role::Leader | Role::Helper)
    }

    /// The wire value.
    pub fn as_u8(&self) -> u8 {
        *self as u8
    }

    /// The role for a wire value, if the spec defines one.
    pub fn from_u8(value: u8) -> Option<Role> {
        Some(match value {
            0 => Role::Collector,
            1 => Role::Client,
            2 => Role::Leader,
            3 => Role::Helper,
            _ => return None,
        })
    }

    /// The lower-case name used in the spec.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Collector => "collector",
            Role::Client => "client",
            Role::Leader => "leader",
            Role::Helper => "helper",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Encode for Role {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.as_u8());
        Ok(())
    }
}

impl Decode for Role {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let value = r.u8()?;
        Role::from_u8(value).ok_or_else(|| {
            DecodeError::new(DecodeErrorKind::UnknownValue {
                value: value.into(),
            })
        })
    }
}
