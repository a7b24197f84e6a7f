//! The key rotator's loop ([`run_key_rotator`]) and one run
//! ([`rotate_once`]): the keys' lock taken, the keys read, [`plan`]'s
//! changes written, all in one transaction, so that of several rotators
//! (one per replica) running at once each sees what the others did and a
//! key is made, promoted, expired or deleted once. After the commit each
//! change is logged (config ID and ciphersuite, never a key) and counted in
//! `dyad_hpke_key_rotations_total{transition}`.

use super::config::KeyRotatorConfig;
use super::plan::{plan, Change};
use anyhow::Context as _;
use dyad_core::hpke::{HpkeCiphersuite, HpkeKeypair};
use dyad_datastore::models::HpkeKeyState;
use dyad_datastore::{Datastore, DatastoreExt, TxError};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Runs the rotator every `interval_secs` until `shutdown` (a failed run is
/// logged and tried again at the next interval).
pub async fn run_key_rotator(
    datastore: Arc<dyn Datastore>,
    config: KeyRotatorConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    config.validate().map_err(anyhow::Error::msg)?;
    let interval = config.interval();
    let config = Arc::new(config);
    tracing::info!(
        interval_secs = config.interval_secs,
        pending_secs = config.pending_secs,
        active_secs = config.active_secs,
        expired_secs = config.expired_secs,
        ciphersuites = config.ciphersuites.len(),
        "key rotator started"
    );
    loop {
        if let Err(error) = rotate_once(datastore.as_ref(), config.clone()).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "key rotation run failed; will retry"
            );
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
    tracing::info!("key rotator stopped");
    Ok(())
}

/// One run: the changes it made, each logged and counted.
pub async fn rotate_once(
    datastore: &dyn Datastore,
    config: Arc<KeyRotatorConfig>,
) -> anyhow::Result<Vec<Change>> {
    let changes = datastore
        .run_tx("rotate_global_hpke_keys", move |tx| {
            let config = config.clone();
            Box::pin(async move {
                tx.lock_global_hpke_keys().await?;
                let keys = tx.get_global_hpke_keys().await?;
                let changes = plan(&keys, &config, tx.now()).map_err(TxError::abort)?;
                for change in &changes {
                    match *change {
                        Change::Create(id, suite) => {
                            let keypair =
                                HpkeKeypair::generate(id, suite.kem, suite.kdf, suite.aead)
                                    .map_err(TxError::abort)?;
                            tx.put_global_hpke_key(&keypair, HpkeKeyState::Pending)
                                .await?;
                        }
                        Change::Activate(id, _) => {
                            tx.set_global_hpke_key_state(id, HpkeKeyState::Active)
                                .await?;
                        }
                        Change::Expire(id, _) => {
                            tx.set_global_hpke_key_state(id, HpkeKeyState::Expired)
                                .await?;
                        }
                        Change::Delete(id, _) => {
                            tx.delete_global_hpke_key(id).await?;
                        }
                    }
                }
                Ok(changes)
            })
        })
        .await
        .context("rotating the global HPKE keys")?;
    for change in &changes {
        let (id, suite) = change.key();
        let transition = change.transition();
        tracing::info!(
            config_id = id.0,
            ciphersuite = %suite_text(suite),
            transition,
            "global HPKE key {transition}"
        );
        metrics::counter!("dyad_hpke_key_rotations_total", "transition" => transition).increment(1);
    }
    Ok(changes)
}

/// `X25519HkdfSha256/HkdfSha256/Aes128Gcm`, for logs.
pub(crate) fn suite_text(suite: HpkeCiphersuite) -> String {
    format!("{:?}/{:?}/{:?}", suite.kem, suite.kdf, suite.aead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_core::clock::MockClock;
    use dyad_datastore::testing::sqlite_harness;
    use dyad_messages::draft09::{Duration, HpkeConfigId, Time};

    fn config() -> Arc<KeyRotatorConfig> {
        Arc::new(KeyRotatorConfig {
            pending_secs: 10,
            active_secs: 100,
            expired_secs: 50,
            ..KeyRotatorConfig::default()
        })
    }

    async fn states(datastore: &dyn Datastore) -> Vec<(u8, HpkeKeyState)> {
        datastore
            .run_read_tx("keys", |tx| {
                Box::pin(async move { Ok(tx.get_global_hpke_keys().await?) })
            })
            .await
            .unwrap()
            .into_iter()
            .map(|key| (key.id().0, key.state))
            .collect()
    }

    #[tokio::test]
    async fn a_key_is_made_promoted_replaced_expired_and_deleted() {
        let h = sqlite_harness().await;
        let clock: &MockClock = &h.clock;
        clock.set(Time::from_seconds_since_epoch(1_000));
        let ds = h.datastore.as_ref();
        let run = || rotate_once(ds, config());
        use HpkeKeyState::{Active, Expired, Pending};

        assert_eq!(run().await.unwrap().len(), 1);
        assert_eq!(states(ds).await, vec![(1, Pending)]);
        assert!(
            run().await.unwrap().is_empty(),
            "a second run changes nothing"
        );
        clock.advance(Duration::from_seconds(10));
        run().await.unwrap();
        assert_eq!(states(ds).await, vec![(1, Active)]);
        clock.advance(Duration::from_seconds(100));
        run().await.unwrap();
        assert_eq!(states(ds).await, vec![(1, Active), (2, Pending)]);
        clock.advance(Duration::from_seconds(10));
        run().await.unwrap();
        assert_eq!(states(ds).await, vec![(1, Expired), (2, Active)]);
        clock.advance(Duration::from_seconds(50));
        let changes = run().await.unwrap();
        assert_eq!(
            changes,
            vec![Change::Delete(HpkeConfigId(1), HpkeCiphersuite::DEFAULT)]
        );
        assert_eq!(states(ds).await, vec![(2, Active)]);
    }
}
