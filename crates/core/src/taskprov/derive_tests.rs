//! The derivations pinned against the draft's definitions, computed here
//! step by step with HMAC-SHA256 as RFC 5869 defines HKDF, and against an
//! independent DAP implementation's encoding of the same `TaskConfig`.

use super::*;
use hmac::{Hmac, Mac};

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// RFC 5869 section 2.2 and 2.3, written out: PRK = HMAC(salt, IKM);
/// T(i) = HMAC(PRK, T(i-1) | info | i); OKM = first L bytes of T(1) | T(2) ...
fn hkdf_by_the_rfc(salt: &[u8], ikm: &[u8], info: &[u8], length: usize) -> Vec<u8> {
    let prk = hmac(salt, &[ikm]);
    let mut okm = Vec::new();
    let mut previous: Vec<u8> = Vec::new();
    let mut counter = 1u8;
    while okm.len() < length {
        let block = hmac(&prk, &[&previous, info, &[counter]]);
        okm.extend_from_slice(&block);
        previous = block.to_vec();
        counter += 1;
    }
    okm.truncate(length);
    okm
}

#[test]
fn salt_is_sha256_of_dap_taskprov() {
    // SHA-256("dap-taskprov") computed by hand from the string's bytes.
    let expected: [u8; 32] = Sha256::digest([
        b'd', b'a', b'p', b'-', b't', b'a', b's', b'k', b'p', b'r', b'o', b'v',
    ])
    .into();
    assert_eq!(taskprov_salt(), expected);
}

#[test]
fn verify_key_follows_the_drafts_definition_for_every_length() {
    let init = VerifyKeyInit::new(std::array::from_fn(|i| i as u8));
    let task_id = task_id_of(b"some task config");
    for length in [16, 32, 33, 64, 100] {
        let ours = derive_verify_key(&init, &task_id, length);
        let by_hand = hkdf_by_the_rfc(
            &Sha256::digest(b"dap-taskprov"),
            init.as_bytes(),
            task_id.as_bytes(),
            length,
        );
        assert_eq!(ours.as_bytes(), by_hand.as_slice(), "length {length}");
    }
}

#[test]
fn verify_key_depends_on_the_secret_and_the_task() {
    let (a, b) = (VerifyKeyInit::random(), VerifyKeyInit::random());
    let (t1, t2) = (task_id_of(b"one"), task_id_of(b"two"));
    let key = derive_verify_key(&a, &t1, 16);
    assert_eq!(key, derive_verify_key(&a, &t1, 16));
    assert_ne!(key, derive_verify_key(&b, &t1, 16));
    assert_ne!(key, derive_verify_key(&a, &t2, 16));
}

#[test]
fn rfc5869_test_case_1_pins_the_hand_written_hkdf() {
    // RFC 5869 appendix A.1, so the step-by-step HKDF above is itself right.
    let ikm = [0x0b; 22];
    let salt: Vec<u8> = (0x00..=0x0c).collect();
    let info: Vec<u8> = (0xf0..=0xf9).collect();
    let okm = hkdf_by_the_rfc(&salt, &ikm, &info, 42);
    let expected =
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865";
    let hex: String = okm.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, expected);
}

#[test]
fn task_id_is_sha256_of_the_config() {
    let bytes = b"\x01x";
    assert_eq!(
        task_id_of(bytes).as_bytes(),
        &<[u8; 32]>::from(Sha256::digest(bytes))
    );
}

#[test]
fn verify_key_init_text_form_and_redaction() {
    let init = VerifyKeyInit::new([0xfb; 32]);
    let text = init.to_base64url();
    assert_eq!(text.len(), 43);
    assert_eq!(text.parse::<VerifyKeyInit>().unwrap(), init);
    let json = serde_json::to_string(&init).unwrap();
    assert_eq!(serde_json::from_str::<VerifyKeyInit>(&json).unwrap(), init);
    assert_eq!(format!("{init:?}"), "VerifyKeyInit(<redacted>)");
    assert!("AAAA".parse::<VerifyKeyInit>().is_err());
    assert!("not base64!".parse::<VerifyKeyInit>().is_err());
}

/// The same inputs encoded by janus_messages 0.7: the bytes and hence the
/// derived task ID agree.
#[test]
fn task_config_bytes_and_task_id_match_janus() {
    use dyad_messages::codec::Encode as _;
    use dyad_messages::draft09::Url;
    use dyad_messages::draft09::{Duration, Time};
    use dyad_messages::taskprov as dt;
    use janus_messages::codec::Encode as _;
    use janus_messages::taskprov as jt;

    let cases: Vec<(dt::QueryTypeConfig, jt::Query, dt::VdafType, jt::VdafType)> = vec![
        (
            dt::QueryTypeConfig::TimeInterval,
            jt::Query::TimeInterval,
            dt::VdafType::Prio3Count,
            jt::VdafType::Prio3Count,
        ),
        (
            dt::QueryTypeConfig::FixedSize { max_batch_size: 0 },
            jt::Query::FixedSize { max_batch_size: 0 },
            dt::VdafType::Prio3Histogram {
                length: 10,
                chunk_length: 3,
            },
            jt::VdafType::Prio3Histogram {
                length: 10,
                chunk_length: 3,
            },
        ),
        (
            dt::QueryTypeConfig::FixedSize { max_batch_size: 50 },
            jt::Query::FixedSize { max_batch_size: 50 },
            dt::VdafType::Poplar1 { bits: 16 },
            jt::VdafType::Poplar1 { bits: 16 },
        ),
    ];
    for (query, janus_query, vdaf, janus_vdaf) in cases {
        let ours = dt::TaskConfig {
            task_info: b"pinned task".to_vec(),
            leader_aggregator_endpoint: Url::try_from("https://leader.example/").unwrap(),
            helper_aggregator_endpoint: Url::try_from("https://helper.example/").unwrap(),
            query_config: dt::QueryConfig {
                time_precision: Duration::from_seconds(3600),
                max_batch_query_count: 1,
                min_batch_size: 10,
                query,
            },
            task_expiration: Time::from_seconds_since_epoch(2_000_000_000),
            vdaf_config: dt::VdafConfig::new(dt::DpConfig::new(dt::DpMechanism::None), vdaf),
        };
        let theirs = jt::TaskConfig::new(
            b"pinned task".to_vec(),
            janus_messages::Url::try_from(b"https://leader.example/".as_slice()).unwrap(),
            janus_messages::Url::try_from(b"https://helper.example/".as_slice()).unwrap(),
            jt::QueryConfig::new(
                janus_messages::Duration::from_seconds(3600),
                1,
                10,
                janus_query,
            ),
            janus_messages::Time::from_seconds_since_epoch(2_000_000_000),
            jt::VdafConfig::new(jt::DpConfig::new(jt::DpMechanism::None), janus_vdaf).unwrap(),
        )
        .unwrap();
        let (our_bytes, their_bytes) = (ours.get_encoded().unwrap(), theirs.get_encoded().unwrap());
        assert_eq!(our_bytes, their_bytes);
        let their_id = janus_messages::TaskId::from(<[u8; 32]>::from(Sha256::digest(&their_bytes)));
        assert_eq!(
            task_id_of(&our_bytes).as_bytes(),
            AsRef::<[u8; 32]>::as_ref(&their_id)
        );
    }
}
