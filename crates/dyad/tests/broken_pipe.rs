//! Commands whose reader goes away (`dyad decode ... | head`) end normally:
//! exit status 0, no panic, nothing on stderr. Each test runs the real binary
//! with its stdout a pipe whose read end is already closed, so the first
//! write fails with EPIPE every time (no race with a reader).

use std::process::{Command, Output, Stdio};

/// Runs `dyad ARGS` with stdout a pipe nobody reads, stdin from `input`.
fn dyad_into_closed_pipe(args: &[&str], input: Option<&std::path::Path>) -> Output {
    let (reader, writer) = std::io::pipe().expect("making a pipe");
    drop(reader);
    let stdin = match input {
        Some(path) => Stdio::from(std::fs::File::open(path).unwrap()),
        None => Stdio::null(),
    };
    Command::new(env!("CARGO_BIN_EXE_dyad"))
        .args(args)
        .env_remove("DYAD_DATASTORE_KEYS")
        .env_remove("DYAD_DATABASE_URL")
        .stdin(stdin)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("running dyad")
}

fn assert_quiet_success(what: &str, output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what}: {:?}, stderr: {stderr}",
        output.status
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert_eq!(stderr, "", "{what}");
}

#[test]
fn decode_into_a_closed_pipe_exits_zero_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    // An HpkeConfig (DAP-09 section 4.4.1): ID 7, X25519, HKDF-SHA256,
    // AES-128-GCM, a 32-byte public key.
    let hex = format!("07002000010001 0020{}", "ab".repeat(32)).replace(' ', "");
    let path = dir.path().join("config.hex");
    std::fs::write(&path, &hex).unwrap();
    let from_file = dyad_into_closed_pipe(
        &[
            "decode",
            "hpke-config",
            "--encoding",
            "hex",
            path.to_str().unwrap(),
        ],
        None,
    );
    assert_quiet_success("decode FILE", &from_file);
    let from_stdin =
        dyad_into_closed_pipe(&["decode", "hpke-config", "--encoding", "hex"], Some(&path));
    assert_quiet_success("decode from stdin", &from_stdin);
}

#[test]
fn key_generators_into_a_closed_pipe_exit_zero_without_a_panic() {
    for args in [&["hpke", "keygen"][..], &["datastore-key", "generate"][..]] {
        let output = dyad_into_closed_pipe(args, None);
        assert_quiet_success(&args.join(" "), &output);
    }
}

#[test]
fn a_real_error_is_still_reported_when_stdout_is_closed() {
    let output = dyad_into_closed_pipe(&["decode", "hpke-config", "/nonexistent/file"], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
}
