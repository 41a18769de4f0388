//! The real binaries, run as child processes: `convops-control-plane` (set up with a local
//! certificate, a workspace, an agent token and a Slack route) and `convops-agent`.
//!
//! Binaries are taken from `$CONVOPS_BIN_DIR`, else from the cargo target directory this
//! harness was built into (`cargo build --workspace --bins` puts them there).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// Credentials the harness gives the agent: distinctive, so a leak of them is easy to find.
pub const TEST_AWS_ACCESS_KEY_ID: &str = "AKIACONVOPSHARNESS01";
pub const TEST_AWS_SECRET_ACCESS_KEY: &str = "convopsHarnessSecretKeyNeverOnDisk0000001";
pub const TEST_AWS_SESSION_TOKEN: &str = "convopsHarnessSessionTokenNeverOnDisk000001";

pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CONVOPS_BIN_DIR") {
        return PathBuf::from(d);
    }
    // target/<profile>/deps/<test> or target/<profile>/<bin>
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

pub fn bin(name: &str) -> anyhow::Result<PathBuf> {
    let p = bin_dir().join(name);
    anyhow::ensure!(
        p.is_file(),
        "{} not found; build it first with `cargo build --workspace --bins` (or set CONVOPS_BIN_DIR)",
        p.display()
    );
    Ok(p)
}

fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    anyhow::ensure!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A child process killed on drop, with its stderr in a log file.
pub struct Proc {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Proc {
    fn spawn(mut cmd: Command, log: PathBuf) -> anyhow::Result<Proc> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file));
        let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
        Ok(Proc {
            child: Some(child),
            log,
        })
    }

    /// SIGKILL: no chance to flush or say goodbye.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, as ECS stops a task, and the exit status if the process ended within `timeout`
    /// (else it is killed and `None` returned).
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let sent = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + timeout;
        while sent && Instant::now() < deadline {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the log contains `needle` `n` times.
    pub async fn wait_log(
        &mut self,
        needle: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log_text().matches(needle).count() >= n {
                return Ok(());
            }
            anyhow::ensure!(
                self.is_running(),
                "process exited; log:\n{}",
                tail(&self.log_text())
            );
            anyhow::ensure!(
                Instant::now() < deadline,
                "{needle:?} not logged {n} times within {timeout:?}; log:\n{}",
                tail(&self.log_text())
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A control plane's data directory, certificate, workspace and credentials.
/// The Slack app signing secret and team the test control plane is set up with.
pub const SLACK_SIGNING_SECRET: &str = "test-slack-signing-secret-0123456789";
pub const SLACK_TEAM: &str = "T0CONVOPS";
/// The Meta app secret and verify token of the test control plane's WhatsApp, and the on-call
/// number linked to its workspace.
pub const WHATSAPP_APP_SECRET: &str = "test-whatsapp-app-secret-0123456789";
pub const WHATSAPP_VERIFY_TOKEN: &str = "test-whatsapp-verify-token-0123456789";
pub const WHATSAPP_ONCALL: &str = "4915123456789";

pub struct ControlPlaneSetup {
    pub dir: PathBuf,
    pub port: u16,
    /// The plain-HTTP port of `/metrics`, `/healthz` and `/readyz` (`metrics.listen`); off
    /// unless a test sets one (every reserved port is a chance of a clash when tests run side
    /// by side).
    pub metrics_port: Option<u16>,
    pub workspace_id: String,
    pub api_key: String,
    pub agent_token: String,
    /// The Cloud API base the control plane sends WhatsApp to, once [`Self::enable_whatsapp`] ran.
    pub whatsapp_api: Option<String>,
}

impl ControlPlaneSetup {
    /// Create certificates, a workspace with an API key, an agent token and a Slack route.
    pub fn create(dir: &Path, slack_webhook_url: &str) -> anyhow::Result<Self> {
        let cp = bin("convops-control-plane")?;
        let port = crate::free_port()?;
        let setup = ControlPlaneSetup {
            dir: dir.to_path_buf(),
            port,
            metrics_port: None,
            workspace_id: String::new(),
            api_key: String::new(),
            agent_token: String::new(),
            whatsapp_api: None,
        };
        output(
            Command::new(&cp)
                .args(["cert", "--out-dir"])
                .arg(dir.join("tls")),
        )?;
        std::fs::write(dir.join("slack-signing-secret"), SLACK_SIGNING_SECRET)?;
        let ws: serde_json::Value = serde_json::from_str(&output(setup.command(&cp).args([
            "workspace",
            "create",
            "acme",
            "--json",
        ]))?)?;
        let workspace_id = ws["id"].as_str().context("workspace id")?.to_owned();
        let api_key = ws["api_key"].as_str().context("api key")?.to_owned();
        let agent_token = output(setup.command(&cp).args([
            "agent-token",
            "create",
            "--workspace",
            &workspace_id,
        ]))?;
        output(
            setup
                .command(&cp)
                .args(["route", "add-slack-webhook", "--workspace", "acme"])
                .env("CONVOPS_SLACK_WEBHOOK_URL", slack_webhook_url),
        )?;
        output(setup.command(&cp).args([
            "workspace",
            "link-slack",
            "--workspace",
            "acme",
            "--team",
            SLACK_TEAM,
        ]))?;
        Ok(ControlPlaneSetup {
            workspace_id,
            api_key,
            agent_token,
            ..setup
        })
    }

    /// Turn WhatsApp on (Meta's Cloud API at `api_url`) and link [`WHATSAPP_ONCALL`] to the
    /// workspace with a WhatsApp route.
    pub fn enable_whatsapp(&mut self, api_url: &str) -> anyhow::Result<()> {
        std::fs::write(self.dir.join("whatsapp-token"), crate::chat::WHATSAPP_TOKEN)?;
        std::fs::write(self.dir.join("whatsapp-app-secret"), WHATSAPP_APP_SECRET)?;
        std::fs::write(
            self.dir.join("whatsapp-verify-token"),
            WHATSAPP_VERIFY_TOKEN,
        )?;
        self.whatsapp_api = Some(api_url.to_owned());
        let cp = bin("convops-control-plane")?;
        output(self.command(&cp).args([
            "route",
            "add-whatsapp",
            "--workspace",
            "acme",
            "--to",
            &format!("+{WHATSAPP_ONCALL}"),
        ]))?;
        Ok(())
    }

    fn command(&self, exe: &Path) -> Command {
        let mut cmd = Command::new(exe);
        cmd.env("CONVOPS_CP__LISTEN", format!("127.0.0.1:{}", self.port))
            .env(
                "CONVOPS_CP__METRICS__LISTEN",
                match self.metrics_port {
                    Some(port) => format!("127.0.0.1:{port}"),
                    None => "off".to_owned(),
                },
            )
            .env("CONVOPS_CP__DATA_DIR", self.dir.join("data"))
            .env("CONVOPS_CP__TLS__CERT_FILE", self.dir.join("tls/cert.pem"))
            .env("CONVOPS_CP__TLS__KEY_FILE", self.dir.join("tls/key.pem"))
            .env(
                "CONVOPS_CP__PUBLIC_URL",
                format!("https://127.0.0.1:{}", self.port),
            )
            .env("CONVOPS_CP__DELIVERY__TIMEOUT_SECS", "5")
            // The local Slack, webhook and WhatsApp receivers listen on loopback.
            .env("CONVOPS_CP__DELIVERY__ALLOW_PRIVATE_DESTINATIONS", "true")
            .env(
                "CONVOPS_CP__SLACK__SIGNING_SECRET_FILE",
                self.dir.join("slack-signing-secret"),
            );
        if let Some(api) = &self.whatsapp_api {
            cmd.env("CONVOPS_CP__WHATSAPP__API_URL", api)
                .env(
                    "CONVOPS_CP__WHATSAPP__PHONE_NUMBER_ID",
                    crate::chat::WHATSAPP_PHONE_NUMBER_ID,
                )
                .env(
                    "CONVOPS_CP__WHATSAPP__ACCESS_TOKEN_FILE",
                    self.dir.join("whatsapp-token"),
                )
                .env(
                    "CONVOPS_CP__WHATSAPP__APP_SECRET_FILE",
                    self.dir.join("whatsapp-app-secret"),
                )
                .env(
                    "CONVOPS_CP__WHATSAPP__VERIFY_TOKEN_FILE",
                    self.dir.join("whatsapp-verify-token"),
                );
        }
        cmd
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("tls/ca.pem")
    }

    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn agent_url(&self) -> String {
        format!(
            "wss://127.0.0.1:{}{}",
            self.port,
            convops_shared::protocol::AGENT_WS_PATH
        )
    }

    /// An HTTPS client that trusts this control plane's CA.
    pub fn https_client(&self) -> anyhow::Result<reqwest::Client> {
        let ca = reqwest::Certificate::from_pem(&std::fs::read(self.ca_file())?)?;
        Ok(reqwest::Client::builder()
            .add_root_certificate(ca)
            .build()?)
    }

    /// Start the control plane and wait until `/healthz` answers over TLS.
    pub async fn start(&self) -> anyhow::Result<Proc> {
        let cp = bin("convops-control-plane")?;
        let mut cmd = self.command(&cp);
        cmd.arg("serve").env("CONVOPS_LOG", "info");
        let mut proc = Proc::spawn(cmd, self.dir.join("control-plane.log"))?;
        let client = self.https_client()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client
                .get(format!("{}/healthz", self.base_url()))
                .send()
                .await
            {
                if r.status().is_success() {
                    return Ok(proc);
                }
            }
            anyhow::ensure!(
                proc.is_running(),
                "control plane exited:\n{}",
                tail(&proc.log_text())
            );
            anyhow::ensure!(
                Instant::now() < deadline,
                "control plane not healthy within 30s:\n{}",
                tail(&proc.log_text())
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET {path}` of the REST API with the workspace's API key, as JSON.
    pub async fn api_get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        Ok(self
            .https_client()?
            .get(format!("{}{path}", self.base_url()))
            .bearer_auth(&self.api_key)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// `GET /api/v1/incidents` with the workspace's API key.
    pub async fn incidents(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let v = self.api_get("/api/v1/incidents").await?;
        Ok(v["incidents"].as_array().cloned().unwrap_or_default())
    }

    /// Waits until every delivery of every incident has left `pending` (sent and recorded, or
    /// failed for good), as the delivery log in `GET /api/v1/incidents/{id}` shows.
    pub async fn wait_deliveries_settled(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut pending = 0;
            for i in self.incidents().await? {
                let id = i["id"].as_str().unwrap_or_default();
                let v = self.api_get(&format!("/api/v1/incidents/{id}")).await?;
                pending += v["deliveries"]
                    .as_array()
                    .map_or(0, |d| d.iter().filter(|d| d["status"] == "pending").count());
            }
            if pending == 0 {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{pending} deliveries still pending after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Where the agent finds AWS.
pub struct AwsEndpoints {
    pub region: String,
    /// moto (Logs, ECS, RDS, EC2, STS, CloudTrail stand-in).
    pub default: String,
    /// The CBOR adapter in front of moto.
    pub cloudwatch: String,
    /// The harness's CloudTrail `LookupEvents` server, when one runs.
    pub cloudtrail: Option<String>,
    /// Further `AWS_ENDPOINT_URL_<SERVICE>` overrides, e.g. to a failing stand-in.
    pub overrides: Vec<(String, String)>,
}

/// Start an agent with its spool in `spool_dir`.
pub fn start_agent(
    cp: &ControlPlaneSetup,
    aws: &AwsEndpoints,
    spool_dir: &Path,
    log: PathBuf,
) -> anyhow::Result<Proc> {
    Proc::spawn(agent_command(cp, aws, spool_dir, "run")?, log)
}

/// Start an agent watching the ECS clusters `clusters`, as a customer would configure it.
pub fn start_agent_watching(
    cp: &ControlPlaneSetup,
    aws: &AwsEndpoints,
    spool_dir: &Path,
    log: PathBuf,
    clusters: &[String],
) -> anyhow::Result<Proc> {
    start_agent_through(cp, aws, spool_dir, log, clusters, &cp.agent_url())
}

/// Like [`start_agent_watching`], with the agent connecting to `url` (e.g. a recording tap in
/// front of the control plane) instead of the control plane itself.
pub fn start_agent_through(
    cp: &ControlPlaneSetup,
    aws: &AwsEndpoints,
    spool_dir: &Path,
    log: PathBuf,
    clusters: &[String],
    url: &str,
) -> anyhow::Result<Proc> {
    let mut cmd = agent_command(cp, aws, spool_dir, "run")?;
    cmd.env("CONVOPS_AGENT__CONTROL_PLANE__URL", url);
    if !clusters.is_empty() {
        cmd.env(
            "CONVOPS_AGENT__ECS__CLUSTERS",
            serde_json::to_string(clusters)?,
        );
    }
    Proc::spawn(cmd, log)
}

/// Start an agent connecting to `url`, with further settings in the environment
/// (`CONVOPS_AGENT__…` variables).
pub fn start_agent_with(
    cp: &ControlPlaneSetup,
    aws: &AwsEndpoints,
    spool_dir: &Path,
    log: PathBuf,
    url: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<Proc> {
    let mut cmd = agent_command(cp, aws, spool_dir, "run")?;
    cmd.env("CONVOPS_AGENT__CONTROL_PLANE__URL", url);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc::spawn(cmd, log)
}

/// `convops-agent SUBCOMMAND` set up like the test agents (control plane, AWS endpoints, spool).
pub fn agent_command(
    cp: &ControlPlaneSetup,
    aws: &AwsEndpoints,
    spool_dir: &Path,
    subcommand: &str,
) -> anyhow::Result<Command> {
    let mut cmd = Command::new(bin("convops-agent")?);
    cmd.arg(subcommand)
        .env("CONVOPS_AGENT__CONTROL_PLANE__URL", cp.agent_url())
        .env("CONVOPS_AGENT__CONTROL_PLANE__TOKEN", &cp.agent_token)
        .env("CONVOPS_AGENT__CONTROL_PLANE__CA_FILE", cp.ca_file())
        .env("CONVOPS_AGENT__SPOOL__DIR", spool_dir)
        .env("CONVOPS_AGENT__ALARMS__POLL_INTERVAL_SECS", "1")
        // Tests run agents side by side: each health and metrics port is the kernel's choice
        // unless a test names one.
        .env("CONVOPS_AGENT__METRICS__LISTEN", "127.0.0.1:0")
        .env("CONVOPS_LOG", "debug,aws_smithy_runtime=info,aws_config=info,hyper=info,rustls=info,tungstenite=info,tokio_tungstenite=info,sled=info,h2=info")
        .env("AWS_ACCESS_KEY_ID", TEST_AWS_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", TEST_AWS_SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", TEST_AWS_SESSION_TOKEN)
        .env("AWS_REGION", &aws.region)
        .env("AWS_ENDPOINT_URL", &aws.default)
        .env("AWS_ENDPOINT_URL_CLOUDWATCH", &aws.cloudwatch)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE");
    if let Some(ct) = &aws.cloudtrail {
        cmd.env("AWS_ENDPOINT_URL_CLOUDTRAIL", ct);
    }
    for (k, v) in &aws.overrides {
        cmd.env(k, v);
    }
    Ok(cmd)
}

/// An SDK config for seeding the emulator (test code writes; the agent never does).
pub async fn seed_config(aws: &AwsEndpoints) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(aws.region.clone()))
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "convops-harness",
        ))
        .endpoint_url(&aws.default)
        .load()
        .await
}

/// A CloudWatch client for seeding, routed through the CBOR adapter.
pub fn cloudwatch_client(
    shared: &aws_config::SdkConfig,
    aws: &AwsEndpoints,
) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(shared)
            .endpoint_url(&aws.cloudwatch)
            .build(),
    )
}
