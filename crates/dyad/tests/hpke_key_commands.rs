//! `dyad hpke-key list|add|set-state|delete` through the real binary on a
//! fresh SQLite datastore: what an operator types, what they see, and what
//! is stored (read back with the datastore library). No command prints a
//! private key.

use dyad_core::clock::RealClock;
use dyad_datastore::models::{GlobalHpkeKey, HpkeKeyState};
use dyad_datastore::{DatastoreExt, DatastoreKeys, DatastoreOptions, KEYS_ENV};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

struct Fixture {
    _dir: tempfile::TempDir,
    url: String,
    keys: String,
}

impl Fixture {
    /// An empty, migrated datastore.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("leader.sqlite").display());
        let fixture = Self {
            _dir: dir,
            url,
            keys: DatastoreKeys::generate_encoded(),
        };
        fixture.stored();
        fixture
    }

    fn stored(&self) -> Vec<GlobalHpkeKey> {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let options = DatastoreOptions::new(DatastoreKeys::from_list(&self.keys).unwrap());
            let datastore = dyad_datastore::open(&self.url, Arc::new(RealClock), &options)
                .await
                .unwrap();
            let keys = datastore
                .run_read_tx("keys", |tx| {
                    Box::pin(async move { Ok(tx.get_global_hpke_keys().await?) })
                })
                .await
                .unwrap();
            datastore.close().await;
            keys
        })
    }

    /// `dyad hpke-key ARGS --datastore URL`, keys in the environment, stdin
    /// not a terminal.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_dyad"))
            .arg("hpke-key")
            .args(args)
            .args(["--datastore", &self.url])
            .env(KEYS_ENV, &self.keys)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// [`Self::run`], which must succeed; its stdout and stderr.
    fn ok(&self, args: &[&str]) -> (String, String) {
        let output = self.run(args);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert!(output.status.success(), "{args:?}: {stdout}\n{stderr}");
        (stdout, stderr)
    }

    /// [`Self::run`], which must fail; its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded: {stderr}");
        stderr
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every rendering of every stored private key, none of which may appear.
fn assert_no_private_key(fixture: &Fixture, printed: &str) {
    use base64::Engine as _;
    for key in fixture.stored() {
        let bytes = key.keypair.private_key().as_bytes();
        for rendering in [
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            base64::engine::general_purpose::STANDARD.encode(bytes),
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        ] {
            assert!(!printed.contains(&rendering), "a private key was printed");
        }
    }
}

#[test]
fn add_list_set_state_and_delete_a_key() {
    let fixture = Fixture::new();
    let (listed, _) = fixture.ok(&["list"]);
    assert!(listed.contains("No global HPKE keys"), "{listed}");

    let (added, note) = fixture.ok(&["add"]);
    assert_eq!(
        added,
        "Added global HPKE key 1 (pending, X25519-HKDF-SHA256, HKDF-SHA256, AES-128-GCM).\n"
    );
    assert!(note.contains("set-state 1 active"), "{note}");
    let (added, _) = fixture.ok(&[
        "add", "--kem", "16", "--state", "active", "--format", "json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&added).unwrap();
    assert_eq!(json[0]["config_id"], 2);
    assert_eq!(json[0]["kem"], "P256-HKDF-SHA256");
    assert_eq!(json[0]["state"], "active");

    let stored = fixture.stored();
    assert_eq!(
        stored
            .iter()
            .map(|k| (k.id().0, k.state))
            .collect::<Vec<_>>(),
        vec![(1, HpkeKeyState::Pending), (2, HpkeKeyState::Active)]
    );

    let (listed, _) = fixture.ok(&["list"]);
    let lines: Vec<&str> = listed.lines().collect();
    assert!(
        lines[0].starts_with("CONFIG ID  STATE    CIPHERSUITE"),
        "{listed}"
    );
    assert!(
        lines[1].starts_with("1          pending  X25519-HKDF-SHA256"),
        "{listed}"
    );
    assert!(
        lines[2].starts_with("2          active   P256-HKDF-SHA256"),
        "{listed}"
    );
    let (json, _) = fixture.ok(&["list", "--format", "json"]);
    assert_no_private_key(&fixture, &(listed + &json + &added));

    let (moved, _) = fixture.ok(&["set-state", "1", "active"]);
    assert_eq!(moved, "Global HPKE key 1: pending -> active.\n");
    let (moved, _) = fixture.ok(&["set-state", "2", "expired"]);
    assert_eq!(moved, "Global HPKE key 2: active -> expired.\n");

    // An active key is refused without --force; asking needs a terminal.
    let refused = fixture.fails(&["delete", "1", "--yes"]);
    assert!(
        refused.contains("is active") && refused.contains("set-state 1 expired"),
        "{refused}"
    );
    let refused = fixture.fails(&["delete", "2"]);
    assert!(
        refused.contains("not a terminal") && refused.contains("--yes"),
        "{refused}"
    );
    assert_eq!(fixture.stored().len(), 2);
    let (deleted, _) = fixture.ok(&["delete", "2", "--yes"]);
    assert_eq!(deleted, "Deleted global HPKE key 2 (expired).\n");
    fixture.ok(&["delete", "1", "--yes", "--force"]);
    assert!(fixture.stored().is_empty());
}

#[test]
fn bad_requests_state_their_cause_once_with_a_hint() {
    let fixture = Fixture::new();
    fixture.ok(&["add", "--id", "7"]);
    let taken = fixture.fails(&["add", "--id", "7"]);
    assert!(
        taken.contains("config ID 7 is taken by a pending global key"),
        "{taken}"
    );
    assert!(taken.contains("hint:"), "{taken}");
    assert_eq!(taken.matches("taken").count(), 1, "{taken}");

    let missing = fixture.fails(&["set-state", "9", "active"]);
    assert!(missing.contains("no global HPKE key 9"), "{missing}");
    assert!(missing.contains("dyad hpke-key list"), "{missing}");
    let missing = fixture.fails(&["delete", "9", "--yes"]);
    assert!(missing.contains("no global HPKE key 9"), "{missing}");

    let suite = fixture.fails(&["add", "--kem", "33"]);
    assert!(suite.contains("not a ciphersuite dyad supports"), "{suite}");
    let state = fixture.fails(&["add", "--state", "expired"]);
    assert!(state.contains("cannot be expired"), "{state}");
    let state = fixture.fails(&["set-state", "7", "gone"]);
    assert!(state.contains("unknown HPKE key state"), "{state}");
    assert_eq!(fixture.stored().len(), 1);
}
