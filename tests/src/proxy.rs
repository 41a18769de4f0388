//! A loopback TCP proxy in front of the control plane that can sever a connection in the middle
//! of a frame: TLS passes through it untouched, so the agent and the control plane see a real
//! connection drop at a byte the test chose.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub struct Proxy {
    pub port: u16,
    /// When not zero, the next agent-to-control-plane read of at least this many bytes is
    /// forwarded only in half, and the connection is then closed on both sides.
    sever_at: Arc<AtomicUsize>,
    severed: Arc<AtomicUsize>,
    cancel: CancellationToken,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Proxy {
    /// Listen on a free loopback port and forward every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let sever_at = Arc::new(AtomicUsize::new(0));
        let severed = Arc::new(AtomicUsize::new(0));
        let cancel = CancellationToken::new();
        let (at, count, stop) = (sever_at.clone(), severed.clone(), cancel.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stop.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((client, _)) = accepted else { continue };
                let (at, count, stop) = (at.clone(), count.clone(), stop.child_token());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pump(client, server, at, count, stop).await;
                    }
                });
            }
        });
        Ok(Proxy {
            port,
            sever_at,
            severed,
            cancel,
        })
    }

    /// Cut the next agent-to-control-plane read of at least `min_bytes` in its middle.
    pub fn sever_next(&self, min_bytes: usize) {
        self.sever_at.store(min_bytes.max(2), Ordering::SeqCst);
    }

    /// Connections severed so far.
    pub fn severed(&self) -> usize {
        self.severed.load(Ordering::SeqCst)
    }
}

async fn pump(
    client: TcpStream,
    server: TcpStream,
    sever_at: Arc<AtomicUsize>,
    severed: Arc<AtomicUsize>,
    stop: CancellationToken,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let at = sever_at.load(Ordering::SeqCst);
            if at != 0
                && n >= at
                && sever_at
                    .compare_exchange(at, 0, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                let _ = sw.write_all(&buf[..n / 2]).await;
                severed.fetch_add(1, Ordering::SeqCst);
                return;
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let down = async {
        let _ = tokio::io::copy(&mut sr, &mut cw).await;
    };
    // Whichever direction ends first ends the connection: both halves are dropped.
    tokio::select! {
        _ = up => {}
        _ = down => {}
        _ = stop.cancelled() => {}
    }
}
