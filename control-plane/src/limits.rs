//! What one client can take from everyone else: connections, request rates and time.
//!
//! - **Connections.** At most [`Limits::connections`] open at once, and
//!   [`Limits::connections_per_ip`] from one address; past either, a new connection is closed
//!   before the TLS handshake.
//! - **Time.** A TLS handshake has 10 s, request headers [`Limits::header_read`] (10 s), a whole
//!   request [`REQUEST_TIME`] (then 408), and a connection with no bytes either way for
//!   [`Limits::idle`] (90 s) is closed; HTTP/2 connections are pinged and closed when the ping
//!   is not answered.
//! - **Rates.** Token buckets per client address, stricter for requests that carry a credential
//!   and strictest for agent handshakes, and per credential (a leaked key is throttled wherever
//!   it is used from). Refused with 429 and `Retry-After`.
//!
//! State is bounded: buckets that have refilled are forgotten once the table grows past
//! [`MAX_BUCKETS`], and a full table refuses new clients rather than grow.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::Digest;

/// Time for a whole request, body included, and its response.
pub const REQUEST_TIME: Duration = Duration::from_secs(30);
/// Rate buckets kept at most.
pub const MAX_BUCKETS: usize = 100_000;

/// The limits, with defaults for a small control plane (`[limits]` in the configuration).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time to send a request's headers.
    pub header_read: Duration,
    /// A connection silent this long either way is closed (agents' websockets send heartbeats).
    pub idle: Duration,
    pub connections: usize,
    pub connections_per_ip: usize,
    /// Requests per second from one address, sustained, and the burst allowed above it.
    pub requests_per_sec: f64,
    pub burst: f64,
    /// Requests per second from one address that carry a credential (API key, agent token).
    pub auth_requests_per_sec: f64,
    pub auth_burst: f64,
    /// Requests per second with one credential, wherever they come from.
    pub per_credential_per_sec: f64,
    pub per_credential_burst: f64,
    /// Agent websocket handshakes per second from one address, and per agent token.
    pub handshakes_per_sec: f64,
    pub handshake_burst: f64,
    /// Signed webhooks from Slack and Meta, per sending address (shared by every tenant).
    pub webhooks_per_sec: f64,
    pub webhook_burst: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(90),
            connections: 4096,
            connections_per_ip: 256,
            requests_per_sec: 20.0,
            burst: 100.0,
            auth_requests_per_sec: 10.0,
            auth_burst: 50.0,
            per_credential_per_sec: 20.0,
            per_credential_burst: 100.0,
            handshakes_per_sec: 1.0,
            handshake_burst: 20.0,
            webhooks_per_sec: 200.0,
            webhook_burst: 400.0,
        }
    }
}

/// Concurrent agent sessions per agent token.
pub const SESSIONS_PER_TOKEN: usize = 8;

/// The address a request came from (set per connection by the server).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Places held at once, in all and per key (a client address, an agent token's digest); a
/// [`Permit`] holds one until it is dropped.
#[derive(Debug)]
pub struct Places<K: std::hash::Hash + Eq + Copy> {
    max: usize,
    max_per_key: usize,
    open: Mutex<(usize, HashMap<K, usize>)>,
}

/// One place taken; dropping it frees the place.
#[derive(Debug)]
pub struct Permit<K: std::hash::Hash + Eq + Copy> {
    of: Arc<Places<K>>,
    key: K,
}

impl<K: std::hash::Hash + Eq + Copy> Drop for Permit<K> {
    fn drop(&mut self) {
        let mut open = self.of.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.key);
            }
        }
    }
}

impl<K: std::hash::Hash + Eq + Copy> Places<K> {
    pub fn new(max: usize, max_per_key: usize) -> Arc<Self> {
        Arc::new(Places {
            max,
            max_per_key,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A place for `key`, or `None` when all places, or that key's, are taken.
    pub fn admit(self: &Arc<Self>, key: K) -> Option<Permit<K>> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let held = open.1.get(&key).copied().unwrap_or(0);
        if open.0 >= self.max || held >= self.max_per_key {
            return None;
        }
        open.0 += 1;
        *open.1.entry(key).or_insert(0) += 1;
        Some(Permit {
            of: self.clone(),
            key,
        })
    }
}

/// Open connections, in all and per client address.
pub type Connections = Places<IpAddr>;
/// One open connection.
pub type ConnectionPermit = Permit<IpAddr>;

/// Open agent sessions per agent token, keyed by a digest of the token.
pub type Sessions = Places<[u8; 16]>;

/// The key of agent token `token` in [`Sessions`].
pub fn token_key(token: &str) -> [u8; 16] {
    let digest = sha2::Sha256::digest(token.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// Agent sessions: at most [`SESSIONS_PER_TOKEN`] per token.
pub fn sessions() -> Arc<Sessions> {
    Places::new(usize::MAX, SESSIONS_PER_TOKEN)
}

/// Evidence frames per second one workspace's sessions are read at, sustained, and the burst
/// above it: past it a session is read more slowly (the agent keeps the rest in its spool), so
/// one workspace's flood neither loses data nor slows the others.
pub const INGEST_PER_SEC: f64 = 2.0;
pub const INGEST_BURST: f64 = 60.0;
/// LLM write-ups per workspace per hour; past it the deterministic text stands alone.
pub const LLM_CALLS_PER_HOUR: f64 = 60.0;

/// Budgets kept per workspace rather than per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// Evidence frames read.
    Ingest,
    /// LLM write-ups.
    Llm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scope {
    Budget(Budget),
    Address,
    AuthAddress,
    Credential,
    HandshakeAddress,
    HandshakeCredential,
    Webhook,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by scope and client.
#[derive(Debug)]
pub struct RateLimiter {
    limits: Limits,
    buckets: Mutex<HashMap<(Scope, [u8; 16]), Bucket>>,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(RateLimiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Takes one token for `key` in `scope`; `Err(wait)` when there is none.
    fn take(
        &self,
        scope: Scope,
        key: &[u8],
        rate: f64,
        burst: f64,
        now: Instant,
    ) -> Result<(), Duration> {
        let digest = sha2::Sha256::digest(key);
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&(scope, id)) {
            // Forget the clients whose buckets have refilled; if none has, refuse the newcomer
            // rather than grow without bound.
            buckets.retain(|(s, _), b| {
                let (r, c) = self.rate_of(*s);
                b.tokens + now.duration_since(b.at).as_secs_f64() * r < c
            });
            if buckets.len() >= MAX_BUCKETS {
                return Err(Duration::from_secs(1));
            }
        }
        let b = buckets.entry((scope, id)).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / rate))
        }
    }

    /// Takes one unit of workspace `workspace_id`'s `budget` (refilled at `rate` a second, up
    /// to `burst`); `Err(wait)` when it is spent.
    pub fn take_for(
        &self,
        budget: Budget,
        workspace_id: &str,
        rate: f64,
        burst: f64,
    ) -> Result<(), Duration> {
        self.take(
            Scope::Budget(budget),
            workspace_id.as_bytes(),
            rate,
            burst,
            Instant::now(),
        )
    }

    fn rate_of(&self, scope: Scope) -> (f64, f64) {
        let l = &self.limits;
        match scope {
            Scope::Budget(Budget::Ingest) => (INGEST_PER_SEC, INGEST_BURST),
            Scope::Budget(Budget::Llm) => (LLM_CALLS_PER_HOUR / 3600.0, LLM_CALLS_PER_HOUR),
            Scope::Address => (l.requests_per_sec, l.burst),
            Scope::AuthAddress => (l.auth_requests_per_sec, l.auth_burst),
            Scope::Credential => (l.per_credential_per_sec, l.per_credential_burst),
            Scope::HandshakeAddress | Scope::HandshakeCredential => {
                (l.handshakes_per_sec, l.handshake_burst)
            }
            Scope::Webhook => (l.webhooks_per_sec, l.webhook_burst),
        }
    }

    /// Whether a request to `path` from `ip`, with `credential` (the `Authorization` header)
    /// if any, may go ahead now.
    pub fn check(&self, path: &str, ip: IpAddr, credential: Option<&str>) -> Result<(), Duration> {
        let now = Instant::now();
        let ip_key = ip.to_string();
        let take = |scope: Scope, key: &[u8]| {
            let (rate, burst) = self.rate_of(scope);
            self.take(scope, key, rate, burst, now)
        };
        if is_webhook(path) {
            return take(Scope::Webhook, ip_key.as_bytes());
        }
        if path == convops_shared::protocol::AGENT_WS_PATH {
            take(Scope::HandshakeAddress, ip_key.as_bytes())?;
            if let Some(c) = credential {
                take(Scope::HandshakeCredential, c.as_bytes())?;
            }
            return Ok(());
        }
        match credential {
            Some(c) => {
                take(Scope::AuthAddress, ip_key.as_bytes())?;
                take(Scope::Credential, c.as_bytes())
            }
            None => take(Scope::Address, ip_key.as_bytes()),
        }
    }
}

/// Slack's and Meta's signed callbacks: many tenants behind a few sending addresses.
fn is_webhook(path: &str) -> bool {
    path == crate::paths::SLACK_COMMANDS_PATH
        || path == crate::paths::SLACK_INTERACTIVITY_PATH
        || path == crate::paths::WHATSAPP_WEBHOOK_PATH
}

/// 429 with `Retry-After` in whole seconds (at least 1).
pub fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(serde_json::json!({"error": {
            "code": "rate_limited",
            "message": format!("too many requests; retry in {} s", secs.max(1)),
        }})),
    )
        .into_response();
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(&secs.max(1).to_string()).unwrap_or(HeaderValue::from_static("1")),
    );
    r
}

/// The middleware: rate limits, then the request within [`REQUEST_TIME`].
pub async fn guard(State(limiter): State<Arc<RateLimiter>>, req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<Peer>()
        .map(|p| p.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let credential = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Err(wait) = limiter.check(req.uri().path(), ip, credential.as_deref()) {
        return too_many(wait);
    }
    match tokio::time::timeout(REQUEST_TIME, next.run(req)).await {
        Ok(r) => r,
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            axum::Json(serde_json::json!({"error": {
                "code": "timeout",
                "message": "the request took too long",
            }})),
        )
            .into_response(),
    }
}

/// An I/O stream that records when bytes last moved either way.
/// It also holds the connection's place ([`ConnectionPermit`]), so a connection upgraded to a
/// websocket keeps counting until the socket is gone.
pub struct Watched<T> {
    inner: T,
    last: Arc<std::sync::atomic::AtomicU64>,
    epoch: Instant,
    _permit: ConnectionPermit,
}

impl<T> Watched<T> {
    pub fn new(inner: T, permit: ConnectionPermit) -> (Self, Activity) {
        let last = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let epoch = Instant::now();
        (
            Watched {
                inner,
                last: last.clone(),
                epoch,
                _permit: permit,
            },
            Activity { last, epoch },
        )
    }

    fn touch(&self) {
        self.last.store(
            self.epoch.elapsed().as_millis() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

/// How long ago a [`Watched`] stream last moved bytes.
#[derive(Clone)]
pub struct Activity {
    last: Arc<std::sync::atomic::AtomicU64>,
    epoch: Instant,
}

impl Activity {
    pub fn idle(&self) -> Duration {
        let last = self.last.load(std::sync::atomic::Ordering::Relaxed);
        self.epoch
            .elapsed()
            .saturating_sub(Duration::from_millis(last))
    }
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Watched<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refuse_past_the_burst_and_say_when_to_retry() {
        let limits = Limits {
            requests_per_sec: 2.0,
            burst: 3.0,
            ..Limits::default()
        };
        let r = RateLimiter::new(limits);
        let ip: IpAddr = "203.0.113.9".parse().expect("ip");
        for _ in 0..3 {
            assert!(r.check("/api/v1/incidents", ip, None).is_ok());
        }
        let wait = r.check("/api/v1/incidents", ip, None).expect_err("limited");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        // Another address is not affected.
        assert!(r
            .check(
                "/api/v1/incidents",
                "203.0.113.10".parse().expect("ip"),
                None
            )
            .is_ok());
    }

    #[test]
    fn a_credential_is_limited_wherever_it_is_used_from() {
        let limits = Limits {
            per_credential_per_sec: 0.001,
            per_credential_burst: 2.0,
            ..Limits::default()
        };
        let r = RateLimiter::new(limits);
        for i in 0..2u8 {
            let ip = IpAddr::from([198, 51, 100, i]);
            assert!(r.check("/api/v1/incidents", ip, Some("Bearer k")).is_ok());
        }
        let ip = IpAddr::from([198, 51, 100, 99]);
        assert!(r.check("/api/v1/incidents", ip, Some("Bearer k")).is_err());
        assert!(r
            .check("/api/v1/incidents", ip, Some("Bearer other"))
            .is_ok());
    }

    #[test]
    fn workspace_budgets_are_separate_and_refill() {
        let r = RateLimiter::new(Limits::default());
        for _ in 0..3 {
            assert!(r.take_for(Budget::Llm, "ws-a", 1.0, 3.0).is_ok());
        }
        let wait = r
            .take_for(Budget::Llm, "ws-a", 1.0, 3.0)
            .expect_err("spent");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert!(
            r.take_for(Budget::Llm, "ws-b", 1.0, 3.0).is_ok(),
            "another workspace"
        );
        assert!(
            r.take_for(Budget::Ingest, "ws-a", 1.0, 3.0).is_ok(),
            "another budget"
        );
        std::thread::sleep(Duration::from_millis(1100));
        assert!(
            r.take_for(Budget::Llm, "ws-a", 1.0, 3.0).is_ok(),
            "refilled"
        );
    }

    #[test]
    fn connections_are_capped_in_all_and_per_address() {
        let c = Connections::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let p1 = c.admit(a).expect("first");
        let _p2 = c.admit(a).expect("second");
        assert!(c.admit(a).is_none(), "per address");
        let _p3 = c.admit(b).expect("other address");
        assert!(c.admit(b).is_none(), "in all");
        drop(p1);
        assert!(c.admit(a).is_some(), "a closed connection frees its place");
    }

    #[test]
    fn the_bucket_table_stays_bounded() {
        let r = RateLimiter::new(Limits::default());
        let now = Instant::now();
        for i in 0..(MAX_BUCKETS as u32 + 10) {
            let _ = r.take(Scope::Address, &i.to_be_bytes(), 1.0, 5.0, now);
        }
        assert!(r.buckets.lock().expect("lock").len() <= MAX_BUCKETS);
    }
}
