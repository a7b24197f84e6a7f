//! `TaskConfig` (taskprov-06 section 3): the non-secret parameters of a task
//! provisioned in-band, and its transport in the `dap-taskprov` header.

use super::{QueryConfig, VdafConfig};
use crate::codec::{
    put_nested, put_opaque, Decode, DecodeContext, DecodeError, Encode, EncodeError, LengthWidth,
    Reader,
};
use crate::draft09::Url;
use crate::time::Time;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// `struct TaskConfig`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TaskConfig {
    /// `opaque task_info<1..2^8-1>`: deployment-specific information, such as
    /// a description of the task.
    pub task_info: Vec<u8>,
    /// `Url leader_aggregator_endpoint`.
    pub leader_aggregator_endpoint: Url,
    /// `Url helper_aggregator_endpoint`.
    pub helper_aggregator_endpoint: Url,
    /// `opaque query_config<1..2^16-1>`, holding a `QueryConfig`.
    pub query_config: QueryConfig,
    /// `Time task_expiration`.
    pub task_expiration: Time,
    /// `opaque vdaf_config<1..2^16-1>`, holding a `VdafConfig`.
    pub vdaf_config: VdafConfig,
}

/// A `dap-taskprov` header value that does not hold a `TaskConfig`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskprovHeaderError {
    #[error("dap-taskprov header is not base64url: {0}")]
    Base64(String),
    #[error("dap-taskprov header does not hold a TaskConfig: {0}")]
    Decode(#[from] DecodeError),
}

/// Unpadded base64url, but tolerant of padding on input.
const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl TaskConfig {
    /// The value of the `dap-taskprov` header: the encoded configuration in
    /// unpadded base64url (RFC 4648 sections 5 and 3.2).
    pub fn to_header_value(&self) -> Result<String, EncodeError> {
        Ok(URL_SAFE_NO_PAD.encode(self.get_encoded()?))
    }

    /// Parses a `dap-taskprov` header value. Returns the configuration and
    /// the encoded bytes, over which the task ID is computed. Padding is
    /// tolerated though the draft asks senders to omit it.
    pub fn from_header_value(value: &str) -> Result<(TaskConfig, Vec<u8>), TaskprovHeaderError> {
        let bytes = LENIENT_URL_SAFE
            .decode(value.trim())
            .map_err(|e| TaskprovHeaderError::Base64(e.to_string()))?;
        let config = TaskConfig::get_decoded(&bytes)?;
        Ok((config, bytes))
    }
}

impl Encode for TaskConfig {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        const S: &str = "TaskConfig";
        put_opaque(out, LengthWidth::U8, 1, &self.task_info, (S, "task_info"))?;
        self.leader_aggregator_endpoint.encode(out)?;
        self.helper_aggregator_endpoint.encode(out)?;
        put_nested(
            out,
            LengthWidth::U16,
            1,
            &self.query_config,
            (S, "query_config"),
        )?;
        self.task_expiration.encode(out)?;
        put_nested(
            out,
            LengthWidth::U16,
            1,
            &self.vdaf_config,
            (S, "vdaf_config"),
        )
    }
}

impl Decode for TaskConfig {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "TaskConfig";
        Ok(Self {
            task_info: r.opaque(LengthWidth::U8, 1).at(S, "task_info")?,
            leader_aggregator_endpoint: Url::decode(r).at(S, "leader_aggregator_endpoint")?,
            helper_aggregator_endpoint: Url::decode(r).at(S, "helper_aggregator_endpoint")?,
            query_config: r.nested(LengthWidth::U16, 1).at(S, "query_config")?,
            task_expiration: Time::decode(r).at(S, "task_expiration")?,
            vdaf_config: r.nested(LengthWidth::U16, 1).at(S, "vdaf_config")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::DecodeErrorKind;
    use crate::taskprov::{DpConfig, DpMechanism, QueryTypeConfig, VdafType};
    use crate::time::Duration;

    fn config() -> TaskConfig {
        TaskConfig {
            task_info: b"test task".to_vec(),
            leader_aggregator_endpoint: Url::try_from("https://leader.example/").unwrap(),
            helper_aggregator_endpoint: Url::try_from("https://helper.example/").unwrap(),
            query_config: QueryConfig {
                time_precision: Duration::from_seconds(60),
                max_batch_query_count: 1,
                min_batch_size: 10,
                query: QueryTypeConfig::FixedSize { max_batch_size: 20 },
            },
            task_expiration: Time::from_seconds_since_epoch(2_000_000_000),
            vdaf_config: VdafConfig::new(
                DpConfig::new(DpMechanism::None),
                VdafType::Prio3Histogram {
                    length: 4,
                    chunk_length: 2,
                },
            ),
        }
    }

    #[test]
    fn round_trips_through_bytes_and_header() {
        let c = config();
        let bytes = c.get_encoded().unwrap();
        assert_eq!(bytes[0], 9);
        assert_eq!(TaskConfig::get_decoded(&bytes).unwrap(), c);
        let header = c.to_header_value().unwrap();
        assert!(!header.contains('='));
        let (back, raw) = TaskConfig::from_header_value(&header).unwrap();
        assert_eq!(back, c);
        assert_eq!(raw, bytes);
    }

    #[test]
    fn header_parsing_tolerates_padding_and_rejects_garbage() {
        let mut bytes = config().get_encoded().unwrap();
        bytes.push(0); // make the length not a multiple of 3 either way
        let padded = base64::engine::general_purpose::URL_SAFE.encode(&bytes);
        let err = TaskConfig::from_header_value(&padded).unwrap_err();
        assert!(matches!(err, TaskprovHeaderError::Decode(_)));
        bytes.pop();
        let padded = base64::engine::general_purpose::URL_SAFE.encode(&bytes);
        assert!(TaskConfig::from_header_value(&padded).is_ok());
        assert!(matches!(
            TaskConfig::from_header_value("not base64!"),
            Err(TaskprovHeaderError::Base64(_))
        ));
    }

    #[test]
    fn empty_task_info_is_rejected() {
        let mut c = config();
        c.task_info.clear();
        assert!(c.get_encoded().is_err());
        let mut bytes = config().get_encoded().unwrap();
        bytes.drain(0..10);
        bytes.insert(0, 0);
        let err = TaskConfig::get_decoded(&bytes).unwrap_err();
        assert_eq!(err.location(), Some(("TaskConfig", "task_info")));
        assert!(matches!(
            err.kind(),
            DecodeErrorKind::LengthOutOfRange { .. }
        ));
    }

    #[test]
    fn query_config_must_fill_its_length_prefix() {
        let c = config();
        let mut bytes = c.get_encoded().unwrap();
        // Find query_config: after task_info (1+9) and the two Urls.
        let at = 10 + 2 + 23 + 2 + 23;
        assert_eq!(&bytes[at..at + 2], &[0, 19]);
        // Claim one byte more and insert a stray byte at the end of it.
        bytes[at + 1] = 20;
        bytes.insert(at + 2 + 19, 0xaa);
        let err = TaskConfig::get_decoded(&bytes).unwrap_err();
        assert_eq!(err.location(), Some(("TaskConfig", "query_config")));
        assert_eq!(err.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });
    }
}
