//! The aggregators' HPKE configurations (DAP-09 section 4.4.1): fetching
//! `GET {aggregator}hpke_config?task_id=...`, choosing the first
//! configuration whose ciphersuite dyad supports, and caching the choice for
//! as long as the aggregator's `Cache-Control` allows (or for the client's
//! lifetime when it says nothing).
//!
//! Each cached entry carries a generation number, so that when many uploads
//! learn at once that a configuration is outdated, the first invalidation
//! triggers one refetch and the others leave the fresh entry alone.
//!
//! # Where is
//!
//! - `GET {aggregator}hpke_config?task_id=...` -> [`HpkeConfigSource::new`],
//!   [`HpkeConfigSource::fetch`]; without `task_id` for a taskprov task, whose
//!   ID the aggregators may not know yet (taskprov-06 section 3.4);
//! - the first configuration with a supported suite, none an error (DAP-09
//!   section 4.4.1) -> [`choose_config`];
//! - how long a configuration is kept (`Cache-Control`, `Age`) ->
//!   [`cache_lifetime`];
//! - one refetch when many uploads learn it is outdated ->
//!   [`HpkeConfigSource::invalidate`];
//! - the largest list read -> [`MAX_CONFIG_LIST_LEN`].

use crate::error::ClientError;
use crate::http::{error_response, read_body, resource, with_retry, RetryObserver};
use dyad_core::hpke::HpkeCiphersuite;
use dyad_core::retry::RetryPolicy;
use dyad_messages::draft09::{HpkeConfig, HpkeConfigList, Role, TaskId};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::Decode;
use reqwest::header::{HeaderMap, ACCEPT, AGE, CACHE_CONTROL};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use url::Url;

/// The largest HPKE config list the client reads: the most an
/// `HpkeConfigList` can encode to, its 2-byte length prefix and at most
/// 2^16-1 bytes of configurations (DAP-09 section 4.4.1). A longer answer
/// cannot be one, so reading stops there.
const MAX_CONFIG_LIST_LEN: usize = 2 + u16::MAX as usize;

/// An aggregator's chosen configuration, as cached.
#[derive(Clone, Debug)]
pub(crate) struct CachedConfig {
    pub(crate) config: HpkeConfig,
    /// When the entry goes stale; `None` for never.
    expires_at: Option<Instant>,
    /// Which fetch produced the entry.
    pub(crate) generation: u64,
}

impl CachedConfig {
    fn is_fresh(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|expiry| now < expiry)
    }
}

/// One aggregator's endpoint and cached configuration.
#[derive(Debug)]
pub(crate) struct HpkeConfigSource {
    role: Role,
    url: Url,
    cached: Mutex<Option<CachedConfig>>,
    generations: AtomicU64,
}

impl HpkeConfigSource {
    /// The source of `role`'s configuration at `base`, asked for the one of
    /// `task_id`, or for the aggregator's task-independent one when `None`.
    pub(crate) fn new(
        role: Role,
        base: &Url,
        task_id: Option<&TaskId>,
    ) -> Result<Self, ClientError> {
        let mut url = resource(role, base, "hpke_config")?;
        if let Some(task_id) = task_id {
            url.query_pairs_mut()
                .append_pair("task_id", &task_id.to_string());
        }
        Ok(Self {
            role,
            url,
            cached: Mutex::new(None),
            generations: AtomicU64::new(0),
        })
    }

    /// The cached configuration if it is fresh, else a newly fetched one.
    /// Concurrent callers wait for a single fetch.
    pub(crate) async fn get(
        &self,
        http: &reqwest::Client,
        policy: &RetryPolicy,
        observer: Option<&RetryObserver>,
    ) -> Result<CachedConfig, ClientError> {
        let mut cached = self.cached.lock().await;
        if let Some(entry) = cached.as_ref().filter(|c| c.is_fresh(Instant::now())) {
            return Ok(entry.clone());
        }
        let fetched_at = Instant::now();
        let (config, lifetime) =
            with_retry(policy, observer, self.role, "fetch HPKE config", || {
                self.fetch(http)
            })
            .await?;
        let entry = CachedConfig {
            config,
            expires_at: lifetime.map(|lifetime| fetched_at + lifetime),
            generation: self.generations.fetch_add(1, Ordering::Relaxed),
        };
        tracing::debug!(
            role = %self.role,
            config_id = %entry.config.id,
            cache_seconds = lifetime.map(|l| l.as_secs()),
            "fetched HPKE config"
        );
        *cached = Some(entry.clone());
        Ok(entry)
    }

    /// Drops the cached entry if it is still the one of `generation`.
    pub(crate) async fn invalidate(&self, generation: u64) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| c.generation == generation) {
            *cached = None;
        }
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
    ) -> Result<(HpkeConfig, Option<Duration>), ClientError> {
        let response = http
            .get(self.url.clone())
            .header(ACCEPT, DapMediaType::HpkeConfigList.as_str())
            .send()
            .await?;
        let status = response.status();
        if status.is_client_error() || status.is_server_error() {
            return Err(ClientError::ErrorResponse {
                role: self.role,
                response: Box::new(error_response(response).await),
            });
        }
        if !status.is_success() {
            return Err(ClientError::UnexpectedStatus {
                role: self.role,
                status: status.as_u16(),
            });
        }
        let lifetime = cache_lifetime(response.headers());
        let body = read_body(self.role, response, MAX_CONFIG_LIST_LEN).await?;
        let list = HpkeConfigList::get_decoded(&body).map_err(|source| {
            ClientError::InvalidHpkeConfigList {
                role: self.role,
                source,
            }
        })?;
        Ok((choose_config(self.role, list)?, lifetime))
    }
}

/// The first configuration of the list (the aggregator's most preferred)
/// whose ciphersuite dyad supports.
pub(crate) fn choose_config(role: Role, list: HpkeConfigList) -> Result<HpkeConfig, ClientError> {
    list.0
        .into_iter()
        .find(|config| HpkeCiphersuite::of(config).is_supported())
        .ok_or(ClientError::NoSupportedHpkeConfig { role })
}

/// How long a response may be reused (RFC 9111 section 4.2): `max-age` less
/// the response's `Age`; zero for `no-store`, `no-cache` or an unreadable
/// `max-age`; `None` (for as long as the client lives) when `Cache-Control`
/// sets no lifetime.
pub(crate) fn cache_lifetime(headers: &HeaderMap) -> Option<Duration> {
    let mut max_age: Option<u64> = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else {
            return Some(Duration::ZERO);
        };
        for directive in value.split(',') {
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
                None => (directive.trim(), None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age") {
                let seconds = argument.and_then(|a| a.parse::<u64>().ok()).unwrap_or(0);
                max_age = Some(max_age.map_or(seconds, |m| m.min(seconds)));
            }
        }
    }
    let age = headers
        .get(AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    max_age.map(|max_age| Duration::from_secs(max_age.saturating_sub(age)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_core::hpke::HpkeKeypair;
    use dyad_messages::draft09::{HpkeAeadId, HpkeConfigId, HpkeKdfId, HpkeKemId};
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn cache_lifetime_follows_cache_control() {
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(cache_lifetime(&headers(&[])), None);
        assert_eq!(
            cache_lifetime(&headers(&[("cache-control", "public")])),
            None
        );
        assert_eq!(
            cache_lifetime(&headers(&[("cache-control", "max-age=86400")])),
            secs(86400)
        );
        assert_eq!(
            cache_lifetime(&headers(&[("cache-control", "public, Max-Age=\"60\"")])),
            secs(60)
        );
        assert_eq!(
            cache_lifetime(&headers(&[
                ("cache-control", "max-age=600"),
                ("age", "100")
            ])),
            secs(500)
        );
        assert_eq!(
            cache_lifetime(&headers(&[("cache-control", "max-age=60, no-cache")])),
            secs(0)
        );
        assert_eq!(
            cache_lifetime(&headers(&[("cache-control", "no-store")])),
            secs(0)
        );
        assert_eq!(
            cache_lifetime(&headers(&[("cache-control", "max-age=soon")])),
            secs(0)
        );
    }

    #[test]
    fn the_first_supported_config_is_chosen() {
        let unsupported = |id| HpkeConfig {
            id: HpkeConfigId(id),
            kem_id: HpkeKemId::X448HkdfSha512,
            kdf_id: HpkeKdfId::HkdfSha256,
            aead_id: HpkeAeadId::Aes128Gcm,
            public_key: vec![1; 56].into(),
        };
        let good = HpkeKeypair::generate_default(HpkeConfigId(2))
            .config()
            .clone();
        let also_good = HpkeKeypair::generate_default(HpkeConfigId(3))
            .config()
            .clone();
        let list = HpkeConfigList(vec![unsupported(1), good.clone(), also_good]);
        assert_eq!(choose_config(Role::Leader, list).unwrap(), good);
        let list = HpkeConfigList(vec![unsupported(1), unsupported(4)]);
        assert!(matches!(
            choose_config(Role::Helper, list),
            Err(ClientError::NoSupportedHpkeConfig { role: Role::Helper })
        ));
    }
}
