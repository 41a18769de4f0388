//! The control plane served over real TLS 1.3 on a loopback port, with one workspace and one
//! agent token, shared by the integration tests.
#![allow(dead_code)] // each test crate uses part of it

use std::sync::Arc;
use std::time::Duration;

use convops_control_plane::config::{Settings, TlsSettings};
use tokio_util::sync::CancellationToken;

/// The Slack signing secret the test server trusts.
pub const SLACK_SECRET: &str = "slack-signing-secret-0123456789";

pub struct Server {
    pub port: u16,
    pub ca: std::path::PathBuf,
    pub token: String,
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
    let dir = tempfile::tempdir().expect("tempdir");
    convops_control_plane::tls::write_self_signed(&dir.path().join("tls"), &["127.0.0.1".into()])
        .expect("cert");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let settings = Settings {
        listen: listener.local_addr().expect("addr"),
        data_dir: dir.path().join("data"),
        public_url: url::Url::parse(&format!("https://127.0.0.1:{port}")).expect("url"),
        tls: TlsSettings {
            cert_file: dir.path().join("tls/cert.pem"),
            key_file: dir.path().join("tls/key.pem"),
        },
        secrets_key_file: dir.path().join("data/master.key"),
        delivery_timeout: Duration::from_secs(2),
        delivery_max_attempts: 2,
        slack_api_url: url::Url::parse("http://127.0.0.1:9/api").expect("url"),
        heartbeat_secs: 30,
        llm: None,
        slack_signing_secret: Some(convops_shared::secret::SecretString::new(SLACK_SECRET)),
    };
    let (store, _) = convops_control_plane::open_data_dir(&settings)
        .await
        .expect("data dir");
    let (ws, _) = store.create_workspace("acme", "test").await.expect("ws");
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
