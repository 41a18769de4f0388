//! One client cannot take the server from everyone else: slow or silent connections are cut
//! off and do not hold up other requests, request rates are limited with 429 and `Retry-After`,
//! and an agent token has a bounded number of sessions. Over real TLS on loopback.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;
use common::{connect, server_with, wait_up, Server};

/// A TLS connection to the server, nothing sent yet.
async fn tls_connection(s: &Server) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", s.port))
        .await
        .expect("tcp");
    let connector = tokio_rustls::TlsConnector::from(common::tls(&s.ca));
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    connector.connect(name, tcp).await.expect("tls")
}

/// One request on a fresh connection: the status line's code and the whole response.
async fn request(s: &Server, head: &str) -> (u16, String) {
    let mut c = tls_connection(s).await;
    c.write_all(head.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn slow_and_silent_connections_are_cut_off_and_do_not_hold_up_others() {
    let s = server_with(|c| {
        c.limits.header_read = Duration::from_secs(1);
        c.limits.idle = Duration::from_secs(2);
    })
    .await;
    wait_up(&s).await;
    // 200 clients that send half a request and then nothing.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut c = tls_connection(&s).await;
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .expect("write");
        slow.push(c);
    }
    // Meanwhile the server answers everyone else.
    for _ in 0..5 {
        let (code, text) = request(&s, HEALTHZ).await;
        assert_eq!(code, 200, "{text}");
    }
    // And the half requests are closed by the server (with a 408 or without a word), well
    // before a client would give up on them.
    let closed = futures_util::future::join_all(slow.into_iter().map(|mut c| async move {
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), c.read_to_end(&mut buf))
            .await
            .is_ok()
    }))
    .await;
    assert!(
        closed.iter().all(|&c| c),
        "{} of 200 half requests still open",
        closed.iter().filter(|&&c| !c).count()
    );
    // A connection that says nothing at all is closed too.
    let mut silent = tls_connection(&s).await;
    let mut buf = Vec::new();
    assert!(
        tokio::time::timeout(Duration::from_secs(20), silent.read_to_end(&mut buf))
            .await
            .is_ok(),
        "a silent connection stayed open"
    );
}

#[tokio::test]
async fn requests_past_the_rate_get_429_with_retry_after_and_others_are_unaffected() {
    let s = server_with(|c| {
        c.limits.requests_per_sec = 0.5;
        c.limits.burst = 3.0;
        c.limits.auth_requests_per_sec = 0.5;
        c.limits.auth_burst = 3.0;
    })
    .await;
    wait_up(&s).await;
    let mut codes = Vec::new();
    let mut refused = None;
    for _ in 0..6 {
        let (code, text) = request(&s, HEALTHZ).await;
        codes.push(code);
        if code == 429 {
            refused = Some(text);
        }
    }
    assert_eq!(&codes[..3], &[200, 200, 200], "{codes:?}");
    let text = refused.expect("a request past the burst is refused");
    let retry: u64 = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("retry-after:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=2).contains(&retry), "{text}");
    // Guessing API keys is limited the same way, per address.
    let guess = "GET /api/v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer cvk_guess\r\nConnection: close\r\n\r\n";
    let mut guesses = Vec::new();
    for _ in 0..5 {
        guesses.push(request(&s, guess).await.0);
    }
    assert!(
        guesses.contains(&401) && guesses.contains(&429),
        "{guesses:?}"
    );
}

#[tokio::test]
async fn an_agent_token_has_a_bounded_number_of_sessions() {
    let s = server_with(|_| {}).await;
    wait_up(&s).await;
    let mut open = Vec::new();
    for _ in 0..convops_control_plane::limits::SESSIONS_PER_TOKEN {
        open.push(
            connect(&s, Some(&s.token))
                .await
                .expect("a session within the cap"),
        );
    }
    match connect(&s, Some(&s.token)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), 429);
            assert!(r.headers().contains_key("retry-after"));
        }
        other => panic!(
            "expected 429 past the cap, got {:?}",
            other.map(|_| "a session")
        ),
    }
    // A closed session frees its place.
    drop(open.pop());
    let mut again = None;
    for _ in 0..50 {
        if let Ok(ws) = connect(&s, Some(&s.token)).await {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again.is_some(), "the freed place was not given back");
    let _ = Arc::new(open);
}
