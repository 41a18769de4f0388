//! The control plane served over real TLS 1.3 on a loopback port, with one workspace and one
//! agent token, shared by the integration tests.
#![allow(dead_code)] // each test crate uses part of it

use std::sync::Arc;
use std::time::Duration;

use convops_control_plane::config::{Settings, TlsSettings};
use convops_shared::protocol::{AgentFrame, ErrorCode, ServerFrame, AGENT_WS_PATH};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// The Slack signing secret the test server trusts.
pub const SLACK_SECRET: &str = "slack-signing-secret-0123456789";

pub struct Server {
    pub port: u16,
    pub ca: std::path::PathBuf,
    pub token: String,
    /// The workspace's REST API key.
    pub api_key: String,
    pub workspace_id: String,
    pub data_dir: std::path::PathBuf,
    pub cancel: CancellationToken,
    pub _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub async fn server() -> Server {
    server_with(|_| {}).await
}

/// Test settings with the data directory, TLS files and key under `root`.
pub fn settings_at(root: &std::path::Path, listen: std::net::SocketAddr) -> Settings {
    Settings {
        listen,
        data_dir: root.join("data"),
        public_url: url::Url::parse(&format!("https://127.0.0.1:{}", listen.port())).expect("url"),
        tls: TlsSettings {
            cert_file: root.join("tls/cert.pem"),
            key_file: root.join("tls/key.pem"),
        },
        secrets_key_file: root.join("data/master.key"),
        new_secrets_key: false,
        delivery_timeout: Duration::from_secs(2),
        delivery_max_attempts: 2,
        // The test receivers listen on loopback.
        allow_private_destinations: true,
        metrics_listen: None,
        limits: convops_control_plane::limits::Limits::default(),
        slack_api_url: url::Url::parse("http://127.0.0.1:9/api").expect("url"),
        heartbeat_secs: 30,
        llm: None,
        slack_signing_secret: Some(convops_shared::secret::SecretString::new(SLACK_SECRET)),
        whatsapp: None,
    }
}

/// [`server`] with its settings changed by `configure` first.
pub async fn server_with(configure: impl FnOnce(&mut Settings)) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    convops_control_plane::tls::write_self_signed(&dir.path().join("tls"), &["127.0.0.1".into()])
        .expect("cert");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut settings = settings_at(dir.path(), listener.local_addr().expect("addr"));
    configure(&mut settings);
    let (store, _) = convops_control_plane::open_data_dir(&settings)
        .await
        .expect("data dir");
    let (ws, api_key) = store.create_workspace("acme", "test").await.expect("ws");
    let token = store
        .create_agent_token(&ws.id, "a", "test")
        .await
        .expect("token");
    drop(store);
    let cancel = CancellationToken::new();
    tokio::spawn(convops_control_plane::run(
        settings,
        listener,
        cancel.clone(),
    ));
    Server {
        port,
        ca: dir.path().join("tls/ca.pem"),
        token,
        api_key,
        workspace_id: ws.id,
        data_dir: dir.path().join("data"),
        cancel,
        _dir: dir,
    }
}

pub fn tls(ca: &std::path::Path) -> Arc<rustls::ClientConfig> {
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

pub type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(
    s: &Server,
    token: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    // Wait for the listener task to be up.
    let mut req = format!("wss://127.0.0.1:{}{AGENT_WS_PATH}", s.port).into_client_request()?;
    if let Some(t) = token {
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {t}").parse().expect("header"),
        );
    }
    let mut cfg = WebSocketConfig::default();
    cfg.max_message_size = None;
    cfg.max_frame_size = None;
    let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        req,
        Some(cfg),
        true,
        Some(Connector::Rustls(tls(&s.ca))),
    )
    .await?;
    Ok(ws)
}

pub async fn recv(ws: &mut Ws) -> Option<ServerFrame> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .ok()??
        {
            Ok(Message::Text(t)) => {
                return Some(ServerFrame::decode(&t).expect("server frames decode"))
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

pub fn hello(version: u32, agent: &str) -> Message {
    Message::text(
        AgentFrame::Hello {
            protocol_version: version,
            agent_id: agent.into(),
            agent_version: "test".into(),
            probe: false,
        }
        .encode(),
    )
}

pub fn evidence(seq: u64) -> String {
    let golden = include_str!("../../../shared/tests/fixtures/evidence.json");
    let mut v: serde_json::Value = serde_json::from_str(golden).expect("fixture");
    v["seq"] = seq.into();
    v.to_string()
}

pub async fn session(s: &Server, agent: &str) -> Ws {
    let mut ws = connect(s, Some(&s.token)).await.expect("connect");
    ws.send(hello(1, agent)).await.expect("hello");
    assert!(matches!(
        recv(&mut ws).await,
        Some(ServerFrame::Welcome { .. })
    ));
    ws
}

pub async fn expect_error(ws: &mut Ws, code: ErrorCode) -> Option<u64> {
    match recv(ws).await {
        Some(ServerFrame::Error { code: c, seq, .. }) if c == code => seq,
        other => panic!("expected {code:?} error, got {other:?}"),
    }
}

pub async fn wait_up(s: &Server) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", s.port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A stored frame of agent `agent-1` with an empty body, for tests that need an incident.
pub fn received(workspace_id: &str, seq: u64) -> convops_control_plane::store::Received<'_> {
    convops_control_plane::store::Received {
        workspace_id,
        agent_id: "agent-1",
        seq,
        investigation_id: "inv-1",
        body: "{}",
        wire_bytes: 2,
        command_id: None,
    }
}

/// `GET` an API path with the workspace's key; the JSON body.
pub async fn api_get(s: &Server, path: &str) -> serde_json::Value {
    let ca = std::fs::read(&s.ca).expect("ca");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("pem"))
        .build()
        .expect("client");
    let resp = client
        .get(format!("https://127.0.0.1:{}{path}", s.port))
        .bearer_auth(&s.api_key)
        .send()
        .await
        .expect("request");
    assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
    resp.json().await.expect("json")
}
