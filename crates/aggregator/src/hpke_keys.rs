//! [`GlobalHpkeKeys`]: each replica's in-memory copy of the global HPKE keys
//! (the keys shared by every task without keys of its own; see
//! `dyad_datastore::models::GlobalHpkeKey`), read from the datastore on
//! first use and then every `hpke_keys.refresh_interval_secs`
//! ([`GlobalHpkeKeys::spawn_refresher`]), so that every replica sees a key
//! added, promoted, expired or deleted anywhere within that interval.
//!
//! A request naming a config ID the copy does not hold (a key made a moment
//! ago on another replica) reads the keys again at once, but at most once
//! per [`MISS_REFRESH_INTERVAL`] for the whole process, and concurrent
//! misses share that one read: a flood of made-up config IDs costs at most
//! one query a second.
//!
//! ## Where is
//!
//! - the keys that open input shares: pending, active and expired →
//!   [`KeySnapshot::keypairs`] (DAP-09 section 4.5.1.3)
//! - the configurations advertised: active only, in config ID order →
//!   [`KeySnapshot::active_configs`] (section 4.4.1)
//! - an unknown config ID refreshes at most once a second →
//!   [`GlobalHpkeKeys::knowing`]

use dyad_core::hpke::HpkeKeypair;
use dyad_datastore::models::{GlobalHpkeKey, HpkeKeyState};
use dyad_datastore::{Datastore, DatastoreExt, TxError};
use dyad_messages::draft09::{HpkeConfig, HpkeConfigId};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

/// The shortest time between two reads caused by an unknown config ID.
pub const MISS_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// The global keys as last read.
#[derive(Debug, Default)]
pub struct KeySnapshot {
    /// Every stored key (pending, active, expired): each opens input shares.
    pub keypairs: Vec<HpkeKeypair>,
    /// The active keys' configurations, advertised by `GET /hpke_config`.
    pub active_configs: Vec<HpkeConfig>,
}

impl KeySnapshot {
    fn of(keys: Vec<GlobalHpkeKey>) -> Self {
        let active_configs = keys
            .iter()
            .filter(|key| key.state == HpkeKeyState::Active)
            .map(|key| key.keypair.config().clone())
            .collect();
        Self {
            keypairs: keys.into_iter().map(|key| key.keypair).collect(),
            active_configs,
        }
    }

    /// Whether a key with config ID `id` is held.
    pub fn holds(&self, id: HpkeConfigId) -> bool {
        self.keypairs.iter().any(|keypair| keypair.id() == id)
    }
}

struct Loaded {
    snapshot: Arc<KeySnapshot>,
    read_at: Instant,
}

struct Inner {
    datastore: Arc<dyn Datastore>,
    loaded: RwLock<Option<Loaded>>,
    /// Held while reading, so that concurrent readers share one read.
    reading: tokio::sync::Mutex<()>,
}

/// The process's copy of the global keys; clones share it.
#[derive(Clone)]
pub struct GlobalHpkeKeys {
    inner: Arc<Inner>,
}

impl GlobalHpkeKeys {
    /// An empty copy, read from `datastore` on first use.
    pub fn new(datastore: Arc<dyn Datastore>) -> Self {
        Self {
            inner: Arc::new(Inner {
                datastore,
                loaded: RwLock::new(None),
                reading: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The keys as last read (read now if never read).
    pub async fn current(&self) -> Result<Arc<KeySnapshot>, TxError> {
        match self.loaded() {
            Some((snapshot, _)) => Ok(snapshot),
            None => self.read_unless_read_since(None).await,
        }
    }

    /// The keys, read again first if one of `ids` is not held and the last
    /// read is older than [`MISS_REFRESH_INTERVAL`] (a key made since on
    /// another replica). A failed read leaves the copy as it was.
    pub async fn knowing(
        &self,
        ids: impl IntoIterator<Item = HpkeConfigId>,
    ) -> Result<Arc<KeySnapshot>, TxError> {
        let Some((snapshot, read_at)) = self.loaded() else {
            return self.read_unless_read_since(None).await;
        };
        let missing = ids.into_iter().any(|id| !snapshot.holds(id));
        if !missing || read_at.elapsed() < MISS_REFRESH_INTERVAL {
            return Ok(snapshot);
        }
        match self.read_unless_read_since(Some(read_at)).await {
            Ok(snapshot) => Ok(snapshot),
            Err(error) => {
                tracing::warn!(error = %error, "reading the global HPKE keys failed; using the copy held");
                Ok(snapshot)
            }
        }
    }

    /// Reads the keys now.
    pub async fn refresh(&self) -> Result<Arc<KeySnapshot>, TxError> {
        let read_at = self.loaded().map(|(_, read_at)| read_at);
        self.read_unless_read_since(read_at).await
    }

    /// Reads the keys every `interval` (on the current tokio runtime) for
    /// as long as a clone of this copy exists.
    pub fn spawn_refresher(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(inner) = weak.upgrade() else { break };
                let keys = GlobalHpkeKeys { inner };
                if let Err(error) = keys.refresh().await {
                    tracing::warn!(error = %error, "reading the global HPKE keys failed; will retry");
                }
            }
        })
    }

    fn loaded(&self) -> Option<(Arc<KeySnapshot>, Instant)> {
        let loaded = self.inner.loaded.read().unwrap_or_else(|e| e.into_inner());
        loaded
            .as_ref()
            .map(|loaded| (loaded.snapshot.clone(), loaded.read_at))
    }

    /// Reads the keys, unless another caller read them after `seen` (the
    /// read this caller knew of) while it waited for its turn.
    async fn read_unless_read_since(
        &self,
        seen: Option<Instant>,
    ) -> Result<Arc<KeySnapshot>, TxError> {
        let _turn = self.inner.reading.lock().await;
        if let Some((snapshot, read_at)) = self.loaded() {
            if seen.is_none_or(|seen| read_at > seen) {
                return Ok(snapshot);
            }
        }
        let keys = self
            .inner
            .datastore
            .run_read_tx("get_global_hpke_keys", |tx| {
                Box::pin(async move { Ok(tx.get_global_hpke_keys().await?) })
            })
            .await?;
        let snapshot = Arc::new(KeySnapshot::of(keys));
        *self.inner.loaded.write().unwrap_or_else(|e| e.into_inner()) = Some(Loaded {
            snapshot: snapshot.clone(),
            read_at: Instant::now(),
        });
        tracing::debug!(
            keys = snapshot.keypairs.len(),
            active = snapshot.active_configs.len(),
            "read the global HPKE keys"
        );
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_datastore::testing::sqlite_harness;

    async fn put(datastore: &dyn Datastore, id: u8, state: HpkeKeyState) {
        datastore
            .run_tx("put", move |tx| {
                Box::pin(async move {
                    let keypair = HpkeKeypair::generate_default(HpkeConfigId(id));
                    Ok(tx.put_global_hpke_key(&keypair, state).await?)
                })
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn advertises_active_keys_and_opens_with_every_key() {
        let h = sqlite_harness().await;
        put(h.datastore.as_ref(), 1, HpkeKeyState::Expired).await;
        put(h.datastore.as_ref(), 2, HpkeKeyState::Active).await;
        put(h.datastore.as_ref(), 3, HpkeKeyState::Pending).await;
        let keys = GlobalHpkeKeys::new(h.datastore.clone());
        let snapshot = keys.current().await.unwrap();
        let ids: Vec<u8> = snapshot.keypairs.iter().map(|k| k.id().0).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        let active: Vec<u8> = snapshot.active_configs.iter().map(|c| c.id.0).collect();
        assert_eq!(active, vec![2]);
    }

    #[tokio::test]
    async fn an_unknown_config_id_rereads_at_most_once_a_second() {
        let h = sqlite_harness().await;
        let keys = GlobalHpkeKeys::new(h.datastore.clone());
        assert!(keys.current().await.unwrap().keypairs.is_empty());
        put(h.datastore.as_ref(), 5, HpkeKeyState::Pending).await;
        // Just read: the miss does not read again yet.
        let snapshot = keys.knowing([HpkeConfigId(5)]).await.unwrap();
        assert!(!snapshot.holds(HpkeConfigId(5)));
        tokio::time::sleep(MISS_REFRESH_INTERVAL).await;
        let snapshot = keys.knowing([HpkeConfigId(5)]).await.unwrap();
        assert!(
            snapshot.holds(HpkeConfigId(5)),
            "a key made elsewhere is found"
        );
        // A known ID never reads.
        put(h.datastore.as_ref(), 6, HpkeKeyState::Pending).await;
        tokio::time::sleep(MISS_REFRESH_INTERVAL).await;
        assert!(!keys
            .knowing([HpkeConfigId(5)])
            .await
            .unwrap()
            .holds(HpkeConfigId(6)));
    }

    #[tokio::test]
    async fn the_refresher_sees_changes_and_stops_with_the_last_clone() {
        let h = sqlite_harness().await;
        let keys = GlobalHpkeKeys::new(h.datastore.clone());
        keys.current().await.unwrap();
        let refresher = keys.spawn_refresher(Duration::from_millis(50));
        put(h.datastore.as_ref(), 9, HpkeKeyState::Active).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (snapshot, _) = keys.loaded().unwrap();
        assert_eq!(snapshot.active_configs.len(), 1);
        drop(keys);
        tokio::time::timeout(Duration::from_secs(2), refresher)
            .await
            .expect("the refresher stops")
            .unwrap();
    }
}
