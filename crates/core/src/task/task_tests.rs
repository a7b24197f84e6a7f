//! Tests of the task model: building, validation, serde and redaction.

use super::*;
use crate::hpke::HpkeKeypair;
use crate::vdaf::VdafInstance;
use base64::Engine;
use dyad_messages::draft09::{Duration, HpkeConfigId, HpkeKemId, Role, TaskId, Time};

struct Fixture {
    verify_key: VerifyKey,
    aggregator_token: AuthenticationToken,
    collector_token: AuthenticationToken,
    collector_keypair: HpkeKeypair,
    own_keypair: HpkeKeypair,
}

impl Fixture {
    fn new() -> Self {
        Self {
            verify_key: VerifyKey::random(16),
            aggregator_token: AuthenticationToken::random(AuthenticationTokenType::DapAuth),
            collector_token: AuthenticationToken::random(AuthenticationTokenType::Bearer),
            collector_keypair: HpkeKeypair::generate_default(HpkeConfigId(1)),
            own_keypair: HpkeKeypair::generate_default(HpkeConfigId(7)),
        }
    }

    fn leader(&self) -> TaskBuilder {
        Task::builder()
            .task_id(TaskId::from_bytes([3; 32]))
            .role(Role::Leader)
            .leader_aggregator_endpoint("https://leader.example/dap".parse().unwrap())
            .helper_aggregator_endpoint("https://helper.example/".parse().unwrap())
            .vdaf(VdafInstance::Prio3Sum { bits: 8 })
            .vdaf_verify_key(self.verify_key.clone())
            .batch_mode(BatchMode::FixedSize {
                max_batch_size: Some(200),
            })
            .min_batch_size(100)
            .time_precision(Duration::from_seconds(3600))
            .max_batch_query_count(2)
            .task_expiration(Some(Time::from_seconds_since_epoch(2_000_000_000)))
            .report_expiry_age(Some(Duration::from_seconds(86_400)))
            .tolerable_clock_skew(Duration::from_seconds(300))
            .collector_hpke_config(self.collector_keypair.config().clone())
            .aggregator_auth_token(self.aggregator_token.clone())
            .collector_auth_token(self.collector_token.hash())
            .hpke_keys(vec![self.own_keypair.clone()])
    }

    fn helper(&self) -> TaskBuilder {
        self.leader()
            .role(Role::Helper)
            .aggregator_auth_token(self.aggregator_token.hash())
            .clear_collector_auth_token()
    }
}

fn invalid_field(builder: TaskBuilder) -> &'static str {
    match builder.build().unwrap_err() {
        TaskError::Invalid { field, .. } => field,
        TaskError::Missing(field) => panic!("missing {field}, not invalid"),
    }
}

#[test]
fn a_leader_task_builds_with_every_parameter() {
    let f = Fixture::new();
    let task = f.leader().build().unwrap();
    assert_eq!(task.task_id(), &TaskId::from_bytes([3; 32]));
    assert!(task.is_leader());
    // Endpoints are normalized to base URLs that resource paths join onto.
    assert_eq!(
        task.leader_aggregator_endpoint().as_str(),
        "https://leader.example/dap/"
    );
    assert_eq!(
        task.leader_aggregator_endpoint()
            .join("hpke_config")
            .unwrap()
            .as_str(),
        "https://leader.example/dap/hpke_config"
    );
    assert_eq!(
        task.peer_aggregator_endpoint().as_str(),
        "https://helper.example/"
    );
    assert_eq!(task.vdaf(), &VdafInstance::Prio3Sum { bits: 8 });
    assert_eq!(task.vdaf_verify_key(), &f.verify_key);
    assert_eq!(
        task.vdaf_verify_key().as_array::<16>().unwrap(),
        f.verify_key.as_array::<16>().unwrap()
    );
    assert_eq!(task.min_batch_size(), 100);
    assert_eq!(task.max_batch_size(), Some(200));
    assert_eq!(task.time_precision(), Duration::from_seconds(3600));
    assert_eq!(task.max_batch_query_count(), 2);
    assert_eq!(
        task.report_expiry_age(),
        Some(Duration::from_seconds(86_400))
    );
    assert_eq!(task.tolerable_clock_skew(), Duration::from_seconds(300));
    assert_eq!(task.collector_hpke_config(), f.collector_keypair.config());
    assert_eq!(
        task.aggregator_auth_token().token(),
        Some(&f.aggregator_token)
    );
    assert!(task
        .collector_auth_token()
        .unwrap()
        .validate(&f.collector_token));
    assert!(!task
        .collector_auth_token()
        .unwrap()
        .validate(&f.aggregator_token));
    assert_eq!(task.hpke_keypair(HpkeConfigId(7)), Some(&f.own_keypair));
    assert_eq!(task.hpke_keypair(HpkeConfigId(8)), None);
    assert!(!task.is_expired_at(Time::from_seconds_since_epoch(2_000_000_000)));
    assert!(task.is_expired_at(Time::from_seconds_since_epoch(2_000_000_001)));
}

#[test]
fn a_helper_task_builds_and_defaults_apply() {
    let f = Fixture::new();
    let task = f.helper().build().unwrap();
    assert_eq!(task.role(), Role::Helper);
    assert_eq!(
        task.peer_aggregator_endpoint().as_str(),
        "https://leader.example/dap/"
    );
    assert!(task.aggregator_auth_token().validate(&f.aggregator_token));
    assert!(task.collector_auth_token().is_none());

    let minimal = Task::builder()
        .task_id(TaskId::random())
        .role(Role::Helper)
        .leader_aggregator_endpoint("http://localhost:8080".parse().unwrap())
        .helper_aggregator_endpoint("http://localhost:8081".parse().unwrap())
        .vdaf(VdafInstance::Prio3Count)
        .vdaf_verify_key(VerifyKey::random(16))
        .batch_mode(BatchMode::TimeInterval)
        .min_batch_size(1)
        .time_precision(Duration::from_seconds(1))
        .collector_hpke_config(f.collector_keypair.config().clone())
        .aggregator_auth_token(f.aggregator_token.clone())
        .build()
        .unwrap();
    assert_eq!(minimal.max_batch_query_count(), 1);
    assert_eq!(minimal.task_expiration(), None);
    assert!(!minimal.is_expired_at(Time::from_seconds_since_epoch(u64::MAX)));
    assert_eq!(minimal.report_expiry_age(), None);
    assert_eq!(minimal.tolerable_clock_skew(), DEFAULT_TOLERABLE_CLOCK_SKEW);
    assert!(minimal.hpke_keys().is_empty());
    assert_eq!(minimal.max_batch_size(), None);
}

#[test]
fn missing_parameters_are_named() {
    let f = Fixture::new();
    let cases: Vec<(TaskBuilder, &str)> = vec![
        (Task::builder(), "role"),
        (
            f.leader().clear_collector_auth_token(),
            "collector_auth_token",
        ),
    ];
    for (builder, name) in cases {
        assert_eq!(builder.build().unwrap_err(), TaskError::Missing(name));
    }
    let mut value = serde_json::to_value(f.leader().build().unwrap()).unwrap();
    value.as_object_mut().unwrap().remove("vdaf_verify_key");
    let err = serde_json::from_value::<Task>(value).unwrap_err();
    assert!(err.to_string().contains("vdaf_verify_key"), "{err}");
}

#[test]
fn invalid_parameters_are_rejected() {
    let f = Fixture::new();
    assert_eq!(invalid_field(f.leader().role(Role::Collector)), "role");
    assert_eq!(invalid_field(f.leader().role(Role::Client)), "role");
    assert_eq!(
        invalid_field(
            f.leader()
                .leader_aggregator_endpoint("ftp://x.example/".parse().unwrap())
        ),
        "leader_aggregator_endpoint"
    );
    assert_eq!(
        invalid_field(
            f.leader()
                .helper_aggregator_endpoint("https://h.example/?a=b".parse().unwrap())
        ),
        "helper_aggregator_endpoint"
    );
    assert_eq!(
        invalid_field(
            f.leader()
                .helper_aggregator_endpoint("https://leader.example/dap/".parse().unwrap())
        ),
        "helper_aggregator_endpoint"
    );
    assert_eq!(
        invalid_field(f.leader().vdaf(VdafInstance::Prio3Sum { bits: 0 })),
        "vdaf"
    );
    // A 32-byte key for a VDAF that needs 16, and the reverse.
    assert_eq!(
        invalid_field(f.leader().vdaf_verify_key(VerifyKey::random(32))),
        "vdaf_verify_key"
    );
    assert_eq!(
        invalid_field(f.leader().vdaf(
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs: 2,
                bits: 8,
                length: 4,
                chunk_length: 2
            }
        )),
        "vdaf_verify_key"
    );
    assert_eq!(
        invalid_field(f.leader().min_batch_size(0)),
        "min_batch_size"
    );
    assert_eq!(
        invalid_field(f.leader().batch_mode(BatchMode::FixedSize {
            max_batch_size: Some(99)
        })),
        "max_batch_size"
    );
    f.leader()
        .batch_mode(BatchMode::FixedSize {
            max_batch_size: Some(100),
        })
        .build()
        .unwrap();
    assert_eq!(
        invalid_field(f.leader().time_precision(Duration::ZERO)),
        "time_precision"
    );
    assert_eq!(
        invalid_field(f.leader().max_batch_query_count(0)),
        "max_batch_query_count"
    );
    assert_eq!(
        invalid_field(f.leader().report_expiry_age(Some(Duration::ZERO))),
        "report_expiry_age"
    );
    let mut unsupported = f.collector_keypair.config().clone();
    unsupported.kem_id = HpkeKemId::X448HkdfSha512;
    assert_eq!(
        invalid_field(f.leader().collector_hpke_config(unsupported)),
        "collector_hpke_config"
    );
    // The Leader must be able to send the Helper its token.
    assert_eq!(
        invalid_field(f.leader().aggregator_auth_token(f.aggregator_token.hash())),
        "aggregator_auth_token"
    );
    assert_eq!(
        invalid_field(f.helper().collector_auth_token(f.collector_token.clone())),
        "collector_auth_token"
    );
    assert_eq!(
        invalid_field(f.leader().hpke_keys(vec![
            f.own_keypair.clone(),
            HpkeKeypair::generate_default(HpkeConfigId(7))
        ])),
        "hpke_keys"
    );
}

#[test]
fn serde_round_trip_with_secrets_as_base64url() {
    let f = Fixture::new();
    for task in [f.leader().build().unwrap(), f.helper().build().unwrap()] {
        let json = serde_json::to_value(&task).unwrap();
        assert_eq!(
            json["vdaf_verify_key"],
            crate::task::secret::BASE64URL.encode(f.verify_key.as_bytes())
        );
        assert_eq!(
            json["vdaf"],
            serde_json::json!({"type": "Prio3Sum", "bits": "8"})
        );
        assert_eq!(json["role"], task.role().as_str());
        assert_eq!(serde_json::from_value::<Task>(json).unwrap(), task);

        let yaml = serde_yaml::to_string(&task).unwrap();
        assert_eq!(serde_yaml::from_str::<Task>(&yaml).unwrap(), task);
        assert_eq!(task.to_builder().build().unwrap(), task);
    }
}

#[test]
fn deserialization_validates_and_rejects_unknown_fields() {
    let f = Fixture::new();
    let task = f.leader().build().unwrap();
    let mut value = serde_json::to_value(&task).unwrap();
    value["min_batch_size"] = 0.into();
    let err = serde_json::from_value::<Task>(value).unwrap_err();
    assert!(err.to_string().contains("min_batch_size"), "{err}");

    let mut value = serde_json::to_value(&task).unwrap();
    value["min_batch_sise"] = 5.into();
    assert!(serde_json::from_value::<Task>(value).is_err());
}

#[test]
fn debug_output_holds_no_secret() {
    let f = Fixture::new();
    let leader = f.leader().build().unwrap();
    let helper = f.helper().build().unwrap();
    let b64 = |bytes: &[u8]| crate::task::secret::BASE64URL.encode(bytes);
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let decimal_run = |bytes: &[u8]| {
        bytes[..6]
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut secrets: Vec<String> = Vec::new();
    for bytes in [
        f.verify_key.as_bytes(),
        f.aggregator_token.as_bytes(),
        f.collector_token.as_bytes(),
        f.own_keypair.private_key().as_bytes(),
        f.aggregator_token.hash().digest().as_slice(),
        f.collector_token.hash().digest().as_slice(),
    ] {
        secrets.extend([b64(bytes), hex(bytes), decimal_run(bytes)]);
    }
    secrets.push(f.aggregator_token.as_str().to_string());
    secrets.push(f.collector_token.as_str().to_string());
    for task in [&leader, &helper] {
        for text in [
            format!("{task:?}"),
            format!("{task:#?}"),
            format!("{:?}", task.to_builder()),
        ] {
            assert!(text.contains("redacted"), "{text}");
            for secret in &secrets {
                assert!(!text.contains(secret.as_str()), "{secret} in {text}");
            }
        }
    }
}

#[test]
fn a_dp_strategy_is_kept_checked_against_the_vdaf_and_absent_means_none() {
    use crate::vdaf::DpStrategy;
    let f = Fixture::new();
    let histogram = VdafInstance::Prio3Histogram {
        length: 4,
        chunk_length: 2,
    };
    let strategy: DpStrategy = "PureDpDiscreteLaplace:1/2".parse().unwrap();
    let task = f
        .leader()
        .vdaf(histogram)
        .dp_strategy(strategy.clone())
        .build()
        .unwrap();
    assert_eq!(task.dp_strategy(), &strategy);
    let json = serde_json::to_value(&task).unwrap();
    assert_eq!(
        json["dp_strategy"],
        serde_json::json!({"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[1], [2]]}})
    );
    let read: Task = serde_json::from_value(json).unwrap();
    assert_eq!(read, task);
    assert_eq!(read.to_builder().build().unwrap().dp_strategy(), &strategy);

    // A task stored before the field existed reads as no noise, and one
    // without noise is written without the field.
    let plain = f.leader().vdaf(histogram).build().unwrap();
    let json = serde_json::to_value(&plain).unwrap();
    assert!(json.get("dp_strategy").is_none());
    let read: Task = serde_json::from_value(json).unwrap();
    assert!(read.dp_strategy().is_none());

    // Prio3Sum has no noise in prio: refused, naming the field.
    assert_eq!(
        invalid_field(f.leader().dp_strategy(strategy.clone())),
        "dp_strategy"
    );
    let fixed = VdafInstance::Prio3FixedPointBoundedL2VecSum {
        bitsize: crate::vdaf::FixedPointBitSize::BitSize16,
        length: 2,
    };
    assert_eq!(
        invalid_field(f.leader().vdaf(fixed).dp_strategy(strategy)),
        "dp_strategy"
    );
}
