//! The processes tests run and what they need to start one: the `dyad`
//! binary built for this test profile ([`dyad_binary`]), a port no other
//! server of the test has ([`free_port`]), a datastore key
//! ([`datastore_key`]), and how long a test waits for anything ([`WAIT`]).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// How long any single wait (startup, upload, collection) may take before
/// the test fails instead of hanging.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The `dyad` binary of the profile this test was built in:
/// `<target>/<profile>/dyad`, derived from the test executable's path
/// (`<target>/<profile>/deps/<test>`). Runs `cargo build --workspace
/// --tests --bins` once per process (a no-op when it is up to date), so that
/// the binary is never missing or stale.
pub fn dyad_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable lives in <target>/<profile>/deps")
            .to_path_buf();
        let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
        let release = profile_dir
            .file_name()
            .is_some_and(|name| name == "release");
        let binary = profile_dir.join(format!("dyad{}", std::env::consts::EXE_SUFFIX));
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut command = Command::new(cargo);
        // Cargo gives this test process the variables it sets for a crate
        // (CARGO_PKG_NAME, CARGO_MANIFEST_DIR, ...). Some build scripts (ring's)
        // declare them as inputs, so passing ours on would make the child
        // cargo rebuild those crates and everything above them.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_MANIFEST_")
                || matches!(
                    name.as_ref(),
                    "CARGO_CRATE_NAME"
                        | "CARGO_BIN_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_TARGET_TMPDIR"
                        | "OUT_DIR"
                )
            {
                command.env_remove(name.as_ref());
            }
        }
        command
            .current_dir(workspace)
            .env("CARGO_TARGET_DIR", &target_dir)
            // The same units as the workspace's test build (dev-dependency
            // features included), so that the dependencies `nextest run
            // --workspace` just compiled are reused and only the binary
            // itself is built; `-p dyad` alone would resolve other features
            // and compile the whole tree a second time.
            .args(["build", "--quiet", "--workspace", "--tests", "--bins"]);
        if release {
            command.arg("--release");
        }
        let status = command
            .status()
            .expect("running cargo build for the dyad binary");
        assert!(
            status.success(),
            "cargo build for the dyad binary failed: {status}"
        );
        assert!(binary.exists(), "no dyad binary at {}", binary.display());
        binary
    })
}

/// A free TCP port on 127.0.0.1 for a server process to listen on, never
/// the same twice in one test process.
///
/// Ports come at random from 20000-32767, below Linux's ephemeral range
/// (32768-60999): a port the kernel picked for `bind(0)` and that was
/// released at once tends to be picked again by the next `bind(0)` (two
/// servers of one test then got the same port), and ephemeral ports are
/// what outgoing connections use. Each candidate is checked by binding it.
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..1000 {
        let port = rand::Rng::gen_range(&mut rand::thread_rng(), 20000..32768u16);
        if handed_out.contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.push(port);
            return port;
        }
    }
    panic!("no free port in 20000-32767 after 1000 tries")
}

/// A fresh random datastore key (16 bytes, base64url), as
/// `dyad datastore-key generate` prints.
pub fn datastore_key() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}
