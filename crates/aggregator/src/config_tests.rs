//! Tests of the YAML configuration: the documented example and every
//! section parse, defaults apply, and each invalid value is refused naming
//! its field.

use super::*;
use std::path::PathBuf;

const FULL: &str = r#"
listen_address: "127.0.0.1:8080"
datastore: "sqlite:///tmp/dyad.sqlite"
roles: [aggregator, aggregation-job-creator, aggregation-job-driver, collection-job-driver]
max_upload_body_bytes: 2048
max_request_body_bytes: 4096
collection_retry_after_secs: 2
upload:
  max_batch_reports: 10
  max_batch_delay_ms: 3
http_client:
  connect_timeout_secs: 1
  request_timeout_secs: 2
log:
  level: debug
  format: json
"#;

#[test]
fn full_config_parses() {
    let config = AggregatorConfig::from_yaml_str(FULL).unwrap();
    assert_eq!(
        config.listen_address,
        Some("127.0.0.1:8080".parse().unwrap())
    );
    assert_eq!(config.roles.len(), 4);
    assert!(config.has_role(ProcessRole::CollectionJobDriver));
    assert_eq!(config.upload.max_batch_reports, 10);
    assert_eq!(config.upload.max_batch_delay(), Duration::from_millis(3));
    assert_eq!(config.log.format, LogFormat::Json);
    let api = config.api_config();
    assert_eq!(api.max_upload_body_bytes, 2048);
    assert_eq!(api.collection_retry_after, Duration::from_secs(2));
    assert!(config.http_client.build_client().is_ok());
}

#[test]
fn minimal_config_takes_defaults() {
    let config = AggregatorConfig::from_yaml_str(
        "datastore: sqlite://x.db\nroles: [aggregation-job-driver]\n",
    )
    .unwrap();
    assert_eq!(config.listen_address, None);
    assert_eq!(config.upload, UploadConfig::default());
    assert_eq!(config.max_upload_body_bytes, DEFAULT_MAX_UPLOAD_BODY_BYTES);
    assert_eq!(config.log, LogConfig::default());
}

#[test]
fn bad_configs_are_refused_with_the_field_named() {
    let cases = [
        ("datastore: sqlite://x\nroles: [aggregator]\n", "listen_address"),
        ("datastore: mysql://x\nroles: [aggregation-job-driver]\n", "datastore"),
        (
            "datastore: sqlite://x\nroles: [aggregation-job-driver]\ndatastore_keys: [short]\n",
            "datastore_keys",
        ),
        (
            "datastore: sqlite://x\nroles: [aggregation-job-driver]\ndatastore_pool: {max_connections: 0}\n",
            "datastore_pool.max_connections",
        ),
        ("datastore: sqlite://\nroles: [aggregation-job-driver]\n", "datastore"),
        ("datastore: sqlite://x\nroles: []\n", "roles"),
        (
            "datastore: sqlite://x\nroles: [aggregation-job-driver, aggregation-job-driver]\n",
            "roles",
        ),
        (
            "datastore: sqlite://x\nroles: [aggregation-job-driver]\nmax_upload_body_bytes: 0\n",
            "max_upload_body_bytes",
        ),
        (
            "datastore: sqlite://x\nroles: [aggregation-job-driver]\nupload: {max_batch_reports: 0}\n",
            "upload.max_batch_reports",
        ),
        (
            "datastore: sqlite://x\nroles: [aggregation-job-driver]\naggregation_job_driver: {interval_ms: 0}\n",
            "aggregation_job_driver",
        ),
    ];
    for (yaml, field) in cases {
        let error = AggregatorConfig::from_yaml_str(yaml).unwrap_err();
        assert!(error.to_string().contains(field), "{yaml}: {error}");
    }
}

#[test]
fn unknown_fields_and_roles_are_refused() {
    for yaml in [
        "datastore: sqlite://x\nroles: [aggregation-job-driver]\nlisten_adress: 1\n",
        "datastore: sqlite://x\nroles: [garbage-collectr]\n",
        "datastore: sqlite://x\nroles: [aggregation-job-driver]\nupload: {max_delay: 1}\n",
        "datastore: sqlite://x\nroles: [aggregation-job-driver]\nlog: {format: xml}\n",
        "roles: [aggregation-job-driver]\n",
    ] {
        let error = AggregatorConfig::from_yaml_str(yaml).unwrap_err();
        assert!(matches!(error, ConfigError::Parse(_)), "{yaml}: {error}");
    }
}

#[test]
fn datastore_options_come_from_the_config() {
    let key = DatastoreKeys::generate_encoded();
    let yaml = format!(
        "datastore: postgres://db/dyad\nroles: [aggregation-job-driver]\n\
         datastore_keys: [{key}]\n\
         datastore_pool: {{max_connections: 3, statement_timeout_secs: 7, max_transaction_attempts: 4, \
         max_transaction_secs: 90}}\n"
    );
    let config = AggregatorConfig::from_yaml_str(&yaml).unwrap();
    // The environment may override the keys; the rest is the config's.
    let options = config.datastore_options().unwrap();
    assert_eq!(options.max_connections, 3);
    assert_eq!(options.statement_timeout, Duration::from_secs(7));
    assert_eq!(options.retry.max_attempts, 4);
    assert_eq!(options.max_transaction_duration, Duration::from_secs(90));
    assert!(
        !options.apply_migrations,
        "PostgreSQL defaults to dyad migrate"
    );
    let sqlite =
        AggregatorConfig::from_yaml_str(&yaml.replace("postgres://db/dyad", "sqlite://x")).unwrap();
    assert!(sqlite.datastore_options().unwrap().apply_migrations);
}

#[test]
fn datastore_keys_say_where_they_come_from() {
    let key = DatastoreKeys::generate_encoded();
    let config = AggregatorConfig::from_yaml_str(&format!(
        "datastore: sqlite://x\nroles: [aggregation-job-driver]\ndatastore_keys: [{key}, {key}]\n"
    ))
    .unwrap();
    let keys = config.datastore_keys().unwrap();
    // The environment of the test run may hold keys, which then win.
    if std::env::var_os(KEYS_ENV).is_some() {
        assert_eq!(keys.source, KeysSource::Environment);
        assert_eq!(keys.overridden_file_keys, 2);
    } else {
        assert_eq!(keys.source, KeysSource::ConfigFile);
        assert_eq!(keys.keys.len(), 2);
        assert_eq!(keys.overridden_file_keys, 0);
    }
    assert!(!format!("{keys:?}").contains(&key));
    assert_eq!(KeysSource::Environment.to_string(), KEYS_ENV);
}

#[test]
fn debug_hides_datastore_passwords_and_keys() {
    let mut config = AggregatorConfig::from_yaml_str(FULL).unwrap();
    config.datastore = "postgres://dyad:hunter2@db.example/dyad".into();
    config.datastore_keys = vec!["c2VjcmV0LWtleS1ieXRlcw".into()];
    let shown = format!("{config:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("c2VjcmV0"), "{shown}");
    assert!(shown.contains("db.example"), "{shown}");
    assert_eq!(redacted_url("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
}

#[test]
fn tls_and_extra_roots_parse() {
    let config = AggregatorConfig::from_yaml_str(
        "listen_address: \"127.0.0.1:8443\"\ndatastore: sqlite://x\nroles: [aggregator]\n\
         tls: {certificate_file: /etc/dyad/chain.pem, private_key_file: /etc/dyad/key.pem}\n\
         http_client: {extra_root_certificates: [/etc/dyad/ca.pem]}\n",
    )
    .unwrap();
    let tls = config.tls.as_ref().unwrap();
    assert_eq!(tls.certificate_file, Path::new("/etc/dyad/chain.pem"));
    assert_eq!(tls.private_key_file, Path::new("/etc/dyad/key.pem"));
    assert_eq!(
        config.http_client.extra_root_certificates,
        [PathBuf::from("/etc/dyad/ca.pem")]
    );
    assert!(format!("{config:?}").contains("chain.pem"));
    assert_eq!(
        AggregatorConfig::from_yaml_str("datastore: sqlite://x\nroles: [aggregation-job-driver]\n")
            .unwrap()
            .tls,
        None
    );
}

#[test]
fn bad_tls_sections_are_refused() {
    for (yaml, expected) in [
        // Without the aggregator role nothing listens.
        (
            "datastore: sqlite://x\nroles: [aggregation-job-driver]\n\
             tls: {certificate_file: c.pem, private_key_file: k.pem}\n",
            "tls",
        ),
        (
            "listen_address: \"127.0.0.1:1\"\ndatastore: sqlite://x\nroles: [aggregator]\n\
             tls: {certificate_file: \"\", private_key_file: k.pem}\n",
            "tls.certificate_file",
        ),
        (
            "listen_address: \"127.0.0.1:1\"\ndatastore: sqlite://x\nroles: [aggregator]\n\
             tls: {certificate_file: c.pem}\n",
            "private_key_file",
        ),
        (
            "listen_address: \"127.0.0.1:1\"\ndatastore: sqlite://x\nroles: [aggregator]\n\
             tls: {certificate_file: c.pem, private_key_file: k.pem, cert: x}\n",
            "cert",
        ),
    ] {
        let error = AggregatorConfig::from_yaml_str(yaml)
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{yaml}: {error}");
    }
}

#[test]
fn a_missing_extra_root_certificate_is_named_when_the_client_is_built() {
    let config = AggregatorConfig::from_yaml_str(
        "datastore: sqlite://x\nroles: [aggregation-job-driver]\n\
         http_client: {extra_root_certificates: [/nonexistent/private-ca.pem]}\n",
    )
    .unwrap();
    let error = format!("{:#}", config.http_client.build_client().unwrap_err());
    assert!(
        error.contains("/nonexistent/private-ca.pem")
            && error.contains("http_client.extra_root_certificates"),
        "{error}"
    );
}

#[test]
fn missing_file_is_a_read_error() {
    let error = AggregatorConfig::from_file("/nonexistent/dyad.yaml").unwrap_err();
    assert!(matches!(error, ConfigError::Read { .. }));
    assert!(error.to_string().contains("/nonexistent/dyad.yaml"));
}

#[test]
fn server_limits_parse_and_the_connection_maximum_defaults_from_the_file_limit() {
    let config = AggregatorConfig::from_yaml_str(
        "listen_address: \"127.0.0.1:0\"\ndatastore: sqlite://x.db\nroles: [aggregator]\n\
         server:\n  max_connections: 300\n  max_buffered_bodies: 20\n  \
         max_buffered_body_bytes: 1000000\n  header_read_timeout_secs: 2\n  \
         body_read_timeout_secs: 3\n  idle_timeout_secs: 4\n  tls_handshake_timeout_secs: 5\n  \
         shutdown_grace_secs: 6\n  retry_after_secs: 7\n",
    )
    .unwrap();
    let limits = config.server.limits(1024, 8);
    assert_eq!(
        limits,
        crate::server::ServerLimits {
            max_connections: 300,
            max_buffered_bodies: 20,
            max_buffered_body_bytes: 1_000_000,
            header_read_timeout: Duration::from_secs(2),
            body_read_timeout: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(4),
            tls_handshake_timeout: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(6),
            retry_after: Duration::from_secs(7),
        }
    );
    assert_eq!(config.api_config().server, limits);

    // Absent: the defaults, with the maximum sized from the file limit less
    // the datastore pool and the reserve.
    let defaults = ServerConfig::default();
    assert_eq!(defaults.max_connections, None);
    let limits = defaults.limits(4096, 8);
    assert_eq!(
        limits.max_connections,
        4096 - 8 - crate::server::open_files::RESERVED_DESCRIPTORS as usize
    );
    assert_eq!(
        crate::server::ServerLimits {
            max_connections: crate::server::ServerLimits::default().max_connections,
            ..limits
        },
        crate::server::ServerLimits::default()
    );
}

#[test]
fn bad_server_limits_are_refused_with_the_field_named() {
    for (section, field) in [
        ("{max_connections: 0}", "server.max_connections"),
        ("{max_buffered_bodies: 0}", "server.max_buffered_bodies"),
        (
            "{max_buffered_body_bytes: 0}",
            "server.max_buffered_body_bytes",
        ),
        (
            "{header_read_timeout_secs: 0}",
            "server.header_read_timeout_secs",
        ),
        (
            "{body_read_timeout_secs: 0}",
            "server.body_read_timeout_secs",
        ),
        ("{idle_timeout_secs: 100000}", "server.idle_timeout_secs"),
        ("{shutdown_grace_secs: 0}", "server.shutdown_grace_secs"),
        ("{retry_after_secs: 0}", "server.retry_after_secs"),
    ] {
        let yaml =
            format!("datastore: sqlite://x\nroles: [aggregation-job-driver]\nserver: {section}\n");
        let error = AggregatorConfig::from_yaml_str(&yaml)
            .unwrap_err()
            .to_string();
        assert!(error.contains(field), "{section}: {error}");
    }
    let error = AggregatorConfig::from_yaml_str(
        "datastore: sqlite://x\nroles: [aggregation-job-driver]\nserver: {max_conections: 5}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("max_conections"), "{error}");
}

#[test]
fn key_rotator_role_and_hpke_keys_sections_parse_with_defaults() {
    let config = AggregatorConfig::from_yaml_str(
        "datastore: sqlite://x\nroles: [key-rotator]\n\
         key_rotator: {interval_secs: 1, pending_secs: 2}\nhpke_keys: {refresh_interval_secs: 5}\n",
    )
    .unwrap();
    assert!(config.has_role(ProcessRole::KeyRotator));
    assert_eq!(config.key_rotator.pending_secs, 2);
    assert_eq!(config.key_rotator.expired_secs, 604_800);
    assert_eq!(config.hpke_keys.refresh_interval_secs, 5);
    assert_eq!(config.hpke_keys.config_max_age_secs, 86_400);
    assert_eq!(config.api_config().hpke_keys, config.hpke_keys);
    assert_eq!(ProcessRole::KeyRotator.to_string(), "key-rotator");

    for (yaml, field) in [
        ("key_rotator: {active_secs: 0}", "key_rotator.active_secs"),
        (
            "key_rotator: {ciphersuites: []}",
            "key_rotator.ciphersuites",
        ),
        ("key_rotator: {pending: 3}", "pending"),
        (
            "hpke_keys: {refresh_interval_secs: 0}",
            "hpke_keys.refresh_interval_secs",
        ),
        ("hpke_keys: {max_age: 3}", "max_age"),
    ] {
        let error = AggregatorConfig::from_yaml_str(&format!(
            "datastore: sqlite://x\nroles: [key-rotator]\n{yaml}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(error.contains(field), "{yaml}: {error}");
    }
}

#[test]
fn health_and_metrics_keys_parse_with_defaults() {
    let base = "datastore: sqlite://x\nroles: [aggregation-job-driver]\n";
    let config = AggregatorConfig::from_yaml_str(base).unwrap();
    assert_eq!(config.health_listen_address, None);
    assert_eq!(config.metrics_listen_address, None);
    assert_eq!(config.metrics, MetricsConfig::default());
    assert!(!config.exports_metrics());

    let config = AggregatorConfig::from_yaml_str(&format!(
        "{base}health_listen_address: \"127.0.0.1:9001\"\n\
         metrics_listen_address: \"127.0.0.1:9464\"\n\
         metrics: {{queue_depth_interval_secs: 5, otlp: {{endpoint: \"http://collector:4318/v1/metrics\"}}}}\n"
    ))
    .unwrap();
    assert_eq!(
        config.health_listen_address,
        Some("127.0.0.1:9001".parse().unwrap())
    );
    assert_eq!(
        config.metrics.queue_depth_interval(),
        Duration::from_secs(5)
    );
    let otlp = config.metrics.otlp.as_ref().unwrap();
    assert_eq!(otlp.endpoint.as_str(), "http://collector:4318/v1/metrics");
    assert_eq!((otlp.interval_secs, otlp.timeout_secs), (60, 10));
    assert!(config.exports_metrics());
}

#[test]
fn bad_health_and_metrics_keys_are_refused_with_the_field_named() {
    let base = "datastore: sqlite://x\nroles: [aggregation-job-driver]\n";
    let cases = [
        (
            "health_listen_address: \"127.0.0.1:9001\"\nmetrics_listen_address: \"127.0.0.1:9001\"\n",
            "metrics_listen_address",
        ),
        (
            "metrics: {queue_depth_interval_secs: 0}\n",
            "metrics.queue_depth_interval_secs",
        ),
        (
            "metrics: {otlp: {endpoint: \"grpc://collector:4317\"}}\n",
            "metrics.otlp.endpoint",
        ),
        (
            "metrics: {otlp: {endpoint: \"http://user:secret@collector:4318/v1/metrics\"}}\n",
            "metrics.otlp.endpoint",
        ),
        (
            "metrics: {otlp: {endpoint: \"http://c/v1/metrics\", interval_secs: 0}}\n",
            "metrics.otlp.interval_secs",
        ),
        ("metrics: {otlp: {endpoint: \"http://c/\", headers: {}}}\n", "headers"),
        ("metrics: {prometheus: true}\n", "prometheus"),
    ];
    for (yaml, field) in cases {
        let error = AggregatorConfig::from_yaml_str(&format!("{base}{yaml}")).unwrap_err();
        assert!(error.to_string().contains(field), "{yaml}: {error}");
    }
}

#[test]
fn management_api_role_parses_with_its_listener_and_tokens() {
    let config = AggregatorConfig::from_yaml_str(
        "datastore: sqlite://x\nroles: [management-api]\n\
         management_listen_address: \"127.0.0.1:9002\"\n\
         management_api: {auth_tokens: [abc-DEF_1.~+/=], dap_url: \"https://dap.example.com\"}\n",
    )
    .unwrap();
    assert!(config.has_role(ProcessRole::ManagementApi));
    assert_eq!(ProcessRole::ManagementApi.to_string(), "management-api");
    assert_eq!(
        config.management_listen_address,
        Some("127.0.0.1:9002".parse().unwrap())
    );
    assert_eq!(
        config.management_api.dap_url.as_ref().unwrap().as_str(),
        "https://dap.example.com/"
    );
    assert_eq!(
        config.management_tokens_with(None).unwrap(),
        vec!["abc-DEF_1.~+/=".to_owned()]
    );
}

#[test]
fn api_tokens_from_the_environment_win_over_the_file() {
    let config = AggregatorConfig::from_yaml_str(
        "datastore: sqlite://x\nroles: [garbage-collector]\nmanagement_api: {auth_tokens: [file]}\n",
    )
    .unwrap();
    assert_eq!(
        config
            .management_tokens_with(Some(" one , two,".to_owned()))
            .unwrap(),
        vec!["one".to_owned(), "two".to_owned()]
    );
    // A blank variable counts as unset.
    assert_eq!(
        config.management_tokens_with(Some(" ".to_owned())).unwrap(),
        vec!["file".to_owned()]
    );
}

#[test]
fn no_api_token_and_bad_tokens_are_refused_without_showing_them() {
    let config =
        AggregatorConfig::from_yaml_str("datastore: sqlite://x\nroles: [garbage-collector]\n")
            .unwrap();
    let error = config.management_tokens_with(None).unwrap_err().to_string();
    assert!(
        error.contains("DYAD_API_TOKENS") && error.contains("management_api.auth_tokens"),
        "{error}"
    );
    let error = config
        .management_tokens_with(Some("good,bad:secret".to_owned()))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("not allowed") && !error.contains("secret"),
        "{error}"
    );
    let error = AggregatorConfig::from_yaml_str(
        "datastore: sqlite://x\nroles: [garbage-collector]\nmanagement_api: {auth_tokens: [\"sp ace\"]}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("management_api.auth_tokens") && !error.contains("sp ace"),
        "{error}"
    );
}

#[test]
fn management_role_needs_its_own_listen_address() {
    let error = AggregatorConfig::from_yaml_str("datastore: sqlite://x\nroles: [management-api]\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("management_listen_address"), "{error}");
    let error = AggregatorConfig::from_yaml_str(
        "datastore: sqlite://x\nroles: [aggregator, management-api]\n\
         listen_address: \"127.0.0.1:8080\"\nmanagement_listen_address: \"127.0.0.1:8080\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("management_listen_address") && error.contains("listen_address"),
        "{error}"
    );
}

#[test]
fn debug_never_shows_api_tokens() {
    let config = AggregatorConfig::from_yaml_str(
        "datastore: sqlite://x\nroles: [garbage-collector]\nmanagement_api: {auth_tokens: [s3cr3t-token]}\n",
    )
    .unwrap();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("s3cr3t-token") && debug.contains("1 redacted"),
        "{debug}"
    );
}

#[test]
fn a_management_path_prefix_is_checked_and_excludes_the_management_api_role() {
    let with_prefix = |roles: &str, prefix: &str| {
        AggregatorConfig::from_yaml_str(&format!(
            "datastore: sqlite://x\nroles: [{roles}]\nlisten_address: \"127.0.0.1:8080\"\n\
             management_listen_address: \"127.0.0.1:9002\"\n\
             management_api: {{path_prefix: \"{prefix}\"}}\n"
        ))
    };
    for good in ["/api/", "/admin/v1/", "/a-b_c.d~/"] {
        let config = with_prefix("aggregator", good).unwrap();
        assert_eq!(config.management_api.path_prefix.as_deref(), Some(good));
    }
    let cases = [
        ("aggregator", "api/", "must look like"),
        ("aggregator", "/api", "must look like"),
        ("aggregator", "/", "must look like"),
        ("aggregator", "//", "must look like"),
        ("aggregator", "/a b/", "must look like"),
        ("aggregator", "/../", "must look like"),
        ("aggregator", "/tasks/", "shadow"),
        ("aggregator", "/hpke_config/x/", "shadow"),
        ("aggregator, management-api", "/api/", "not both"),
        ("garbage-collector", "/api/", "needs the aggregator role"),
    ];
    for (roles, prefix, expected) in cases {
        let error = with_prefix(roles, prefix).unwrap_err().to_string();
        assert!(
            error.contains("management_api.path_prefix") && error.contains(expected),
            "{roles} {prefix}: {error}"
        );
    }
}
