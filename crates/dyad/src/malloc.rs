//! Bounds on the C allocator (glibc's malloc on Linux) of every dyad
//! process, set once at the start of `main`, before any other thread
//! exists.
//!
//! glibc gives threads that allocate at the same time arenas of their own
//! (up to eight per core) and keeps memory freed in each; and each time a
//! large block is freed it raises the size from which blocks are mapped
//! (and the size above which free memory is given back), so that later
//! large blocks come from arenas that are rarely trimmed. With dyad's many
//! threads (tokio's blocking pool opening HPKE ciphertexts, rayon, one
//! thread per SQLite connection), an aggregator's resident memory crept up
//! with the reports it had handled while its live heap did not (measured
//! with `dyad bench` at 10k and 100k reports). So dyad fixes both
//! thresholds at glibc's own starting value, 128 KiB (large blocks go back
//! to the system when freed), and keeps [`ARENAS_PER_CORE`] arenas per core
//! rather than glibc's eight.
//!
//! Not one arena per core, as dyad first did: with that many threads
//! sharing so few arenas, threads waited on each other's arena locks (futex
//! calls in the profile), and memory freed on another thread than the one
//! that allocated it took the owner's lock. With four per core, `dyad
//! bench` (SQLite, Prio3Count, 10k reports, 2 cores) stored 11.0-11.4k
//! reports/s end to end against 10.2-10.5k. Eight per core was about as
//! fast (11.3-11.9k, with 9 % less Leader CPU than one per core) but
//! peaked 3 MB higher; four keeps the peak within 2 MB of one per core.
//!
//! An operator's own `MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_` or
//! `MALLOC_TRIM_THRESHOLD_` (glibc's environment settings) wins: dyad then
//! leaves that one alone.

/// glibc's starting mmap and trim threshold, kept fixed.
const THRESHOLD_BYTES: i32 = 128 * 1024;

/// Arenas per core (glibc's own default is eight on 64-bit systems).
const ARENAS_PER_CORE: usize = 4;

/// One allocator setting dyad makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Knob {
    ArenaMax,
    MmapThreshold,
    TrimThreshold,
}

impl Knob {
    /// The environment variable through which an operator sets it.
    fn env(self) -> &'static str {
        match self {
            Knob::ArenaMax => "MALLOC_ARENA_MAX",
            Knob::MmapThreshold => "MALLOC_MMAP_THRESHOLD_",
            Knob::TrimThreshold => "MALLOC_TRIM_THRESHOLD_",
        }
    }
}

/// What to set on a machine of `cores` cores, leaving out what the
/// operator set (`operator_set` tells, by environment variable).
fn settings(cores: usize, operator_set: impl Fn(&str) -> bool) -> Vec<(Knob, i32)> {
    let arenas = i32::try_from(cores.max(1).saturating_mul(ARENAS_PER_CORE)).unwrap_or(i32::MAX);
    [
        (Knob::ArenaMax, arenas),
        (Knob::MmapThreshold, THRESHOLD_BYTES),
        (Knob::TrimThreshold, THRESHOLD_BYTES),
    ]
    .into_iter()
    .filter(|(knob, _)| !operator_set(knob.env()))
    .collect()
}

/// Applies the bounds (glibc on Linux; elsewhere nothing). Call first
/// thing in `main`.
pub fn bound() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let wanted = settings(cores, |name| std::env::var_os(name).is_some());
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for (knob, value) in wanted {
        let param = match knob {
            Knob::ArenaMax => libc::M_ARENA_MAX,
            Knob::MmapThreshold => libc::M_MMAP_THRESHOLD,
            Knob::TrimThreshold => libc::M_TRIM_THRESHOLD,
        };
        // SAFETY: mallopt only changes the allocator's parameters; it is
        // called before this process starts any other thread.
        unsafe {
            libc::mallopt(param, value);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = wanted;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_arenas_per_core_and_fixed_thresholds_by_default() {
        assert_eq!(
            settings(2, |_| false),
            vec![
                (Knob::ArenaMax, 8),
                (Knob::MmapThreshold, 128 * 1024),
                (Knob::TrimThreshold, 128 * 1024),
            ]
        );
        assert_eq!(settings(0, |_| false)[0], (Knob::ArenaMax, 4));
        assert_eq!(
            settings(usize::MAX, |_| false)[0],
            (Knob::ArenaMax, i32::MAX)
        );
    }

    #[test]
    fn what_the_operator_set_in_the_environment_is_left_alone() {
        let set = settings(8, |name| name == "MALLOC_ARENA_MAX");
        assert_eq!(
            set,
            vec![
                (Knob::MmapThreshold, 128 * 1024),
                (Knob::TrimThreshold, 128 * 1024),
            ]
        );
        assert!(settings(8, |_| true).is_empty());
    }
}
