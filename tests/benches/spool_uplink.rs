//! The agent's spool and uplink: append+flush throughput, acknowledgement latency, and uplink
//! throughput over loopback TLS 1.3, each against a baseline measured in the same run.
//!
//! `cargo bench -p convops-tests --bench spool_uplink`. Phases:
//! 1. **Append+flush.** Baseline: 16 KiB records appended to a plain file with `fdatasync` after
//!    each (the least any durable append costs on this disk). Then [`Spool::push`] of 16 KiB
//!    frames, one writer, and eight writers at once (their flushes coalesce).
//! 2. **Acknowledgement.** [`Spool::ack`] of one frame, and [`Spool::ack_many`] of 32 (one batch,
//!    one flush), each timed.
//! 3. **Uplink.** A loopback TLS 1.3 websocket server that acknowledges every evidence frame as
//!    soon as it has read it. Baseline: a bare client sends the frames from memory with the same
//!    window and compression. Then the real uplink streams the same frames from a spool until
//!    the spool is empty (every frame read, sent, acknowledged and deleted).
//! 4. **Footprint at the bound.** A spool bounded to 2 MiB takes 8,000 pushes of 3 KiB (its
//!    oldest frames become loss records); the size of its files against the bytes it holds.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use convops_agent::spool::Spool;
use convops_agent::uplink::{Uplink, Websocket, WINDOW};
use convops_shared::protocol::{AgentFrame, ServerFrame, PROTOCOL_VERSION};
use convops_shared::wire;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const RECORD: usize = 16 * 1024;
const APPENDS: usize = 400;
const STREAMED: u64 = 2_000;

fn frame(seq: u64, pad: usize) -> Vec<u8> {
    let golden = include_str!("../../shared/tests/fixtures/evidence.json");
    let mut v: serde_json::Value = serde_json::from_str(golden).expect("fixture");
    v["seq"] = seq.into();
    if pad > 0 {
        let have = v.to_string().len();
        v["omitted"] = serde_json::json!(["x".repeat(pad.saturating_sub(have + 16))]);
    }
    v.to_string().into_bytes()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn append_flush(dir: &std::path::Path) {
    println!(
        "## append + flush ({APPENDS} records of {} KiB)\n",
        RECORD / 1024
    );
    println!("| writer | records/s | MiB/s | vs fdatasync baseline |");
    println!("|---|---|---|---|");
    let mut file = std::fs::File::create(dir.join("baseline")).expect("file");
    let record = vec![b'x'; RECORD];
    let t = Instant::now();
    for _ in 0..APPENDS {
        file.write_all(&record).expect("write");
        file.sync_data().expect("fdatasync");
    }
    let base = APPENDS as f64 / t.elapsed().as_secs_f64();
    let row = |name: &str, rate: f64| {
        println!(
            "| {name} | {rate:.0} | {:.1} | {:.2} |",
            rate * RECORD as f64 / 1_048_576.0,
            rate / base
        );
    };
    row("file + fdatasync (baseline)", base);

    let spool = Spool::open(&dir.join("one")).expect("spool");
    let t = Instant::now();
    for _ in 0..APPENDS {
        spool.push(None, |s| frame(s, RECORD)).await.expect("push");
    }
    row(
        "Spool::push, 1 writer",
        APPENDS as f64 / t.elapsed().as_secs_f64(),
    );

    let spool = Spool::open(&dir.join("eight")).expect("spool");
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let spool = spool.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..APPENDS / 8 {
                spool.push(None, |s| frame(s, RECORD)).await.expect("push");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    row(
        "Spool::push, 8 writers",
        APPENDS as f64 / t.elapsed().as_secs_f64(),
    );
    println!();
}

async fn ack_latency(dir: &std::path::Path) {
    let spool = Spool::open(&dir.join("acks")).expect("spool");
    let n = 32 * 20;
    for _ in 0..n {
        spool.push(None, |s| frame(s, RECORD)).await.expect("push");
    }
    let mut single = Vec::new();
    for seq in 1..=200u64 {
        let t = Instant::now();
        spool.ack(seq).await.expect("ack");
        single.push(t.elapsed());
    }
    let mut batch = Vec::new();
    let mut seq = 201u64;
    while seq + 32 <= n as u64 {
        let seqs: Vec<u64> = (seq..seq + 32).collect();
        let t = Instant::now();
        spool.ack_many(&seqs).await.expect("ack");
        batch.push(t.elapsed());
        seq += 32;
    }
    single.sort();
    batch.sort();
    println!("## acknowledgement (delete + flush)\n");
    println!("| call | p50 | p99 | per frame (p50) |");
    println!("|---|---|---|---|");
    println!(
        "| `ack`, 1 frame ({} calls) | {:.2} ms | {:.2} ms | {:.2} ms |",
        single.len(),
        ms(pct(&single, 0.5)),
        ms(pct(&single, 0.99)),
        ms(pct(&single, 0.5))
    );
    println!(
        "| `ack_many`, 32 frames ({} calls) | {:.2} ms | {:.2} ms | {:.3} ms |",
        batch.len(),
        ms(pct(&batch, 0.5)),
        ms(pct(&batch, 0.99)),
        ms(pct(&batch, 0.5)) / 32.0
    );
    println!();
}

/// A CA and a server certificate for 127.0.0.1 in `dir` (`ca.pem`); the server's TLS config.
fn certificates(dir: &std::path::Path) -> Arc<rustls::ServerConfig> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "bench CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("cert");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("ca.pem");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("der");
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("tls13")
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der)
            .expect("server config"),
    )
}

/// Accept websockets; welcome each, acknowledge every evidence frame once read.
async fn acking_server(tls: Arc<rustls::ServerConfig>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    let text = match msg {
                        Message::Text(t) => t.to_string(),
                        Message::Binary(b) => String::from_utf8(
                            wire::decompress(&b, 4 * 1024 * 1024).expect("inflate"),
                        )
                        .expect("utf-8"),
                        _ => continue,
                    };
                    let reply = match AgentFrame::decode(&text) {
                        Ok(AgentFrame::Hello { .. }) => ServerFrame::Welcome {
                            protocol_version: PROTOCOL_VERSION,
                            workspace_id: "bench".into(),
                            heartbeat_secs: 30,
                            encodings: vec![wire::ENCODING.into()],
                        },
                        Ok(AgentFrame::Evidence(f)) => ServerFrame::Ack { seq: f.seq },
                        _ => continue,
                    };
                    if ws.send(Message::text(reply.encode())).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

async fn uplink(dir: &std::path::Path) {
    let tls = certificates(dir);
    let port = acking_server(tls).await;
    let url = format!("wss://127.0.0.1:{port}/v1/agent/connect");
    let client_tls = convops_agent::tls::client_config(Some(&dir.join("ca.pem"))).expect("tls");
    let frames: Vec<Vec<u8>> = (1..=STREAMED).map(|s| frame(s, 0)).collect();
    let bytes: usize = frames.iter().map(Vec::len).sum();
    println!(
        "## uplink over loopback TLS 1.3 ({STREAMED} evidence frames of {} bytes, window {WINDOW})\n",
        bytes / frames.len()
    );
    println!("| sender | frames/s | MiB/s of JSON | vs bare client |");
    println!("|---|---|---|---|");

    // Baseline: a bare client with the same window and encoding, frames from memory.
    let connector = tokio_tungstenite::Connector::Rustls(client_tls.clone());
    let (ws, _) =
        tokio_tungstenite::connect_async_tls_with_config(url.as_str(), None, true, Some(connector))
            .await
            .expect("connect");
    let (mut tx, mut rx) = ws.split();
    let hello = AgentFrame::Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_id: "bench".into(),
        agent_version: "bench".into(),
        probe: false,
    };
    tx.send(Message::text(hello.encode())).await.expect("hello");
    rx.next().await.expect("welcome").expect("welcome");
    let t = Instant::now();
    let (mut sent, mut acked) = (0usize, 0usize);
    while acked < frames.len() {
        while sent < frames.len() && sent - acked < WINDOW {
            tx.send(Message::binary(wire::compress(&frames[sent])))
                .await
                .expect("send");
            sent += 1;
        }
        rx.next().await.expect("ack").expect("ack");
        acked += 1;
    }
    let base = frames.len() as f64 / t.elapsed().as_secs_f64();
    let row = |name: &str, rate: f64| {
        println!(
            "| {name} | {rate:.0} | {:.1} | {:.2} |",
            rate * (bytes / frames.len()) as f64 / 1_048_576.0,
            rate / base
        );
    };
    row("bare websocket client, frames in memory (baseline)", base);

    // The uplink, from a spool.
    let spool = Spool::open(&dir.join("uplink")).expect("spool");
    for _ in 0..STREAMED {
        spool.push(None, |s| frame(s, 0)).await.expect("push");
    }
    let (commands, _keep) = tokio::sync::mpsc::channel(1);
    let (_replies_tx, replies) = tokio::sync::mpsc::channel(1);
    let up = Uplink {
        connector: Websocket {
            settings: convops_agent::config::ControlPlaneSettings {
                url: url.parse().expect("url"),
                token: convops_shared::secret::SecretString::new("bench"),
                ca_file: None,
            },
            tls: client_tls,
        },
        spool: spool.clone(),
        commands,
        replies: tokio::sync::Mutex::new(replies),
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let t = Instant::now();
    let task = tokio::spawn(up.run(cancel.clone()));
    while spool.pending_count() > 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let rate = STREAMED as f64 / t.elapsed().as_secs_f64();
    cancel.cancel();
    let _ = task.await;
    row(
        "uplink from the spool (read, send, ack, delete + flush)",
        rate,
    );
    println!();
}

async fn footprint(dir: &std::path::Path) {
    let bound = 2 * 1024 * 1024;
    let path = dir.join("footprint");
    let spool = Spool::open_with(&path, bound).expect("spool");
    println!(
        "## footprint of a spool held at its bound ({} MiB, 3 KiB frames)\n",
        bound / 1_048_576
    );
    println!("| pushes | bytes held | bytes of files | files / held |");
    println!("|---|---|---|---|");
    for i in 1..=8_000u64 {
        spool
            .push(None, |s| frame(s, 3 * 1024))
            .await
            .expect("push");
        if i % 1_000 == 0 {
            let files: u64 = convops_tests::files_under(&path)
                .iter()
                .filter_map(|f| std::fs::metadata(f).ok())
                .map(|m| m.len())
                .sum();
            let held = spool.pending_bytes();
            println!(
                "| {i} | {held} | {files} | {:.1} |",
                files as f64 / held as f64
            );
        }
    }
    println!();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir_in(std::env::var_os("CARGO_TARGET_DIR").unwrap_or(".".into()))
        .expect("tempdir");
    println!(
        "Recorded {} on {}.\n",
        chrono_free_now(),
        std::env::consts::ARCH
    );
    append_flush(dir.path()).await;
    ack_latency(dir.path()).await;
    uplink(dir.path()).await;
    footprint(dir.path()).await;
}

/// `YYYY-MM-DD HH:MM UTC` from the system clock (no date crate for one line).
fn chrono_free_now() -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
