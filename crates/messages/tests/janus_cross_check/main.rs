//! Wire compatibility with an independent DAP-09 implementation,
//! `janus_messages` 0.7 (Janus, ISRG's aggregator), for every message.
//!
//! For each type, proptest draws inputs; dyad builds its value and Janus
//! builds its own from the same inputs ([`convert`]). Then:
//!
//! 1. dyad encodes → Janus decodes (to the value Janus built) → Janus
//!    re-encodes → the bytes are dyad's;
//! 2. Janus encodes → dyad decodes (to the value dyad built) → dyad
//!    re-encodes → the bytes are Janus's.
//!
//! Inputs are restricted to what Janus can represent (see [`strategies`]);
//! where Janus departs from the spec, [`deviations`] pins the difference.

mod aggregation;
mod collection;
mod convert;
mod deviations;
mod strategies;
mod taskprov;
mod upload;

use dyad_messages::codec::{Decode as DyadDecode, Encode as DyadEncode};
use janus_messages::codec::{Decode as JanusDecode, Encode as JanusEncode};
use proptest::prelude::*;
use std::fmt::Debug;

/// Both directions of the cross-check for one dyad value and the Janus value
/// built from the same inputs.
pub fn check<D, J>(dyad: &D, janus: &J) -> Result<(), TestCaseError>
where
    D: DyadEncode + DyadDecode + PartialEq + Debug,
    J: JanusEncode + JanusDecode + PartialEq + Debug,
{
    // dyad -> Janus -> bytes.
    let dyad_bytes = DyadEncode::get_encoded(dyad)
        .map_err(|e| TestCaseError::fail(format!("dyad cannot encode {dyad:?}: {e}")))?;
    let janus_decoded = <J as JanusDecode>::get_decoded(&dyad_bytes)
        .map_err(|e| TestCaseError::fail(format!("Janus cannot decode dyad's {dyad:?}: {e}")))?;
    prop_assert_eq!(
        &janus_decoded,
        janus,
        "Janus decoded dyad's bytes to another value"
    );
    let janus_reencoded = JanusEncode::get_encoded(&janus_decoded)
        .map_err(|e| TestCaseError::fail(format!("Janus cannot re-encode: {e}")))?;
    prop_assert_eq!(
        &janus_reencoded,
        &dyad_bytes,
        "Janus re-encoded differently"
    );

    // Janus -> dyad -> bytes.
    let janus_bytes = JanusEncode::get_encoded(janus)
        .map_err(|e| TestCaseError::fail(format!("Janus cannot encode {janus:?}: {e}")))?;
    let dyad_decoded = <D as DyadDecode>::get_decoded(&janus_bytes)
        .map_err(|e| TestCaseError::fail(format!("dyad cannot decode Janus's {janus:?}: {e}")))?;
    prop_assert_eq!(
        &dyad_decoded,
        dyad,
        "dyad decoded Janus's bytes to another value"
    );
    let dyad_reencoded = DyadEncode::get_encoded(&dyad_decoded)
        .map_err(|e| TestCaseError::fail(format!("dyad cannot re-encode: {e}")))?;
    prop_assert_eq!(&dyad_reencoded, &janus_bytes, "dyad re-encoded differently");
    Ok(())
}

/// A Janus value whose Rust type depends on the DAP query type.
pub enum ByQueryType<T, F> {
    TimeInterval(T),
    FixedSize(F),
}

/// [`check`] for a Janus value generic over the query type.
pub fn check_by_query_type<D, T, F>(
    dyad: &D,
    janus: &ByQueryType<T, F>,
) -> Result<(), TestCaseError>
where
    D: DyadEncode + DyadDecode + PartialEq + Debug,
    T: JanusEncode + JanusDecode + PartialEq + Debug,
    F: JanusEncode + JanusDecode + PartialEq + Debug,
{
    match janus {
        ByQueryType::TimeInterval(t) => check(dyad, t),
        ByQueryType::FixedSize(f) => check(dyad, f),
    }
}
