//! What the system tells `dyad bench` about a process or thread: peak and
//! current resident memory split into anonymous (heap, stacks) and
//! file-backed pages (`/proc/<pid>/status`), CPU time spent in user and
//! system mode (`/proc/<pid>/stat`), and the calling thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`). Each is `None` where the system does not
//! tell it (not Linux, or the process is gone). A [`MemoryWatch`] samples
//! processes' memory during a run, to keep the peaks of its anonymous and
//! file-backed parts (the system keeps only the peak of their sum).

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a [`MemoryWatch`] samples.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);

/// One process's memory as `/proc/<pid>/status` shows it, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// Peak resident set (`VmHWM`).
    pub peak_rss: u64,
    /// Resident anonymous pages now (`RssAnon`: heap, stacks).
    pub rss_anon: u64,
    /// Resident file-backed pages now (`RssFile`: the binary, libraries,
    /// memory-mapped files).
    pub rss_file: u64,
}

/// The memory of process `pid`.
pub fn memory_of(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with(name))?;
        let kib: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    };
    Some(Memory {
        peak_rss: field("VmHWM:")?,
        rss_anon: field("RssAnon:")?,
        rss_file: field("RssFile:")?,
    })
}

impl Memory {
    /// Each figure the larger of `self`'s and `other`'s.
    fn max(self, other: Memory) -> Memory {
        Memory {
            peak_rss: self.peak_rss.max(other.peak_rss),
            rss_anon: self.rss_anon.max(other.rss_anon),
            rss_file: self.rss_file.max(other.rss_file),
        }
    }
}

/// Samples the memory of some processes every [`SAMPLE_EVERY`] on a
/// background task (stopped when dropped), keeping each figure's peak.
pub struct MemoryWatch {
    pids: Vec<u32>,
    peaks: Arc<Mutex<Vec<Option<Memory>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl MemoryWatch {
    /// Starts watching `pids` (on the current tokio runtime).
    pub fn start(pids: Vec<u32>) -> Self {
        let peaks = Arc::new(Mutex::new(vec![None; pids.len()]));
        let task = tokio::spawn({
            let (pids, peaks) = (pids.clone(), peaks.clone());
            async move {
                let mut tick = tokio::time::interval(SAMPLE_EVERY);
                loop {
                    tick.tick().await;
                    sample(&pids, &peaks);
                }
            }
        });
        Self { pids, peaks, task }
    }

    /// Each process's peaks so far (sampled once more now), in the order
    /// of the pids given; `None` for a process never seen.
    pub fn peaks(&self) -> Vec<Option<Memory>> {
        sample(&self.pids, &self.peaks);
        self.peaks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Drop for MemoryWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn sample(pids: &[u32], peaks: &Mutex<Vec<Option<Memory>>>) {
    let mut peaks = peaks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (pid, peak) in pids.iter().zip(peaks.iter_mut()) {
        if let Some(now) = memory_of(*pid) {
            *peak = Some(peak.map_or(now, |seen| seen.max(now)));
        }
    }
}

/// CPU time (user + system, all threads) process `pid` has used so far,
/// in seconds.
pub fn cpu_secs_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_secs_in_stat(&stat, clock_ticks_per_sec()?)
}

/// `utime + stime` of a `/proc/<pid>/stat` line, in seconds. The command
/// name (field 2, in parentheses) may hold spaces and parentheses: the
/// fields are counted from after its last `)`.
fn cpu_secs_in_stat(stat: &str, ticks_per_sec: u64) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Field 3 (state) is the first after the name; utime and stime are
    // fields 14 and 15.
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / ticks_per_sec.max(1) as f64)
}

#[cfg(unix)]
fn clock_ticks_per_sec() -> Option<u64> {
    // SAFETY: sysconf reads a configuration value; no memory is passed.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0)
}

#[cfg(not(unix))]
fn clock_ticks_per_sec() -> Option<u64> {
    None
}

/// The machine's CPU time so far, all cores together, in seconds: busy
/// (user, nice, system, interrupts) and idle (idle and waiting on I/O).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MachineCpu {
    pub busy: f64,
    pub idle: f64,
}

/// The machine's CPU time so far (`/proc/stat`), where the system tells it.
pub fn machine_cpu_secs() -> Option<MachineCpu> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    machine_cpu_in_stat(&stat, clock_ticks_per_sec()?)
}

/// The `cpu` line (all cores) of a `/proc/stat` text: user, nice, system,
/// idle, iowait, irq, softirq, then fields older kernels lack (steal, time
/// the hypervisor gave another machine, is neither busy here nor idle).
fn machine_cpu_in_stat(stat: &str, ticks_per_sec: u64) -> Option<MachineCpu> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().ok())
        .collect::<Option<_>>()?;
    if ticks.len() < 7 {
        return None;
    }
    let seconds = |sum: u64| sum as f64 / ticks_per_sec.max(1) as f64;
    Some(MachineCpu {
        busy: seconds(ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]),
        idle: seconds(ticks[3] + ticks[4]),
    })
}

/// CPU time the calling thread has used so far, in seconds.
#[cfg(unix)]
pub fn thread_cpu_secs() -> Option<f64> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    (rc == 0).then_some(now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9)
}

#[cfg(not(unix))]
pub fn thread_cpu_secs() -> Option<f64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machines_busy_and_idle_time_come_from_the_all_cores_line() {
        let stat = "cpu  100 5 45 800 50 10 40 7 0 0\ncpu0 50 2 20 400 25 5 20 3 0 0\nintr 1\n";
        assert_eq!(
            machine_cpu_in_stat(stat, 100),
            Some(MachineCpu {
                busy: 2.0,
                idle: 8.5
            })
        );
        assert_eq!(machine_cpu_in_stat("cpu  1 2 3\n", 100), None);
        assert_eq!(machine_cpu_in_stat("intr 1\n", 100), None);
    }

    /// Some CPU work on the calling thread (a fixed amount: on a loaded
    /// machine its wall time may be far longer than its CPU time).
    fn work(rounds: u64) -> u64 {
        let mut x = 0u64;
        for _ in 0..rounds {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        x
    }

    #[test]
    fn memory_of_this_process_is_known_on_linux() {
        if cfg!(target_os = "linux") {
            let memory = memory_of(std::process::id()).unwrap();
            assert!(memory.peak_rss > 1024 * 1024, "{memory:?}");
            assert!(memory.rss_anon > 0, "{memory:?}");
            assert!(memory.rss_file > 0, "{memory:?}");
            assert!(memory.peak_rss >= memory.rss_anon, "{memory:?}");
        }
    }

    #[test]
    fn nothing_is_known_of_a_process_that_does_not_exist() {
        assert_eq!(memory_of(u32::MAX), None);
        assert_eq!(cpu_secs_of(u32::MAX), None);
    }

    #[tokio::test]
    async fn a_memory_watch_keeps_peaks_of_a_running_process_and_none_of_a_missing_one() {
        let watch = MemoryWatch::start(vec![std::process::id(), u32::MAX]);
        tokio::time::sleep(SAMPLE_EVERY * 2).await;
        let peaks = watch.peaks();
        assert_eq!(peaks.len(), 2);
        if cfg!(target_os = "linux") {
            let mine = peaks[0].unwrap();
            assert!(mine.rss_anon > 0 && mine.rss_file > 0, "{mine:?}");
        }
        assert_eq!(peaks[1], None);
    }

    #[test]
    fn cpu_time_of_this_process_is_positive_and_grows_with_work_on_linux() {
        if cfg!(target_os = "linux") {
            let pid = std::process::id();
            let before = cpu_secs_of(pid).unwrap();
            let started = std::time::Instant::now();
            // Clock ticks are coarse (10 ms): work until one passes.
            while cpu_secs_of(pid).unwrap() <= before {
                work(1_000_000);
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(60),
                    "no CPU time counted in a minute of work"
                );
            }
            assert!(before >= 0.0);
        }
    }

    #[test]
    fn thread_cpu_time_counts_this_threads_work_on_linux() {
        if cfg!(target_os = "linux") {
            let started = std::time::Instant::now();
            let before = thread_cpu_secs().unwrap();
            work(5_000_000);
            let spent = thread_cpu_secs().unwrap() - before;
            // Some CPU time, never more than the wall time it took.
            assert!(spent > 0.0, "{spent}");
            assert!(spent <= started.elapsed().as_secs_f64() + 0.001, "{spent}");
        }
    }

    #[test]
    fn stat_lines_are_read_after_the_command_name() {
        // A name with a space and a parenthesis; utime 250 and stime 50
        // ticks at 100 per second.
        let line = "42 (dyad (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1 0 0";
        assert_eq!(cpu_secs_in_stat(line, 100), Some(3.0));
        assert_eq!(cpu_secs_in_stat("42 (dyad) S 1", 100), None);
        assert_eq!(cpu_secs_in_stat("no name here", 100), None);
    }
}
