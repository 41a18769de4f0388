//! `/healthz` latency while hostile clients hold the server, against the same measure on an idle
//! server in the same run.
//!
//! `cargo bench -p convops-control-plane --bench healthz_under_load`. The control plane runs in
//! this process on loopback with its default limits (one process, the machine's cores). Phases:
//! 1. idle: 200 sequential `GET /healthz`, each on a fresh TLS connection (the baseline);
//! 2. the same while 200 other connections each hold half a request (slowloris);
//! 3. the same while, besides, one agent sends evidence frames whose strings are 60 KiB of
//!    addresses (redaction work on every value) as fast as the server reads them.
//!
//! Reported: p50 / p99 / max of each phase and the ratio of each p99 to the idle p99.

use std::sync::Arc;
use std::time::{Duration, Instant};

use convops_control_plane::config::{Settings, TlsSettings};
use futures_util::SinkExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn tls(ca: &std::path::Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(c.expect("cert")).expect("add");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("tls13")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

async fn tls_connection(
    port: u16,
    cfg: &Arc<rustls::ClientConfig>,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("tcp");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    tokio_rustls::TlsConnector::from(cfg.clone())
        .connect(name, tcp)
        .await
        .expect("tls")
}

/// Latencies of `n` sequential health checks, sorted.
async fn healthz(port: u16, cfg: &Arc<rustls::ClientConfig>, n: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut c = tls_connection(port, cfg).await;
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut buf = Vec::new();
        c.read_to_end(&mut buf).await.expect("read");
        assert!(
            buf.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf)
        );
        out.push(t.elapsed());
    }
    out.sort();
    out
}

fn summary(name: &str, v: &[Duration], base_p99: Option<Duration>) -> Duration {
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let (p50, p99, max) = (at(0.5), at(0.99), v[v.len() - 1]);
    let ratio = base_p99.map_or("1.00".to_owned(), |b| {
        format!("{:.2}", p99.as_secs_f64() / b.as_secs_f64())
    });
    println!(
        "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {ratio} |",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
    p99
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        convops_control_plane::tls::write_self_signed(
            &dir.path().join("tls"),
            &["127.0.0.1".into()],
        )
        .expect("cert");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let settings = Settings {
            listen: addr,
            data_dir: dir.path().join("data"),
            public_url: url::Url::parse(&format!("https://{addr}")).expect("url"),
            tls: TlsSettings {
                cert_file: dir.path().join("tls/cert.pem"),
                key_file: dir.path().join("tls/key.pem"),
            },
            secrets_key_file: dir.path().join("data/master.key"),
            new_secrets_key: false,
            delivery_timeout: Duration::from_secs(2),
            delivery_max_attempts: 1,
            allow_private_destinations: false,
            metrics_listen: None,
            limits: convops_control_plane::limits::Limits {
                // The bench's own health checks come from one address, as the attackers' do.
                requests_per_sec: 10_000.0,
                burst: 10_000.0,
                ..Default::default()
            },
            slack_api_url: url::Url::parse("http://127.0.0.1:9/api").expect("url"),
            slack_signing_secret: None,
            heartbeat_secs: 30,
            llm: None,
            whatsapp: None,
        };
        let (store, _) = convops_control_plane::open_data_dir(&settings)
            .await
            .expect("data");
        let (ws, _) = store.create_workspace("bench", "bench").await.expect("ws");
        let token = store
            .create_agent_token(&ws.id, "a", "bench")
            .await
            .expect("token");
        drop(store);
        let cancel = tokio_util::sync::CancellationToken::new();
        tokio::spawn(convops_control_plane::run(
            settings,
            listener,
            cancel.clone(),
        ));
        let port = addr.port();
        let cfg = tls(&dir.path().join("tls/ca.pem"));
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = healthz(port, &cfg, 20).await; // warm-up

        println!("| phase | p50 | p99 | max | p99 / idle p99 |\n|---|---|---|---|---|");
        let idle = summary("idle", &healthz(port, &cfg, 200).await, None);

        let mut slow = Vec::new();
        for _ in 0..200 {
            let mut c = tls_connection(port, &cfg).await;
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .await
                .expect("write");
            slow.push(c);
        }
        summary(
            "200 half requests held open",
            &healthz(port, &cfg, 200).await,
            Some(idle),
        );

        // One agent flooding heavy frames.
        let mut req =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                format!(
                    "wss://127.0.0.1:{port}{}",
                    convops_shared::protocol::AGENT_WS_PATH
                ),
            )
            .expect("request");
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        let (mut agent, _) = tokio_tungstenite::connect_async_tls_with_config(
            req,
            None,
            true,
            Some(tokio_tungstenite::Connector::Rustls(cfg.clone())),
        )
        .await
        .expect("agent");
        agent
            .send(tokio_tungstenite::tungstenite::Message::text(
                convops_shared::protocol::AgentFrame::Hello {
                    protocol_version: convops_shared::protocol::PROTOCOL_VERSION,
                    agent_id: "flood".into(),
                    agent_version: "bench".into(),
                    probe: false,
                }
                .encode(),
            ))
            .await
            .expect("hello");
        let golden = include_str!("../../shared/tests/fixtures/evidence.json");
        let addresses: String = (0..6000)
            .map(|i| format!("10.{}.{}.{} ", i % 250, i / 250, 1 + i % 200))
            .collect();
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        let (mut sink, mut stream) = futures_util::StreamExt::split(agent);
        let acked = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let acks = acked.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(m)) = futures_util::StreamExt::next(&mut stream).await {
                if m.to_text().is_ok_and(|t| t.contains("\"ack\"")) {
                    acks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        let flood = tokio::spawn(async move {
            for seq in 1u64.. {
                let mut v: serde_json::Value = serde_json::from_str(golden).expect("fixture");
                v["seq"] = seq.into();
                v["alarm"]["state_reason"] = addresses[..60_000].into();
                if sink
                    .send(tokio_tungstenite::tungstenite::Message::text(v.to_string()))
                    .await
                    .is_err()
                {
                    break;
                }
                counter.store(seq, std::sync::atomic::Ordering::Relaxed);
            }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        summary(
            "200 half requests + one agent flooding 60 KiB address strings",
            &healthz(port, &cfg, 200).await,
            Some(idle),
        );
        println!(
            "\n(the flooding agent: {} frames sent, {} acknowledged during the phase)",
            sent.load(std::sync::atomic::Ordering::Relaxed),
            acked.load(std::sync::atomic::Ordering::Relaxed)
        );
        flood.abort();
        reader.abort();
        drop(slow);
        cancel.cancel();
    });
}
