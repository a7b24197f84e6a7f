//! HPKE configuration and ciphertext messages (DAP-09 sections 4 and 4.4.1):
//! `HpkeConfigId`, the KEM/KDF/AEAD identifiers of the HPKE registry
//! (RFC 9180 section 7), `HpkeConfig`, `HpkeConfigList` and `HpkeCiphertext`.

use crate::codec::{
    put_opaque, put_vec, Decode, DecodeContext, DecodeError, Encode, EncodeError, LengthWidth,
    Reader,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `uint8 HpkeConfigId`: identifies one of an aggregator's HPKE configurations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HpkeConfigId(pub u8);

impl fmt::Display for HpkeConfigId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Encode for HpkeConfigId {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.0.encode(out)
    }
}

impl Decode for HpkeConfigId {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u8().map(Self)
    }
}

/// Defines a `uint16` registry of RFC 9180: known values by name, and every
/// other value kept as `Other(n)` because the registry is open to extension.
macro_rules! hpke_registry {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A value this build does not name.
            Other(u16),
        }

        impl $name {
            /// Every value this build names.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),*];
        }

        impl From<u16> for $name {
            fn from(value: u16) -> Self {
                match value {
                    $($value => $name::$variant,)*
                    other => $name::Other(other),
                }
            }
        }

        impl From<$name> for u16 {
            fn from(value: $name) -> u16 {
                match value {
                    $($name::$variant => $value,)*
                    $name::Other(other) => other,
                }
            }
        }

        impl Encode for $name {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
                u16::from(*self).encode(out)
            }
        }

        impl Decode for $name {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.u16().map($name::from)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u16(u16::from(*self))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                u16::deserialize(d).map($name::from)
            }
        }
    };
}

hpke_registry!(
    /// `uint16 HpkeKemId` (RFC 9180 section 7.1).
    HpkeKemId {
        P256HkdfSha256 = 0x0010,
        P384HkdfSha384 = 0x0011,
        P521HkdfSha512 = 0x0012,
        X25519HkdfSha256 = 0x0020,
        X448HkdfSha512 = 0x0021,
    }
);

hpke_registry!(
    /// `uint16 HpkeKdfId` (RFC 9180 section 7.2).
    HpkeKdfId {
        HkdfSha256 = 0x0001,
        HkdfSha384 = 0x0002,
        HkdfSha512 = 0x0003,
    }
);

hpke_registry!(
    /// `uint16 HpkeAeadId` (RFC 9180 section 7.3).
    HpkeAeadId {
        Aes128Gcm = 0x0001,
        Aes256Gcm = 0x0002,
        ChaCha20Poly1305 = 0x0003,
        /// Export-only: no AEAD, so it cannot seal DAP messages.
        ExportOnly = 0xffff,
    }
);

/// `opaque HpkePublicKey<1..2^16-1>`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HpkePublicKey(pub Vec<u8>);

impl fmt::Debug for HpkePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HpkePublicKey({})", URL_SAFE_NO_PAD.encode(&self.0))
    }
}

impl AsRef<[u8]> for HpkePublicKey {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for HpkePublicKey {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl Serialize for HpkePublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for HpkePublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(s)
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// `struct HpkeConfig` (DAP-09 section 4.4.1): one of an aggregator's (or the
/// collector's) public HPKE configurations.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HpkeConfig {
    pub id: HpkeConfigId,
    pub kem_id: HpkeKemId,
    pub kdf_id: HpkeKdfId,
    pub aead_id: HpkeAeadId,
    pub public_key: HpkePublicKey,
}

impl Encode for HpkeConfig {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.id.encode(out)?;
        self.kem_id.encode(out)?;
        self.kdf_id.encode(out)?;
        self.aead_id.encode(out)?;
        put_opaque(
            out,
            LengthWidth::U16,
            1,
            &self.public_key.0,
            ("HpkeConfig", "public_key"),
        )
    }
}

impl Decode for HpkeConfig {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "HpkeConfig";
        Ok(Self {
            id: HpkeConfigId::decode(r).at(S, "id")?,
            kem_id: HpkeKemId::decode(r).at(S, "kem_id")?,
            kdf_id: HpkeKdfId::decode(r).at(S, "kdf_id")?,
            aead_id: HpkeAeadId::decode(r).at(S, "aead_id")?,
            public_key: HpkePublicKey(r.opaque(LengthWidth::U16, 1).at(S, "public_key")?),
        })
    }
}

/// `HpkeConfig HpkeConfigList<1..2^16-1>`: an aggregator's configurations in
/// decreasing order of preference (DAP-09 section 4.4.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpkeConfigList(pub Vec<HpkeConfig>);

impl Encode for HpkeConfigList {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        put_vec(
            out,
            LengthWidth::U16,
            1,
            &self.0,
            ("HpkeConfigList", "configs"),
        )
    }
}

impl Decode for HpkeConfigList {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.vec(LengthWidth::U16, 1)
            .at("HpkeConfigList", "configs")
            .map(Self)
    }
}

/// `struct HpkeCiphertext` (DAP-09 section 4): a sealed message with the ID of
/// the configuration it was sealed to.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HpkeCiphertext {
    pub config_id: HpkeConfigId,
    /// `opaque enc<1..2^16-1>`: the encapsulated HPKE key.
    pub encapsulated_key: Vec<u8>,
    /// `opaque payload<1..2^32-1>`: the ciphertext.
    pub payload: Vec<u8>,
}

impl fmt::Debug for HpkeCiphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HpkeCiphertext")
            .field("config_id", &self.config_id)
            .field("encapsulated_key_len", &self.encapsulated_key.len())
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl Encode for HpkeCiphertext {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        const S: &str = "HpkeCiphertext";
        self.config_id.encode(out)?;
        put_opaque(out, LengthWidth::U16, 1, &self.encapsulated_key, (S, "enc"))?;
        put_opaque(out, LengthWidth::U32, 1, &self.payload, (S, "payload"))
    }
}

impl Decode for HpkeCiphertext {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "HpkeCiphertext";
        Ok(Self {
            config_id: HpkeConfigId::decode(r).at(S, "config_id")?,
            encapsulated_key: r.opaque(LengthWidth::U16, 1).at(S, "enc")?,
            payload: r.opaque(LengthWidth::U32, 1).at(S, "payload")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_registry_values_are_kept_not_rejected() {
        assert_eq!(HpkeKemId::from(0x9999), HpkeKemId::Other(0x9999));
        assert_eq!(u16::from(HpkeKemId::Other(0x9999)), 0x9999);
        assert_eq!(HpkeKemId::from(0x0020), HpkeKemId::X25519HkdfSha256);
    }

    #[test]
    fn empty_config_list_is_rejected() {
        let err = HpkeConfigList::get_decoded(&[0, 0]).unwrap_err();
        assert_eq!(err.location(), Some(("HpkeConfigList", "configs")));
    }

    #[test]
    fn ciphertext_with_empty_enc_is_rejected() {
        let bytes = [7, 0, 0, 0, 0, 0, 1, 0xaa];
        let err = HpkeCiphertext::get_decoded(&bytes).unwrap_err();
        assert_eq!(err.location(), Some(("HpkeCiphertext", "enc")));
    }
}
