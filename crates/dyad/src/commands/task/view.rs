//! What `task list` and `task show` print about a task: [`TaskView`], the
//! task with every secret left out (the verify key, tokens and private keys
//! are never shown; what remains says which tokens exist, how they are
//! presented and whether the token or only its hash is stored, and which
//! HPKE configurations the task's keys have), in its JSON form and as
//! key/value rows for people. A task read over the management API
//! ([`TaskView::of_api`]) has the same view, less what that API does not
//! show (which tokens are stored; the aggregator's own URL when it has no
//! `management_api.dap_url`).

use crate::output::rfc3339;
use anyhow::bail;
use dyad_aggregator::management::models::{parse_aead, parse_kdf, parse_kem, HpkeConfigJson};
use dyad_aggregator::management::task_json::TaskResponse;
use dyad_aggregator::management::task_request::{batch_mode_from_json, vdaf_from_json};
use dyad_core::task::{AuthenticationTokenType, BatchMode, StoredAuthenticationToken, Task};
use dyad_core::vdaf::{DpStrategy, VdafInstance};
use dyad_messages::draft09::{HpkeAeadId, HpkeConfig, HpkeKdfId, HpkeKemId, Time};
use serde::Serialize;
use url::Url;

/// A task as the CLI shows it: times in RFC 3339, durations in seconds,
/// URLs and the VDAF in their usual text and JSON forms, no secrets.
#[derive(Debug, Serialize)]
pub(super) struct TaskView {
    task_id: String,
    role: String,
    /// `None`: this aggregator's own URL, which its management API does
    /// not know.
    leader_aggregator_endpoint: Option<String>,
    helper_aggregator_endpoint: Option<String>,
    vdaf: VdafInstance,
    /// The differential-privacy noise the aggregators add, in its JSON
    /// form (`{"dp_strategy": "NoDifferentialPrivacy"}` for none).
    dp_strategy: DpStrategy,
    batch_mode: &'static str,
    min_batch_size: u64,
    max_batch_size: Option<u64>,
    time_precision_secs: u64,
    max_batch_query_count: u64,
    task_expiration: Option<String>,
    report_expiry_age_secs: Option<u64>,
    tolerable_clock_skew_secs: u64,
    /// Left out over the management API, which does not show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    aggregator_auth_token: Option<TokenView>,
    /// Left out over the management API; `Some(None)`: the task has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    collector_auth_token: Option<Option<TokenView>>,
    hpke_keys: Vec<HpkeConfigView>,
    collector_hpke_config: HpkeConfigView,
}

/// Which token a task holds, without the token.
#[derive(Debug, Serialize)]
struct TokenView {
    /// How it is presented: `dap_auth` (the `DAP-Auth-Token` header) or
    /// `bearer` (`Authorization: Bearer`).
    #[serde(rename = "type")]
    kind: &'static str,
    /// `token` when the token itself is stored (to send it), `hash` when
    /// only its hash is (to check it).
    stored: &'static str,
}

/// `none (exact results)`, or the strategy and its epsilon.
pub(crate) fn dp_text(strategy: &DpStrategy) -> String {
    if strategy.is_none() {
        "none (exact results)".to_owned()
    } else {
        format!("{strategy}: each aggregator adds noise; results are noisy")
    }
}

/// An HPKE configuration's ID and ciphersuite (DAP-09 section 4.4.1).
#[derive(Debug, Serialize)]
struct HpkeConfigView {
    id: u8,
    kem: String,
    kdf: String,
    aead: String,
}

impl TaskView {
    pub(super) fn of(task: &Task) -> Self {
        Self {
            task_id: task.task_id().to_string(),
            role: task.role().to_string(),
            leader_aggregator_endpoint: Some(task.leader_aggregator_endpoint().to_string()),
            helper_aggregator_endpoint: Some(task.helper_aggregator_endpoint().to_string()),
            vdaf: *task.vdaf(),
            dp_strategy: task.dp_strategy().clone(),
            batch_mode: batch_mode_name(task.batch_mode()),
            min_batch_size: task.min_batch_size(),
            max_batch_size: task.max_batch_size(),
            time_precision_secs: task.time_precision().as_seconds(),
            max_batch_query_count: task.max_batch_query_count(),
            task_expiration: task.task_expiration().map(rfc3339),
            report_expiry_age_secs: task.report_expiry_age().map(|age| age.as_seconds()),
            tolerable_clock_skew_secs: task.tolerable_clock_skew().as_seconds(),
            aggregator_auth_token: Some(TokenView::of(task.aggregator_auth_token())),
            collector_auth_token: Some(task.collector_auth_token().map(TokenView::of)),
            hpke_keys: task
                .hpke_keys()
                .iter()
                .map(|keypair| HpkeConfigView::of(keypair.config()))
                .collect(),
            collector_hpke_config: HpkeConfigView::of(task.collector_hpke_config()),
        }
    }

    /// A task as a management API answers `GET /tasks/{id}`;
    /// `own_url` is the aggregator's DAP URL as its `GET /` reports it.
    pub(super) fn of_api(task: &TaskResponse, own_url: Option<&Url>) -> anyhow::Result<Self> {
        let peer = Some(task.peer_aggregator_endpoint.to_string());
        let own = own_url.map(Url::to_string);
        let (role, leader, helper) = match task.role.as_str() {
            "Leader" => ("leader", own, peer),
            "Helper" => ("helper", peer, own),
            other => bail!(
                "the management API gives task {} the role {other:?}",
                task.task_id
            ),
        };
        let batch_mode = batch_mode_from_json(&task.query_type)
            .map_err(|reason| anyhow::anyhow!("task {}'s query_type: {reason}", task.task_id))?;
        let (vdaf, dp_strategy) = vdaf_from_json(&task.vdaf)
            .map_err(|reason| anyhow::anyhow!("task {}'s vdaf: {reason}", task.task_id))?;
        Ok(Self {
            task_id: task.task_id.to_string(),
            role: role.to_owned(),
            leader_aggregator_endpoint: leader,
            helper_aggregator_endpoint: helper,
            vdaf,
            dp_strategy,
            batch_mode: batch_mode_name(&batch_mode),
            min_batch_size: task.min_batch_size,
            max_batch_size: match batch_mode {
                BatchMode::FixedSize { max_batch_size } => max_batch_size,
                BatchMode::TimeInterval => None,
            },
            time_precision_secs: task.time_precision,
            max_batch_query_count: task.max_batch_query_count,
            task_expiration: task
                .task_expiration
                .map(|seconds| rfc3339(Time::from_seconds_since_epoch(seconds))),
            report_expiry_age_secs: task.report_expiry_age,
            tolerable_clock_skew_secs: task.tolerable_clock_skew,
            aggregator_auth_token: None,
            collector_auth_token: None,
            hpke_keys: task
                .aggregator_hpke_configs
                .iter()
                .map(HpkeConfigView::of_api)
                .collect::<anyhow::Result<_>>()?,
            collector_hpke_config: HpkeConfigView::of_api(&task.collector_hpke_config)?,
        })
    }

    pub(super) fn task_id(&self) -> &str {
        &self.task_id
    }

    pub(super) fn role(&self) -> &str {
        &self.role
    }

    /// The VDAF's JSON form, compact.
    pub(super) fn vdaf(&self) -> String {
        self.vdaf.to_string()
    }

    pub(super) fn batch_mode(&self) -> &'static str {
        self.batch_mode
    }

    pub(super) fn min_batch_size(&self) -> u64 {
        self.min_batch_size
    }

    /// The time precision, e.g. `3600 s`.
    pub(super) fn time_precision(&self) -> String {
        seconds(self.time_precision_secs)
    }

    /// The expiration in RFC 3339, or `never`.
    pub(super) fn task_expiration(&self) -> String {
        self.task_expiration
            .clone()
            .unwrap_or_else(|| "never".to_owned())
    }

    /// Every field as a (name, value) row for people; a field with several
    /// values (the task's HPKE keys) takes one row each, the name on the
    /// first.
    pub(super) fn rows(&self) -> Vec<(&'static str, String)> {
        let endpoint = |url: &Option<String>| {
            url.clone().unwrap_or_else(|| {
                "this aggregator (not shown: its management_api.dap_url is not set)".to_owned()
            })
        };
        let mut rows = vec![
            ("task ID", self.task_id.clone()),
            ("role", self.role.clone()),
            (
                "leader endpoint",
                endpoint(&self.leader_aggregator_endpoint),
            ),
            (
                "helper endpoint",
                endpoint(&self.helper_aggregator_endpoint),
            ),
            ("VDAF", self.vdaf()),
            ("differential privacy", dp_text(&self.dp_strategy)),
            ("batch mode", self.batch_mode.to_owned()),
            ("min batch size", self.min_batch_size.to_string()),
        ];
        if self.batch_mode == "fixed_size" {
            rows.push((
                "max batch size",
                self.max_batch_size
                    .map_or_else(|| "none".to_owned(), |max| max.to_string()),
            ));
        }
        rows.extend([
            ("time precision", self.time_precision()),
            (
                "max batch query count",
                self.max_batch_query_count.to_string(),
            ),
            ("task expiration", self.task_expiration()),
            (
                "report expiry age",
                self.report_expiry_age_secs
                    .map_or_else(|| "none (reports are kept)".to_owned(), seconds),
            ),
            (
                "tolerable clock skew",
                seconds(self.tolerable_clock_skew_secs),
            ),
            (
                "aggregator auth token",
                self.aggregator_auth_token
                    .as_ref()
                    .map_or_else(|| NOT_SHOWN.to_owned(), TokenView::text),
            ),
            (
                "collector auth token",
                match &self.collector_auth_token {
                    None => NOT_SHOWN.to_owned(),
                    Some(None) => "none".to_owned(),
                    Some(Some(token)) => token.text(),
                },
            ),
        ]);
        if self.hpke_keys.is_empty() {
            rows.push((
                "HPKE keys",
                "none of its own: the aggregator's global keys (`dyad hpke-key list`)".to_owned(),
            ));
        }
        for (i, key) in self.hpke_keys.iter().enumerate() {
            rows.push((if i == 0 { "HPKE keys" } else { "" }, key.text()));
        }
        rows.push(("collector HPKE config", self.collector_hpke_config.text()));
        rows
    }
}

/// What the table says of a token the management API does not show.
const NOT_SHOWN: &str = "not shown by the management API";

impl TokenView {
    fn of(token: &StoredAuthenticationToken) -> Self {
        Self {
            kind: match token.kind() {
                AuthenticationTokenType::DapAuth => "dap_auth",
                AuthenticationTokenType::Bearer => "bearer",
            },
            stored: match token {
                StoredAuthenticationToken::Token(_) => "token",
                StoredAuthenticationToken::Hash(_) => "hash",
            },
        }
    }

    /// E.g. `DAP-Auth-Token, token stored`.
    fn text(&self) -> String {
        let kind = match self.kind {
            "dap_auth" => "DAP-Auth-Token",
            _ => "bearer",
        };
        format!("{kind}, {} stored", self.stored)
    }
}

impl HpkeConfigView {
    fn of(config: &HpkeConfig) -> Self {
        Self {
            id: config.id.0,
            kem: kem_name(config.kem_id),
            kdf: kdf_name(config.kdf_id),
            aead: aead_name(config.aead_id),
        }
    }

    /// The view of an HPKE config in the management API's form.
    fn of_api(config: &HpkeConfigJson) -> anyhow::Result<Self> {
        let unknown = |what: &str, name: &str| {
            anyhow::anyhow!(
                "the management API names HPKE config {}'s {what} {name:?}, unknown to dyad",
                config.id
            )
        };
        Ok(Self {
            id: config.id,
            kem: kem_name(parse_kem(&config.kem_id).ok_or_else(|| unknown("KEM", &config.kem_id))?),
            kdf: kdf_name(parse_kdf(&config.kdf_id).ok_or_else(|| unknown("KDF", &config.kdf_id))?),
            aead: aead_name(
                parse_aead(&config.aead_id).ok_or_else(|| unknown("AEAD", &config.aead_id))?,
            ),
        })
    }

    /// E.g. `id 1: X25519-HKDF-SHA256, HKDF-SHA256, AES-128-GCM`.
    fn text(&self) -> String {
        format!("id {}: {}, {}, {}", self.id, self.kem, self.kdf, self.aead)
    }
}

fn batch_mode_name(mode: &BatchMode) -> &'static str {
    match mode {
        BatchMode::TimeInterval => "time_interval",
        BatchMode::FixedSize { .. } => "fixed_size",
    }
}

/// Seconds with their unit.
fn seconds(seconds: u64) -> String {
    format!("{seconds} s")
}

/// A KEM's name (RFC 9180 section 7.1), or its code point.
pub(crate) fn kem_name(kem: HpkeKemId) -> String {
    match kem {
        HpkeKemId::P256HkdfSha256 => "P256-HKDF-SHA256".to_owned(),
        HpkeKemId::P384HkdfSha384 => "P384-HKDF-SHA384".to_owned(),
        HpkeKemId::P521HkdfSha512 => "P521-HKDF-SHA512".to_owned(),
        HpkeKemId::X25519HkdfSha256 => "X25519-HKDF-SHA256".to_owned(),
        HpkeKemId::X448HkdfSha512 => "X448-HKDF-SHA512".to_owned(),
        HpkeKemId::Other(code) => format!("KEM {code:#06x}"),
    }
}

/// A KDF's name (RFC 9180 section 7.2), or its code point.
pub(crate) fn kdf_name(kdf: HpkeKdfId) -> String {
    match kdf {
        HpkeKdfId::HkdfSha256 => "HKDF-SHA256".to_owned(),
        HpkeKdfId::HkdfSha384 => "HKDF-SHA384".to_owned(),
        HpkeKdfId::HkdfSha512 => "HKDF-SHA512".to_owned(),
        HpkeKdfId::Other(code) => format!("KDF {code:#06x}"),
    }
}

/// An AEAD's name (RFC 9180 section 7.3), or its code point.
pub(crate) fn aead_name(aead: HpkeAeadId) -> String {
    match aead {
        HpkeAeadId::Aes128Gcm => "AES-128-GCM".to_owned(),
        HpkeAeadId::Aes256Gcm => "AES-256-GCM".to_owned(),
        HpkeAeadId::ChaCha20Poly1305 => "ChaCha20Poly1305".to_owned(),
        HpkeAeadId::ExportOnly => "export-only".to_owned(),
        HpkeAeadId::Other(code) => format!("AEAD {code:#06x}"),
    }
}

/// Tasks with fixed IDs and keys, for the golden tests of `list` and `show`.
#[cfg(test)]
pub(super) mod fixtures {
    use dyad_core::hpke::{HpkeKeypair, HpkePrivateKey};
    use dyad_core::task::{AuthenticationToken, BatchMode, Task, VerifyKey};
    use dyad_messages::draft09::{
        Duration, HpkeAeadId, HpkeConfig, HpkeConfigId, HpkeKdfId, HpkeKemId, Role, TaskId, Time,
    };

    /// The X25519 key pair of RFC 7748 section 6.1 (Alice's).
    fn keypair(id: u8) -> HpkeKeypair {
        let private =
            hex::decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
                .unwrap();
        let public =
            hex::decode("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
                .unwrap();
        let config = HpkeConfig {
            id: HpkeConfigId(id),
            kem_id: HpkeKemId::X25519HkdfSha256,
            kdf_id: HpkeKdfId::HkdfSha256,
            aead_id: HpkeAeadId::Aes128Gcm,
            public_key: public.into(),
        };
        HpkeKeypair::new(config, HpkePrivateKey::new(private)).unwrap()
    }

    /// A Leader time-interval Prio3Count task expiring at 2030-01-01.
    pub(crate) fn leader_task() -> Task {
        Task::builder()
            .task_id(TaskId::from_bytes([7; 32]))
            .role(Role::Leader)
            .leader_aggregator_endpoint("https://leader.example/dap/".parse().unwrap())
            .helper_aggregator_endpoint("https://helper.example/".parse().unwrap())
            .vdaf(dyad_core::vdaf::VdafInstance::Prio3Count)
            .vdaf_verify_key(VerifyKey::new(vec![0x5a; 16]))
            .batch_mode(BatchMode::TimeInterval)
            .min_batch_size(100)
            .time_precision(Duration::from_seconds(3600))
            .task_expiration(Some(Time::from_seconds_since_epoch(1_893_456_000)))
            .collector_hpke_config(keypair(1).config().clone())
            .aggregator_auth_token(AuthenticationToken::new_dap_auth("leader-to-helper").unwrap())
            .collector_auth_token(
                AuthenticationToken::new_bearer("collector-token")
                    .unwrap()
                    .hash(),
            )
            .hpke_keys(vec![keypair(2), keypair(3)])
            .build()
            .unwrap()
    }

    /// A Helper fixed-size task with no expiration, reports kept a week.
    pub(crate) fn helper_task() -> Task {
        Task::builder()
            .task_id(TaskId::from_bytes([1; 32]))
            .role(Role::Helper)
            .leader_aggregator_endpoint("https://leader.example/".parse().unwrap())
            .helper_aggregator_endpoint("https://helper.example/".parse().unwrap())
            .vdaf(
                "{\"type\":\"Prio3Histogram\",\"length\":\"4\",\"chunk_length\":\"2\"}"
                    .parse()
                    .unwrap(),
            )
            .dp_strategy("PureDpDiscreteLaplace:1/2".parse().unwrap())
            .vdaf_verify_key(VerifyKey::new(vec![0x5a; 16]))
            .batch_mode(BatchMode::FixedSize {
                max_batch_size: Some(500),
            })
            .min_batch_size(100)
            .time_precision(Duration::from_seconds(60))
            .report_expiry_age(Some(Duration::from_seconds(604_800)))
            .collector_hpke_config(keypair(1).config().clone())
            .aggregator_auth_token(
                AuthenticationToken::new_dap_auth("leader-to-helper")
                    .unwrap()
                    .hash(),
            )
            .build()
            .unwrap()
    }
}
