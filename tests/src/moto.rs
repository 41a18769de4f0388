//! `moto_server` from PyPI `moto[server]`, installed into the project's venv when missing and run
//! on a free loopback port for the duration of a test or scenario.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// Minimum moto version: older 5.2.x mishandles compressed PutMetricData bodies.
pub const MOTO_REQUIREMENT: &str = "moto[server]>=5.2.5";

/// The venv: `$CONVOPS_VENV`, else `<workspace>/.venv`.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("CONVOPS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join(".venv"))
}

/// The `moto_server` executable, installing it first when missing.
pub fn ensure_installed() -> anyhow::Result<PathBuf> {
    let venv = venv_dir();
    let exe = venv.join("bin/moto_server");
    if exe.is_file() {
        return Ok(exe);
    }
    // Serialise concurrent installs (tests run in parallel) with a lock directory.
    // A lock left by an installer that was killed is taken over once it is older than any
    // install takes.
    let lock = venv.with_extension("install-lock");
    if let Some(parent) = lock.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        match std::fs::create_dir(&lock) {
            Ok(()) => break,
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(e).with_context(|| format!("creating lock {}", lock.display()));
            }
            Err(_) if exe.is_file() => return Ok(exe),
            Err(_) if lock_age(&lock) > Duration::from_secs(900) => {
                eprintln!("convops: removing stale lock {}", lock.display());
                let _ = std::fs::remove_dir(&lock);
            }
            Err(_) if Instant::now() > deadline => {
                anyhow::bail!("timed out waiting for {}", lock.display())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
    let result = install(&venv);
    let _ = std::fs::remove_dir(&lock);
    result?;
    anyhow::ensure!(exe.is_file(), "{} missing after install", exe.display());
    Ok(exe)
}

fn lock_age(lock: &Path) -> Duration {
    std::fs::metadata(lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .unwrap_or_default()
}

fn install(venv: &Path) -> anyhow::Result<()> {
    if !venv.join("bin/python").exists() {
        eprintln!("convops: creating Python venv at {}", venv.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(venv))?;
    }
    eprintln!(
        "convops: installing {MOTO_REQUIREMENT} into {}",
        venv.display()
    );
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        MOTO_REQUIREMENT,
    ]))
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    anyhow::ensure!(status.success(), "{cmd:?} failed with {status}");
    Ok(())
}

/// A running `moto_server`; killed on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
    /// moto's own log (request lines and tracebacks).
    pub log: PathBuf,
}

impl Moto {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Start moto on a free port and wait until it answers.
    pub async fn start() -> anyhow::Result<Moto> {
        let exe = ensure_installed()?;
        let mut last_err = None;
        for _ in 0..5 {
            let port = crate::free_port()?;
            let log = std::env::temp_dir().join(format!("convops-moto-{port}.log"));
            let file = std::fs::File::create(&log)
                .with_context(|| format!("creating {}", log.display()))?;
            let child = Command::new(&exe)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(file))
                .spawn()
                .with_context(|| format!("starting {}", exe.display()))?;
            let mut moto = Moto { child, port, log };
            match moto.wait_ready(Duration::from_secs(30)).await {
                Ok(()) => return Ok(moto),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("moto_server did not start")))
    }

    async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let url = format!("{}/moto-api/", self.endpoint());
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                anyhow::bail!("moto_server exited with {status} on port {}", self.port);
            }
            if client.get(&url).send().await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                anyhow::bail!(
                    "moto_server did not answer on port {} within {timeout:?}",
                    self.port
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Forget all state (between scenarios).
    pub async fn reset(&self) -> anyhow::Result<()> {
        reqwest::Client::new()
            .post(format!("{}/moto-api/reset", self.endpoint()))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
