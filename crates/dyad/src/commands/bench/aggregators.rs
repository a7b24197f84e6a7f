//! The Leader and the Helper `dyad bench` measures: each a `dyad serve`
//! process of its own (this very binary), on its own datastore, with its
//! task stored before it starts, so that its CPU time and memory are its
//! own and the loader's are not counted in them ([`super::proc_stats`]
//! reads them by [`Aggregator::pid`]).
//!
//! The Leader runs every role (the DAP API, the job creator and both
//! drivers) from the start, as a deployment does: uploads and aggregation
//! overlap. Each process logs warnings to a file in the bench's folder.

use crate::commands::local_deployment::aggregator_yaml;
use anyhow::{bail, Context as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a process may take to answer on its port.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a process may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Which roles an aggregator process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Leader,
    Helper,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Leader => "leader",
            Part::Helper => "helper",
        }
    }

    fn roles(self) -> &'static str {
        match self {
            Part::Leader => {
                "aggregator, aggregation-job-creator, aggregation-job-driver, collection-job-driver"
            }
            Part::Helper => "aggregator",
        }
    }
}

/// A free loopback port (bound, read, released: the process binds it
/// again a moment later).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A running aggregator process, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Aggregator {
    part: Part,
    child: Child,
    log: PathBuf,
}

impl Aggregator {
    /// Starts `dyad serve` for `part` on `port` and `database`, with the
    /// datastore keys `keys` (encoded), and waits until it accepts
    /// connections.
    pub async fn start(
        part: Part,
        dir: &Path,
        port: u16,
        database: &str,
        keys: &str,
    ) -> anyhow::Result<Self> {
        let name = part.name();
        let config = dir.join(format!("{name}.yaml"));
        let listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        std::fs::write(
            &config,
            aggregator_yaml(Some(listen), database, part.roles()),
        )
        .with_context(|| format!("writing {}", config.display()))?;
        let log = dir.join(format!("{name}.log"));
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let exe = std::env::current_exe().context("finding the dyad binary")?;
        let child = Command::new(exe)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("DYAD_DATASTORE_KEYS", keys)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting the {name}"))?;
        let mut aggregator = Self { part, child, log };
        aggregator.wait_ready(port).await?;
        Ok(aggregator)
    }

    async fn wait_ready(&mut self, port: u16) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the {} exited ({status}) before serving; see {}",
                    self.part.name(),
                    self.log.display()
                );
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "the {} did not accept connections on port {port} within {} s; see {}",
                    self.part.name(),
                    START_TIMEOUT.as_secs(),
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process's ID, for what the system tells of it
    /// ([`super::proc_stats`]).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "the {} exited ({status}); see {}",
                self.part.name(),
                self.log.display()
            );
        }
        Ok(())
    }

    /// Stops the process: SIGTERM, then SIGKILL after [`STOP_TIMEOUT`].
    pub async fn stop(mut self) {
        self.stop_now().await;
    }

    async fn stop_now(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        terminate(&self.child);
        let started = Instant::now();
        while started.elapsed() < STOP_TIMEOUT {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Aggregator {
    fn drop(&mut self) {
        // Not stopped with `stop` (an error on the way): no process outlives
        // the bench.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Asks the process to stop (SIGTERM: `dyad serve` winds down).
fn terminate(child: &Child) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: sends a signal to our own child, which we have not waited
        // for yet, so its PID is still ours.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    #[cfg(not(unix))]
    let _ = child;
}
