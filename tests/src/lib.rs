//! End-to-end harness and scenario runner for ConvOps: the only crate that drives both binaries.
//!
//! - [`moto`]: installs (into the project's venv) and runs `moto_server` on a free loopback port.
//! - [`cbor`]: a loopback adapter that speaks CloudWatch's Smithy RPC v2 CBOR protocol to the SDK
//!   and AWS JSON 1.0 to moto (which lacks CBOR).
//! - [`chat`]: a local Slack incoming-webhook receiver that checks requests the way Slack does.
//! - [`procs`]: runs the real `convops-control-plane` and `convops-agent` binaries.
//! - [`scenario`]: the `convops-scenario/1` format: parsing, validation, deterministic data.
//! - [`failing`]: an AWS endpoint that always answers one error (throttling, access denied).
//! - [`cloudtrail`]: `LookupEvents` served from a scenario (moto lacks it).
//! - [`seed`]: seeding the emulator from a scenario.
//! - [`tap`]: records what the agent sends over its TLS websocket, for the leak check.
//! - [`runner`]: replaying a scenario through the product and scoring the result.
//! - [`world`]: moto, Slack and a control plane set up, and alarms fired, for end-to-end tests.
//! - [`proxy`]: a loopback TCP proxy that can sever a connection in the middle of a frame.

pub mod cbor;
pub mod chat;
pub mod cloudtrail;
pub mod failing;
pub mod moto;
pub mod procs;
pub mod proxy;
pub mod runner;
pub mod scenario;
pub mod seed;
pub mod tap;
pub mod world;

/// A free TCP port on 127.0.0.1 (bound and released; callers retry on the rare collision).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Every file below `dir`, recursively (an unreadable directory yields nothing).
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The workspace root (the directory holding the top-level Cargo.toml).
/// `../shared/<rel>` beside the repository, when it is there. A clone of this repository alone
/// has no `../shared`: then this says on stderr which path is missing and returns `None`, and the
/// test that asked skips. CI has it, so those tests run there.
pub fn shared_path(rel: &str) -> Option<std::path::PathBuf> {
    let p = workspace_root().join("../shared").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipped: {} is not there (../shared is absent)",
            p.display()
        );
        None
    }
}

/// The project's own scenario corpus (`tests/scenarios/`), in the repository.
pub fn corpus_dir() -> std::path::PathBuf {
    workspace_root().join("tests/scenarios")
}

pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| std::path::PathBuf::from("."))
}
