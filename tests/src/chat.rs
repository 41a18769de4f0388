//! A local stand-in for Slack's incoming webhooks that checks requests the way Slack documents
//! them: `POST` with `Content-Type: application/json`; a JSON object with a non-empty `text`
//! (the notification fallback) and optional `blocks`, at most 50, each section's text at most
//! 3000 characters and a header's at most 150. Valid requests get `200 ok`; invalid ones
//! `400 invalid_payload` (and are recorded as rejections). It can be told to answer the next
//! requests with an error status (e.g. `429` with `Retry-After`) to exercise retries.
//!
//! The same server stands in for WhatsApp's Cloud API at `/v21.0/{phone-number-id}/messages`,
//! checking requests as Meta documents them (the bearer token, `messaging_product`, a digits-only
//! `to`, a text body of at most 4096 characters or a template with body parameters free of
//! newlines and tabs) and answering with a message id.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

#[derive(Debug, Clone)]
pub struct Received {
    /// The request path: `/services/…` for the incoming webhook, `/commands/…` for a slash
    /// command's `response_url`.
    pub path: String,
    pub body: serde_json::Value,
    /// The request body exactly as it arrived.
    pub raw: String,
    /// When it arrived, epoch ms.
    pub received_at_ms: i64,
}

impl Received {
    /// The message's text: Slack's `text` fallback, which carries the whole message, or a
    /// WhatsApp text message's body.
    pub fn text(&self) -> &str {
        self.body
            .get("text")
            .and_then(|t| {
                t.as_str()
                    .or_else(|| t.get("body").and_then(|b| b.as_str()))
            })
            .unwrap_or_default()
    }
}

/// The business number id and access token the WhatsApp stand-in accepts.
pub const WHATSAPP_PHONE_NUMBER_ID: &str = "106540352242922";
pub const WHATSAPP_TOKEN: &str = "EAAG-runner-access-token-0123456789";

#[derive(Default)]
struct Inner {
    accepted: Vec<Received>,
    rejected: Vec<String>,
    /// Canned failures for the next requests: (status, retry-after seconds).
    failures: VecDeque<(u16, Option<u64>)>,
    attempts: u64,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Inner>>);

pub struct SlackReceiver {
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl SlackReceiver {
    pub async fn start() -> anyhow::Result<SlackReceiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Shared::default();
        let app = Router::new()
            .route("/services/{a}/{b}/{c}", post(receive))
            .route("/commands/{a}/{b}/{c}", post(receive))
            .route("/v21.0/{id}/messages", post(receive_whatsapp))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(SlackReceiver { addr, shared, task })
    }

    /// A webhook URL of Slack's shape pointing at this receiver.
    pub fn webhook_url(&self) -> String {
        format!(
            "http://{}/services/T0CONVOPS/B0CONVOPS/xoxwebhooksecret",
            self.addr
        )
    }

    /// A slash command `response_url` of Slack's shape pointing at this receiver.
    pub fn response_url(&self) -> String {
        format!(
            "http://{}/commands/T0CONVOPS/1234567890/xoxresponsesecret",
            self.addr
        )
    }

    /// The Graph API base URL (with its version) pointing at this receiver.
    pub fn whatsapp_api_url(&self) -> String {
        format!("http://{}/v21.0", self.addr)
    }

    /// Answer the next request with `status` (and `Retry-After` when given).
    pub fn fail_next(&self, status: u16, retry_after: Option<u64>) {
        if let Ok(mut i) = self.shared.0.lock() {
            i.failures.push_back((status, retry_after));
        }
    }

    /// Forget the canned failures not yet used.
    pub fn clear_failures(&self) {
        if let Ok(mut i) = self.shared.0.lock() {
            i.failures.clear();
        }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.shared
            .0
            .lock()
            .map(|i| i.accepted.clone())
            .unwrap_or_default()
    }

    pub fn rejections(&self) -> Vec<String> {
        self.shared
            .0
            .lock()
            .map(|i| i.rejected.clone())
            .unwrap_or_default()
    }

    pub fn attempts(&self) -> u64 {
        self.shared.0.lock().map(|i| i.attempts).unwrap_or(0)
    }

    /// Wait until at least `n` messages were accepted.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> anyhow::Result<Vec<Received>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return Ok(got);
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!(
                    "expected {n} chat message(s) within {timeout:?}, got {}; rejections: {:?}",
                    got.len(),
                    self.rejections()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SlackReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Check a payload against Slack's documented limits; `Err` names the problem.
pub fn validate(body: &serde_json::Value) -> Result<(), String> {
    let obj = body.as_object().ok_or("payload is not a JSON object")?;
    let text = obj.get("text").and_then(|t| t.as_str()).unwrap_or_default();
    let blocks = obj.get("blocks");
    if text.trim().is_empty() && blocks.is_none() {
        return Err("no_text".into());
    }
    if let Some(blocks) = blocks {
        let blocks = blocks.as_array().ok_or("blocks is not an array")?;
        if blocks.len() > 50 {
            return Err(format!("{} blocks (max 50)", blocks.len()));
        }
        for (i, b) in blocks.iter().enumerate() {
            let kind = b
                .get("type")
                .and_then(|t| t.as_str())
                .ok_or(format!("block {i} has no type"))?;
            let t = b.pointer("/text/text").and_then(|t| t.as_str());
            match (kind, t) {
                ("section", Some(t)) if t.chars().count() > 3000 => {
                    return Err(format!("block {i}: section text over 3000 characters"))
                }
                ("header", Some(t)) if t.chars().count() > 150 => {
                    return Err(format!("block {i}: header text over 150 characters"))
                }
                ("header", _)
                    if b.pointer("/text/type").and_then(|t| t.as_str()) != Some("plain_text") =>
                {
                    return Err(format!("block {i}: header text must be plain_text"))
                }
                ("section" | "header", None) if b.get("fields").is_none() => {
                    return Err(format!("block {i}: no text"))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Check a Cloud API send request against Meta's documentation; `Err` names the problem.
pub fn validate_whatsapp(headers: &HeaderMap, body: &serde_json::Value) -> Result<(), String> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {WHATSAPP_TOKEN}") {
        return Err("no or wrong bearer token".into());
    }
    if body["messaging_product"] != "whatsapp" {
        return Err("messaging_product is not whatsapp".into());
    }
    let to = body["to"].as_str().unwrap_or_default();
    if to.is_empty() || !to.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("to {to:?} is not digits"));
    }
    match body["type"].as_str() {
        Some("text") => {
            let n = body["text"]["body"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .count();
            if n == 0 || n > 4096 {
                return Err(format!("text body of {n} characters"));
            }
        }
        Some("template") => {
            let t = &body["template"];
            if t["name"].as_str().unwrap_or_default().is_empty()
                || t["language"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty()
            {
                return Err(format!("template without name or language: {t}"));
            }
            for c in t["components"].as_array().into_iter().flatten() {
                for p in c["parameters"].as_array().into_iter().flatten() {
                    let text = p["text"].as_str().unwrap_or_default();
                    if text.trim().is_empty()
                        || text.contains(['\n', '\t'])
                        || text.contains("     ")
                    {
                        return Err(format!("template parameter {p}"));
                    }
                }
            }
        }
        other => return Err(format!("message type {other:?}")),
    }
    Ok(())
}

async fn receive_whatsapp(
    State(shared): State<Shared>,
    axum::extract::Path(id): axum::extract::Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = match shared.0.lock() {
        Ok(i) => i,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "poisoned").into_response(),
    };
    inner.attempts += 1;
    let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let checked = if id != WHATSAPP_PHONE_NUMBER_ID {
        Err(format!("phone number id {id}"))
    } else if !ct.starts_with("application/json") {
        Err(format!("content-type {ct:?}"))
    } else {
        validate_whatsapp(&headers, &parsed)
    };
    if let Err(why) = checked {
        inner.rejected.push(why);
        let error = serde_json::json!({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}});
        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
    }
    let received_at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let message_id = format!("wamid.RUNNER{}", inner.accepted.len());
    let to = parsed["to"].clone();
    inner.accepted.push(Received {
        path: uri.path().to_owned(),
        body: parsed,
        raw: String::from_utf8_lossy(&body).into_owned(),
        received_at_ms,
    });
    axum::Json(serde_json::json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": message_id}],
    }))
    .into_response()
}

async fn receive(
    State(shared): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = match shared.0.lock() {
        Ok(i) => i,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "poisoned").into_response(),
    };
    inner.attempts += 1;
    if let Some((status, retry_after)) = inner.failures.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, "rate_limited").into_response();
        if let Some(s) = retry_after {
            if let Ok(v) = s.to_string().parse() {
                resp.headers_mut().insert("retry-after", v);
            }
        }
        return resp;
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ct.starts_with("application/json") {
        inner.rejected.push(format!("content-type {ct:?}"));
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    }
    let parsed: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            inner.rejected.push(format!("not JSON: {e}"));
            return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
        }
    };
    if let Err(why) = validate(&parsed) {
        inner.rejected.push(why);
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    }
    let received_at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    inner.accepted.push(Received {
        path: uri.path().to_owned(),
        body: parsed,
        raw: String::from_utf8_lossy(&body).into_owned(),
        received_at_ms,
    });
    (StatusCode::OK, "ok").into_response()
}
