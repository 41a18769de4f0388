//! Delivery to Slack (bot token, `chat.postMessage`), Slack incoming webhooks and signed generic
//! webhooks, against local HTTP servers that check requests the way Slack's documentation
//! describes them (bearer token, JSON with `channel`, `text` and at most 50 blocks; 429 with
//! `Retry-After`; HTTP 200 with `"ok": false` for errors) and the way a webhook receiver checks
//! our signature. Each case ends in the incident's delivery log.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use convops_control_plane::deliver::{self, SlackBotTarget, WebhookTarget};
use convops_control_plane::secrets::Sealer;
use convops_control_plane::store::{BodyFor, NewIncident, Route, Store};

mod common;
use common::received;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
struct Seen {
    requests: Arc<Mutex<Vec<(Instant, HeaderMap, Bytes)>>>,
}

/// Serves `reply(n, headers, body)` for the n-th request (0-based) at `path`.
async fn receiver(
    path: &'static str,
    reply: impl Fn(usize, &HeaderMap, &[u8]) -> Response + Clone + Send + Sync + 'static,
) -> (String, Seen) {
    let seen = Seen::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        path,
        post(move |headers: HeaderMap, body: Bytes| {
            let s = s.clone();
            let reply = reply.clone();
            async move {
                let mut r = s.requests.lock().expect("lock");
                let n = r.len();
                r.push((Instant::now(), headers.clone(), body.clone()));
                drop(r);
                reply(n, &headers, &body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

struct Setup {
    store: Store,
    workspace: String,
    incident: String,
    cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A store with a workspace and one route of `kind` to `target`: (dir, store, sealer, workspace).
async fn workspace_with_route(
    kind: &str,
    target: &[u8],
) -> (tempfile::TempDir, Store, Sealer, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_sqlite(&dir.path().join("db.sqlite"))
        .await
        .expect("store");
    let sealer = Sealer::load(
        &dir.path().join("master.key"),
        true,
        &dir.path().join("db.sqlite"),
    )
    .expect("sealer");
    let (ws, _) = store
        .create_workspace("acme", "test")
        .await
        .expect("workspace");
    store
        .add_route(
            &ws.id,
            kind,
            &sealer.seal(
                target,
                &convops_control_plane::secrets::route_target_aad(&ws.id, kind),
            ),
            "test",
        )
        .await
        .expect("route");
    (dir, store, sealer, ws.id)
}

/// Runs the delivery worker until the returned token is cancelled.
fn start_worker(store: &Store, sealer: Sealer, slack_api: &str) -> CancellationToken {
    start_worker_with(store, sealer, slack_api, true)
}

/// [`start_worker`], with `allow_private` as `[delivery] allow_private_destinations`.
fn start_worker_with(
    store: &Store,
    sealer: Sealer,
    slack_api: &str,
    allow_private: bool,
) -> CancellationToken {
    let cancel = CancellationToken::new();
    let worker = deliver::Worker {
        store: store.clone(),
        sealer,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client"),
        routes_http: convops_control_plane::egress::client(Duration::from_secs(5), allow_private)
            .expect("client"),
        allow_private_destinations: allow_private,
        wake: Arc::new(tokio::sync::Notify::new()),
        max_attempts: 3,
        slack_api: slack_api.to_owned(),
        whatsapp: None,
    };
    tokio::spawn(worker.run(cancel.clone()));
    cancel
}

/// A workspace with one route of `kind` to `target`, one incident queued for it, and the worker
/// running with `slack_api` as Slack's Web API.
async fn deliver_one(kind: &str, target: &[u8], slack_api: &str) -> Setup {
    deliver_one_with(kind, target, slack_api, true).await
}

/// [`deliver_one`] with `allow_private` as `[delivery] allow_private_destinations`.
async fn deliver_one_with(
    kind: &str,
    target: &[u8],
    slack_api: &str,
    allow_private: bool,
) -> Setup {
    let (dir, store, sealer, ws) = workspace_with_route(kind, target).await;
    let body = serde_json::json!({
        "text": "orders-5xx is in ALARM\nMost likely: a deploy",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Most likely:* a deploy"}}],
    })
    .to_string();
    let stored = store
        .store_evidence(
            received(&ws, 1),
            |_| NewIncident {
                dedupe_key: "alarm:orders-5xx:1".into(),
                alarm_name: "orders-5xx".into(),
                transitioned_at: 1,
                title: "orders-5xx".into(),
                diagnosis: serde_json::json!({}),
                resources: Vec::new(),
            },
            |_, _, _| body.clone(),
        )
        .await
        .expect("stored");
    let incident = match stored {
        convops_control_plane::store::Stored::New { incident_id, .. } => incident_id,
        other => panic!("not stored: {other:?}"),
    };
    let cancel = start_worker_with(&store, sealer, slack_api, allow_private);
    Setup {
        store,
        workspace: ws,
        incident,
        cancel,
        _dir: dir,
    }
}

/// The delivery log entry once it is no longer pending (or after `within`).
async fn settled(s: &Setup, within: Duration) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let log = s
            .store
            .deliveries(&s.workspace, &s.incident)
            .await
            .expect("log");
        let entry = log.first().cloned().expect("one delivery");
        if entry["status"] != "pending" || start.elapsed() > within {
            return entry;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (
        status,
        [("content-type", "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

#[tokio::test]
async fn slack_bot_posts_with_the_token_to_the_channel_and_waits_out_a_rate_limit() {
    let (base, seen) = receiver("/api/chat.postMessage", |n, headers, body| {
        // What Slack checks: the bearer token and a JSON body naming the channel.
        if headers.get("authorization").and_then(|v| v.to_str().ok())
            != Some("Bearer xoxb-test-token")
        {
            return json(
                StatusCode::OK,
                serde_json::json!({"ok": false, "error": "not_authed"}),
            );
        }
        let v: serde_json::Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) => {
                return json(
                    StatusCode::OK,
                    serde_json::json!({"ok": false, "error": "invalid_json"}),
                )
            }
        };
        if v["channel"] != "C0123456" || !v["text"].is_string() {
            return json(
                StatusCode::OK,
                serde_json::json!({"ok": false, "error": "channel_not_found"}),
            );
        }
        if v["blocks"].as_array().is_none_or(|b| b.len() > 50) {
            return json(
                StatusCode::OK,
                serde_json::json!({"ok": false, "error": "invalid_blocks"}),
            );
        }
        if n == 0 {
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "").into_response();
        }
        json(
            StatusCode::OK,
            serde_json::json!({"ok": true, "channel": "C0123456", "ts": "1700000000.000100"}),
        )
    })
    .await;
    let target = serde_json::to_vec(&SlackBotTarget {
        token: "xoxb-test-token".into(),
        channel: "C0123456".into(),
    })
    .expect("target");
    let s = deliver_one(deliver::SLACK_BOT, &target, &format!("{base}/api")).await;
    let entry = settled(&s, Duration::from_secs(10)).await;
    assert_eq!(entry["status"], "delivered", "{entry}");
    assert_eq!(entry["attempts"], 2);
    let reqs = seen.requests.lock().expect("lock");
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].0 - reqs[0].0;
    assert!(
        gap >= Duration::from_millis(950),
        "Retry-After honoured: {gap:?}"
    );
    let ct = reqs[1]
        .1
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(ct, "application/json; charset=utf-8");
}

#[tokio::test]
async fn slack_errors_in_an_ok_reply_are_final_and_recorded() {
    let (base, seen) = receiver("/api/chat.postMessage", |_, _, _| {
        json(
            StatusCode::OK,
            serde_json::json!({"ok": false, "error": "not_in_channel"}),
        )
    })
    .await;
    let target = serde_json::to_vec(&SlackBotTarget {
        token: "xoxb-t".into(),
        channel: "C1".into(),
    })
    .expect("target");
    let s = deliver_one(deliver::SLACK_BOT, &target, &format!("{base}/api")).await;
    let entry = settled(&s, Duration::from_secs(10)).await;
    assert_eq!(entry["status"], "failed", "{entry}");
    assert_eq!(entry["attempts"], 1, "not retried");
    assert!(entry["last_error"]
        .as_str()
        .unwrap_or_default()
        .contains("not_in_channel"));
    assert_eq!(seen.requests.lock().expect("lock").len(), 1);
    // The token never shows in the log.
    assert!(!entry.to_string().contains("xoxb-t"));
}

#[tokio::test]
async fn incoming_webhook_errors_other_than_rate_limits_are_final() {
    let (base, seen) = receiver("/services/T/B/X", |_, _, _| {
        (StatusCode::NOT_FOUND, "no_service").into_response()
    })
    .await;
    let url = format!("{base}/services/T/B/X");
    let s = deliver_one(deliver::SLACK_WEBHOOK, url.as_bytes(), "http://unused").await;
    let entry = settled(&s, Duration::from_secs(10)).await;
    assert_eq!(entry["status"], "failed", "{entry}");
    assert!(entry["last_error"]
        .as_str()
        .unwrap_or_default()
        .contains("no_service"));
    assert_eq!(seen.requests.lock().expect("lock").len(), 1);
    assert!(
        !entry.to_string().contains("/services/T/B/X"),
        "the webhook URL is a secret"
    );
}

#[tokio::test]
async fn webhooks_are_signed_over_timestamp_and_body() {
    use hmac::{Hmac, Mac};
    const SECRET: &str = "whsec-test-0123456789";
    // The receiver verifies as our docs tell users to: recompute over the raw body, compare in
    // constant time, refuse stale timestamps.
    let (base, seen) = receiver("/hook", |_, headers, body| {
        let h = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let ts: i64 = h("x-convops-request-timestamp").parse().unwrap_or(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if (now - ts).abs() > 300 {
            return (StatusCode::UNAUTHORIZED, "stale").into_response();
        }
        let Some(sig) = h("x-convops-signature")
            .strip_prefix("v1=")
            .and_then(|s| hex::decode(s).ok())
        else {
            return (StatusCode::UNAUTHORIZED, "no signature").into_response();
        };
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).expect("key");
        mac.update(format!("v1:{ts}:").as_bytes());
        mac.update(body);
        if mac.verify_slice(&sig).is_err() || h("x-convops-delivery").is_empty() {
            return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
        }
        StatusCode::NO_CONTENT.into_response()
    })
    .await;
    let target = serde_json::to_vec(&WebhookTarget {
        url: format!("{base}/hook"),
        secret: SECRET.into(),
    })
    .expect("target");
    let s = deliver_one(deliver::WEBHOOK, &target, "http://unused").await;
    let entry = settled(&s, Duration::from_secs(10)).await;
    assert_eq!(entry["status"], "delivered", "{entry}");
    let reqs = seen.requests.lock().expect("lock");
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].2).expect("json body");
    assert!(body["text"]
        .as_str()
        .unwrap_or_default()
        .contains("Most likely"));

    // The same check refuses a body changed after signing.
    let ts = 1_700_000_000;
    let sig = deliver::sign(SECRET.as_bytes(), ts, b"{\"a\":1}");
    assert_ne!(sig, deliver::sign(SECRET.as_bytes(), ts, b"{\"a\":2}"));
    assert_ne!(sig, deliver::sign(b"other", ts, b"{\"a\":1}"));
    assert_ne!(sig, deliver::sign(SECRET.as_bytes(), ts + 1, b"{\"a\":1}"));
}

#[tokio::test]
async fn a_storm_of_thirty_related_alarms_is_one_slack_thread_with_updates() {
    let (base, seen) = receiver("/api/chat.postMessage", |n, _, _| {
        json(
            StatusCode::OK,
            serde_json::json!({"ok": true, "channel": "C1", "ts": format!("1700000000.{n:06}")}),
        )
    })
    .await;
    let target = serde_json::to_vec(&SlackBotTarget {
        token: "xoxb-t".into(),
        channel: "C1".into(),
    })
    .expect("target");
    let (_dir, store, sealer, ws) = workspace_with_route(deliver::SLACK_BOT, &target).await;
    let body = |id: &str, route: &Route, what: &BodyFor| match what {
        BodyFor::Opened => serde_json::json!({"text": format!("{id} opened")}).to_string(),
        BodyFor::Update { joined } => {
            convops_control_plane::ingest::update_body(route, id, "https://x/i", joined).to_string()
        }
    };
    for i in 0..30u64 {
        store
            .store_evidence(
                received(&ws, i + 1),
                |_| NewIncident {
                    dedupe_key: format!("alarm:task-{i}-cpu:1"),
                    alarm_name: format!("task-{i}-cpu"),
                    transitioned_at: 1,
                    title: format!("task-{i}-cpu"),
                    diagnosis: serde_json::json!({}),
                    resources: vec!["prod-cluster".into(), format!("task-{i}")],
                },
                body,
            )
            .await
            .expect("stored");
    }
    let cancel = start_worker(&store, sealer, &format!("{base}/api"));
    // The update is held for the coalescing window, then replies in the opening's thread.
    let start = Instant::now();
    while seen.requests.lock().expect("lock").len() < 2 && start.elapsed() < Duration::from_secs(15)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    cancel.cancel();
    let reqs: Vec<_> = seen.requests.lock().expect("lock").clone();
    assert_eq!(reqs.len(), 2, "one opening and one update, not 30 messages");
    let first: serde_json::Value = serde_json::from_slice(&reqs[0].2).expect("json");
    let update: serde_json::Value = serde_json::from_slice(&reqs[1].2).expect("json");
    assert!(first.get("thread_ts").is_none());
    assert_eq!(
        update["thread_ts"], "1700000000.000000",
        "the update is in the opening's thread"
    );
    let text = update["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with(
            "Update: 29 related alarm(s) joined this incident: 19 more, then task-20-cpu"
        ),
        "{text}"
    );
    assert!(text.contains("task-29-cpu"));
    let incidents = store.incidents(&ws, 50).await.expect("incidents");
    assert_eq!(incidents.len(), 1);
    let log = store.deliveries(&ws, &incidents[0].id).await.expect("log");
    assert!(log.iter().all(|d| d["status"] == "delivered"), "{log:#?}");
}

/// A route target sealed in the old format (the master key itself, no associated data) is sealed
/// again, bound to its workspace and kind, when the data directory is opened; after that it
/// opens only where it belongs, and a missing key file is refused rather than replaced.
#[tokio::test]
async fn old_format_route_targets_are_sealed_again_and_bound_to_their_place() {
    use aes_gcm::aead::{Aead, KeyInit};
    use convops_control_plane::secrets::route_target_aad;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let key = [5u8; 32];
    std::fs::write(data.join("master.key"), hex::encode(key)).expect("key");
    let store = Store::open_sqlite(&data.join("convops.db"))
        .await
        .expect("store");
    let (ws, _) = store
        .create_workspace("acme", "test")
        .await
        .expect("workspace");
    let nonce = [3u8; 12];
    let mut legacy = nonce.to_vec();
    legacy.extend(
        aes_gcm::Aes256Gcm::new((&key).into())
            .encrypt(
                aes_gcm::Nonce::from_slice(&nonce),
                b"https://hooks.slack.com/services/T/B/old".as_slice(),
            )
            .expect("encrypt"),
    );
    store
        .add_route(&ws.id, deliver::SLACK_WEBHOOK, &legacy, "test")
        .await
        .expect("route");
    drop(store);

    let settings = common::settings_at(dir.path(), "127.0.0.1:9".parse().expect("addr"));
    let (store, sealer) = convops_control_plane::open_data_dir(&settings)
        .await
        .expect("open");
    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("convops.db").display()))
            .await
            .expect("pool");
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT target_enc FROM routes")
        .fetch_one(&pool)
        .await
        .expect("route");
    let sealed = &sealed;
    assert!(Sealer::is_current(sealed));
    assert_eq!(
        sealer
            .open(sealed, &route_target_aad(&ws.id, deliver::SLACK_WEBHOOK))
            .expect("opens where it belongs"),
        b"https://hooks.slack.com/services/T/B/old"
    );
    assert!(sealer
        .open(
            sealed,
            &route_target_aad("another-workspace", deliver::SLACK_WEBHOOK)
        )
        .is_err());
    assert_eq!(store.reseal_legacy_routes(&sealer).await.expect("again"), 0);

    std::fs::remove_file(data.join("master.key")).expect("rm key");
    let err = convops_control_plane::open_data_dir(&settings)
        .await
        .expect_err("a missing key with an existing database is refused");
    assert!(format!("{err:#}").contains("--new-secrets-key"), "{err:#}");
    let mut asked = settings.clone();
    asked.new_secrets_key = true;
    convops_control_plane::open_data_dir(&asked)
        .await
        .expect("a new key when asked");
}

/// A tenant's webhook cannot reach the control plane's own network, be redirected there, or
/// read back what an endpoint answered.
#[tokio::test]
async fn routes_refuse_private_destinations_follow_no_redirects_and_show_no_error_bodies() {
    let webhook = |url: String| {
        serde_json::to_vec(&WebhookTarget {
            url,
            secret: "0123456789abcdef0123".into(),
        })
        .expect("target")
    };
    // A private address, with private destinations not allowed (the default).
    let (base, seen) = receiver("/hook", |_, _, _| StatusCode::OK.into_response()).await;
    let s = deliver_one_with(
        deliver::WEBHOOK,
        &webhook(format!("{base}/hook")),
        "http://unused",
        false,
    )
    .await;
    let entry = settled(&s, Duration::from_secs(10)).await;
    assert_eq!(entry["status"], "failed", "{entry}");
    assert!(
        entry["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("not a public address"),
        "{entry}"
    );
    assert!(
        seen.requests.lock().expect("lock").is_empty(),
        "nothing was sent"
    );

    // A redirect (to where the instance metadata service would be) is not followed.
    let (elsewhere, hit) = receiver("/elsewhere", |_, _, _| StatusCode::OK.into_response()).await;
    let target = format!("{elsewhere}/elsewhere");
    let (base, _) = receiver("/hook", move |_, _, _| {
        (StatusCode::FOUND, [("location", target.clone())]).into_response()
    })
    .await;
    let s = deliver_one(
        deliver::WEBHOOK,
        &webhook(format!("{base}/hook")),
        "http://unused",
    )
    .await;
    let entry = settled(&s, Duration::from_secs(10)).await;
    assert_eq!(entry["status"], "failed", "{entry}");
    assert!(
        entry["last_error"].as_str().unwrap_or("").contains("302"),
        "{entry}"
    );
    assert!(
        hit.requests.lock().expect("lock").is_empty(),
        "the redirect was not followed"
    );

    // An error page's body is not shown to the tenant.
    let (base, _) = receiver("/hook", |_, _, _| {
        (
            StatusCode::BAD_REQUEST,
            "<html>internal admin console, token s3cr3t-page-body</html>",
        )
            .into_response()
    })
    .await;
    let s = deliver_one(
        deliver::WEBHOOK,
        &webhook(format!("{base}/hook")),
        "http://unused",
    )
    .await;
    let entry = settled(&s, Duration::from_secs(10)).await;
    let error = entry["last_error"].as_str().unwrap_or("");
    assert!(error.starts_with("HTTP 400"), "{entry}");
    assert!(
        !error.contains("s3cr3t") && !error.contains("admin"),
        "{entry}"
    );
}
