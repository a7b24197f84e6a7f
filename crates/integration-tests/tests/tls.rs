//! `dyad serve` terminating TLS itself: the Leader and the Helper as
//! HTTPS-only processes whose certificates come from two private CAs, the
//! Leader trusting the Helper's CA (`http_client.extra_root_certificates`),
//! the client and the collector libraries trusting them through
//! `extra_root_certificate`. Also: SIGHUP serves a replaced certificate to
//! new connections (and keeps the old one when the new files are bad), and
//! plain-HTTP or untrusting clients fail with an error, not a hang.

use dyad_client::AnyVdaf;
use dyad_core::vdaf::{AggregateResult, AggregationParam, Measurement};
use dyad_integration_tests::{past_bucket_time, Dyad, Server, TaskOptions, WAIT};
use dyad_messages::draft09::{Duration, Interval, Query, Time};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

const PRECISION: u64 = 3600;

/// Far less than the two minutes the default retry policies keep retrying
/// a transient failure.
const QUICKLY: std::time::Duration = std::time::Duration::from_secs(5);

/// A private CA for the test.
struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// Writes the CA certificate to `dir/NAME-ca.pem`, and a server
    /// certificate for 127.0.0.1 and localhost (common name `name`) to
    /// `dir/NAME-chain.pem` (with the CA after it) and its key to
    /// `dir/NAME-key.pem`. Returns (chain, key) paths.
    fn write_server_files(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        std::fs::write(dir.join(format!("{name}-ca.pem")), &self.pem).unwrap();
        let chain = dir.join(format!("{name}-chain.pem"));
        std::fs::write(&chain, format!("{}{}", certificate.pem(), self.pem)).unwrap();
        let key_file = dir.join(format!("{name}-key.pem"));
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        (chain, key_file)
    }

    fn root(&self) -> reqwest::Certificate {
        reqwest::Certificate::from_pem(self.pem.as_bytes()).unwrap()
    }
}

/// The two CAs of a pair started by [`start_https_pair`].
struct Cas {
    leader: TestCa,
    helper: TestCa,
}

/// Provisions a Prio3Sum task (batches of `min_batch_size`) on a Leader and
/// a Helper that both serve HTTPS only, each with a certificate of its own
/// CA; the Leader trusts the Helper's CA for its requests to the Helper.
async fn start_https_pair(min_batch_size: u64) -> (Dyad, Cas) {
    let cas = Cas {
        leader: TestCa::new("leader"),
        helper: TestCa::new("helper"),
    };
    let dyad = Dyad::start_prepared(
        &TaskOptions::time_interval(r#"{"type":"Prio3Sum","bits":"8"}"#, min_batch_size),
        |dir, leader: &mut Server, helper: &mut Server| {
            let (chain, key) = cas.leader.write_server_files(dir, "leader");
            leader.serve_tls(&chain, &key, cas.leader.pem.as_bytes())?;
            let (chain, key) = cas.helper.write_server_files(dir, "helper");
            helper.serve_tls(&chain, &key, cas.helper.pem.as_bytes())?;
            leader.set_config(
                "http_client",
                &format!(
                    "{{extra_root_certificates: [\"{}\"]}}",
                    dir.join("helper-ca.pem").display()
                ),
            )
        },
    )
    .await
    .unwrap();
    (dyad, cas)
}

fn bucket_query(time: Time) -> Query {
    Query::TimeInterval(
        Interval::new(
            time.to_batch_interval_start(Duration::from_seconds(PRECISION)),
            Duration::from_seconds(PRECISION),
        )
        .unwrap(),
    )
}

/// The error and its sources, one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn leader_and_helper_over_https_aggregate_exactly() {
    let (dyad, cas) = start_https_pair(5).await;
    assert_eq!(dyad.leader.url().scheme(), "https");
    assert_eq!(dyad.credentials.helper.scheme(), "https");

    let time = past_bucket_time(PRECISION, 1);
    let client = dyad
        .client_builder()
        .fixed_time(time)
        .extra_root_certificate(cas.leader.root())
        .extra_root_certificate(cas.helper.root())
        .build(AnyVdaf(*dyad.vdaf()))
        .unwrap();
    let values = [3u128, 7, 1, 200, 42];
    for value in values {
        tokio::time::timeout(WAIT, client.upload(&Measurement::Sum(value)))
            .await
            .expect("upload timed out")
            .unwrap_or_else(|error| panic!("upload: {}\n{}", chain(&error), dyad.logs()));
    }

    let collector = dyad
        .credentials
        .collector_builder()
        .extra_root_certificate(cas.leader.root())
        .build(dyad_collector::AnyVdaf(*dyad.vdaf()))
        .unwrap();
    let collection = tokio::time::timeout(
        WAIT + std::time::Duration::from_secs(5),
        collector.collect(bucket_query(time), &AggregationParam::Empty),
    )
    .await
    .expect("collection timed out")
    .unwrap_or_else(|error| panic!("collect: {}\n{}", chain(&error), dyad.logs()));
    assert_eq!(collection.report_count, 5);
    assert_eq!(collection.aggregate_result, AggregateResult::Sum(253));
}

/// Whether a fresh connection trusting only `ca` gets an answer from `url`.
async fn trusted_by(ca: &TestCa, url: &str) -> bool {
    let client = reqwest::Client::builder()
        .tls_certs_only([ca.root()])
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    client.get(url).send().await.is_ok()
}

/// Waits (bounded) until `check` holds.
async fn eventually(what: &str, dyad: &Dyad, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < WAIT,
            "{what}: not within {WAIT:?}\n{}",
            dyad.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn sighup(server: &Server) {
    let pid = server.pid().expect("the server runs");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sighup_serves_a_replaced_certificate_to_new_connections() {
    let (dyad, cas) = start_https_pair(1).await;
    let url = format!(
        "{}hpke_config?task_id={}",
        dyad.helper.url(),
        dyad.credentials.task_id
    );
    let renewed = TestCa::new("renewed");
    assert!(trusted_by(&cas.helper, &url).await);
    assert!(!trusted_by(&renewed, &url).await);

    // A certificate from another CA replaces the Helper's files.
    let staging = dyad.dir().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let (chain, key) = renewed.write_server_files(&staging, "helper");
    std::fs::copy(&chain, dyad.dir().join("helper-chain.pem")).unwrap();
    std::fs::copy(&key, dyad.dir().join("helper-key.pem")).unwrap();
    // Nothing changes before the signal.
    assert!(trusted_by(&cas.helper, &url).await);

    sighup(&dyad.helper);
    eventually("the renewed certificate is served", &dyad, async || {
        trusted_by(&renewed, &url).await
    })
    .await;
    assert!(!trusted_by(&cas.helper, &url).await);

    // A reload that cannot read a key keeps the certificate it had.
    std::fs::write(dyad.dir().join("helper-key.pem"), "not a key\n").unwrap();
    sighup(&dyad.helper);
    eventually("the failed reload is logged", &dyad, async || {
        dyad.helper
            .log_text()
            .contains("reloading the TLS certificate failed")
    })
    .await;
    assert!(dyad.helper.log_text().contains("no private key found"));
    assert!(trusted_by(&renewed, &url).await);
}

#[tokio::test]
async fn plain_http_and_untrusting_clients_fail_cleanly() {
    let (dyad, cas) = start_https_pair(1).await;
    let task_id = dyad.credentials.task_id;

    // Plain HTTP on the HTTPS port: the connection ends, no answer.
    let plain = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!(
            "http://127.0.0.1:{}/hpke_config?task_id={task_id}",
            dyad.leader.port()
        ))
        .send()
        .await;
    let error = plain.expect_err("plain HTTP must get no answer");
    assert!(!error.is_timeout(), "{}", chain(&error));

    // The client library without the CA: the upload fails at once (a
    // refused certificate is not retried), saying why.
    let client = dyad.client_builder().build(AnyVdaf(*dyad.vdaf())).unwrap();
    let error = tokio::time::timeout(QUICKLY, client.upload(&Measurement::Sum(1)))
        .await
        .expect("a refused certificate must not be retried")
        .expect_err("an untrusting client must not upload");
    let text = chain(&error);
    assert!(text.contains("certificate"), "{text}");

    // The collector library without the CA, likewise.
    let collector = dyad
        .credentials
        .collector_builder()
        .build(dyad_collector::AnyVdaf(*dyad.vdaf()))
        .unwrap();
    let error = tokio::time::timeout(
        QUICKLY,
        collector.collect(
            bucket_query(past_bucket_time(PRECISION, 1)),
            &AggregationParam::Empty,
        ),
    )
    .await
    .expect("a refused certificate must not be retried")
    .expect_err("an untrusting collector must not collect");
    let text = chain(&error);
    assert!(text.contains("certificate"), "{text}");

    // Both servers go on serving the clients that trust them.
    let url = format!("{}hpke_config?task_id={task_id}", dyad.leader.url());
    assert!(trusted_by(&cas.leader, &url).await);
    assert!(!dyad.leader.log_text().contains("panicked"));
}
