-- Global HPKE keys: keypairs shared by every task that has none of its own,
-- one per HPKE config ID (0 to 255, unique among the global keys). A key is
-- pending (opens input shares, not yet advertised), active (advertised by
-- GET /hpke_config) or expired (no longer advertised, still opens input
-- shares), then deleted.
CREATE TABLE global_hpke_keys (
    config_id INTEGER PRIMARY KEY,
    -- 0 pending, 1 active, 2 expired.
    state INTEGER NOT NULL,
    -- The encoded HpkeConfig (DAP-09 section 4.4.1): public.
    hpke_config BLOB NOT NULL,
    -- The private key, sealed under the datastore keys for this config ID.
    private_key BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    -- When the key entered its state (seconds since the epoch).
    state_changed_at INTEGER NOT NULL
);

-- One row whose update serializes the writers of global_hpke_keys (key
-- rotators on many replicas, the operator's commands): each takes it first,
-- so a rotation happens once however many rotators run.
CREATE TABLE global_hpke_keys_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    locked_at INTEGER NOT NULL
);
INSERT INTO global_hpke_keys_lock (id, locked_at) VALUES (1, 0);
