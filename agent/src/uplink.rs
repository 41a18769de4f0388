//! The uplink: one outbound websocket to the control plane (TLS 1.3 via rustls, bearer agent
//! token in the handshake), streaming the spool.
//!
//! # Guarantees
//!
//! - Frames are sent in sequence order; up to [`WINDOW`] may be unacknowledged at once.
//! - A frame is deleted from the spool only when its `Ack` arrives (see [`crate::spool`]).
//! - On any disconnect the uplink reconnects with capped exponential backoff and jitter, and
//!   re-sends every unacknowledged frame from the oldest.
//! - A frame the control plane rejects as `invalid_evidence` is moved to the spool's dead tree.
//! - `unsupported_protocol_version` is logged as an error with the server's message and retried
//!   slowly (an operator must upgrade one side); the spool keeps everything meanwhile.
//! - The token is sent only in the handshake header and never logged.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use convops_shared::protocol::{
    AgentFrame, Command, ErrorCode, ServerFrame, MAX_FRAME_BYTES, PROTOCOL_VERSION,
};
use convops_shared::wire;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;
use tokio_util::sync::CancellationToken;

use crate::config::ControlPlaneSettings;
use crate::spool::Spool;

/// Unacknowledged frames allowed in flight.
pub const WINDOW: usize = 32;
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stopping agent waits for its session to close: ECS sends SIGKILL 30 s after
/// SIGTERM by default (`stopTimeout`), and the session only has a close frame to send.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A command from the control plane, handed to the investigator.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub id: String,
    pub command: Command,
}

pub struct Uplink {
    pub settings: ControlPlaneSettings,
    pub spool: Spool,
    pub tls: Arc<rustls::ClientConfig>,
    pub commands: mpsc::Sender<Incoming>,
    /// Frames from the investigator to send as they come (held by one session at a time).
    pub replies: tokio::sync::Mutex<mpsc::Receiver<AgentFrame>>,
}

/// The wait before the first reconnect.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// A session that lasted this long was healthy: the next reconnect starts from
/// [`FIRST_BACKOFF`] again instead of the doubled wait of earlier failures.
const HEALTHY_SESSION: Duration = Duration::from_secs(60);

/// The wait before reconnecting after a session that lasted `lasted`, when the running backoff
/// is `backoff`: the first wait again after a healthy session, else the running backoff (which
/// doubles after each wait, capped at [`MAX_BACKOFF`]).
fn wait_before_reconnect(backoff: Duration, lasted: Duration) -> Duration {
    if lasted >= HEALTHY_SESSION {
        FIRST_BACKOFF
    } else {
        backoff
    }
}

enum SessionEnd {
    Cancelled,
    Disconnected(anyhow::Error),
    VersionRefused(String),
}

impl Uplink {
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = tokio::time::Instant::now();
            let session = self.session(&cancel);
            tokio::pin!(session);
            let end = tokio::select! {
                end = &mut session => end,
                // A streaming session says goodbye on its own (a close frame) and ends; one
                // still connecting gets a moment, then is dropped.
                _ = cancel.cancelled() => tokio::time::timeout(CLOSE_GRACE, &mut session)
                    .await
                    .unwrap_or(SessionEnd::Cancelled),
            };
            backoff = wait_before_reconnect(backoff, started.elapsed());
            let delay = match end {
                SessionEnd::Cancelled => return Ok(()),
                SessionEnd::Disconnected(e) => {
                    tracing::warn!(error = %format!("{e:#}"), pending = self.spool.pending_count(), "uplink disconnected; reconnecting");
                    backoff
                }
                SessionEnd::VersionRefused(msg) => {
                    tracing::error!(server_message = %msg, "control plane refused protocol version {PROTOCOL_VERSION}; upgrade the agent or the control plane");
                    MAX_BACKOFF
                }
            };
            let jitter =
                Duration::from_millis(rand::random::<u64>() % (delay.as_millis() as u64 / 2 + 1));
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(delay + jitter) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn session(&self, cancel: &CancellationToken) -> SessionEnd {
        match self.session_inner(cancel).await {
            Ok(end) => end,
            Err(e) => SessionEnd::Disconnected(e),
        }
    }

    async fn session_inner(&self, cancel: &CancellationToken) -> anyhow::Result<SessionEnd> {
        let mut request = self
            .settings
            .url
            .as_str()
            .into_client_request()
            .context("building the websocket request")?;
        let bearer = HeaderValue::from_str(&format!("Bearer {}", self.settings.token.expose()))
            .context("the agent token holds characters not allowed in an HTTP header")?;
        request.headers_mut().insert("authorization", bearer);
        let mut ws_config = WebSocketConfig::default();
        ws_config.max_message_size = Some(convops_shared::protocol::MAX_FRAME_BYTES * 2);
        let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(ws_config),
            true,
            Some(Connector::Rustls(self.tls.clone())),
        )
        .await
        .with_context(|| format!("connecting to {}", redacted_url(&self.settings.url)))?;
        let (mut tx, mut rx) = ws.split();

        let agent_id = self.spool.agent_id()?;
        let hello = AgentFrame::Hello {
            protocol_version: PROTOCOL_VERSION,
            agent_id: agent_id.clone(),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        tx.send(Message::text(hello.encode()))
            .await
            .context("sending hello")?;
        let welcome = tokio::time::timeout(HELLO_TIMEOUT, rx.next())
            .await
            .context("no welcome from the control plane")?;
        let (heartbeat_secs, compress) = match welcome {
            Some(Ok(Message::Text(t))) => match ServerFrame::decode(&t) {
                Ok(ServerFrame::Welcome {
                    heartbeat_secs,
                    workspace_id,
                    encodings,
                    ..
                }) => {
                    let compress = encodings.iter().any(|e| e == wire::ENCODING);
                    tracing::info!(%agent_id, %workspace_id, pending = self.spool.pending_count(), compress, "connected to control plane");
                    (heartbeat_secs.max(1), compress)
                }
                Ok(ServerFrame::Error {
                    code: ErrorCode::UnsupportedProtocolVersion,
                    message,
                    ..
                }) => {
                    return Ok(SessionEnd::VersionRefused(message));
                }
                Ok(other) => anyhow::bail!("expected welcome, got {other:?}"),
                Err(e) => anyhow::bail!("undecodable welcome: {e}"),
            },
            Some(Ok(other)) => anyhow::bail!("expected a text welcome frame, got {other:?}"),
            Some(Err(e)) => return Err(e).context("reading welcome"),
            None => anyhow::bail!("connection closed before welcome"),
        };

        let mut replies = self.replies.lock().await;
        let mut heartbeat = tokio::time::interval(Duration::from_secs(u64::from(heartbeat_secs)));
        let mut last_sent: u64 = 0;
        let mut in_flight: usize = 0;
        loop {
            // Register for wake-ups before reading the spool, so a push in between is not missed.
            let notified = self.spool.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Send what the window allows.
            if in_flight < WINDOW {
                let batch = self.spool.pending_after(last_sent, WINDOW - in_flight)?;
                for (seq, bytes) in batch {
                    // Compressed when the control plane reads it; a frame over the size limit
                    // goes as text, so the control plane can name it in its refusal.
                    let message = if compress && bytes.len() <= MAX_FRAME_BYTES {
                        Message::binary(wire::compress(&bytes))
                    } else {
                        Message::text(
                            String::from_utf8(bytes).context("spooled frame is not UTF-8")?,
                        )
                    };
                    let wire_bytes = message.len();
                    tx.send(message).await.context("sending evidence")?;
                    tracing::debug!(seq, wire_bytes, "evidence sent");
                    last_sent = seq;
                    in_flight += 1;
                }
            }
            tokio::select! {
                // Stopping (SIGTERM): what is spooled stays spooled (every push is flushed before
                // it returns) and is sent by the next run; the control plane is told the session
                // ends on purpose.
                _ = cancel.cancelled() => {
                    let bye = Message::Close(Some(CloseFrame {
                        code: CloseCode::Normal,
                        reason: "agent stopping".into(),
                    }));
                    if let Err(e) = tx.send(bye).await {
                        tracing::debug!(error = %e, "close frame not sent");
                    }
                    tracing::info!(pending = self.spool.pending_count(), in_flight, "uplink closed: agent stopping");
                    return Ok(SessionEnd::Cancelled);
                }
                _ = notified, if in_flight < WINDOW => {}
                Some(frame) = replies.recv() => {
                    tx.send(Message::text(frame.encode())).await.context("sending a command's failure")?;
                }
                _ = heartbeat.tick() => {
                    let hb = AgentFrame::Heartbeat { at: crate::investigate::now_ms(), spooled: self.spool.pending_count() as u64 };
                    tx.send(Message::text(hb.encode())).await.context("sending heartbeat")?;
                }
                msg = rx.next() => {
                    let text = match msg {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(frame))) => anyhow::bail!("control plane closed the connection: {frame:?}"),
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Err(e).context("reading from control plane"),
                        None => anyhow::bail!("connection closed"),
                    };
                    match ServerFrame::decode(&text) {
                        Ok(ServerFrame::Ack { seq }) => {
                            self.spool.ack(seq).await?;
                            in_flight = in_flight.saturating_sub(1);
                            tracing::debug!(seq, "evidence acknowledged");
                        }
                        // A frame the control plane cannot take, however often it is sent (too large,
                        // invalid, or not decodable by that build): set aside with the reason, so
                        // the frames behind it go on.
                        Ok(ServerFrame::Error { code: ErrorCode::InvalidEvidence | ErrorCode::FrameTooLarge | ErrorCode::MalformedFrame, message, seq: Some(seq) }) => {
                            tracing::error!(seq, %message, "control plane rejected evidence; kept in the spool's dead tree");
                            self.spool.bury(seq, &message).await?;
                            in_flight = in_flight.saturating_sub(1);
                        }
                        Ok(ServerFrame::Error { code, message, .. }) => {
                            anyhow::bail!("control plane error {code:?}: {message}");
                        }
                        Ok(ServerFrame::Command { id, command }) => {
                            tracing::info!(command_id = %id, ?command, "command received");
                            if self.commands.try_send(Incoming { id: id.clone(), command }).is_err() {
                                tracing::warn!(command_id = %id, "investigation queue full; command dropped");
                            }
                        }
                        Ok(ServerFrame::Welcome { .. }) => tracing::warn!("unexpected second welcome"),
                        Err(e) => tracing::warn!(error = %e, "undecodable frame from control plane ignored"),
                    }
                }
            }
        }
    }
}

/// The URL without user info or query (which could carry credentials), for logs.
fn redacted_url(url: &url::Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    ) + url.path()
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    /// After a few drops the wait grows to the cap; one healthy session later it starts small
    /// again (it used to stay at about 30 s for the life of the process).
    #[test]
    fn backoff_doubles_to_the_cap_and_resets_after_a_healthy_session() {
        let short = Duration::from_secs(1);
        let mut backoff = FIRST_BACKOFF;
        let mut waits = Vec::new();
        for _ in 0..10 {
            backoff = wait_before_reconnect(backoff, short);
            waits.push(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        assert_eq!(waits[0], FIRST_BACKOFF);
        assert_eq!(waits[1], FIRST_BACKOFF * 2);
        assert_eq!(*waits.last().expect("waits"), MAX_BACKOFF);
        assert_eq!(
            wait_before_reconnect(backoff, HEALTHY_SESSION),
            FIRST_BACKOFF
        );
    }
}
