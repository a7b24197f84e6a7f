//! HPKE ciphersuites: the (KEM, KDF, AEAD) triples of the RFC 9180 registry
//! (section 7) that an `HpkeConfig` (DAP-09 section 4.4.1) names, which of them
//! dyad can seal and open with, and their translation to `hpke-dispatch`.
//!
//! The translation matches on dyad's own identifier enums, so the set of
//! supported algorithms is fixed here and does not grow when Cargo feature
//! unification switches on more of `hpke-dispatch` (as a dev-dependency may).
//!
//! # Where is
//!
//! - which algorithms dyad supports -> [`KEMS`], [`KDFS`], [`AEADS`],
//!   [`HpkeCiphersuite::is_supported`]; their `hpke-dispatch` form ->
//!   [`HpkeCiphersuite::dispatch_config`];
//! - the mandatory suite (DAP-09 section 6) -> [`HpkeCiphersuite::DEFAULT`].

use super::HpkeError;
use dyad_messages::draft09::{HpkeAeadId, HpkeConfig, HpkeKdfId, HpkeKemId};
use serde::{Deserialize, Serialize};

/// The KEMs dyad supports, in the order [`supported_ciphersuites`] lists them.
const KEMS: [HpkeKemId; 4] = [
    HpkeKemId::X25519HkdfSha256,
    HpkeKemId::P256HkdfSha256,
    HpkeKemId::P384HkdfSha384,
    HpkeKemId::P521HkdfSha512,
];

/// The KDFs dyad supports.
const KDFS: [HpkeKdfId; 3] = [
    HpkeKdfId::HkdfSha256,
    HpkeKdfId::HkdfSha384,
    HpkeKdfId::HkdfSha512,
];

/// The AEADs dyad supports.
const AEADS: [HpkeAeadId; 3] = [
    HpkeAeadId::Aes128Gcm,
    HpkeAeadId::Aes256Gcm,
    HpkeAeadId::ChaCha20Poly1305,
];

/// A (KEM, KDF, AEAD) triple of HPKE algorithm identifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HpkeCiphersuite {
    pub kem: HpkeKemId,
    pub kdf: HpkeKdfId,
    pub aead: HpkeAeadId,
}

impl HpkeCiphersuite {
    /// The suite every compliant DAP application must implement (DAP-09
    /// section 6, "Compliance Requirements"): DHKEM(X25519, HKDF-SHA256),
    /// HKDF-SHA256 and AES-128-GCM. dyad uses it when nothing else is asked for.
    pub const DEFAULT: HpkeCiphersuite = HpkeCiphersuite::new(
        HpkeKemId::X25519HkdfSha256,
        HpkeKdfId::HkdfSha256,
        HpkeAeadId::Aes128Gcm,
    );

    /// A suite from its three identifiers (supported or not).
    pub const fn new(kem: HpkeKemId, kdf: HpkeKdfId, aead: HpkeAeadId) -> Self {
        Self { kem, kdf, aead }
    }

    /// The suite a configuration names.
    pub fn of(config: &HpkeConfig) -> Self {
        Self::new(config.kem_id, config.kdf_id, config.aead_id)
    }

    /// Whether dyad can seal and open with this suite.
    pub fn is_supported(&self) -> bool {
        self.dispatch_config().is_ok()
    }

    /// The error reporting this suite as unsupported.
    pub(crate) fn unsupported(&self) -> HpkeError {
        HpkeError::Unsupported {
            kem: self.kem,
            kdf: self.kdf,
            aead: self.aead,
        }
    }

    /// This suite as `hpke-dispatch` names it, or [`HpkeError::Unsupported`].
    pub(crate) fn dispatch_config(&self) -> Result<hpke_dispatch::Config, HpkeError> {
        match (
            dispatch_kem(self.kem),
            dispatch_kdf(self.kdf),
            dispatch_aead(self.aead),
        ) {
            (Some(kem), Some(kdf), Some(aead)) => Ok(hpke_dispatch::Config { aead, kdf, kem }),
            _ => Err(self.unsupported()),
        }
    }
}

impl Default for HpkeCiphersuite {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl From<&HpkeConfig> for HpkeCiphersuite {
    fn from(config: &HpkeConfig) -> Self {
        Self::of(config)
    }
}

/// Every ciphersuite dyad can seal and open with: each supported KEM
/// (DHKEM over X25519, P-256, P-384 and P-521) with each supported KDF
/// (HKDF-SHA256/384/512) and each supported AEAD (AES-128-GCM, AES-256-GCM,
/// ChaCha20Poly1305), 36 in all, [`HpkeCiphersuite::DEFAULT`] first.
pub fn supported_ciphersuites() -> Vec<HpkeCiphersuite> {
    KEMS.iter()
        .flat_map(|&kem| {
            KDFS.iter()
                .flat_map(move |&kdf| AEADS.iter().map(move |&aead| (kem, kdf, aead)))
        })
        .map(|(kem, kdf, aead)| HpkeCiphersuite::new(kem, kdf, aead))
        .collect()
}

/// The `hpke-dispatch` KEM for a registry KEM, if dyad supports it.
fn dispatch_kem(kem: HpkeKemId) -> Option<hpke_dispatch::Kem> {
    use hpke_dispatch::Kem;
    match kem {
        HpkeKemId::P256HkdfSha256 => Some(Kem::DhP256HkdfSha256),
        HpkeKemId::P384HkdfSha384 => Some(Kem::DhP384HkdfSha384),
        HpkeKemId::P521HkdfSha512 => Some(Kem::DhP521HkdfSha512),
        HpkeKemId::X25519HkdfSha256 => Some(Kem::X25519HkdfSha256),
        // The `hpke` crate does not implement X448.
        HpkeKemId::X448HkdfSha512 | HpkeKemId::Other(_) => None,
    }
}

/// The `hpke-dispatch` KDF for a registry KDF, if dyad supports it.
fn dispatch_kdf(kdf: HpkeKdfId) -> Option<hpke_dispatch::Kdf> {
    use hpke_dispatch::Kdf;
    match kdf {
        HpkeKdfId::HkdfSha256 => Some(Kdf::Sha256),
        HpkeKdfId::HkdfSha384 => Some(Kdf::Sha384),
        HpkeKdfId::HkdfSha512 => Some(Kdf::Sha512),
        HpkeKdfId::Other(_) => None,
    }
}

/// The `hpke-dispatch` AEAD for a registry AEAD, if dyad supports it.
fn dispatch_aead(aead: HpkeAeadId) -> Option<hpke_dispatch::Aead> {
    use hpke_dispatch::Aead;
    match aead {
        HpkeAeadId::Aes128Gcm => Some(Aead::AesGcm128),
        HpkeAeadId::Aes256Gcm => Some(Aead::AesGcm256),
        HpkeAeadId::ChaCha20Poly1305 => Some(Aead::ChaCha20Poly1305),
        // Export-only mode has no AEAD and so cannot seal anything.
        HpkeAeadId::ExportOnly | HpkeAeadId::Other(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn default_is_the_dap_mandatory_suite() {
        let s = HpkeCiphersuite::default();
        assert_eq!(u16::from(s.kem), 0x0020);
        assert_eq!(u16::from(s.kdf), 0x0001);
        assert_eq!(u16::from(s.aead), 0x0001);
        assert!(s.is_supported());
        assert_eq!(supported_ciphersuites()[0], s);
    }

    #[test]
    fn supported_list_is_complete_and_distinct() {
        let all = supported_ciphersuites();
        assert_eq!(all.len(), 36);
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 36);
        assert!(all.iter().all(HpkeCiphersuite::is_supported));
        // Every named registry value outside the list is unsupported.
        for &kem in HpkeKemId::KNOWN {
            for &kdf in HpkeKdfId::KNOWN {
                for &aead in HpkeAeadId::KNOWN {
                    let s = HpkeCiphersuite::new(kem, kdf, aead);
                    assert_eq!(s.is_supported(), all.contains(&s), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn unsupported_ids_give_unsupported() {
        let d = HpkeCiphersuite::DEFAULT;
        let cases = [
            HpkeCiphersuite::new(HpkeKemId::X448HkdfSha512, d.kdf, d.aead),
            HpkeCiphersuite::new(HpkeKemId::Other(0x0041), d.kdf, d.aead),
            HpkeCiphersuite::new(d.kem, HpkeKdfId::Other(0x0010), d.aead),
            HpkeCiphersuite::new(d.kem, d.kdf, HpkeAeadId::ExportOnly),
            HpkeCiphersuite::new(d.kem, d.kdf, HpkeAeadId::Other(7)),
        ];
        for s in cases {
            assert_eq!(
                s.dispatch_config().unwrap_err(),
                HpkeError::Unsupported {
                    kem: s.kem,
                    kdf: s.kdf,
                    aead: s.aead
                }
            );
        }
    }

    #[test]
    fn unsupported_error_names_the_ids() {
        let err = HpkeCiphersuite::new(
            HpkeKemId::X448HkdfSha512,
            HpkeKdfId::HkdfSha512,
            HpkeAeadId::ExportOnly,
        )
        .unsupported();
        assert_eq!(
            err.to_string(),
            "unsupported HPKE ciphersuite: KEM 0x0021, KDF 0x0003, AEAD 0xffff"
        );
    }
}
