//! The HPKE application info string of DAP-09: a label naming the kind of
//! message, then the sender's and the recipient's `Role` as one byte each.
//!
//! - Input shares (section 4.4.2, "Upload Request", and section 4.5.1.3,
//!   "Input Share Decryption"): `"dap-09 input share" || 0x01 || server_role`,
//!   sent by the Client to the Leader (`0x02`) or the Helper (`0x03`).
//! - Aggregate shares (section 4.6.4, "Aggregate Share Encryption"):
//!   `"dap-09 aggregate share" || server_role || 0x00`, sent by an aggregator to
//!   the Collector.
//!
//! # Where is
//!
//! - the labels -> [`Label::as_bytes`]; the info string ->
//!   [`HpkeApplicationInfo::new`];
//! - an input share, from the Client to an aggregator ->
//!   [`HpkeApplicationInfo::input_share`]; an aggregate share, from an
//!   aggregator to the Collector -> [`HpkeApplicationInfo::aggregate_share`].

use dyad_messages::draft09::Role;

/// The message-kind part of the application info string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    /// A Client's input share for one aggregator (`"dap-09 input share"`).
    InputShare,
    /// An aggregator's aggregate share for the Collector
    /// (`"dap-09 aggregate share"`).
    AggregateShare,
}

impl Label {
    /// The label's bytes as they begin the application info string.
    pub fn as_bytes(&self) -> &'static [u8] {
        match self {
            Label::InputShare => b"dap-09 input share",
            Label::AggregateShare => b"dap-09 aggregate share",
        }
    }
}

/// The complete HPKE `info` parameter: label, sender role, recipient role.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HpkeApplicationInfo(Vec<u8>);

impl HpkeApplicationInfo {
    /// `label || sender || recipient`. Any roles are accepted, so that a
    /// message sealed for one pair of roles can be shown not to open for
    /// another; the protocol itself uses only the two forms below.
    pub fn new(label: Label, sender: Role, recipient: Role) -> Self {
        let label = label.as_bytes();
        let mut info = Vec::with_capacity(label.len() + 2);
        info.extend_from_slice(label);
        info.push(sender.as_u8());
        info.push(recipient.as_u8());
        Self(info)
    }

    /// The info for a Client's input share sealed to the aggregator
    /// `recipient` (DAP-09 sections 4.4.2 and 4.5.1.3).
    pub fn input_share(recipient: Role) -> Self {
        Self::new(Label::InputShare, Role::Client, recipient)
    }

    /// The info for an aggregate share sealed by the aggregator `sender` to
    /// the Collector (DAP-09 section 4.6.4).
    pub fn aggregate_share(sender: Role) -> Self {
        Self::new(Label::AggregateShare, sender, Role::Collector)
    }

    /// The bytes passed to HPKE as `info`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for HpkeApplicationInfo {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_share_info_bytes() {
        let info = HpkeApplicationInfo::input_share(Role::Helper);
        assert_eq!(info.as_bytes(), b"dap-09 input share\x01\x03");
        assert_eq!(
            info,
            HpkeApplicationInfo::new(Label::InputShare, Role::Client, Role::Helper)
        );
        assert_eq!(
            HpkeApplicationInfo::input_share(Role::Leader).as_bytes(),
            b"dap-09 input share\x01\x02"
        );
    }

    #[test]
    fn aggregate_share_info_bytes() {
        assert_eq!(
            HpkeApplicationInfo::aggregate_share(Role::Leader).as_bytes(),
            b"dap-09 aggregate share\x02\x00"
        );
        assert_eq!(
            HpkeApplicationInfo::new(Label::AggregateShare, Role::Helper, Role::Collector)
                .as_bytes(),
            b"dap-09 aggregate share\x03\x00"
        );
    }
}
