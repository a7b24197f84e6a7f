//! Fixed-length identifiers (DAP-09 sections 4 and 4.1): task, report, batch,
//! aggregation job and collection job IDs. Each prints and parses as unpadded
//! base64url (RFC 4648 section 5), in Display, FromStr and serde alike.

use crate::codec::{Decode, DecodeError, Encode, EncodeError, Reader};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::fmt;
use std::str::FromStr;

/// A string that is not the unpadded base64url form of an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{id_type}: {reason}")]
pub struct IdParseError {
    pub id_type: &'static str,
    pub reason: String,
}

macro_rules! fixed_id {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; $len]);

        impl $name {
            /// The length of the identifier in bytes.
            pub const LEN: usize = $len;

            /// The identifier with the given bytes.
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// A fresh identifier from a cryptographically secure random source.
            pub fn random() -> Self {
                Self(rand::random())
            }

            /// The identifier's bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }
        }

        impl TryFrom<&[u8]> for $name {
            type Error = IdParseError;
            fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
                <[u8; $len]>::try_from(bytes).map(Self).map_err(|_| IdParseError {
                    id_type: stringify!($name),
                    reason: format!("expected {} bytes, got {}", $len, bytes.len()),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|e| IdParseError {
                    id_type: stringify!($name),
                    reason: format!("not unpadded base64url: {e}"),
                })?;
                Self::try_from(bytes.as_slice())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl Encode for $name {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
                out.extend_from_slice(&self.0);
                Ok(())
            }
        }

        impl Decode for $name {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.array().map(Self)
            }
        }
    };
}

fixed_id!(
    /// `opaque TaskID[32]`: identifies a task (DAP-09 section 4.2).
    TaskId, 32
);
fixed_id!(
    /// `opaque ReportID[16]`: identifies a report within a task; also the VDAF nonce.
    ReportId, 16
);
fixed_id!(
    /// `opaque BatchID[32]`: identifies a fixed-size batch (DAP-09 section 4.1.2).
    BatchId, 32
);
fixed_id!(
    /// `opaque AggregationJobID[16]`: identifies an aggregation job (DAP-09 section 4.5).
    AggregationJobId, 16
);
fixed_id!(
    /// `opaque CollectionJobID[16]`: identifies a collection job (DAP-09 section 4.6).
    CollectionJobId, 16
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_as_unpadded_base64url() {
        let id = TaskId::from_bytes([0xfb; 32]);
        let s = id.to_string();
        assert!(!s.contains('=') && !s.contains('+') && !s.contains('/'));
        assert_eq!(s.parse::<TaskId>().unwrap(), id);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{s}\""));
        assert_eq!(
            serde_json::from_str::<TaskId>(&format!("\"{s}\"")).unwrap(),
            id
        );
    }

    #[test]
    fn id_of_the_wrong_length_is_rejected() {
        let short = URL_SAFE_NO_PAD.encode([1u8; 15]);
        assert!(short.parse::<ReportId>().is_err());
        assert!("not base64!".parse::<ReportId>().is_err());
        assert!("AAAA=".parse::<TaskId>().is_err());
    }
}
