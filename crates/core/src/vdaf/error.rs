//! Errors of the VDAF catalogue: [`VdafInstanceError`] for a VDAF description
//! that is malformed or names invalid parameters, and [`VdafRunError`] for a
//! failure while running a catalogued VDAF (a measurement of the wrong shape,
//! or an error from `prio` itself).
//!
//! # Where is
//!
//! - the known types named in the unknown-type message ->
//!   [`VdafInstanceError::UnknownType`], from
//!   [`VDAF_TYPES`](super::VDAF_TYPES);
//! - a value that does not fit its VDAF -> [`VdafRunError::mismatch`].

/// A VDAF description that dyad cannot use: an unknown type, a missing or
/// malformed parameter, or parameters the VDAF does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VdafInstanceError {
    /// The object has no `type` member.
    #[error("VDAF object has no \"type\" member")]
    MissingType,

    /// The `type` names no VDAF dyad supports.
    #[error(
        "unknown VDAF type {:?} (known types: {})",
        .0,
        super::type_names::VDAF_TYPES.join(", ")
    )]
    UnknownType(String),

    /// A parameter the VDAF needs is absent.
    #[error("{vdaf}: missing parameter {param:?}")]
    MissingParameter {
        vdaf: &'static str,
        param: &'static str,
    },

    /// A member that is not a parameter of this VDAF.
    #[error("{vdaf}: unexpected parameter {param:?}")]
    UnexpectedParameter { vdaf: &'static str, param: String },

    /// A parameter that is not a non-negative base-10 integer.
    #[error("{vdaf}: parameter {param:?} must be a non-negative base-10 integer, got {value:?}")]
    NotAnInteger {
        vdaf: &'static str,
        param: &'static str,
        value: String,
    },

    /// A parameter outside the range the VDAF allows.
    #[error("{vdaf}: parameter {param:?} = {value} is out of range: {reason}")]
    OutOfRange {
        vdaf: &'static str,
        param: &'static str,
        value: u64,
        reason: String,
    },

    /// Parameters that are each in range but that `prio` rejects together.
    #[error("{vdaf}: parameters rejected: {reason}")]
    Rejected { vdaf: &'static str, reason: String },

    /// Text that is not a VDAF object at all (for example, not JSON).
    #[error("malformed VDAF object: {0}")]
    Malformed(String),
}

/// A failure while running a catalogued VDAF.
#[derive(Debug, thiserror::Error)]
pub enum VdafRunError {
    /// A measurement, aggregation parameter or result that does not fit the VDAF.
    #[error("{vdaf}: {reason}")]
    Mismatch { vdaf: &'static str, reason: String },

    /// An error from the VDAF implementation.
    #[error(transparent)]
    Vdaf(#[from] prio::vdaf::VdafError),

    /// An error encoding or decoding a VDAF message.
    #[error("VDAF message codec: {0}")]
    Codec(#[from] prio::codec::CodecError),

    /// An error in the ping-pong topology (VDAF-08 section 5.8).
    #[error(transparent)]
    PingPong(#[from] prio::topology::ping_pong::PingPongError),
}

impl VdafRunError {
    pub(crate) fn mismatch(vdaf: &'static str, reason: impl Into<String>) -> Self {
        VdafRunError::Mismatch {
            vdaf,
            reason: reason.into(),
        }
    }
}
