//! [`Server`]: one `dyad serve` process of a test, from its written
//! configuration to SIGTERM (or a kill on drop), with its log at hand.

use crate::process::{datastore_key, dyad_binary, free_port, WAIT};
use anyhow::{bail, ensure, Context as _};
use dyad_messages::draft09::TaskId;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;
use url::Url;

/// One `dyad serve` process. Killed (and reaped) on drop.
pub struct Server {
    name: &'static str,
    config: PathBuf,
    log: PathBuf,
    port: u16,
    /// With HTTPS: the PEM of the CA that signed the server's certificate.
    ca_pem: Option<Vec<u8>>,
    child: Option<Child>,
}

impl Server {
    /// Writes the serve config for `roles` into `dir` (datastore
    /// `dir/NAME.sqlite`); does not start the process.
    pub fn configure(dir: &Path, name: &'static str, roles: &[&str]) -> anyhow::Result<Self> {
        let port = free_port();
        let datastore = dir.join(format!("{name}.sqlite"));
        let yaml = format!(
            "listen_address: \"127.0.0.1:{port}\"\n\
             datastore: \"sqlite://{}\"\n\
             datastore_keys: [\"{}\"]\n\
             roles: [{}]\n\
             log: {{level: warn}}\n\
             collection_retry_after_secs: 1\n\
             aggregation_job_creator: {{ interval_ms: 200 }}\n\
             aggregation_job_driver: {{ interval_ms: 200, lease_duration_secs: 5, http_timeout_secs: 2 }}\n\
             collection_job_driver: {{ interval_ms: 200, lease_duration_secs: 5, http_timeout_secs: 2 }}\n",
            datastore.display(),
            datastore_key(),
            roles.join(", ")
        );
        let config = dir.join(format!("{name}.yaml"));
        std::fs::write(&config, yaml)?;
        Ok(Self {
            name,
            config,
            log: dir.join(format!("{name}.log")),
            port,
            ca_pem: None,
            child: None,
        })
    }

    /// `https://127.0.0.1:PORT/` once [`Server::serve_tls`] was called,
    /// `http://...` otherwise.
    pub fn url(&self) -> Url {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}/", self.port)
            .parse()
            .unwrap()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process ID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Serves HTTPS from the next [`Server::start`] on, with the PEM files
    /// `certificate_file` and `private_key_file` (the `tls` config key);
    /// `ca_pem` is the CA that signed the certificate, which
    /// [`Server::wait_ready`] trusts.
    pub fn serve_tls(
        &mut self,
        certificate_file: &Path,
        private_key_file: &Path,
        ca_pem: &[u8],
    ) -> anyhow::Result<()> {
        self.set_config(
            "tls",
            &format!(
                "{{certificate_file: \"{}\", private_key_file: \"{}\"}}",
                certificate_file.display(),
                private_key_file.display()
            ),
        )?;
        self.ca_pem = Some(ca_pem.to_vec());
        Ok(())
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// Sets the top-level key `key` of the written config to `value` (YAML,
    /// e.g. `{max_job_size: 10}`), replacing what `configure` wrote there.
    /// Takes effect at the next [`Server::start`].
    pub fn set_config(&self, key: &str, value: &str) -> anyhow::Result<()> {
        let mut config: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&self.config)?)?;
        let value: serde_yaml::Value =
            serde_yaml::from_str(value).with_context(|| format!("config value for {key}"))?;
        config
            .as_mapping_mut()
            .context("the config is not a mapping")?
            .insert(key.into(), value);
        std::fs::write(&self.config, serde_yaml::to_string(&config)?)?;
        Ok(())
    }

    /// Starts `dyad serve --config` (stderr appended to `NAME.log`).
    pub fn start(&mut self) -> anyhow::Result<()> {
        ensure!(self.child.is_none(), "{} already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(dyad_binary())
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("spawning the {}", self.name))?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until `GET /hpke_config?task_id=...` answers 200.
    pub async fn wait_ready(&mut self, task_id: &TaskId) -> anyhow::Result<()> {
        let url = format!("{}hpke_config?task_id={task_id}", self.url());
        let mut http = reqwest::Client::builder();
        if let Some(ca_pem) = &self.ca_pem {
            http = http.tls_certs_merge(reqwest::Certificate::from_pem_bundle(ca_pem)?);
        }
        let http = http.build()?;
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("the {} exited ({status}): {}", self.name, self.log_text());
                }
            }
            if let Ok(response) = http.get(&url).send().await {
                if response.status() == reqwest::StatusCode::OK {
                    return Ok(());
                }
            }
            if start.elapsed() > WAIT {
                bail!("the {} was not ready within {WAIT:?}", self.name);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// SIGKILLs the process (on unix, `Child::kill` sends SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the process to stop (SIGTERM) and waits, at most `bound`, for it
    /// to exit; returns how long that took and its exit status. Fails (the
    /// process is then killed on drop) if it is still running after `bound`.
    pub async fn terminate(
        &mut self,
        bound: std::time::Duration,
    ) -> anyhow::Result<(std::time::Duration, std::process::ExitStatus)> {
        let child = self
            .child
            .as_mut()
            .with_context(|| format!("the {} is not running", self.name))?;
        let started = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .context("running kill -TERM")?;
        ensure!(sent.success(), "kill -TERM {} failed: {sent}", child.id());
        loop {
            if let Some(status) = child.try_wait()? {
                self.child = None;
                return Ok((started.elapsed(), status));
            }
            if started.elapsed() > bound {
                bail!("the {} did not exit within {bound:?} of SIGTERM", self.name);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The process's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
