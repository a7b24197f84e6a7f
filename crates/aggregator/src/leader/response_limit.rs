//! How much of a Helper's answer the Leader reads, and reading it.
//!
//! A Helper that answers more than its request can legitimately produce is
//! broken or hostile; without a cap it could make the Leader buffer
//! anything it likes. Each request therefore gets a cap derived from what
//! its answer can hold, and bodies are read chunk by chunk, stopping (and
//! dropping the connection) as soon as the cap is passed, so the Leader
//! never holds more than the cap of one answer.
//!
//! - `AggregationJobResp` (DAP-09 sections 4.5.1.2 and 4.5.2.2): one
//!   `PrepareResp` per report of the request: a report ID, a tag and at
//!   most one ping-pong message (VDAF-08 section 5.8) carrying the Helper's
//!   prepare share and a prepare message. A prepare share has the size of
//!   the Leader's own (both are the same VDAF type) and a prepare message
//!   is no larger than the shares it combines; the request carries the
//!   Leader's messages (and, at init, the report shares too), so twice the
//!   request plus a per-report allowance bounds every legitimate answer.
//! - `AggregateShare` (section 4.6.2): one HPKE ciphertext of an aggregate
//!   share, which has the size of the Leader's share of the same batch.
//! - Error answers: a problem document, JSON text of a few hundred bytes.
//!
//! Every cap adds a fixed allowance for framing, so no legitimate answer
//! comes close to it.

use std::fmt;

/// Framing and slack added to every cap.
pub(crate) const FIXED_ALLOWANCE: usize = 64 * 1024;

/// Per-report slack for an `AggregationJobResp`: report ID (16), tag (1),
/// message length prefixes and tags, a prepare error, a prepare message.
pub(crate) const PER_REPORT_ALLOWANCE: usize = 256;

/// The most of an error answer read in search of a problem document.
pub(crate) const MAX_ERROR_BODY_LEN: usize = 64 * 1024;

/// The cap on the `AggregationJobResp` answering a request of
/// `request_len` encoded bytes about `report_count` reports.
pub(crate) fn aggregation_job_resp_cap(request_len: usize, report_count: usize) -> usize {
    request_len
        .saturating_mul(2)
        .saturating_add(report_count.saturating_mul(PER_REPORT_ALLOWANCE))
        .saturating_add(FIXED_ALLOWANCE)
}

/// The cap on the `AggregateShare` answering a request for a batch whose
/// Leader aggregate share encodes to `leader_share_len` bytes. The HPKE
/// encapsulated key (at most 133 bytes, P-521) and tag (16 bytes) fit in
/// the fixed allowance.
pub(crate) fn aggregate_share_cap(leader_share_len: usize) -> usize {
    leader_share_len
        .saturating_mul(2)
        .saturating_add(FIXED_ALLOWANCE)
}

/// A body that passed its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// The cap for this request.
    pub limit: usize,
    /// The length the Helper declared (`Content-Length`), if it did.
    pub declared: Option<u64>,
    /// What had been read when reading stopped.
    pub read: usize,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.declared {
            Some(declared) => write!(
                f,
                "the Helper's answer declares {declared} bytes, over this request's cap of {} bytes",
                self.limit
            ),
            None => write!(
                f,
                "the Helper's answer passed this request's cap of {} bytes ({} bytes read before stopping)",
                self.limit, self.read
            ),
        }
    }
}

/// Why a capped read failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    TooLarge(TooLarge),
    Transport(reqwest::Error),
}

/// Reads `response`'s body, failing as soon as it passes `limit` bytes (or
/// declares more). The time limit of the request covers the whole read, so
/// a body trickled slowly fails with a timeout.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    let declared = response.content_length();
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ReadError::TooLarge(TooLarge {
            limit,
            declared,
            read: 0,
        }));
    }
    let mut body = Vec::with_capacity(declared.map_or(0, |len| len as usize));
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge(TooLarge {
                limit,
                declared,
                read: body.len() + chunk.len(),
            }));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_grow_with_the_request_and_stay_bounded() {
        assert_eq!(aggregation_job_resp_cap(0, 0), FIXED_ALLOWANCE);
        assert_eq!(
            aggregation_job_resp_cap(1000, 10),
            2000 + 10 * PER_REPORT_ALLOWANCE + FIXED_ALLOWANCE
        );
        assert_eq!(aggregation_job_resp_cap(usize::MAX, usize::MAX), usize::MAX);
        assert_eq!(aggregate_share_cap(16), 32 + FIXED_ALLOWANCE);
    }

    #[test]
    fn too_large_states_the_sizes() {
        let declared = TooLarge {
            limit: 70000,
            declared: Some(200_000_000),
            read: 0,
        };
        assert!(declared.to_string().contains("200000000"));
        assert!(declared.to_string().contains("70000"));
        let streamed = TooLarge {
            limit: 70000,
            declared: None,
            read: 70100,
        };
        assert!(streamed.to_string().contains("70100 bytes read"));
    }
}
