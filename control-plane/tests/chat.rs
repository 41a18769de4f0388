//! Slack slash commands against the control plane over real TLS 1.3: requests signed as Slack
//! signs them (`v0` HMAC-SHA256 of timestamp and raw body) run in the workspace their team is
//! linked to; bad or missing signatures and stale timestamps are refused before any processing;
//! a replayed request runs once; every command lands in the workspace's action log.

use std::time::Duration;

use convops_control_plane::store::{NewIncident, Store, Stored};
use hmac::{Hmac, Mac};

mod common;
use common::{received, server, Server, SLACK_SECRET};

struct Slack {
    client: reqwest::Client,
    url: String,
}

impl Slack {
    fn new(s: &Server) -> Slack {
        let ca = std::fs::read(&s.ca).expect("ca");
        Slack {
            client: reqwest::Client::builder()
                .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("pem"))
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
            url: format!("https://127.0.0.1:{}/api/v1/slack/commands", s.port),
        }
    }

    /// POSTs a slash command as Slack does, signed with `secret` at `ts`.
    async fn send(&self, body: &str, secret: &str, ts: i64) -> (u16, serde_json::Value) {
        self.post(&self.url, body, secret, ts).await
    }

    async fn post(&self, url: &str, body: &str, secret: &str, ts: i64) -> (u16, serde_json::Value) {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(format!("v0:{ts}:{body}").as_bytes());
        let sig = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
        let r = self
            .client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sig)
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn command(team: &str, text: &str, trigger: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", "legacy-verification-token")
        .append_pair("team_id", team)
        .append_pair("team_domain", "acme")
        .append_pair("channel_id", "C0ONCALL")
        .append_pair("channel_name", "oncall")
        .append_pair("user_id", "U0ALICE")
        .append_pair("user_name", "alice")
        .append_pair("command", "/convops")
        .append_pair("text", text)
        .append_pair("response_url", "https://hooks.slack.com/commands/T1/1/abc")
        .append_pair("trigger_id", trigger)
        .finish()
}

async fn setup() -> (Server, Store, String) {
    let s = server().await;
    // The server applies migrations; wait for the database to be there.
    let db = s.data_dir.join("convops.db");
    let store = Store::open_sqlite(&db).await.expect("store");
    store
        .link_slack_team(&s.workspace_id, "T0ACME", "test")
        .await
        .expect("link");
    let incident_id = open_incident(
        &store,
        &s.workspace_id,
        1,
        "orders-5xx",
        "orders-5xx: 5xx after a deploy",
        "a deploy of orders",
    )
    .await;
    (s, store, incident_id)
}

/// Opens an incident for alarm `alarm` from the evidence frame `seq`, whose diagnosis leads with
/// `cause`; its id.
async fn open_incident(
    store: &Store,
    workspace_id: &str,
    seq: u64,
    alarm: &str,
    title: &str,
    cause: &str,
) -> String {
    let stored = store
        .store_evidence(
            received(workspace_id, seq),
            |_| NewIncident {
                dedupe_key: format!("alarm:{alarm}:{seq}"),
                alarm_name: alarm.into(),
                transitioned_at: seq as i64,
                title: title.into(),
                diagnosis: serde_json::json!({"hypotheses": [{"title": cause, "confidence": 0.9}]}),
                resources: Vec::new(),
            },
            |_, _, _| String::new(),
        )
        .await
        .expect("incident");
    let Stored::New { incident_id, .. } = stored else {
        panic!("incident not opened");
    };
    incident_id
}

#[tokio::test]
async fn commands_run_in_the_linked_workspace_once_and_are_logged() {
    let (s, store, inc) = setup().await;
    let slack = Slack::new(&s);

    let (code, r) = slack
        .send(&command("T0ACME", "status", "trig-1"), SLACK_SECRET, now())
        .await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["response_type"], "ephemeral");
    assert!(
        r["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("1 open, 0 acknowledged."),
        "{r}"
    );

    let (_, r) = slack
        .send(
            &command("T0ACME", &format!("show {inc}"), "trig-2"),
            SLACK_SECRET,
            now(),
        )
        .await;
    let text = r["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("Most likely: a deploy of orders (90%)") && text.contains(&inc),
        "{r}"
    );

    // Acknowledge, then replay the very same request: one state change, the same reply.
    let ack = command("T0ACME", &format!("ack {inc}"), "trig-3");
    let ts = now();
    let (_, first) = slack.send(&ack, SLACK_SECRET, ts).await;
    assert_eq!(first["response_type"], "in_channel");
    assert_eq!(first["text"], format!("<@U0ALICE> acknowledged `{inc}`."));
    let (code, again) = slack.send(&ack, SLACK_SECRET, ts).await;
    assert_eq!(
        (code, &again),
        (200, &first),
        "a replay gets the first reply"
    );
    let incident = store
        .incident(&s.workspace_id, &inc)
        .await
        .expect("read")
        .expect("incident");
    assert_eq!(incident.status, "acknowledged");

    let (_, r) = slack
        .send(
            &command("T0ACME", &format!("resolve {inc}"), "trig-4"),
            SLACK_SECRET,
            now(),
        )
        .await;
    assert_eq!(r["text"], format!("<@U0ALICE> resolved `{inc}`."));
    let (_, r) = slack
        .send(
            &command("T0ACME", "incidents", "trig-5"),
            SLACK_SECRET,
            now(),
        )
        .await;
    assert_eq!(r["text"], "No open incidents.");
    let (_, r) = slack
        .send(
            &command("T0ACME", "ack inc_nope", "trig-6"),
            SLACK_SECRET,
            now(),
        )
        .await;
    assert_eq!(r["text"], "No incident `inc_nope` in this workspace.");

    // The action log: who, what, when, from which channel; the replay added nothing.
    let log = store.audit_log(&s.workspace_id, 100).await.expect("log");
    let acks = log
        .iter()
        .filter(|e| e["action"] == "incident.acknowledged")
        .count();
    assert_eq!(acks, 1, "{log:#?}");
    let ack_row = log
        .iter()
        .find(|e| e["action"] == "incident.acknowledged")
        .expect("ack row");
    assert_eq!(ack_row["actor"], "slack:T0ACME/U0ALICE (alice)");
    assert_eq!(
        ack_row["detail"],
        serde_json::json!({"id": inc, "channel": "slack:T0ACME/C0ONCALL"})
    );
    assert!(ack_row["at"].as_i64().unwrap_or(0) > 0);
    let commands = log.iter().filter(|e| e["action"] == "chat.command").count();
    assert_eq!(
        commands, 6,
        "one row per command run, none for the replay: {log:#?}"
    );
}

#[tokio::test]
async fn unsigned_stale_and_foreign_requests_are_refused_before_processing() {
    let (s, store, inc) = setup().await;
    let slack = Slack::new(&s);
    let ack = command("T0ACME", &format!("ack {inc}"), "trig-x");
    for (secret, ts, why) in [
        ("not-the-signing-secret-000", now(), "wrong secret"),
        (SLACK_SECRET, now() - 360, "stale timestamp"),
        (SLACK_SECRET, now() + 360, "future timestamp"),
    ] {
        let (code, r) = slack.send(&ack, secret, ts).await;
        assert_eq!(code, 401, "{why}: {r}");
    }
    // No signature at all.
    let r = slack
        .client
        .post(&slack.url)
        .header("x-slack-request-timestamp", now().to_string())
        .body(ack.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 401);
    let incident = store
        .incident(&s.workspace_id, &inc)
        .await
        .expect("read")
        .expect("incident");
    assert_eq!(incident.status, "open", "nothing ran");
    let log = store.audit_log(&s.workspace_id, 100).await.expect("log");
    assert!(
        log.iter().all(|e| e["action"] != "chat.command"),
        "nothing logged: {log:#?}"
    );

    // A team linked to no workspace, and one linked elsewhere, cannot touch this one.
    let (code, r) = slack
        .send(
            &command("T0OTHER", &format!("ack {inc}"), "trig-y"),
            SLACK_SECRET,
            now(),
        )
        .await;
    assert_eq!(code, 200);
    assert!(
        r["text"]
            .as_str()
            .unwrap_or_default()
            .contains("not linked"),
        "{r}"
    );
    let (other, _) = store.create_workspace("other", "test").await.expect("ws");
    store
        .link_slack_team(&other.id, "T0OTHER", "test")
        .await
        .expect("link");
    let (_, r) = slack
        .send(
            &command("T0OTHER", &format!("ack {inc}"), "trig-z"),
            SLACK_SECRET,
            now(),
        )
        .await;
    assert_eq!(r["text"], format!("No incident `{inc}` in this workspace."));
    let incident = store
        .incident(&s.workspace_id, &inc)
        .await
        .expect("read")
        .expect("incident");
    assert_eq!(incident.status, "open");
}

#[tokio::test]
async fn the_acknowledge_button_acts_once_and_answers_at_the_response_url() {
    use axum::routing::post;
    let (s, store, inc) = setup().await;
    let slack = Slack::new(&s);
    // Where Slack would show the outcome: a local response_url.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<serde_json::Value>(4);
    let app = axum::Router::new().route(
        "/actions/T0ACME/1/xyz",
        post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(v).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let payload = serde_json::json!({
        "type": "block_actions",
        "team": {"id": "T0ACME", "domain": "acme"},
        "user": {"id": "U0BOB", "username": "bob"},
        "channel": {"id": "C0ONCALL"},
        "trigger_id": "trig-button-1",
        "response_url": format!("http://{addr}/actions/T0ACME/1/xyz"),
        "actions": [{"action_id": "convops_ack", "block_id": "b", "value": inc, "type": "button"}],
    });
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let url = slack.url.replace("/commands", "/interactivity");
    let ts = now();
    for _ in 0..2 {
        let (code, _) = slack.post(&url, &body, SLACK_SECRET, ts).await;
        assert_eq!(code, 200);
    }
    let note = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a note at the response_url")
        .expect("note");
    assert_eq!(note["text"], format!("<@U0BOB> acknowledged `{inc}`."));
    assert_eq!(note["response_type"], "in_channel");
    let incident = store
        .incident(&s.workspace_id, &inc)
        .await
        .expect("read")
        .expect("incident");
    assert_eq!(incident.status, "acknowledged");
    let log = store.audit_log(&s.workspace_id, 100).await.expect("log");
    let acks: Vec<_> = log
        .iter()
        .filter(|e| e["action"] == "incident.acknowledged")
        .collect();
    assert_eq!(acks.len(), 1, "the repeated click ran once: {log:#?}");
    assert_eq!(acks[0]["actor"], "slack:T0ACME/U0BOB (bob)");
    // A forged click is refused.
    let (code, _) = slack
        .post(&url, &body, "not-the-signing-secret-000", now())
        .await;
    assert_eq!(code, 401);
}

/// Titles come from evidence (alarm names, log lines) and arguments from whoever types: neither
/// can mention the channel, a user, or add a link in a Slack reply, nor close the code span.
#[tokio::test]
async fn replies_escape_what_came_from_evidence_or_the_user() {
    let (s, store, _) = setup().await;
    let incident_id = open_incident(
        &store,
        &s.workspace_id,
        2,
        "evil",
        "<!channel> `x` <https://evil.example|click here>",
        "<@U0BOSS> approve <!here>",
    )
    .await;
    let slack = Slack::new(&s);
    let show = format!("show {incident_id}");
    for (i, cmd) in [
        "status",
        "incidents",
        show.as_str(),
        "show <!here>",
        "ack `<!channel>`",
        "nonsense<!everyone>",
    ]
    .into_iter()
    .enumerate()
    {
        let (_, r) = slack
            .send(
                &command("T0ACME", cmd, &format!("trig-esc-{i}")),
                SLACK_SECRET,
                now(),
            )
            .await;
        let text = r["text"].as_str().unwrap_or_default();
        assert!(!text.is_empty(), "{cmd}: {r}");
        for bad in ["<!", "<@U0BOSS", "<https", "`x`"] {
            assert!(!text.contains(bad), "{cmd}: {bad:?} in {text:?}");
        }
    }
}
