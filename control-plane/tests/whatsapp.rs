//! WhatsApp end to end over real TLS 1.3: an agent's evidence becomes an incident whose diagnosis
//! goes to a linked phone through a local stand-in for Meta's Cloud API, and messages from that
//! phone, signed the way Meta signs webhooks, run as commands whose replies go back to it.
//!
//! The stand-in checks requests as Meta documents them: `POST /{version}/{phone-number-id}/messages`
//! with the bearer token, JSON with `messaging_product: whatsapp`, a digits-only `to`, a text body
//! of at most 4096 characters, or a template with its name, language and body parameters free of
//! newlines, tabs and long space runs. Like Meta it refuses free-form text outside the 24-hour
//! window since the user's last message (131047) and a second message to one user within 6
//! seconds (131056), and it can be told to answer with a rate-limit error.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use convops_control_plane::config::WhatsAppSettings;
use convops_control_plane::deliver::whatsapp::{contact_hash, Target, MAX_TEXT_CHARS};
use convops_control_plane::deliver::WHATSAPP;
use convops_control_plane::secrets::Sealer;
use convops_control_plane::store::Store;
use convops_shared::protocol::{Command, ServerFrame};
use convops_shared::secret::SecretString;
use futures_util::SinkExt;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

mod common;
use common::{evidence, recv, server_with, session, wait_up, Server};

const PHONE_NUMBER_ID: &str = "106540352242922";
const ACCESS_TOKEN: &str = "EAAG-test-access-token-0123456789";
const APP_SECRET: &str = "whatsapp-app-secret-0123456789";
const VERIFY_TOKEN: &str = "whatsapp-verify-token-0123456789";
const TEMPLATE: &str = "convops_incident";
/// The on-call engineer's number, as WhatsApp writes it (`wa_id`).
const USER: &str = "4915123456789";

/// One message Meta accepted.
#[derive(Debug, Clone)]
struct Sent {
    at: Instant,
    to: String,
    body: Value,
    id: String,
}

#[derive(Default)]
struct MetaState {
    sent: Vec<Sent>,
    /// When each user last wrote to the business (opens the 24-hour window).
    last_inbound: HashMap<String, Instant>,
    last_sent: HashMap<String, Instant>,
    /// Error codes to answer the next requests with, before checking anything else.
    fail_next: VecDeque<i64>,
    /// Error codes Meta answered with.
    refused: Vec<i64>,
    /// Requests that broke Meta's documented shape.
    malformed: Vec<String>,
}

#[derive(Clone)]
struct Meta {
    base: String,
    state: Arc<Mutex<MetaState>>,
}

fn graph_error(code: i64, message: &str) -> Response {
    let status = if code == 190 {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        axum::Json(json!({"error": {
            "message": format!("(#{code}) {message}"),
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": "AbCdEf"
        }})),
    )
        .into_response()
}

/// Why a send request breaks Meta's documented shape, if it does.
fn check_shape(headers: &HeaderMap, body: &Value) -> Result<(), String> {
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {ACCESS_TOKEN}"))
    {
        return Err("no or wrong bearer token".into());
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(format!("content-type {ct:?}"));
    }
    if body["messaging_product"] != "whatsapp" {
        return Err("messaging_product is not whatsapp".into());
    }
    let to = body["to"].as_str().unwrap_or("");
    if to.is_empty() || !to.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("to {to:?} is not digits"));
    }
    match body["type"].as_str() {
        Some("text") => {
            let text = body["text"]["body"].as_str().unwrap_or("");
            let n = text.chars().count();
            if n == 0 || n > MAX_TEXT_CHARS {
                return Err(format!("text body of {n} characters"));
            }
        }
        Some("template") => {
            let t = &body["template"];
            if t["name"] != TEMPLATE || t["language"]["code"] != "en_US" {
                return Err(format!("template {t}"));
            }
            let params = t["components"][0]["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if t["components"][0]["type"] != "body" || params.len() != 3 {
                return Err(format!("template components {}", t["components"]));
            }
            for p in params {
                let text = p["text"].as_str().unwrap_or("");
                if p["type"] != "text"
                    || text.trim().is_empty()
                    || text.contains(['\n', '\t'])
                    || text.contains("     ")
                {
                    return Err(format!("template parameter {p}"));
                }
            }
        }
        other => return Err(format!("type {other:?}")),
    }
    Ok(())
}

impl Meta {
    async fn start() -> Meta {
        let state = Arc::new(Mutex::new(MetaState::default()));
        let st = state.clone();
        let app = axum::Router::new().route(
            "/v21.0/{phone_number_id}/messages",
            axum::routing::post(
                move |Path(id): Path<String>, headers: HeaderMap, body: Bytes| {
                    let st = st.clone();
                    async move {
                        let mut s = st.lock().expect("lock");
                        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                        if id != PHONE_NUMBER_ID {
                            s.malformed.push(format!("phone number id {id}"));
                            return graph_error(100, "Invalid parameter");
                        }
                        if let Err(e) = check_shape(&headers, &body) {
                            s.malformed.push(e);
                            return graph_error(100, "Invalid parameter");
                        }
                        let to = body["to"].as_str().unwrap_or("").to_owned();
                        let now = Instant::now();
                        let refuse = |s: &mut MetaState, code: i64, m: &str| {
                            s.refused.push(code);
                            graph_error(code, m)
                        };
                        if let Some(code) = s.fail_next.pop_front() {
                            return refuse(&mut s, code, "Rate limit hit");
                        }
                        if s.last_sent
                            .get(&to)
                            .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(6))
                        {
                            return refuse(
                                &mut s,
                                131056,
                                "(Business Account, Consumer Account) pair rate limit hit",
                            );
                        }
                        let in_window = s.last_inbound.get(&to).is_some_and(|t| {
                            now.duration_since(*t) < Duration::from_secs(24 * 3600)
                        });
                        if body["type"] == "text" && !in_window {
                            return refuse(&mut s, 131047, "Re-engagement message");
                        }
                        s.last_sent.insert(to.clone(), now);
                        let id = format!("wamid.TEST{}", s.sent.len());
                        s.sent.push(Sent {
                            at: now,
                            to: to.clone(),
                            body,
                            id: id.clone(),
                        });
                        axum::Json(json!({
                            "messaging_product": "whatsapp",
                            "contacts": [{"input": to, "wa_id": to}],
                            "messages": [{"id": id}],
                        }))
                        .into_response()
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Meta {
            base: format!("http://{addr}/v21.0"),
            state,
        }
    }

    fn settings(&self) -> WhatsAppSettings {
        WhatsAppSettings {
            api_url: url::Url::parse(&self.base).expect("url"),
            phone_number_id: PHONE_NUMBER_ID.into(),
            access_token: SecretString::new(ACCESS_TOKEN),
            app_secret: SecretString::new(APP_SECRET),
            verify_token: SecretString::new(VERIFY_TOKEN),
            template: TEMPLATE.into(),
            template_language: "en_US".into(),
        }
    }

    /// The user wrote to the business: Meta's window opens.
    fn user_wrote(&self, who: &str) {
        self.state
            .lock()
            .expect("lock")
            .last_inbound
            .insert(who.into(), Instant::now());
    }

    fn sent(&self) -> Vec<Sent> {
        self.state.lock().expect("lock").sent.clone()
    }

    async fn wait_sent(&self, n: usize, within: Duration) -> Vec<Sent> {
        let until = Instant::now() + within;
        loop {
            let sent = self.sent();
            if sent.len() >= n || Instant::now() > until {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn check_clean(&self, allowed_refusals: &[i64]) {
        let s = self.state.lock().expect("lock");
        assert!(
            s.malformed.is_empty(),
            "malformed requests: {:?}",
            s.malformed
        );
        assert!(
            s.refused.iter().all(|c| allowed_refusals.contains(c)),
            "Meta refused {:?}",
            s.refused
        );
    }
}

/// The control plane with WhatsApp on, `USER` linked to its workspace.
struct Setup {
    s: Server,
    meta: Meta,
    store: Store,
    sealer: Sealer,
    http: reqwest::Client,
}

async fn setup() -> Setup {
    let meta = Meta::start().await;
    let settings = meta.settings();
    let s = server_with(|c| c.whatsapp = Some(settings)).await;
    wait_up(&s).await;
    let store = Store::open_sqlite(&s.data_dir.join("convops.db"))
        .await
        .expect("store");
    let sealer = Sealer::load(
        &s.data_dir.join("master.key"),
        false,
        &s.data_dir.join("convops.db"),
    )
    .expect("sealer");
    let target = serde_json::to_vec(&Target { to: USER.into() }).expect("target");
    store
        .add_whatsapp_route(
            &s.workspace_id,
            &contact_hash(&sealer, USER),
            &sealer.seal(
                &target,
                &convops_control_plane::secrets::route_target_aad(&s.workspace_id, WHATSAPP),
            ),
            "test",
        )
        .await
        .expect("route")
        .expect("a number not linked yet");
    let ca = std::fs::read(&s.ca).expect("ca");
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("pem"))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    Setup {
        s,
        meta,
        store,
        sealer,
        http,
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A webhook with one text message from `from`, as Meta sends it.
fn message(from: &str, id: &str, text: &str) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": from}],
            "messages": [{"from": from, "id": id, "timestamp": now_secs().to_string(), "type": "text", "text": {"body": text}}],
        }
    }]}]})
    .to_string()
}

fn signature(secret: &str, body: &str) -> String {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Setup {
    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/api/v1/whatsapp/webhook", self.s.port)
    }

    /// POSTs `body` to the webhook with `signature` (none when `None`).
    async fn post(&self, body: &str, signature: Option<String>) -> u16 {
        let mut req = self
            .http
            .post(self.url())
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        req.send().await.expect("request").status().as_u16()
    }

    /// The user sends `text` (message id `id`): Meta's window opens and the webhook is signed.
    async fn user_says(&self, id: &str, text: &str) -> u16 {
        self.meta.user_wrote(USER);
        let body = message(USER, id, text);
        self.post(&body, Some(signature(APP_SECRET, &body))).await
    }

    /// The agent sends evidence frame `frame` (sequence `seq`); it is acknowledged, and its
    /// incident is returned.
    async fn alarm_fires(
        &self,
        agent: &mut common::Ws,
        frame: String,
        seq: u64,
    ) -> convops_control_plane::store::Incident {
        let alarm = serde_json::from_str::<Value>(&frame).expect("frame")["alarm"]["name"]
            .as_str()
            .expect("alarm name")
            .to_owned();
        agent.send(Message::text(frame)).await.expect("evidence");
        assert_eq!(recv(agent).await, Some(ServerFrame::Ack { seq }));
        self.store
            .incidents(&self.s.workspace_id, 10)
            .await
            .expect("incidents")
            .into_iter()
            .find(|i| i.alarm_name == alarm)
            .expect("the frame's incident")
    }

    /// The incident's delivery log once its first delivery is no longer pending.
    async fn settled(&self, incident: &str, within: Duration) -> Vec<Value> {
        let until = Instant::now() + within;
        loop {
            let log = self
                .store
                .deliveries(&self.s.workspace_id, incident)
                .await
                .expect("log");
            if log.first().is_some_and(|d| d["status"] != "pending") || Instant::now() > until {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn commands_logged(&self) -> usize {
        self.store
            .audit_log(&self.s.workspace_id, 500)
            .await
            .expect("log")
            .iter()
            .filter(|e| e["action"] == "chat.command")
            .count()
    }
}

fn text_of(s: &Sent) -> &str {
    s.body["text"]["body"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_handshake_answers_only_the_configured_token() {
    let t = setup().await;
    let get = |q: &str| {
        let url = format!("{}?{q}", t.url());
        let http = t.http.clone();
        async move {
            let r = http.get(url).send().await.expect("request");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    };
    assert_eq!(
        get(&format!(
            "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"
        ))
        .await,
        (200, "1158201444".to_owned())
    );
    assert_eq!(
        get("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess")
            .await
            .0,
        403
    );
    assert_eq!(
        get(&format!(
            "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}"
        ))
        .await
        .0,
        403
    );
    assert_eq!(get("hub.mode=subscribe&hub.challenge=1").await.0, 403);

    // A number belongs to one workspace: another cannot link it too.
    let (other, _) = t
        .store
        .create_workspace("globex", "test")
        .await
        .expect("workspace");
    let target = serde_json::to_vec(&Target { to: USER.into() }).expect("target");
    let refused = t
        .store
        .add_whatsapp_route(
            &other.id,
            &contact_hash(&t.sealer, USER),
            &t.sealer.seal(
                &target,
                &convops_control_plane::secrets::route_target_aad(&other.id, WHATSAPP),
            ),
            "test",
        )
        .await
        .expect("query");
    assert_eq!(refused, Err("acme".to_owned()));
}

#[tokio::test]
async fn a_diagnosis_goes_as_a_template_outside_the_window_and_commands_answer_as_text() {
    let t = setup().await;
    let mut agent = session(&t.s, "agent-1").await;
    let incident = t.alarm_fires(&mut agent, evidence(1), 1).await;

    // The number never wrote: only the approved template may go.
    let sent = t.meta.wait_sent(1, Duration::from_secs(15)).await;
    assert_eq!(sent.len(), 1, "the diagnosis was not sent");
    assert_eq!(sent[0].to, USER);
    assert_eq!(sent[0].body["type"], "template");
    let params: Vec<&str> = sent[0].body["template"]["components"][0]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| p["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(params[0], incident.title);
    assert_eq!(params[2], incident.id);

    // A command opens the window; its reply comes back as text, paced after the template.
    assert_eq!(t.user_says("wamid.IN1", "status").await, 200);
    let sent = t.meta.wait_sent(2, Duration::from_secs(20)).await;
    assert_eq!(sent.len(), 2, "no reply to `status`");
    assert_eq!(sent[1].body["type"], "text");
    assert_eq!(sent[1].to, USER);
    assert!(
        text_of(&sent[1]).starts_with("1 open, 0 acknowledged."),
        "{}",
        text_of(&sent[1])
    );
    assert!(
        sent[1].at.duration_since(sent[0].at) >= Duration::from_secs(6),
        "messages to one number are paced at Meta's pair rate"
    );

    // Meta retries a webhook: the same message id runs nothing again.
    assert_eq!(t.commands_logged().await, 1);
    assert_eq!(t.user_says("wamid.IN1", "status").await, 200);
    assert_eq!(t.commands_logged().await, 1, "a repeat is not run");

    // Bad and missing signatures are refused before anything is read or run.
    let forged = message(USER, "wamid.IN2", &format!("resolve {}", incident.id));
    assert_eq!(
        t.post(&forged, Some(signature("not-the-app-secret-000", &forged)))
            .await,
        401
    );
    assert_eq!(t.post(&forged, None).await, 401);
    let tampered = message(USER, "wamid.IN2", "status");
    assert_eq!(
        t.post(&forged, Some(signature(APP_SECRET, &tampered)))
            .await,
        401
    );
    assert_eq!(t.commands_logged().await, 1);

    // A number linked to no workspace is ignored: nothing runs, nothing is sent to it.
    let stranger = message("16505550000", "wamid.X1", "status");
    assert_eq!(
        t.post(&stranger, Some(signature(APP_SECRET, &stranger)))
            .await,
        200
    );
    assert_eq!(t.commands_logged().await, 1);

    // Acknowledge from WhatsApp: the incident changes, the action log says who and where.
    assert_eq!(
        t.user_says("wamid.IN3", &format!("ack {}", incident.id))
            .await,
        200
    );
    let sent = t.meta.wait_sent(3, Duration::from_secs(20)).await;
    assert_eq!(sent.len(), 3, "no reply to `ack`");
    assert_eq!(
        text_of(&sent[2]),
        format!("Sheena Nelson acknowledged `{}`.", incident.id)
    );
    let status = t
        .store
        .incident(&t.s.workspace_id, &incident.id)
        .await
        .expect("read")
        .expect("incident")
        .status;
    assert_eq!(status, "acknowledged");
    let log = t
        .store
        .audit_log(&t.s.workspace_id, 100)
        .await
        .expect("log");
    let ack = log
        .iter()
        .find(|e| e["action"] == "incident.acknowledged")
        .expect("ack logged");
    assert_eq!(ack["actor"], "whatsapp:…6789 (Sheena Nelson)");
    assert_eq!(
        ack["detail"],
        serde_json::json!({"id": incident.id, "channel": "whatsapp:…6789"})
    );
    assert!(
        !log.iter().any(|e| e.to_string().contains(USER)),
        "the full number is not in the action log"
    );

    // Meta reports later that the first message failed: the delivery log says so.
    let status = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages",
        "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_NUMBER_ID},
            "statuses": [{"id": sent[0].id, "status": "failed", "timestamp": now_secs().to_string(), "recipient_id": USER,
                "errors": [{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
                    "error_data": {"details": "Message Undeliverable."}}]}]}
    }]}]})
    .to_string();
    assert_eq!(
        t.post(&status, Some(signature(APP_SECRET, &status))).await,
        200
    );
    let log = t
        .store
        .deliveries(&t.s.workspace_id, &incident.id)
        .await
        .expect("delivery log");
    assert_eq!(log[0]["status"], "failed", "{log:?}");
    assert!(
        log[0]["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("131026"),
        "{log:?}"
    );
    t.meta.check_clean(&[]);
}

#[tokio::test]
async fn investigate_from_whatsapp_reaches_the_agent_and_the_diagnosis_comes_back_to_the_number() {
    let t = setup().await;
    let mut agent = session(&t.s, "agent-1").await;
    assert_eq!(
        t.user_says("wamid.INV1", "investigate orders-api").await,
        200
    );
    let command_id = match recv(&mut agent).await {
        Some(ServerFrame::Command {
            id,
            command: Command::Investigate { target, .. },
        }) => {
            assert_eq!(target, "orders-api");
            id
        }
        other => panic!("expected the command, got {other:?}"),
    };
    let sent = t.meta.wait_sent(1, Duration::from_secs(15)).await;
    assert!(
        text_of(&sent[0]).contains("asked to investigate `orders-api`"),
        "{sent:?}"
    );

    // The agent answers the command; its diagnosis goes to the number that asked, as text
    // (the window is open), not to the workspace's routes as an alarm would.
    let mut frame: Value = serde_json::from_str(&evidence(1)).expect("frame");
    frame["trigger"] = json!({"by": "command", "command_id": command_id});
    let incident = t.alarm_fires(&mut agent, frame.to_string(), 1).await;
    let sent = t.meta.wait_sent(2, Duration::from_secs(20)).await;
    assert_eq!(sent.len(), 2, "the diagnosis did not come back");
    assert_eq!(sent[1].to, USER);
    assert_eq!(sent[1].body["type"], "text");
    let text = text_of(&sent[1]);
    assert!(text.starts_with(&format!("*{}*", incident.title)), "{text}");
    assert!(text.contains("Most likely"), "{text}");
    assert!(
        text.ends_with(&format!(
            "Reply \"ack {0}\" or \"resolve {0}\".",
            incident.id
        )),
        "{text}"
    );
    // Only the command's conversation got it: the workspace route to the same number was
    // not used for a second copy.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(t.meta.sent().len(), 2);
    t.meta.check_clean(&[]);
}

#[tokio::test]
async fn a_command_the_agent_cannot_carry_out_is_answered_in_the_conversation() {
    let t = setup().await;
    let mut agent = session(&t.s, "agent-1").await;
    // A failure for a command this agent was never sent changes nothing.
    agent
        .send(Message::text(
            json!({"type": "command_failed", "command_id": "cmd_bogus", "reason": "x"}).to_string(),
        ))
        .await
        .expect("send");
    assert_eq!(
        t.user_says("wamid.INV9", "investigate orders-db").await,
        200
    );
    let command_id = match recv(&mut agent).await {
        Some(ServerFrame::Command { id, .. }) => id,
        other => panic!("expected the command, got {other:?}"),
    };
    // Reported three times (a retrying or hostile agent): answered and audited once.
    for _ in 0..3 {
        agent
            .send(Message::text(
                json!({"type": "command_failed", "command_id": command_id,
                       "reason": "no alarm is named `orders-db` or is about a resource of that name"})
                .to_string(),
            ))
            .await
            .expect("send");
    }
    let sent = t.meta.wait_sent(2, Duration::from_secs(20)).await;
    assert_eq!(sent.len(), 2, "no answer to the failed command: {sent:?}");
    // In either order: the agent may answer before the command's own reply is queued.
    let texts: Vec<&str> = sent.iter().map(text_of).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("asked to investigate `orders-db`")),
        "{texts:?}"
    );
    let failure = format!("Could not investigate `orders-db` (`{command_id}`): no alarm is named `orders-db` or is about a resource of that name.");
    assert!(texts.contains(&failure.as_str()), "{texts:?}");
    let log = t.store.audit_log(&t.s.workspace_id, 50).await.expect("log");
    let failed: Vec<&Value> = log
        .iter()
        .filter(|e| e["action"] == "command.failed")
        .collect();
    assert_eq!(failed.len(), 1, "{log:#?}");
    assert_eq!(failed[0]["actor"], "agent:agent-1");
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        t.meta.sent().len(),
        2,
        "the bogus failure and the repeats sent nothing"
    );
    t.meta.check_clean(&[]);
}

#[tokio::test]
async fn a_closed_window_is_final_and_rate_limits_are_waited_out() {
    let t = setup().await;
    // ConvOps believes the window is open (the number wrote), Meta knows better: text is
    // refused with 131047, which is final, and the next message is a template.
    t.store
        .whatsapp_inbound(
            &contact_hash(&t.sealer, USER),
            convops_control_plane::store::now_ms() - 3600 * 1000,
        )
        .await
        .expect("inbound");
    t.meta.state.lock().expect("lock").last_inbound.clear();
    let mut agent = session(&t.s, "agent-1").await;
    let first = t.alarm_fires(&mut agent, evidence(1), 1).await;
    let log = t.settled(&first.id, Duration::from_secs(15)).await;
    assert_eq!(log[0]["status"], "failed", "{log:?}");
    assert_eq!(log[0]["attempts"], 1, "131047 is not retried: {log:?}");
    assert!(
        log[0]["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("131047"),
        "{log:?}"
    );
    let contact = t
        .store
        .whatsapp_contact(&contact_hash(&t.sealer, USER))
        .await
        .expect("read")
        .expect("contact");
    assert_eq!(contact.last_inbound_at, None, "the window is forgotten");

    // A new incident (another alarm transition): a template, first refused for throughput.
    t.meta
        .state
        .lock()
        .expect("lock")
        .fail_next
        .push_back(130429);
    let mut frame: Value = serde_json::from_str(&evidence(2)).expect("frame");
    frame["alarm"]["name"] = "payments-latency".into();
    frame["alarm"]["dimensions"] = json!({"LoadBalancer": "app/payments/1"});
    let second = t.alarm_fires(&mut agent, frame.to_string(), 2).await;
    assert_ne!(second.id, first.id);
    let sent = t.meta.wait_sent(1, Duration::from_secs(30)).await;
    assert_eq!(sent.len(), 1, "the rate-limited message was not retried");
    assert_eq!(sent[0].body["type"], "template");
    let log = t.settled(&second.id, Duration::from_secs(10)).await;
    assert_eq!(log[0]["status"], "delivered", "{log:?}");
    assert_eq!(log[0]["attempts"], 2, "{log:?}");
    t.meta.check_clean(&[131047, 130429]);
}
