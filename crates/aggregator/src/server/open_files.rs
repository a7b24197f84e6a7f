//! The process's open-file limit (`RLIMIT_NOFILE`): every connection is a
//! file descriptor, so `dyad serve` raises its soft limit to the hard limit
//! at start ([`raise_to_hard_limit`]) and, unless configured, serves at most
//! [`default_max_connections`] connections: the limit less room for the
//! datastore's connections, outgoing requests to the Helper, and files.

use std::io;

/// Descriptors kept for everything but incoming connections, besides the
/// datastore pool: outgoing connections to the Helper, the datastore's
/// files, logs, the listener.
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// The default maximum never exceeds this, whatever the limit: past it,
/// memory (tens of KiB per open connection) matters more than descriptors.
pub const MAX_DEFAULT_CONNECTIONS: u64 = 16_384;

/// The default maximum never falls below this.
pub const MIN_DEFAULT_CONNECTIONS: u64 = 64;

/// The maximum of a server whose limit was not looked at (in-process
/// servers, tests).
pub const FALLBACK_MAX_CONNECTIONS: usize = 1024;

/// A soft limit set when the hard limit is "unlimited" (which Linux does
/// not accept as a soft limit).
const UNLIMITED_TARGET: u64 = 1 << 20;

/// The open-file limits before and after [`raise_to_hard_limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenFileLimit {
    /// The soft limit found at start.
    pub soft_before: u64,
    /// The soft limit now in force.
    pub soft: u64,
    /// The hard limit.
    pub hard: u64,
}

/// The current soft and hard limits.
pub fn current() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` through a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((limit.rlim_cur, limit.rlim_max))
}

fn set_soft(soft: u64, hard: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads one `rlimit` through a valid pointer.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raises the soft limit to the hard limit (or to 2^20 when the hard
/// limit is unlimited). On failure the limits are unchanged.
pub fn raise_to_hard_limit() -> io::Result<OpenFileLimit> {
    let (soft_before, hard) = current()?;
    let target = if hard == libc::RLIM_INFINITY {
        UNLIMITED_TARGET
    } else {
        hard
    };
    if soft_before < target {
        set_soft(target, hard)?;
    }
    let (soft, hard) = current()?;
    Ok(OpenFileLimit {
        soft_before,
        soft,
        hard,
    })
}

/// The default connection maximum for a soft limit of `open_files`, with
/// `datastore_connections` in the datastore's pool.
pub fn default_max_connections(open_files: u64, datastore_connections: u64) -> usize {
    let reserved = RESERVED_DESCRIPTORS.saturating_add(datastore_connections);
    let available = open_files
        .saturating_sub(reserved)
        .clamp(MIN_DEFAULT_CONNECTIONS, MAX_DEFAULT_CONNECTIONS);
    usize::try_from(available).unwrap_or(FALLBACK_MAX_CONNECTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_maximum_leaves_room_and_stays_in_bounds() {
        assert_eq!(default_max_connections(1024, 8), 1024 - 256 - 8);
        assert_eq!(default_max_connections(20_000, 8), 16_384);
        assert_eq!(default_max_connections(100, 8), 64);
        assert_eq!(default_max_connections(u64::MAX, u64::MAX), 64);
    }

    #[test]
    fn raising_the_limit_reaches_the_hard_limit() {
        let raised = raise_to_hard_limit().unwrap();
        assert!(raised.soft >= raised.soft_before);
        let (soft, hard) = current().unwrap();
        assert_eq!((soft, hard), (raised.soft, raised.hard));
        if hard != libc::RLIM_INFINITY {
            assert_eq!(soft, hard);
        }
    }
}
