//! Datastore keys: the AES-128-GCM keys under which the secrets of a task
//! (VDAF verify key, auth tokens, HPKE private keys) and the private keys of
//! the global HPKE keys are stored at rest.
//!
//! Several keys may be configured, so that they can be rotated: the first
//! encrypts every new write, and a stored value is read with whichever key
//! opens it. To rotate, put the new key first and keep the old one after it
//! until every row was rewritten ([`crate::reseal::reseal_all`], `dyad
//! datastore-key reseal`); then drop it.
//!
//! Each value is sealed with a fresh random 96-bit nonce and bound to where
//! it is stored: the associated data names the table, the column and the
//! row's key, so a ciphertext copied into another row (say, another task's)
//! does not open. Stored form: `nonce (12 bytes) || ciphertext || tag (16)`.
//!
//! Keys are given as unpadded base64url strings of 16 bytes, in the
//! configuration file (`datastore_keys`) or, comma-separated, in the
//! [`KEYS_ENV`] environment variable. `Debug` never shows key bytes.

use crate::DatastoreError;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes128Gcm;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::fmt;

/// The environment variable holding comma-separated datastore keys.
pub const KEYS_ENV: &str = "DYAD_DATASTORE_KEYS";

const KEY_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Domain separation of the associated data, versioned with the format.
const AAD_LABEL: &[u8] = b"dyad datastore secret v1";

/// The configured datastore keys; the first encrypts, any decrypts.
#[derive(Clone)]
pub struct DatastoreKeys {
    keys: Vec<[u8; KEY_LEN]>,
}

impl fmt::Debug for DatastoreKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatastoreKeys({} keys, redacted)", self.keys.len())
    }
}

impl DatastoreKeys {
    /// Keys from raw bytes; at least one.
    pub fn new(keys: Vec<[u8; KEY_LEN]>) -> Result<Self, DatastoreError> {
        if keys.is_empty() {
            return Err(DatastoreError::Config(
                "at least one datastore key is needed".into(),
            ));
        }
        Ok(Self { keys })
    }

    /// One fresh random key (for throwaway datastores: tests, the
    /// quickstart, the interop aggregator).
    pub fn generate() -> Self {
        Self {
            keys: vec![rand::random()],
        }
    }

    /// A fresh random key in its configuration form.
    pub fn generate_encoded() -> String {
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; KEY_LEN]>())
    }

    /// Keys from their configuration form (unpadded base64url, 16 bytes
    /// each), in order.
    pub fn from_encoded<S: AsRef<str>>(encoded: &[S]) -> Result<Self, DatastoreError> {
        let keys = encoded
            .iter()
            .enumerate()
            .map(|(index, key)| decode_key(index, key.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys)
    }

    /// Keys from a comma-separated list (the [`KEYS_ENV`] form).
    pub fn from_list(list: &str) -> Result<Self, DatastoreError> {
        let parts: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect();
        Self::from_encoded(&parts)
    }

    /// Keys from the [`KEYS_ENV`] environment variable, if it is set.
    pub fn from_env() -> Result<Option<Self>, DatastoreError> {
        match std::env::var(KEYS_ENV) {
            Ok(list) => Self::from_list(&list)
                .map(Some)
                .map_err(|e| DatastoreError::Config(format!("{KEYS_ENV}: {e}"))),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(DatastoreError::Config(format!(
                "{KEYS_ENV} is not valid UTF-8"
            ))),
        }
    }

    /// The keys of each set, in order: `[new, old]` is a rotation where
    /// `new` encrypts and both decrypt.
    pub fn from_keys_in_order(sets: &[&DatastoreKeys]) -> Self {
        Self {
            keys: sets
                .iter()
                .flat_map(|set| set.keys.iter().copied())
                .collect(),
        }
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: there is at least one key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Seals `plaintext` for `table.column` of the row whose key is `row`,
    /// under the first key.
    pub(crate) fn seal(
        &self,
        table: &'static str,
        column: &'static str,
        row: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, DatastoreError> {
        let cipher = Aes128Gcm::new(&self.keys[0].into());
        let nonce: [u8; NONCE_LEN] = rand::random();
        let aad = associated_data(table, column, row);
        let sealed = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| DatastoreError::Internal("AES-GCM encryption failed"))?;
        let mut stored = Vec::with_capacity(NONCE_LEN + sealed.len());
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&sealed);
        Ok(stored)
    }

    /// Opens a value sealed by [`Self::seal`] for the same place, with
    /// whichever key opens it. Fails with [`DatastoreError::Decrypt`] if none
    /// does (a wrong key, or the value was moved or altered).
    pub(crate) fn open(
        &self,
        table: &'static str,
        column: &'static str,
        row: &[u8],
        stored: &[u8],
    ) -> Result<Vec<u8>, DatastoreError> {
        self.open_with_index(table, column, row, stored)
            .map(|(_, plaintext)| plaintext)
    }

    /// The value sealed in `stored` sealed again under the first key, or
    /// `None` if the first key sealed it already (nothing to rewrite). This
    /// is how a rotation ends: once every stored value is under the first
    /// key, the others can be dropped. Fails as [`Self::open`] does.
    pub(crate) fn reseal(
        &self,
        table: &'static str,
        column: &'static str,
        row: &[u8],
        stored: &[u8],
    ) -> Result<Option<Vec<u8>>, DatastoreError> {
        let (index, plaintext) = self.open_with_index(table, column, row, stored)?;
        let plaintext = zeroize::Zeroizing::new(plaintext);
        if index == 0 {
            return Ok(None);
        }
        self.seal(table, column, row, &plaintext).map(Some)
    }

    /// [`Self::open`], with the index of the key that opened the value.
    fn open_with_index(
        &self,
        table: &'static str,
        column: &'static str,
        row: &[u8],
        stored: &[u8],
    ) -> Result<(usize, Vec<u8>), DatastoreError> {
        if stored.len() < NONCE_LEN + TAG_LEN {
            return Err(DatastoreError::corrupt(
                table,
                column,
                "sealed value shorter than nonce and tag",
            ));
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
        let aad = associated_data(table, column, row);
        self.keys
            .iter()
            .enumerate()
            .find_map(|(index, key)| {
                Aes128Gcm::new(&(*key).into())
                    .decrypt(
                        &nonce.into(),
                        Payload {
                            msg: sealed,
                            aad: &aad,
                        },
                    )
                    .ok()
                    .map(|plaintext| (index, plaintext))
            })
            .ok_or_else(|| DatastoreError::Decrypt {
                table,
                column,
                row: format!("row {}", URL_SAFE_NO_PAD.encode(row)),
                keys: self.keys.len(),
            })
    }
}

fn decode_key(index: usize, encoded: &str) -> Result<[u8; KEY_LEN], DatastoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(encoded.trim()).map_err(|_| {
        DatastoreError::Config(format!(
            "datastore key #{} is not unpadded base64url",
            index + 1
        ))
    })?;
    bytes.try_into().map_err(|bytes: Vec<u8>| {
        DatastoreError::Config(format!(
            "datastore key #{} has {} bytes, expected {KEY_LEN}",
            index + 1,
            bytes.len()
        ))
    })
}

/// `label || len(table) || table || len(column) || column || row`: each
/// variable part length-prefixed so no two places share associated data.
fn associated_data(table: &str, column: &str, row: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + table.len() + column.len() + row.len() + 4);
    aad.extend_from_slice(AAD_LABEL);
    for part in [table.as_bytes(), column.as_bytes()] {
        aad.extend_from_slice(&(part.len() as u16).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad.extend_from_slice(row);
    aad
}

/// A column whose values are sealed under the datastore keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SealedColumn {
    /// `tasks.task_document`: every secret of a task (see
    /// `crate::task_document`).
    TaskDocument,
    /// `global_hpke_keys.private_key`: the private key of a global HPKE
    /// key (see `crate::tables::global_hpke_keys`).
    GlobalHpkePrivateKey,
    /// `taskprov_peer_aggregators.peer_document`: a taskprov peer with its
    /// secrets (see `crate::tables::taskprov_peer_aggregators`).
    TaskprovPeerDocument,
}

impl SealedColumn {
    /// Every sealed column of the schema.
    pub const ALL: [SealedColumn; 3] = [
        SealedColumn::TaskDocument,
        SealedColumn::GlobalHpkePrivateKey,
        SealedColumn::TaskprovPeerDocument,
    ];

    /// `table.column`.
    pub fn name(self) -> &'static str {
        match self {
            SealedColumn::TaskDocument => "tasks.task_document",
            SealedColumn::GlobalHpkePrivateKey => "global_hpke_keys.private_key",
            SealedColumn::TaskprovPeerDocument => "taskprov_peer_aggregators.peer_document",
        }
    }
}

/// What one batch of [`crate::Transaction::reseal_sealed_values`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResealBatch {
    /// Values rewritten under the first key.
    pub resealed: u64,
    /// Values already under the first key, left as they were.
    pub current: u64,
    /// The key of the last row of the batch, where the next batch starts
    /// (after it); `None` if the batch was empty.
    pub last_row: Option<Vec<u8>>,
}

impl ResealBatch {
    /// Rows the batch looked at.
    pub fn rows(&self) -> u64 {
        self.resealed + self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_value_opens_in_its_place_only() {
        let keys = DatastoreKeys::generate();
        let sealed = keys
            .seal("tasks", "task_document", b"row-1", b"secret")
            .unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            keys.open("tasks", "task_document", b"row-1", &sealed)
                .unwrap(),
            b"secret"
        );
        for (table, column, row) in [
            ("tasks", "task_document", b"row-2".as_slice()),
            ("tasks", "other", b"row-1".as_slice()),
            ("other", "task_document", b"row-1".as_slice()),
        ] {
            assert!(matches!(
                keys.open(table, column, row, &sealed),
                Err(DatastoreError::Decrypt { .. })
            ));
        }
    }

    #[test]
    fn wrong_key_fails_and_rotation_keeps_old_values_readable() {
        let old = DatastoreKeys::generate();
        let sealed = old.seal("t", "c", b"r", b"value").unwrap();
        let other = DatastoreKeys::generate();
        let error = other.open("t", "c", b"r", &sealed).unwrap_err();
        assert!(error.to_string().contains("t.c"), "{error}");

        let rotated = DatastoreKeys::new(vec![other.keys[0], old.keys[0]]).unwrap();
        assert_eq!(rotated.open("t", "c", b"r", &sealed).unwrap(), b"value");
        // New writes use the first key: readable without the old one.
        let resealed = rotated.seal("t", "c", b"r", b"value").unwrap();
        assert_eq!(other.open("t", "c", b"r", &resealed).unwrap(), b"value");
    }

    #[test]
    fn reseal_moves_a_value_under_the_first_key_only_when_needed() {
        let old = DatastoreKeys::generate();
        let sealed = old.seal("t", "c", b"r", b"value").unwrap();
        let new = DatastoreKeys::generate();
        let rotated = DatastoreKeys::from_keys_in_order(&[&new, &old]);
        let resealed = rotated.reseal("t", "c", b"r", &sealed).unwrap().unwrap();
        assert_eq!(new.open("t", "c", b"r", &resealed).unwrap(), b"value");
        assert_eq!(rotated.reseal("t", "c", b"r", &resealed).unwrap(), None);
        let error = new.reseal("t", "c", b"r", &sealed).unwrap_err();
        assert!(matches!(error, DatastoreError::Decrypt { .. }), "{error}");
        assert!(
            error.to_string().contains(&URL_SAFE_NO_PAD.encode(b"r")),
            "names the row: {error}"
        );
    }

    #[test]
    fn altered_or_truncated_values_are_rejected() {
        let keys = DatastoreKeys::generate();
        let mut sealed = keys.seal("t", "c", b"r", b"value").unwrap();
        *sealed.last_mut().unwrap() ^= 1;
        assert!(keys.open("t", "c", b"r", &sealed).is_err());
        assert!(matches!(
            keys.open("t", "c", b"r", &sealed[..10]),
            Err(DatastoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn encoded_keys_parse_and_bad_ones_are_refused() {
        let a = DatastoreKeys::generate_encoded();
        let b = DatastoreKeys::generate_encoded();
        let keys = DatastoreKeys::from_list(&format!("{a}, {b}")).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(!format!("{keys:?}").contains(&a));
        for bad in ["", "not base64!", "AAAA"] {
            assert!(
                matches!(
                    DatastoreKeys::from_list(bad),
                    Err(DatastoreError::Config(_))
                ),
                "{bad:?}"
            );
        }
    }
}
