//! A recording tap on the agent's websocket: terminates the agent's TLS 1.3 connection with the
//! control plane's own certificate, opens its own connection to the control plane with the same
//! `Authorization` header, relays frames both ways, and keeps every frame the agent sent (evidence
//! sent compressed is kept inflated).
//! The leak check reads these, so it sees exactly what left the agent, before the control plane's
//! own re-redaction could hide an agent-side leak.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;

pub struct Tap {
    pub addr: SocketAddr,
    sent: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Tap {
    /// Listen on loopback; relay to `upstream` (`wss://…`), trusting `ca`, presenting `cert`/`key`.
    pub async fn start(
        upstream: String,
        cert: &Path,
        key: &Path,
        ca: &Path,
    ) -> anyhow::Result<Tap> {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(cert)?.collect::<Result<_, _>>()?;
        let key = PrivateKeyDer::from_pem_file(key)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(ca)? {
            roots.add(c?)?;
        }
        let client = Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(&[&rustls::version::TLS13])?
                .with_root_certificates(roots)
                .with_no_client_auth(),
        );
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let sent = Arc::new(Mutex::new(Vec::new()));
        let record = sent.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, client, record, upstream) = (
                    acceptor.clone(),
                    client.clone(),
                    record.clone(),
                    upstream.clone(),
                );
                tokio::spawn(async move {
                    if let Err(e) = relay(tcp, acceptor, client, record, upstream).await {
                        eprintln!("convops tap: connection ended: {e:#}");
                    }
                });
            }
        });
        Ok(Tap { addr, sent, task })
    }

    /// The URL the agent should use.
    pub fn url(&self) -> String {
        format!(
            "wss://{}{}",
            self.addr,
            convops_shared::protocol::AGENT_WS_PATH
        )
    }

    /// Every frame the agent sent, as text, in order.
    pub fn sent(&self) -> Vec<String> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// The handshake callback's error type is fixed by tungstenite's `Callback` trait; it cannot be boxed.
#[allow(clippy::result_large_err)]
async fn relay(
    tcp: tokio::net::TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    client: Arc<rustls::ClientConfig>,
    record: Arc<Mutex<Vec<String>>>,
    upstream: String,
) -> anyhow::Result<()> {
    let tls = acceptor.accept(tcp).await.context("tls accept")?;
    let auth = Arc::new(Mutex::new(None));
    let seen = auth.clone();
    let agent = tokio_tungstenite::accept_hdr_async(tls, move |req: &Request, resp: Response| {
        if let Ok(mut a) = seen.lock() {
            *a = req.headers().get("authorization").cloned();
        }
        Ok(resp)
    })
    .await
    .context("websocket accept")?;
    let mut request = upstream.as_str().into_client_request()?;
    if let Some(h) = auth.lock().ok().and_then(|a| a.clone()) {
        request.headers_mut().insert("authorization", h);
    }
    let (cp, _) = tokio_tungstenite::connect_async_tls_with_config(
        request,
        None,
        true,
        Some(Connector::Rustls(client)),
    )
    .await
    .context("connecting to the control plane")?;
    let (mut agent_tx, mut agent_rx) = agent.split();
    let (mut cp_tx, mut cp_rx) = cp.split();
    loop {
        tokio::select! {
            m = agent_rx.next() => match m {
                Some(Ok(msg)) => {
                    // Text as is; compressed evidence inflated (or, if it does not inflate, its
                    // bytes as they are), so the leak check reads what the frame carries.
                    let text = match &msg {
                        Message::Text(t) => Some(t.to_string()),
                        Message::Binary(b) => Some(
                            match convops_shared::wire::decompress(b, convops_shared::protocol::MAX_FRAME_BYTES) {
                                Ok(t) => String::from_utf8_lossy(&t).into_owned(),
                                Err(_) => String::from_utf8_lossy(b).into_owned(),
                            },
                        ),
                        _ => None,
                    };
                    if let (Some(t), Ok(mut r)) = (text, record.lock()) {
                        r.push(t);
                    }
                    let close = msg.is_close();
                    cp_tx.send(msg).await?;
                    if close { return Ok(()); }
                }
                _ => return Ok(()),
            },
            m = cp_rx.next() => match m {
                Some(Ok(msg)) => {
                    let close = msg.is_close();
                    agent_tx.send(msg).await?;
                    if close { return Ok(()); }
                }
                _ => return Ok(()),
            },
        }
    }
}
