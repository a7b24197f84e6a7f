//! The JSON bodies of the management API, in the aggregator API's forms:
//! IDs and keys are unpadded base64url, HPKE algorithms are named (not
//! numbered), key states are lowercase. Conversions from dyad's own types
//! live beside each form.

use dyad_core::task::{AuthenticationToken, AuthenticationTokenHash, AuthenticationTokenType};
use dyad_datastore::models::{GlobalHpkeKey, HpkeKeyState, TaskCounters};
use dyad_messages::draft09::{HpkeAeadId, HpkeConfig, HpkeConfigId, HpkeKdfId, HpkeKemId, TaskId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `GET /`: what this aggregator is and supports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregatorDescription {
    /// The DAP draft spoken on the DAP listener.
    pub protocol: String,
    /// The public DAP URL (`management_api.dap_url`), `null` if not
    /// configured.
    pub dap_url: Option<url::Url>,
    /// Which DAP roles tasks may give this aggregator: always `Either`.
    pub role: String,
    /// The VDAFs tasks may use.
    pub vdafs: Vec<String>,
    /// The batch modes, by the aggregator API's names.
    pub query_types: Vec<String>,
    /// Optional parts of the API this server implements.
    pub features: Vec<String>,
    pub software_name: String,
    pub software_version: String,
}

/// `GET /task_ids`: one page of task IDs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskIdsPage {
    pub task_ids: Vec<TaskId>,
    /// The last ID of this page, to ask for the next; absent on an empty
    /// page (the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination_token: Option<TaskId>,
}

/// `GET /tasks/{id}/metrics/uploads`: the task's upload outcomes, under the
/// aggregator API's counter names (each the sum of the dyad counters that
/// mean it; see [`UploadMetrics::from_counters`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadMetrics {
    pub interval_collected: u64,
    pub report_decode_failure: u64,
    pub report_decrypt_failure: u64,
    pub report_expired: u64,
    pub report_outdated_key: u64,
    pub report_success: u64,
    pub report_too_early: u64,
    pub task_expired: u64,
    /// Newer clients require it; dyad refuses a report with a repeated
    /// extension as an invalid message, counted in `report_decode_failure`.
    pub report_duplicate_extension: u64,
}

impl UploadMetrics {
    /// The API's counters from dyad's. Duplicate report IDs are answered
    /// 201 and are successes in both; refused requests (415/413/408) and
    /// server errors have no counter in this form.
    pub fn from_counters(counters: &TaskCounters) -> Self {
        Self {
            interval_collected: counters.uploads_batch_collected,
            report_decode_failure: counters.uploads_invalid_message,
            report_decrypt_failure: counters.uploads_decrypt_failed,
            report_expired: counters.uploads_report_expired,
            report_outdated_key: counters.uploads_outdated_config,
            report_success: counters
                .uploads_accepted
                .saturating_add(counters.uploads_duplicate),
            report_too_early: counters.uploads_too_early,
            task_expired: counters.uploads_task_expired,
            report_duplicate_extension: 0,
        }
    }
}

/// `GET /tasks/{id}/metrics/aggregations`: how the task's reports came
/// out of preparation (DAP-09 section 4.5), under the aggregator API's
/// names (see [`AggregationMetrics::from_counters`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregationMetrics {
    pub success: u64,
    pub helper_batch_collected: u64,
    pub helper_report_replayed: u64,
    pub helper_report_dropped: u64,
    pub helper_hpke_unknown_config_id: u64,
    pub helper_hpke_decrypt_failure: u64,
    pub helper_vdaf_prep_error: u64,
    pub helper_task_expired: u64,
    pub helper_invalid_message: u64,
    pub helper_report_too_early: u64,
}

impl AggregationMetrics {
    /// The API's counters from dyad's. `success` is the reports whose
    /// output share was aggregated; each `helper_*` is dyad's
    /// `prepare_failed_*` counter of that `PrepareError` (DAP-09 section
    /// 4.5.1.4). dyad counts a report's failure once, whichever aggregator
    /// found it: on a Leader these include the failures the Leader found
    /// itself (its own share refused by the VDAF, a report gone or dropped
    /// with an abandoned job), not only those the Helper answered; on a
    /// Helper they are the failures it answered. `batch_saturated` and
    /// unregistered error codes have no field here (`dyad task stats`
    /// shows them).
    pub fn from_counters(counters: &TaskCounters) -> Self {
        Self {
            success: counters.reports_aggregated,
            helper_batch_collected: counters.prepare_failed_batch_collected,
            helper_report_replayed: counters.prepare_failed_report_replayed,
            helper_report_dropped: counters.prepare_failed_report_dropped,
            helper_hpke_unknown_config_id: counters.prepare_failed_hpke_unknown_config_id,
            helper_hpke_decrypt_failure: counters.prepare_failed_hpke_decrypt_error,
            helper_vdaf_prep_error: counters.prepare_failed_vdaf_prep_error,
            helper_task_expired: counters.prepare_failed_task_expired,
            helper_invalid_message: counters.prepare_failed_invalid_message,
            helper_report_too_early: counters.prepare_failed_report_too_early,
        }
    }
}

/// An HPKE configuration (DAP-09 section 4.4.1) in the API's JSON form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HpkeConfigJson {
    pub id: u8,
    pub kem_id: String,
    pub kdf_id: String,
    pub aead_id: String,
    /// The raw public key, unpadded base64url.
    pub public_key: String,
}

impl HpkeConfigJson {
    /// The JSON form of `config`; `None` for an algorithm the API cannot
    /// name (one dyad does not use).
    pub fn from_config(config: &HpkeConfig) -> Option<Self> {
        use base64::Engine as _;
        Some(Self {
            id: config.id.0,
            kem_id: kem_name(config.kem_id)?.to_owned(),
            kdf_id: kdf_name(config.kdf_id)?.to_owned(),
            aead_id: aead_name(config.aead_id)?.to_owned(),
            public_key: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(&config.public_key.0),
        })
    }
}

impl HpkeConfigJson {
    /// The HPKE configuration this form names; why not, for an algorithm
    /// name the API does not know or a public key that is not unpadded
    /// base64url.
    pub fn to_config(&self) -> Result<HpkeConfig, String> {
        use base64::Engine as _;
        let kem_id =
            parse_kem(&self.kem_id).ok_or_else(|| format!("unknown kem_id {:?}", self.kem_id))?;
        let kdf_id =
            parse_kdf(&self.kdf_id).ok_or_else(|| format!("unknown kdf_id {:?}", self.kdf_id))?;
        let aead_id = parse_aead(&self.aead_id)
            .ok_or_else(|| format!("unknown aead_id {:?}", self.aead_id))?;
        let public_key = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.public_key)
            .map_err(|_| "public_key is not unpadded base64url".to_owned())?;
        if public_key.is_empty() {
            return Err("public_key is empty".to_owned());
        }
        Ok(HpkeConfig {
            id: HpkeConfigId(self.id),
            kem_id,
            kdf_id,
            aead_id,
            public_key: public_key.into(),
        })
    }
}

/// A request authentication token (DAP-09 section 3.1) in the API's form:
/// `{"type": "Bearer" | "DapAuth", "token": "<the token itself>"}`. The
/// token is the literal header value, not base64 of it. `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthTokenJson {
    #[serde(rename = "type")]
    pub kind: AuthenticationTokenType,
    pub token: String,
}

impl AuthTokenJson {
    /// The form of `token`.
    pub fn from_token(token: &AuthenticationToken) -> Self {
        Self {
            kind: token.kind(),
            token: token.as_str().to_owned(),
        }
    }

    /// The token, checked for the characters its header allows.
    pub fn to_token(&self) -> Result<AuthenticationToken, String> {
        AuthenticationToken::new(self.kind, self.token.clone()).map_err(|error| error.to_string())
    }
}

impl fmt::Debug for AuthTokenJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthTokenJson({:?}, <redacted>)", self.kind)
    }
}

/// A token's SHA-256 hash in the API's form: `{"type": "Bearer" |
/// "DapAuth", "hash": "<unpadded base64url of SHA-256 of the token>"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthTokenHashJson {
    #[serde(rename = "type")]
    pub kind: AuthenticationTokenType,
    pub hash: String,
}

impl AuthTokenHashJson {
    /// The form of `hash`.
    pub fn from_hash(hash: &AuthenticationTokenHash) -> Self {
        use base64::Engine as _;
        Self {
            kind: hash.kind(),
            hash: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.digest()),
        }
    }

    /// The hash: 32 bytes of unpadded base64url.
    pub fn to_hash(&self) -> Result<AuthenticationTokenHash, String> {
        use base64::Engine as _;
        let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.hash)
            .map_err(|_| "hash is not unpadded base64url".to_owned())?;
        AuthenticationTokenHash::from_digest(self.kind, &digest).map_err(|error| error.to_string())
    }
}

/// One global HPKE key as `GET /hpke_configs` lists it: its public
/// configuration and state (never its private key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalHpkeConfigJson {
    pub config: HpkeConfigJson,
    pub state: KeyStateJson,
}

impl GlobalHpkeConfigJson {
    /// The JSON form of a stored global key.
    pub fn from_key(key: &GlobalHpkeKey) -> Option<Self> {
        Some(Self {
            config: HpkeConfigJson::from_config(key.keypair.config())?,
            state: key.state.into(),
        })
    }
}

/// A global key's state, lowercase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStateJson {
    Pending,
    Active,
    Expired,
}

impl From<HpkeKeyState> for KeyStateJson {
    fn from(state: HpkeKeyState) -> Self {
        match state {
            HpkeKeyState::Pending => Self::Pending,
            HpkeKeyState::Active => Self::Active,
            HpkeKeyState::Expired => Self::Expired,
        }
    }
}

impl From<KeyStateJson> for HpkeKeyState {
    fn from(state: KeyStateJson) -> Self {
        match state {
            KeyStateJson::Pending => Self::Pending,
            KeyStateJson::Active => Self::Active,
            KeyStateJson::Expired => Self::Expired,
        }
    }
}

/// `PUT /hpke_configs`: the suite of a new global key; each absent or
/// `null` member takes the default suite's algorithm (X25519HkdfSha256,
/// HkdfSha256, Aes128Gcm).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutHpkeConfigRequest {
    #[serde(default)]
    pub kem_id: Option<String>,
    #[serde(default)]
    pub kdf_id: Option<String>,
    #[serde(default)]
    pub aead_id: Option<String>,
}

/// `PATCH /hpke_configs/{id}`: the key's new state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchHpkeConfigRequest {
    pub state: KeyStateJson,
}

macro_rules! named {
    ($name_fn:ident, $parse_fn:ident, $ty:ident { $($variant:ident),* $(,)? }) => {
        /// The API's name of the algorithm (its Rust-style variant name).
        pub fn $name_fn(id: $ty) -> Option<&'static str> {
            match id {
                $($ty::$variant => Some(stringify!($variant)),)*
                _ => None,
            }
        }

        /// The algorithm the API names `name`.
        pub fn $parse_fn(name: &str) -> Option<$ty> {
            match name {
                $(stringify!($variant) => Some($ty::$variant),)*
                _ => None,
            }
        }
    };
}

named!(
    kem_name,
    parse_kem,
    HpkeKemId {
        P256HkdfSha256,
        P384HkdfSha384,
        P521HkdfSha512,
        X25519HkdfSha256,
        X448HkdfSha512,
    }
);
named!(
    kdf_name,
    parse_kdf,
    HpkeKdfId {
        HkdfSha256,
        HkdfSha384,
        HkdfSha512
    }
);
named!(
    aead_name,
    parse_aead,
    HpkeAeadId {
        Aes128Gcm,
        Aes256Gcm,
        ChaCha20Poly1305
    }
);

/// The config ID of a path segment: a decimal `0..=255`.
pub fn parse_config_id(text: &str) -> Option<HpkeConfigId> {
    text.parse::<u8>().ok().map(HpkeConfigId)
}
