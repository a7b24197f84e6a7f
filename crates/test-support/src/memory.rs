//! Resident memory figures of a process (`VmRSS`, `VmHWM`, in KiB), read
//! from `/proc/<pid>/status` (Linux).

/// The figure `field` (e.g. `VmHWM`) of this process, in KiB.
pub fn own_kib(field: &str) -> u64 {
    status_kib("/proc/self/status", field)
}

/// The figure `field` of process `pid`, in KiB.
pub fn process_kib(pid: u32, field: &str) -> u64 {
    status_kib(&format!("/proc/{pid}/status"), field)
}

fn status_kib(path: &str, field: &str) -> u64 {
    let status =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("reading {path}: {error}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_processs_figures() {
        let rss = own_kib("VmRSS");
        assert!(rss > 0);
        assert!(own_kib("VmHWM") >= rss);
        assert!(process_kib(std::process::id(), "VmHWM") > 0);
    }
}
