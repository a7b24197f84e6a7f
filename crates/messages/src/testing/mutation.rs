//! Malformed variants of a message, generated from its [`Layout`] (feature
//! `test-util`): truncations at every field boundary and inside every
//! field, trailing bytes, flipped bytes, wrong length prefixes (too short,
//! too long, the largest the prefix can express) and extreme values (times
//! 0 and 2^64-1, counts 0 and the maximum, other and unknown code points).
//!
//! Nothing here knows a particular message: a field added to a message's
//! description adds its mutations. The bad-input tests send each variant to
//! the endpoint that takes the message.

use super::layout::{Field, FieldKind, Layout};
use std::fmt;

/// The family of a mutation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MutationClass {
    /// The message cut short.
    Truncate,
    /// Bytes after the message's end.
    Extend,
    /// One byte inverted.
    Flip,
    /// A length prefix that disagrees with what follows.
    Length,
    /// An integer, time or duration at an extreme.
    Extreme,
    /// Another defined value, or an undefined one, of an enumeration.
    CodePoint,
}

impl fmt::Display for MutationClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MutationClass::Truncate => "truncate",
            MutationClass::Extend => "extend",
            MutationClass::Flip => "flip",
            MutationClass::Length => "length",
            MutationClass::Extreme => "extreme",
            MutationClass::CodePoint => "code point",
        })
    }
}

/// One malformed variant of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mutation {
    pub class: MutationClass,
    /// The field it changes (its path), or the message for trailing bytes.
    pub field: String,
    /// What was done, in words ("set to 2^64-1", "cut at byte 16").
    pub what: String,
    /// The mutated encoding.
    pub bytes: Vec<u8>,
    /// Whether no message of the type can decode from `bytes` (a truncation,
    /// trailing bytes, a length running past the end); the others may still
    /// decode, to a different message.
    pub never_decodes: bool,
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.class, self.field, self.what)
    }
}

/// Every mutation of the message laid out in `layout`, in a fixed order
/// (the same for two messages of the same shape).
pub fn mutations(layout: &Layout) -> Vec<Mutation> {
    let mut out = Vec::new();
    truncations(layout, &mut out);
    extensions(layout, &mut out);
    for field in &layout.fields {
        flips(layout, field, &mut out);
        match &field.kind {
            FieldKind::Length { width, .. } => lengths(layout, field, *width, &mut out),
            FieldKind::Uint { width } => {
                let max = max_of(*width);
                set_values(layout, field, &[(0, "0"), (max, "the maximum")], &mut out);
            }
            FieldKind::Time => set_values(layout, field, &TIME_EXTREMES, &mut out),
            FieldKind::Duration => set_values(layout, field, &DURATION_EXTREMES, &mut out),
            FieldKind::CodePoint { width, known } => {
                code_points(layout, field, *width, known, &mut out)
            }
            FieldKind::Fixed | FieldKind::Body => {}
        }
    }
    out
}

const TIME_EXTREMES: [(u64, &str); 4] = [
    (0, "0"),
    (i64::MAX as u64, "2^63-1"),
    (1 << 63, "2^63"),
    (u64::MAX, "2^64-1"),
];

const DURATION_EXTREMES: [(u64, &str); 4] =
    [(0, "0"), (1, "1"), (1 << 63, "2^63"), (u64::MAX, "2^64-1")];

fn max_of(width: usize) -> u64 {
    if width >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * width)) - 1
    }
}

fn read_uint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b))
}

fn with_uint(layout: &Layout, field: &Field, value: u64) -> Vec<u8> {
    let mut bytes = layout.bytes.clone();
    let be = value.to_be_bytes();
    bytes[field.offset..field.end()].copy_from_slice(&be[8 - field.len..]);
    bytes
}

/// Cuts at every field's start and inside every field longer than a byte;
/// the empty body is the cut at 0.
fn truncations(layout: &Layout, out: &mut Vec<Mutation>) {
    let mut seen = std::collections::BTreeSet::new();
    for field in &layout.fields {
        let mut cuts = vec![(field.offset, "at the field's start")];
        if field.len >= 2 {
            cuts.push((field.offset + field.len / 2, "inside the field"));
        }
        for (cut, where_) in cuts {
            if cut >= layout.bytes.len() || !seen.insert(cut) {
                continue;
            }
            out.push(Mutation {
                class: MutationClass::Truncate,
                field: field.path.clone(),
                what: format!("cut at byte {cut} of {}, {where_}", layout.bytes.len()),
                bytes: layout.bytes[..cut].to_vec(),
                never_decodes: true,
            });
        }
    }
}

fn extensions(layout: &Layout, out: &mut Vec<Mutation>) {
    for (tail, what) in [
        (vec![0u8], "one zero byte appended"),
        (vec![0xff; 16], "16 bytes 0xff appended"),
    ] {
        let mut bytes = layout.bytes.clone();
        bytes.extend_from_slice(&tail);
        out.push(Mutation {
            class: MutationClass::Extend,
            field: layout.message.to_owned(),
            what: what.to_owned(),
            bytes,
            never_decodes: true,
        });
    }
}

/// Inverts the field's first byte, and its last one if it has more.
fn flips(layout: &Layout, field: &Field, out: &mut Vec<Mutation>) {
    if field.len == 0 || matches!(field.kind, FieldKind::Length { .. }) {
        return;
    }
    let mut at = vec![(field.offset, "first")];
    if field.len >= 2 {
        at.push((field.end() - 1, "last"));
    }
    for (i, which) in at {
        let mut bytes = layout.bytes.clone();
        bytes[i] ^= 0xff;
        out.push(Mutation {
            class: MutationClass::Flip,
            field: field.path.clone(),
            what: format!("{which} byte inverted (byte {i})"),
            bytes,
            never_decodes: false,
        });
    }
}

/// A length prefix of 0, one short, one long and the largest its width
/// holds.
fn lengths(layout: &Layout, field: &Field, width: usize, out: &mut Vec<Mutation>) {
    let actual = read_uint(&layout.bytes[field.offset..field.end()]);
    let after = (layout.bytes.len() - field.end()) as u64;
    let mut values = vec![(0, "0".to_owned())];
    if actual > 0 {
        values.push((actual - 1, format!("{} (one short)", actual - 1)));
    }
    values.push((actual + 1, format!("{} (one long)", actual + 1)));
    let max = max_of(width);
    values.push((max, format!("{max} (the largest {width}-byte length)")));
    let mut seen = std::collections::BTreeSet::new();
    for (value, what) in values {
        if value == actual || value > max || !seen.insert(value) {
            continue;
        }
        out.push(Mutation {
            class: MutationClass::Length,
            field: field.path.clone(),
            what: format!("length {actual} set to {what}"),
            bytes: with_uint(layout, field, value),
            never_decodes: value > after,
        });
    }
}

fn set_values(layout: &Layout, field: &Field, values: &[(u64, &str)], out: &mut Vec<Mutation>) {
    let actual = read_uint(&layout.bytes[field.offset..field.end()]);
    for (value, name) in values {
        if *value == actual {
            continue;
        }
        out.push(Mutation {
            class: MutationClass::Extreme,
            field: field.path.clone(),
            what: format!("{actual} set to {name}"),
            bytes: with_uint(layout, field, *value),
            never_decodes: false,
        });
    }
}

/// Every other defined value, the smallest undefined one and the largest
/// the width holds (undefined unless the enumeration defines it).
fn code_points(
    layout: &Layout,
    field: &Field,
    width: usize,
    known: &[u64],
    out: &mut Vec<Mutation>,
) {
    let actual = read_uint(&layout.bytes[field.offset..field.end()]);
    let mut values: Vec<(u64, String)> = known
        .iter()
        .filter(|v| **v != actual)
        .map(|v| (*v, format!("{v} (another defined value)")))
        .collect();
    if let Some(unknown) = (0..=max_of(width)).find(|v| !known.contains(v)) {
        values.push((unknown, format!("{unknown} (undefined)")));
    }
    let max = max_of(width);
    if !known.contains(&max) && values.iter().all(|(v, _)| *v != max) {
        values.push((max, format!("{max} (undefined)")));
    }
    for (value, what) in values {
        out.push(Mutation {
            class: MutationClass::CodePoint,
            field: field.path.clone(),
            what: format!("{actual} set to {what}"),
            bytes: with_uint(layout, field, value),
            never_decodes: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Decode;
    use crate::draft09::{
        AggregateShareReq, AggregationJobContinueReq, AggregationJobInitReq, CollectionReq, Report,
    };
    use crate::testing::layout::{layout, Describe};
    use crate::testing::*;
    use crate::Encode;
    use proptest::prelude::*;

    /// Mutations said never to decode do not; every mutation changes the
    /// bytes; every field of the layout is mutated.
    fn check<T: Describe + Encode + Decode>(message: &T) {
        let layout = layout(message).unwrap();
        let all = mutations(&layout);
        for mutation in &all {
            assert_ne!(mutation.bytes, layout.bytes, "{mutation}");
            if mutation.never_decodes {
                assert!(T::get_decoded(&mutation.bytes).is_err(), "{mutation}");
            }
        }
        for field in layout.fields.iter().filter(|f| f.len > 0) {
            assert!(
                all.iter()
                    .any(|m| m.field == field.path && m.class != MutationClass::Truncate),
                "{} has no mutation",
                field.path
            );
        }
    }

    proptest! {
        #[test]
        fn mutations_of_every_request_are_what_they_claim(
            report in report(),
            collection_req in collection_req(),
            init in aggregation_job_init_req(),
            cont in aggregation_job_continue_req(),
            share in aggregate_share_req(),
            plaintext in plaintext_input_share(),
        ) {
            check::<crate::draft09::PlaintextInputShare>(&plaintext);
            check::<Report>(&report);
            check::<CollectionReq>(&collection_req);
            check::<AggregationJobInitReq>(&init);
            check::<AggregationJobContinueReq>(&cont);
            check::<AggregateShareReq>(&share);
        }
    }

    #[test]
    fn a_length_prefix_gets_short_long_and_absurd_values() {
        let share = AggregateShareReq {
            batch_selector: crate::draft09::BatchSelector::FixedSize(
                crate::draft09::BatchId::from_bytes([1; 32]),
            ),
            aggregation_parameter: vec![9; 3],
            report_count: 5,
            checksum: crate::draft09::ReportIdChecksum([2; 32]),
        };
        let layout = layout(&share).unwrap();
        let whats: Vec<String> = mutations(&layout)
            .into_iter()
            .filter(|m| m.class == MutationClass::Length)
            .map(|m| m.what)
            .collect();
        assert_eq!(
            whats,
            [
                "length 3 set to 0",
                "length 3 set to 2 (one short)",
                "length 3 set to 4 (one long)",
                "length 3 set to 4294967295 (the largest 4-byte length)",
            ]
        );
        let count = mutations(&layout)
            .into_iter()
            .filter(|m| m.field == "AggregateShareReq.report_count")
            .filter(|m| m.class == MutationClass::Extreme)
            .count();
        assert_eq!(count, 2);
    }
}
