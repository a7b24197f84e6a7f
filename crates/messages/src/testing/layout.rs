//! The field layout of a request message (feature `test-util`): where each
//! field of an encoded message starts and ends, what kind of value it holds
//! (integer, time, code point, length prefix, opaque bytes), and the path
//! of structures and fields that leads to it.
//!
//! Each message describes itself ([`Describe`]) field by field with the
//! values it holds; [`layout`] checks that the description yields exactly
//! the message's encoding, so a field added to a message but not to its
//! description fails the layout tests (which run over every message the
//! proptest strategies generate). [`super::mutation`] turns a layout into
//! the malformed variants of the message that the bad-input tests send.

use crate::codec::{Encode, LengthWidth};
use crate::draft09::{
    AggregateShareReq, AggregationJobContinueReq, AggregationJobInitReq, BatchSelector,
    CollectionReq, Extension, FixedSizeQuery, HpkeCiphertext, Interval, PartialBatchSelector,
    PlaintextInputShare, PrepareContinue, PrepareInit, Query, QueryType, Report, ReportMetadata,
    ReportShare,
};

/// What a field holds, which decides how it is mutated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A `uintN` that counts or numbers something (a report count, a step,
    /// an HPKE configuration ID), `width` bytes.
    Uint { width: usize },
    /// A `Time`: seconds since the epoch, `uint64`.
    Time,
    /// A `Duration`: seconds, `uint64`.
    Duration,
    /// An enumerated code point of `width` bytes whose defined values are
    /// `known` (others do not decode).
    CodePoint { width: usize, known: &'static [u64] },
    /// The length prefix of the variable-length field that follows; the
    /// spec's minimum length is `min`.
    Length { width: usize, min: usize },
    /// Opaque bytes of a fixed length (identifiers, checksums).
    Fixed,
    /// The contents of a variable-length opaque field.
    Body,
}

/// One field of an encoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// `Message.field.subfield`, with `[i]` for the items of a vector.
    pub path: String,
    /// Where the field starts in the encoding.
    pub offset: usize,
    /// How many bytes it spans.
    pub len: usize,
    pub kind: FieldKind,
}

impl Field {
    /// One past the field's last byte.
    pub fn end(&self) -> usize {
        self.offset + self.len
    }
}

/// An encoded message and its fields, in encoding order (a vector's length
/// prefix comes before its items' fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub message: &'static str,
    pub bytes: Vec<u8>,
    pub fields: Vec<Field>,
}

/// A message that can describe its encoding field by field.
pub trait Describe {
    /// The structure's name in DAP-09.
    const NAME: &'static str;

    /// Writes every field of `self`, in encoding order, to `d`.
    fn describe(&self, d: &mut Describer);
}

/// Collects the fields of a message as it describes itself.
#[derive(Debug, Default)]
pub struct Describer {
    bytes: Vec<u8>,
    fields: Vec<Field>,
    path: Vec<String>,
}

impl Describer {
    fn push(&mut self, name: &str, kind: FieldKind, bytes: &[u8]) {
        let mut path = self.path.join(".");
        path.push('.');
        path.push_str(name);
        self.fields.push(Field {
            path,
            offset: self.bytes.len(),
            len: bytes.len(),
            kind,
        });
        self.bytes.extend_from_slice(bytes);
    }

    /// A `uintN` of `width` bytes.
    pub fn uint(&mut self, name: &str, width: usize, value: u64) {
        let bytes = value.to_be_bytes();
        self.push(name, FieldKind::Uint { width }, &bytes[8 - width..]);
    }

    /// A `Time`.
    pub fn time(&mut self, name: &str, seconds: u64) {
        self.push(name, FieldKind::Time, &seconds.to_be_bytes());
    }

    /// A `Duration`.
    pub fn duration(&mut self, name: &str, seconds: u64) {
        self.push(name, FieldKind::Duration, &seconds.to_be_bytes());
    }

    /// An enumerated code point.
    pub fn code_point(&mut self, name: &str, width: usize, known: &'static [u64], value: u64) {
        let bytes = value.to_be_bytes();
        self.push(
            name,
            FieldKind::CodePoint { width, known },
            &bytes[8 - width..],
        );
    }

    /// Fixed-length opaque bytes.
    pub fn fixed(&mut self, name: &str, bytes: &[u8]) {
        self.push(name, FieldKind::Fixed, bytes);
    }

    /// `opaque name<min..2^(8*width)-1>`: a length prefix, then the body.
    pub fn opaque(&mut self, name: &str, width: LengthWidth, min: usize, bytes: &[u8]) {
        let width = width_bytes(width);
        let prefix = (bytes.len() as u64).to_be_bytes();
        self.push(name, FieldKind::Length { width, min }, &prefix[8 - width..]);
        self.push(name, FieldKind::Body, bytes);
    }

    /// `T name<min..2^(8*width)-1>`: a length prefix counting bytes, then
    /// each item's fields under `name[i]`.
    pub fn vec<T: Describe>(&mut self, name: &str, width: LengthWidth, min: usize, items: &[T]) {
        let width = width_bytes(width);
        let prefix_field = self.fields.len();
        let prefix_at = self.bytes.len();
        self.push(name, FieldKind::Length { width, min }, &vec![0; width]);
        for (i, item) in items.iter().enumerate() {
            self.nested(&format!("{name}[{i}]"), item);
        }
        let body_len = (self.bytes.len() - prefix_at - width) as u64;
        self.bytes[prefix_at..prefix_at + width]
            .copy_from_slice(&body_len.to_be_bytes()[8 - width..]);
        debug_assert_eq!(self.fields[prefix_field].offset, prefix_at);
    }

    /// A structure inside this one.
    pub fn nested<T: Describe + ?Sized>(&mut self, name: &str, value: &T) {
        self.path.push(name.to_owned());
        value.describe(self);
        self.path.pop();
    }
}

fn width_bytes(width: LengthWidth) -> usize {
    match width {
        LengthWidth::U8 => 1,
        LengthWidth::U16 => 2,
        LengthWidth::U32 => 4,
    }
}

/// The layout of `message`, or why its description and its encoding
/// disagree (a field missing from the description, or out of order).
pub fn layout<T: Describe + Encode>(message: &T) -> Result<Layout, String> {
    let encoded = message
        .get_encoded()
        .map_err(|e| format!("{} does not encode: {e}", T::NAME))?;
    let mut d = Describer {
        path: vec![T::NAME.to_owned()],
        ..Describer::default()
    };
    message.describe(&mut d);
    if d.bytes != encoded {
        let at = d
            .bytes
            .iter()
            .zip(&encoded)
            .position(|(a, b)| a != b)
            .unwrap_or(d.bytes.len().min(encoded.len()));
        return Err(format!(
            "the description of {} differs from its encoding at byte {at} \
             (described {} bytes, encoded {}): update its `Describe` impl",
            T::NAME,
            d.bytes.len(),
            encoded.len()
        ));
    }
    Ok(Layout {
        message: T::NAME,
        bytes: d.bytes,
        fields: d.fields,
    })
}

const QUERY_TYPES: &[u64] = &[QueryType::TimeInterval as u64, QueryType::FixedSize as u64];
/// `FixedSizeQueryType`: `by_batch_id(0)`, `current_batch(1)`.
const FIXED_SIZE_QUERY_TYPES: &[u64] = &[0, 1];

/// `ExtensionType` values DAP-09 and taskprov define (`reserved(0)`,
/// `taskprov(0xff00)`); the registry is open, so others still decode.
const EXTENSION_TYPES: &[u64] = &[0, 0xff00];

impl Describe for Extension {
    const NAME: &'static str = "Extension";
    fn describe(&self, d: &mut Describer) {
        d.code_point(
            "extension_type",
            2,
            EXTENSION_TYPES,
            u64::from(self.extension_type.as_u16()),
        );
        d.opaque("extension_data", LengthWidth::U16, 0, &self.extension_data);
    }
}

impl Describe for PlaintextInputShare {
    const NAME: &'static str = "PlaintextInputShare";
    fn describe(&self, d: &mut Describer) {
        d.vec("extensions", LengthWidth::U16, 0, &self.extensions);
        d.opaque("payload", LengthWidth::U32, 0, &self.payload);
    }
}

impl Describe for ReportMetadata {
    const NAME: &'static str = "ReportMetadata";
    fn describe(&self, d: &mut Describer) {
        d.fixed("report_id", self.id.as_bytes());
        d.time("time", self.time.as_seconds_since_epoch());
    }
}

impl Describe for HpkeCiphertext {
    const NAME: &'static str = "HpkeCiphertext";
    fn describe(&self, d: &mut Describer) {
        d.uint("config_id", 1, u64::from(self.config_id.0));
        d.opaque("enc", LengthWidth::U16, 1, &self.encapsulated_key);
        d.opaque("payload", LengthWidth::U32, 1, &self.payload);
    }
}

impl Describe for Report {
    const NAME: &'static str = "Report";
    fn describe(&self, d: &mut Describer) {
        d.nested("report_metadata", &self.metadata);
        d.opaque("public_share", LengthWidth::U32, 0, &self.public_share);
        d.nested(
            "leader_encrypted_input_share",
            &self.leader_encrypted_input_share,
        );
        d.nested(
            "helper_encrypted_input_share",
            &self.helper_encrypted_input_share,
        );
    }
}

impl Describe for Interval {
    const NAME: &'static str = "Interval";
    fn describe(&self, d: &mut Describer) {
        d.time("start", self.start().as_seconds_since_epoch());
        d.duration("duration", self.duration().as_seconds());
    }
}

impl Describe for Query {
    const NAME: &'static str = "Query";
    fn describe(&self, d: &mut Describer) {
        d.code_point("query_type", 1, QUERY_TYPES, self.query_type() as u64);
        match self {
            Query::TimeInterval(interval) => d.nested("batch_interval", interval),
            Query::FixedSize(FixedSizeQuery::ByBatchId(batch_id)) => {
                d.code_point("fixed_size_query.query_type", 1, FIXED_SIZE_QUERY_TYPES, 0);
                d.fixed("fixed_size_query.batch_id", batch_id.as_bytes());
            }
            Query::FixedSize(FixedSizeQuery::CurrentBatch) => {
                d.code_point("fixed_size_query.query_type", 1, FIXED_SIZE_QUERY_TYPES, 1);
            }
        }
    }
}

impl Describe for CollectionReq {
    const NAME: &'static str = "CollectionReq";
    fn describe(&self, d: &mut Describer) {
        d.nested("query", &self.query);
        d.opaque(
            "agg_param",
            LengthWidth::U32,
            0,
            &self.aggregation_parameter,
        );
    }
}

impl Describe for PartialBatchSelector {
    const NAME: &'static str = "PartialBatchSelector";
    fn describe(&self, d: &mut Describer) {
        d.code_point("query_type", 1, QUERY_TYPES, self.query_type() as u64);
        if let PartialBatchSelector::FixedSize(batch_id) = self {
            d.fixed("batch_id", batch_id.as_bytes());
        }
    }
}

impl Describe for BatchSelector {
    const NAME: &'static str = "BatchSelector";
    fn describe(&self, d: &mut Describer) {
        d.code_point("query_type", 1, QUERY_TYPES, self.query_type() as u64);
        match self {
            BatchSelector::TimeInterval(interval) => d.nested("batch_interval", interval),
            BatchSelector::FixedSize(batch_id) => d.fixed("batch_id", batch_id.as_bytes()),
        }
    }
}

impl Describe for ReportShare {
    const NAME: &'static str = "ReportShare";
    fn describe(&self, d: &mut Describer) {
        d.nested("report_metadata", &self.metadata);
        d.opaque("public_share", LengthWidth::U32, 0, &self.public_share);
        d.nested("encrypted_input_share", &self.encrypted_input_share);
    }
}

impl Describe for PrepareInit {
    const NAME: &'static str = "PrepareInit";
    fn describe(&self, d: &mut Describer) {
        d.nested("report_share", &self.report_share);
        d.opaque("payload", LengthWidth::U32, 0, &self.payload);
    }
}

impl Describe for AggregationJobInitReq {
    const NAME: &'static str = "AggregationJobInitReq";
    fn describe(&self, d: &mut Describer) {
        d.opaque(
            "agg_param",
            LengthWidth::U32,
            0,
            &self.aggregation_parameter,
        );
        d.nested("part_batch_selector", &self.partial_batch_selector);
        d.vec("prepare_inits", LengthWidth::U32, 1, &self.prepare_inits);
    }
}

impl Describe for PrepareContinue {
    const NAME: &'static str = "PrepareContinue";
    fn describe(&self, d: &mut Describer) {
        d.fixed("report_id", self.report_id.as_bytes());
        d.opaque("payload", LengthWidth::U32, 0, &self.payload);
    }
}

impl Describe for AggregationJobContinueReq {
    const NAME: &'static str = "AggregationJobContinueReq";
    fn describe(&self, d: &mut Describer) {
        d.uint("step", 2, u64::from(self.step.0));
        d.vec(
            "prepare_continues",
            LengthWidth::U32,
            1,
            &self.prepare_continues,
        );
    }
}

impl Describe for AggregateShareReq {
    const NAME: &'static str = "AggregateShareReq";
    fn describe(&self, d: &mut Describer) {
        d.nested("batch_selector", &self.batch_selector);
        d.opaque(
            "agg_param",
            LengthWidth::U32,
            0,
            &self.aggregation_parameter,
        );
        d.uint("report_count", 8, self.report_count);
        d.fixed("checksum", &self.checksum.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use proptest::prelude::*;

    /// Every field lies inside the encoding, and the fields that are not
    /// length prefixes of vectors tile it: no byte is left undescribed.
    fn assert_tiles(layout: &Layout) {
        let mut covered = vec![0u32; layout.bytes.len()];
        for field in &layout.fields {
            assert!(field.end() <= layout.bytes.len(), "{field:?}");
            for byte in &mut covered[field.offset..field.end()] {
                *byte += 1;
            }
        }
        assert!(
            covered.iter().all(|c| *c == 1),
            "{}: bytes covered {covered:?}",
            layout.message
        );
    }

    fn check<T: Describe + Encode>(message: &T) {
        let layout = layout(message).unwrap();
        assert_tiles(&layout);
    }

    proptest! {
        #[test]
        fn descriptions_match_the_encoding_of_every_request(
            report in report(),
            collection_req in collection_req(),
            init in aggregation_job_init_req(),
            cont in aggregation_job_continue_req(),
            share in aggregate_share_req(),
            plaintext in plaintext_input_share(),
        ) {
            check(&plaintext);
            check(&report);
            check(&collection_req);
            check(&init);
            check(&cont);
            check(&share);
        }
    }

    #[test]
    fn fields_are_named_by_their_path() {
        let report = Report::new(
            ReportMetadata::new(
                crate::draft09::ReportId::from_bytes([1; 16]),
                crate::draft09::Time::from_seconds_since_epoch(7),
            ),
            vec![],
            HpkeCiphertext {
                config_id: crate::draft09::HpkeConfigId(1),
                encapsulated_key: vec![2; 3],
                payload: vec![3; 4],
            },
            HpkeCiphertext {
                config_id: crate::draft09::HpkeConfigId(2),
                encapsulated_key: vec![4; 3],
                payload: vec![5; 4],
            },
        );
        let layout = layout(&report).unwrap();
        let time = &layout.fields[1];
        assert_eq!(time.path, "Report.report_metadata.time");
        assert_eq!(
            (time.offset, time.len, &time.kind),
            (16, 8, &FieldKind::Time)
        );
        let payload_len = &layout.fields[7];
        assert_eq!(
            payload_len.path,
            "Report.leader_encrypted_input_share.payload"
        );
        assert_eq!(payload_len.kind, FieldKind::Length { width: 4, min: 1 });
        assert_eq!(
            &layout.bytes[payload_len.offset..payload_len.end()],
            &[0, 0, 0, 4]
        );
    }
}
