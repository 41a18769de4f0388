//! The uplink: one outbound websocket to the control plane (TLS 1.3 via rustls, bearer agent
//! token in the handshake), streaming the spool.
//!
//! # Guarantees
//!
//! - Frames are sent in sequence order; up to [`WINDOW`] may be unacknowledged at once.
//! - A frame is deleted from the spool only when its `Ack` arrives (see [`crate::spool`]); acks
//!   that arrive together are deleted in one batch and one flush.
//! - On any disconnect the uplink reconnects with capped exponential backoff and jitter, and
//!   re-sends every unacknowledged frame from the oldest. A session that lasted
//!   [`HEALTHY_SESSION`] resets the backoff.
//! - Dead peers are found on both sides: the agent sends a heartbeat frame and a websocket ping
//!   every `heartbeat_secs` (from the welcome) and ends a session in which nothing at all (not
//!   even the pong RFC 6455 §5.5.2 obliges a peer to send) arrived for three heartbeats; the
//!   control plane ends one in which no frame arrived for as long. A send that cannot complete in
//!   that time ends the session too.
//! - A frame the control plane rejects (`invalid_evidence`, `frame_too_large`, `malformed_frame`
//!   naming its `seq`) is moved to the spool's dead tree, so the frames behind it go on.
//! - `unsupported_protocol_version` is logged as an error with the server's message and retried
//!   slowly (an operator must upgrade one side); the spool keeps everything meanwhile.
//! - The token is sent only in the handshake header and never logged.
//!
//! The session is generic over the connection ([`Connect`]): production uses [`Websocket`], the
//! tests a pair of channels driven under `tokio::time::pause()`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use convops_shared::protocol::{
    AgentFrame, Command, ErrorCode, ServerFrame, MAX_FRAME_BYTES, PROTOCOL_VERSION,
};
use convops_shared::wire;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
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
/// The longest wait between reconnects.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The wait before the first reconnect.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// A session that lasted this long was healthy: the next reconnect starts from
/// [`FIRST_BACKOFF`] again instead of the doubled wait of earlier failures.
pub const HEALTHY_SESSION: Duration = Duration::from_secs(60);
/// Heartbeats missed before the peer is taken for dead.
const MISSED_HEARTBEATS: u32 = 3;

/// A command from the control plane, handed to the investigator.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub id: String,
    pub command: Command,
}

/// Opens one connection to the control plane: the sending and the receiving half of a websocket.
pub trait Connect: Send + Sync {
    type Tx: Sink<Message, Error = Self::Error> + Unpin + Send;
    type Rx: Stream<Item = Result<Message, Self::Error>> + Unpin + Send;
    type Error: std::error::Error + Send + Sync + 'static;
    fn connect(&self) -> impl Future<Output = anyhow::Result<(Self::Tx, Self::Rx)>> + Send;
}

/// The production connection: a websocket over TLS 1.3 with the agent token in the handshake.
pub struct Websocket {
    pub settings: ControlPlaneSettings,
    pub tls: Arc<rustls::ClientConfig>,
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Connect for Websocket {
    type Tx = futures_util::stream::SplitSink<WsStream, Message>;
    type Rx = futures_util::stream::SplitStream<WsStream>;
    type Error = tokio_tungstenite::tungstenite::Error;

    async fn connect(&self) -> anyhow::Result<(Self::Tx, Self::Rx)> {
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
        ws_config.max_message_size = Some(MAX_FRAME_BYTES * 2);
        let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(ws_config),
            true,
            Some(Connector::Rustls(self.tls.clone())),
        )
        .await
        .with_context(|| format!("connecting to {}", redacted_url(&self.settings.url)))?;
        Ok(ws.split())
    }
}

pub struct Uplink<C> {
    pub connector: C,
    pub spool: Spool,
    pub commands: mpsc::Sender<Incoming>,
    /// Frames from the investigator to send as they come (held by one session at a time).
    pub replies: tokio::sync::Mutex<mpsc::Receiver<AgentFrame>>,
}

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

/// Send one message, or fail once `limit` passes (a peer that stopped reading fills the TCP
/// window and would otherwise hold the session forever).
async fn send<T>(tx: &mut T, message: Message, limit: Duration, what: &str) -> anyhow::Result<()>
where
    T: Sink<Message> + Unpin,
    T::Error: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(limit, tx.send(message)).await {
        Ok(r) => r.with_context(|| format!("sending {what}")),
        Err(_) => anyhow::bail!("sending {what}: no progress in {} s", limit.as_secs()),
    }
}

impl<C: Connect> Uplink<C> {
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = Instant::now();
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
        let end = match self.session_inner(cancel).await {
            Ok(end) => end,
            Err(e) => SessionEnd::Disconnected(e),
        };
        crate::telemetry::metrics().uplink_connected.set(0);
        end
    }

    async fn session_inner(&self, cancel: &CancellationToken) -> anyhow::Result<SessionEnd> {
        let (mut tx, mut rx) = self.connector.connect().await?;

        let agent_id = self.spool.agent_id()?;
        let hello = AgentFrame::Hello {
            protocol_version: PROTOCOL_VERSION,
            agent_id: agent_id.clone(),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            probe: false,
        };
        send(
            &mut tx,
            Message::text(hello.encode()),
            HELLO_TIMEOUT,
            "hello",
        )
        .await?;
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
                    let m = crate::telemetry::metrics();
                    m.uplink_connected.set(1);
                    m.uplink_sessions.inc();
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
        let beat = Duration::from_secs(u64::from(heartbeat_secs));
        let dead_after = beat * MISSED_HEARTBEATS;
        let mut heartbeat = tokio::time::interval(beat);
        let mut last_heard = Instant::now();
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
                    send(&mut tx, message, dead_after, "evidence").await?;
                    crate::telemetry::metrics().frames_sent.inc();
                    tracing::debug!(seq, wire_bytes, "evidence sent");
                    last_sent = seq;
                    in_flight += 1;
                }
            }
            let first = tokio::select! {
                // Stopping (SIGTERM): what is spooled stays spooled (every push is flushed before
                // it returns) and is sent by the next run; the control plane is told the session
                // ends on purpose.
                _ = cancel.cancelled() => {
                    let bye = Message::Close(Some(CloseFrame {
                        code: CloseCode::Normal,
                        reason: "agent stopping".into(),
                    }));
                    if let Err(e) = send(&mut tx, bye, CLOSE_GRACE, "close frame").await {
                        tracing::debug!(error = %format!("{e:#}"), "close frame not sent");
                    }
                    tracing::info!(pending = self.spool.pending_count(), in_flight, "uplink closed: agent stopping");
                    return Ok(SessionEnd::Cancelled);
                }
                _ = notified, if in_flight < WINDOW => continue,
                Some(frame) = replies.recv() => {
                    send(&mut tx, Message::text(frame.encode()), dead_after, "a command's failure").await?;
                    continue;
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() >= dead_after {
                        anyhow::bail!("nothing from the control plane in {} s; taking it for dead", last_heard.elapsed().as_secs());
                    }
                    let hb = AgentFrame::Heartbeat { at: crate::investigate::now_ms(), spooled: self.spool.pending_count() as u64 };
                    send(&mut tx, Message::text(hb.encode()), dead_after, "heartbeat").await?;
                    send(&mut tx, Message::Ping(Default::default()), dead_after, "ping").await?;
                    continue;
                }
                msg = rx.next() => msg,
            };
            // Everything that has already arrived is read now, so the acks among it are deleted
            // in one batch.
            let mut acked = Vec::new();
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                last_heard = Instant::now();
                let text = match msg {
                    Some(Ok(Message::Text(t))) => Some(t),
                    Some(Ok(Message::Close(frame))) => {
                        self.spool.ack_many(&acked).await?;
                        anyhow::bail!("control plane closed the connection: {frame:?}")
                    }
                    Some(Ok(_)) => None,
                    Some(Err(e)) => {
                        self.spool.ack_many(&acked).await?;
                        return Err(e).context("reading from control plane");
                    }
                    None => {
                        self.spool.ack_many(&acked).await?;
                        anyhow::bail!("connection closed")
                    }
                };
                if let Some(text) = text {
                    match self.handle(&text, &mut acked).await? {
                        Handled::Done => in_flight = in_flight.saturating_sub(1),
                        Handled::Other => {}
                    }
                }
                if acked.len() < WINDOW {
                    next = rx.next().now_or_never();
                }
            }
            self.spool.ack_many(&acked).await?;
            if !acked.is_empty() {
                tracing::debug!(
                    count = acked.len(),
                    last = acked.last().copied(),
                    "evidence acknowledged"
                );
            }
        }
    }

    /// Act on one frame from the control plane; an `Ack`'s `seq` joins `acked`.
    async fn handle(&self, text: &str, acked: &mut Vec<u64>) -> anyhow::Result<Handled> {
        match ServerFrame::decode(text) {
            Ok(ServerFrame::Ack { seq }) => {
                crate::telemetry::metrics().frames_acked.inc();
                acked.push(seq);
                Ok(Handled::Done)
            }
            // A frame the control plane cannot take, however often it is sent (too large,
            // invalid, or not decodable by that build): set aside with the reason, so the frames
            // behind it go on.
            Ok(ServerFrame::Error {
                code:
                    ErrorCode::InvalidEvidence | ErrorCode::FrameTooLarge | ErrorCode::MalformedFrame,
                message,
                seq: Some(seq),
            }) => {
                tracing::error!(seq, %message, "control plane rejected evidence; kept in the spool's dead tree");
                self.spool.bury(seq, &message).await?;
                crate::telemetry::metrics().frames_rejected.inc();
                Ok(Handled::Done)
            }
            Ok(ServerFrame::Error { code, message, .. }) => {
                anyhow::bail!("control plane error {code:?}: {message}");
            }
            Ok(ServerFrame::Command { id, command }) => {
                tracing::info!(command_id = %id, ?command, "command received");
                if self
                    .commands
                    .try_send(Incoming {
                        id: id.clone(),
                        command,
                    })
                    .is_err()
                {
                    tracing::warn!(command_id = %id, "investigation queue full; command dropped");
                }
                Ok(Handled::Other)
            }
            Ok(ServerFrame::Welcome { .. }) => {
                tracing::warn!("unexpected second welcome");
                Ok(Handled::Other)
            }
            Err(e) => {
                tracing::warn!(error = %e, "undecodable frame from control plane ignored");
                Ok(Handled::Other)
            }
        }
    }
}

/// Whether a frame from the control plane settled one in flight.
enum Handled {
    Done,
    Other,
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

/// The session driven over channels, the test playing the control plane, with the clock paused:
/// tokio advances it whenever every task waits, so minutes of backoff and heartbeats take no
/// real time and the timings asserted are exact.
#[cfg(test)]
mod session_tests {
    use super::*;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio_util::sync::{PollSendError, PollSender};

    type Error = PollSendError<Message>;

    /// One connection as the control plane sees it.
    struct Peer {
        from_agent: mpsc::Receiver<Message>,
        to_agent: mpsc::UnboundedSender<Result<Message, Error>>,
    }

    #[derive(Clone)]
    struct Pipe {
        peers: mpsc::UnboundedSender<Peer>,
        /// Connects still to be refused.
        refuse: Arc<AtomicUsize>,
        attempts: Arc<std::sync::Mutex<Vec<Instant>>>,
    }

    impl Connect for Pipe {
        type Tx = PollSender<Message>;
        type Rx = Pin<Box<dyn Stream<Item = Result<Message, Error>> + Send>>;
        type Error = Error;

        async fn connect(&self) -> anyhow::Result<(Self::Tx, Self::Rx)> {
            self.attempts.lock().expect("attempts").push(Instant::now());
            if self
                .refuse
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                anyhow::bail!("connection refused");
            }
            let (atx, arx) = mpsc::channel(1024);
            let (stx, mut srx) = mpsc::unbounded_channel();
            self.peers
                .send(Peer {
                    from_agent: arx,
                    to_agent: stx,
                })
                .ok();
            let rx = futures_util::stream::poll_fn(move |cx| srx.poll_recv(cx));
            Ok((PollSender::new(atx), Box::pin(rx)))
        }
    }

    struct Harness {
        spool: Spool,
        peers: mpsc::UnboundedReceiver<Peer>,
        refuse: Arc<AtomicUsize>,
        attempts: Arc<std::sync::Mutex<Vec<Instant>>>,
        cancel: CancellationToken,
        task: tokio::task::JoinHandle<anyhow::Result<()>>,
        _dir: tempfile::TempDir,
    }

    /// An uplink over [`Pipe`] on a fresh spool holding `frames` frames.
    async fn harness(frames: u64, refuse: usize) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(&dir.path().join("spool")).expect("spool");
        for _ in 0..frames {
            spool
                .push(None, |seq| format!(r#"{{"seq":{seq}}}"#).into_bytes())
                .await
                .expect("push");
        }
        let (peers_tx, peers) = mpsc::unbounded_channel();
        let refuse = Arc::new(AtomicUsize::new(refuse));
        let attempts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (commands, _) = mpsc::channel(1);
        let (_, replies) = mpsc::channel(1);
        let uplink = Uplink {
            connector: Pipe {
                peers: peers_tx,
                refuse: refuse.clone(),
                attempts: attempts.clone(),
            },
            spool: spool.clone(),
            commands,
            replies: tokio::sync::Mutex::new(replies),
        };
        let cancel = CancellationToken::new();
        let task = tokio::spawn(uplink.run(cancel.clone()));
        Harness {
            spool,
            peers,
            refuse,
            attempts,
            cancel,
            task,
            _dir: dir,
        }
    }

    /// What the agent sent, as the test reads it.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Evidence(u64),
        Heartbeat,
        Ping,
        Closed,
        Other(String),
    }

    impl Peer {
        async fn next(&mut self) -> Seen {
            match self.from_agent.recv().await {
                None => Seen::Closed,
                Some(Message::Ping(_)) => Seen::Ping,
                Some(Message::Text(t)) => {
                    let v: serde_json::Value = serde_json::from_str(&t).expect("json");
                    match (v.get("type").and_then(|t| t.as_str()), v.get("seq")) {
                        (Some("heartbeat"), _) => Seen::Heartbeat,
                        (None, Some(seq)) => Seen::Evidence(seq.as_u64().expect("seq")),
                        _ => Seen::Other(t.to_string()),
                    }
                }
                Some(other) => Seen::Other(format!("{other:?}")),
            }
        }

        /// Read the hello and answer with a welcome.
        async fn welcome(&mut self, heartbeat_secs: u32) {
            match self.next().await {
                Seen::Other(t) if t.contains("\"hello\"") => {}
                other => panic!("expected hello, got {other:?}"),
            }
            self.say(ServerFrame::Welcome {
                protocol_version: PROTOCOL_VERSION,
                workspace_id: "ws".into(),
                heartbeat_secs,
                encodings: Vec::new(),
            });
        }

        fn say(&self, frame: ServerFrame) {
            self.to_agent
                .send(Ok(Message::text(frame.encode())))
                .expect("agent listening");
        }

        /// The next evidence frame's seq, answering pings meanwhile.
        async fn evidence(&mut self) -> u64 {
            loop {
                match self.next().await {
                    Seen::Evidence(seq) => return seq,
                    Seen::Ping => self.pong(),
                    Seen::Heartbeat => {}
                    other => panic!("expected evidence, got {other:?}"),
                }
            }
        }

        fn pong(&self) {
            self.to_agent
                .send(Ok(Message::Pong(Default::default())))
                .ok();
        }

        /// Everything the agent sends for `span`, answering pings when `alive`.
        async fn watch(&mut self, span: Duration, alive: bool) -> Vec<(Duration, Seen)> {
            let start = Instant::now();
            let mut seen = Vec::new();
            while let Ok(s) = tokio::time::timeout_at(start + span, self.next()).await {
                if alive && s == Seen::Ping {
                    self.pong();
                }
                let closed = s == Seen::Closed;
                seen.push((start.elapsed(), s));
                if closed {
                    break;
                }
            }
            seen
        }
    }

    impl Harness {
        async fn peer(&mut self) -> Peer {
            self.peers.recv().await.expect("a connection")
        }

        async fn stop(self) {
            self.cancel.cancel();
            self.task.await.expect("uplink task").expect("uplink");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_bounds_what_is_in_flight_and_each_ack_opens_one_slot() {
        let mut h = harness(40, 0).await;
        let mut peer = h.peer().await;
        peer.welcome(5).await;
        for want in 1..=WINDOW as u64 {
            assert_eq!(peer.evidence().await, want);
        }
        // A full window: however long the control plane takes, nothing more is sent.
        let seen = peer.watch(Duration::from_secs(12), true).await;
        assert!(
            seen.iter()
                .all(|(_, s)| matches!(s, Seen::Heartbeat | Seen::Ping)),
            "{seen:?}"
        );
        peer.say(ServerFrame::Ack { seq: 1 });
        assert_eq!(peer.evidence().await, WINDOW as u64 + 1);
        let seen = peer.watch(Duration::from_secs(6), true).await;
        assert!(
            !seen.iter().any(|(_, s)| matches!(s, Seen::Evidence(_))),
            "one ack, one frame: {seen:?}"
        );
        h.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_drop_the_agent_resends_from_the_oldest_unacknowledged() {
        let mut h = harness(5, 0).await;
        let mut peer = h.peer().await;
        peer.welcome(5).await;
        for want in 1..=5 {
            assert_eq!(peer.evidence().await, want);
        }
        // Two acks arrive together: deleted in one batch.
        peer.say(ServerFrame::Ack { seq: 1 });
        peer.say(ServerFrame::Ack { seq: 2 });
        while h.spool.pending_count() > 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(peer);
        let mut peer = h.peer().await;
        peer.welcome(5).await;
        for want in 3..=5 {
            assert_eq!(peer.evidence().await, want, "resumed in order");
        }
        peer.say(ServerFrame::Ack { seq: 3 });
        peer.say(ServerFrame::Ack { seq: 4 });
        peer.say(ServerFrame::Ack { seq: 5 });
        // A frame pushed now goes out on the open session at once.
        h.spool
            .push(None, |seq| format!(r#"{{"seq":{seq}}}"#).into_bytes())
            .await
            .expect("push");
        assert_eq!(peer.evidence().await, 6);
        h.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeats_go_out_on_time_and_a_silent_peer_is_dropped_after_three() {
        let mut h = harness(0, 0).await;
        let mut peer = h.peer().await;
        peer.welcome(5).await;
        let welcomed = Instant::now();
        // The control plane never answers, not even a pong.
        let seen = peer.watch(Duration::from_secs(60), false).await;
        let beats: Vec<Duration> = seen
            .iter()
            .filter(|(_, s)| *s == Seen::Heartbeat)
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(
            beats,
            [0, 5, 10].map(Duration::from_secs),
            "a heartbeat every 5 s: {seen:?}"
        );
        assert_eq!(
            seen.iter().filter(|(_, s)| *s == Seen::Ping).count(),
            3,
            "{seen:?}"
        );
        let (closed_at, last) = seen.last().expect("something seen");
        assert_eq!(*last, Seen::Closed, "{seen:?}");
        assert_eq!(
            *closed_at,
            Duration::from_secs(15),
            "three heartbeats of silence"
        );
        // And it reconnects.
        let mut peer = h.peer().await;
        assert!(welcomed.elapsed() < Duration::from_secs(16));
        peer.welcome(5).await;
        h.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_with_jitter_to_the_cap_and_a_healthy_session_resets_it() {
        let refused = 9;
        let mut h = harness(0, refused).await;
        let mut peer = h.peer().await;
        let attempts = h.attempts.lock().expect("attempts").clone();
        assert_eq!(attempts.len(), refused + 1);
        let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
        let mut base = FIRST_BACKOFF;
        for gap in &gaps {
            // The wait is the backoff plus up to half of it again as jitter.
            assert!(
                *gap >= base && *gap <= base + base / 2 + Duration::from_millis(1),
                "gap {gap:?} for a backoff of {base:?}: {gaps:?}"
            );
            base = (base * 2).min(MAX_BACKOFF);
        }
        assert_eq!(base, MAX_BACKOFF, "the cap is reached: {gaps:?}");

        // A healthy session (the peer answers pings) is kept as long as it lasts ...
        peer.welcome(5).await;
        let seen = peer
            .watch(HEALTHY_SESSION + Duration::from_secs(5), true)
            .await;
        assert!(!seen.iter().any(|(_, s)| *s == Seen::Closed), "{seen:?}");
        // ... and when it drops, the next connect comes after the first backoff, not the cap.
        h.refuse.store(0, Ordering::SeqCst);
        let dropped = Instant::now();
        drop(peer);
        let mut peer = h.peer().await;
        let waited = dropped.elapsed();
        assert!(
            waited <= FIRST_BACKOFF + FIRST_BACKOFF / 2 + Duration::from_millis(1),
            "waited {waited:?} after a healthy session"
        );
        peer.welcome(5).await;
        h.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_rejected_frame_is_set_aside_and_the_rest_go_on() {
        let mut h = harness(3, 0).await;
        let mut peer = h.peer().await;
        peer.welcome(5).await;
        for want in 1..=3 {
            assert_eq!(peer.evidence().await, want);
        }
        peer.say(ServerFrame::Error {
            code: ErrorCode::MalformedFrame,
            message: "unknown field `novel`".into(),
            seq: Some(2),
        });
        peer.say(ServerFrame::Ack { seq: 1 });
        peer.say(ServerFrame::Ack { seq: 3 });
        while h.spool.pending_count() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(h.spool.dead_count(), 1);
        h.stop().await;
    }
}
