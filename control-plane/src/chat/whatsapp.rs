//! WhatsApp inbound: Meta's webhook for ConvOps's business number.
//!
//! - `GET` is the verification handshake: with `hub.mode=subscribe` and the configured
//!   `hub.verify_token`, the answer is `hub.challenge`; anything else is refused (403).
//! - `POST` carries messages and delivery statuses. `X-Hub-Signature-256` (`sha256=` and the
//!   hex HMAC-SHA256 of the raw body, keyed by the app secret) is verified, in constant time,
//!   before the body is parsed; a bad or missing signature is refused (401) and nothing is read.
//! - A message from a number linked to a workspace (`route add-whatsapp`) opens that number's
//!   24-hour window, is claimed by its message id (Meta retries webhooks, so a repeat runs
//!   nothing), goes to the action log, runs as a command, and its reply is queued to the same
//!   number in the transaction that marks it handled. Messages from other numbers are ignored.
//! - A `failed` status marks the delivery it reports on (by message id) failed with Meta's
//!   reason; 131047 there also closes the number's window.
//!
//! The answer is 200 once the body is handled, 500 when the database failed (so Meta retries).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::Deserialize;

use crate::deliver::whatsapp::{self as wa, Target};
use crate::state::AppState;

/// Meta batches updates; a batch is far below this.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HubSignatureError {
    #[error("missing or malformed X-Hub-Signature-256")]
    Missing,
    #[error("signature does not match")]
    Mismatch,
}

/// Verifies `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`.
pub fn verify_signature(
    app_secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), HubSignatureError> {
    let sig = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok())
        .ok_or(HubSignatureError::Missing)?;
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(app_secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(body);
    mac.verify_slice(&sig)
        .map_err(|_| HubSignatureError::Mismatch)
}

/// Equal strings, compared without an early exit on the first differing byte.
fn same_secret(a: &str, b: &str) -> bool {
    use sha2::Digest;
    let (x, y) = (sha2::Sha256::digest(a), sha2::Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

#[derive(Debug, Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `GET`: Meta's verification handshake.
pub async fn verify(State(state): State<Arc<AppState>>, Query(q): Query<Handshake>) -> Response {
    let Some(cfg) = &state.whatsapp else {
        return (StatusCode::NOT_FOUND, "WhatsApp is not configured").into_response();
    };
    let token_ok = q
        .verify_token
        .as_deref()
        .is_some_and(|t| same_secret(t, cfg.verify_token.expose()));
    match (q.mode.as_deref(), q.challenge) {
        (Some("subscribe"), Some(challenge)) if token_ok => {
            (StatusCode::OK, [("content-type", "text/plain")], challenge).into_response()
        }
        _ => {
            tracing::warn!("WhatsApp webhook verification refused");
            (StatusCode::FORBIDDEN, "verification refused").into_response()
        }
    }
}

/// What ConvOps reads of one incoming message.
#[derive(Debug)]
struct Incoming {
    from: String,
    id: String,
    /// Unix seconds, as Meta sends it.
    timestamp: Option<i64>,
    /// The text of a text message or a quick-reply button; `None` for media and the like.
    text: Option<String>,
    name: Option<String>,
}

/// A delivery status Meta reports.
#[derive(Debug)]
struct Status {
    id: String,
    status: String,
    recipient: String,
    /// `(code, description)` of the first error.
    error: Option<(i64, String)>,
}

fn parse_payload(v: &serde_json::Value) -> Result<(Vec<Incoming>, Vec<Status>), String> {
    if v["object"] != "whatsapp_business_account" {
        return Err(format!(
            "not a WhatsApp Business Account webhook (object = {})",
            v["object"]
        ));
    }
    let s = |x: &serde_json::Value| x.as_str().map(str::to_owned);
    let mut messages = Vec::new();
    let mut statuses = Vec::new();
    let empty = Vec::new();
    for entry in v["entry"].as_array().unwrap_or(&empty) {
        for change in entry["changes"].as_array().unwrap_or(&empty) {
            if change["field"] != "messages" {
                continue;
            }
            let value = &change["value"];
            let contacts = value["contacts"].as_array().unwrap_or(&empty);
            for m in value["messages"].as_array().unwrap_or(&empty) {
                let (Some(from), Some(id)) = (s(&m["from"]), s(&m["id"])) else {
                    continue;
                };
                let text = match m["type"].as_str() {
                    Some("text") => s(&m["text"]["body"]),
                    Some("button") => s(&m["button"]["text"]),
                    Some("interactive") => s(&m["interactive"]["button_reply"]["title"]),
                    _ => None,
                };
                let name = contacts
                    .iter()
                    .find(|c| c["wa_id"].as_str() == Some(&from))
                    .and_then(|c| s(&c["profile"]["name"]));
                messages.push(Incoming {
                    timestamp: m["timestamp"].as_str().and_then(|t| t.parse().ok()),
                    from,
                    id,
                    text,
                    name,
                });
            }
            for st in value["statuses"].as_array().unwrap_or(&empty) {
                let (Some(id), Some(status), Some(recipient)) =
                    (s(&st["id"]), s(&st["status"]), s(&st["recipient_id"]))
                else {
                    continue;
                };
                let error = st["errors"][0]["code"].as_i64().map(|code| {
                    let e = &st["errors"][0];
                    let title = e["title"].as_str().or(e["message"].as_str()).unwrap_or("");
                    let line = match e["error_data"]["details"].as_str() {
                        Some(d) if !d.is_empty() => format!("{title}: {d}"),
                        _ => title.to_owned(),
                    };
                    (code, line.chars().take(300).collect())
                });
                statuses.push(Status {
                    id,
                    status,
                    recipient,
                    error,
                });
            }
        }
    }
    Ok((messages, statuses))
}

/// `POST`: messages and statuses.
pub async fn webhook(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(cfg) = &state.whatsapp else {
        return (StatusCode::NOT_FOUND, "WhatsApp is not configured").into_response();
    };
    if let Err(e) = verify_signature(cfg.app_secret.expose().as_bytes(), &headers, &body) {
        tracing::warn!(error = %e, "WhatsApp webhook refused");
        return (StatusCode::UNAUTHORIZED, e.to_string()).into_response();
    }
    let parsed = serde_json::from_slice::<serde_json::Value>(&body)
        .map_err(|e| format!("body is not JSON: {e}"))
        .and_then(|v| parse_payload(&v));
    let (messages, statuses) = match parsed {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "WhatsApp webhook not understood");
            return (StatusCode::BAD_REQUEST, e).into_response();
        }
    };
    let mut failed = false;
    for m in messages {
        if let Err(e) = on_message(&state, m).await {
            tracing::error!(error = %format!("{e:#}"), "handling a WhatsApp message");
            failed = true;
        }
    }
    for st in statuses {
        if let Err(e) = on_status(&state, st).await {
            tracing::error!(error = %format!("{e:#}"), "handling a WhatsApp status");
            failed = true;
        }
    }
    if failed {
        // Meta retries; what was handled is claimed and runs nothing again.
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    StatusCode::OK.into_response()
}

/// `…1234`: enough of a number for a person to recognise in the action log.
fn tail(digits: &str) -> String {
    let n = digits.chars().count();
    format!(
        "…{}",
        digits.chars().skip(n.saturating_sub(4)).collect::<String>()
    )
}

/// The command in a message: `status`, `/convops status` or `convops status` alike.
fn command_text(text: &str) -> &str {
    let t = text.trim();
    for prefix in ["/convops", "convops"] {
        if let Some(rest) = t
            .get(..prefix.len())
            .filter(|p| p.eq_ignore_ascii_case(prefix))
        {
            let after = &t[rest.len()..];
            if after.is_empty() || after.starts_with(char::is_whitespace) {
                return after.trim_start();
            }
        }
    }
    t
}

async fn on_message(state: &AppState, m: Incoming) -> anyhow::Result<()> {
    let Ok(digits) = wa::normalize_number(&m.from) else {
        tracing::info!("WhatsApp message from a malformed sender id; ignored");
        return Ok(());
    };
    let hash = wa::contact_hash(&state.sealer, &digits);
    let Some(contact) = state.store.whatsapp_contact(&hash).await? else {
        tracing::info!(contact = %hash, "WhatsApp message from a number not linked to a workspace; ignored");
        return Ok(());
    };
    let now = crate::store::now_ms();
    let at = m.timestamp.map_or(now, |s| s.saturating_mul(1000)).min(now);
    state.store.whatsapp_inbound(&hash, at).await?;
    let key = format!("whatsapp:{}", m.id);
    if !state
        .store
        .claim_chat_request(&key, &contact.workspace_id)
        .await?
    {
        tracing::debug!(%key, "WhatsApp message seen before; not run again");
        return Ok(());
    }
    let ws = &contact.workspace_id;
    let name = m
        .name
        .as_deref()
        .map(|n| state.redactor(ws).redact(n).into_owned());
    let caller = crate::chat::Caller {
        actor: match &name {
            Some(n) => format!("whatsapp:{} ({n})", tail(&digits)),
            None => format!("whatsapp:{}", tail(&digits)),
        },
        channel: format!("whatsapp:{}", tail(&digits)),
        mention: name.clone().unwrap_or_else(|| tail(&digits)),
        reply_to: Some(crate::chat::ReplyTo {
            kind: crate::deliver::WHATSAPP,
            target: serde_json::to_vec(&Target { to: digits.clone() })?,
        }),
    };
    let reply = match &m.text {
        Some(text) => {
            crate::chat::execute(state, ws, &caller, command_text(text))
                .await
                .0
        }
        None => format!("ConvOps reads text commands only. {}", crate::chat::USAGE),
    };
    let mut body = wa::reply_body(&reply);
    state.redactor(ws).redact_json(&mut body);
    state
        .store
        .finish_chat_request_with_delivery(&key, ws, &contact.route_id, &reply, &body.to_string())
        .await?;
    state.wake_delivery.notify_one();
    Ok(())
}

async fn on_status(state: &AppState, st: Status) -> anyhow::Result<()> {
    if st.status != "failed" {
        return Ok(());
    }
    let Ok(digits) = wa::normalize_number(&st.recipient) else {
        return Ok(());
    };
    let hash = wa::contact_hash(&state.sealer, &digits);
    let Some(contact) = state.store.whatsapp_contact(&hash).await? else {
        return Ok(());
    };
    let error = match &st.error {
        Some((code, line)) => format!("WhatsApp {code} (reported after sending): {line}"),
        None => "WhatsApp reported the message failed, without a reason".to_owned(),
    };
    let found = state
        .store
        .delivery_failed_remotely(&contact.workspace_id, &st.id, &error)
        .await?;
    tracing::warn!(found, %error, "WhatsApp message failed after it was accepted");
    if st.error.as_ref().is_some_and(|(code, _)| *code == 131047) {
        state.store.whatsapp_window_closed(&hash).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_over_the_raw_body() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let mut mac =
            <Hmac<sha2::Sha256> as Mac>::new_from_slice(b"app-secret-0123456789").expect("key");
        mac.update(body);
        let mut h = HeaderMap::new();
        h.insert(
            "x-hub-signature-256",
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
                .parse()
                .expect("header"),
        );
        assert_eq!(verify_signature(b"app-secret-0123456789", &h, body), Ok(()));
        assert_eq!(
            verify_signature(b"other-secret-0000000", &h, body),
            Err(HubSignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"app-secret-0123456789", &h, b"{\"object\":\"x\"}"),
            Err(HubSignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"app-secret-0123456789", &HeaderMap::new(), body),
            Err(HubSignatureError::Missing)
        );
        let mut sha1 = HeaderMap::new();
        sha1.insert(
            "x-hub-signature-256",
            "sha1=abcdef".parse().expect("header"),
        );
        assert_eq!(
            verify_signature(b"app-secret-0123456789", &sha1, body),
            Err(HubSignatureError::Missing)
        );
    }

    #[test]
    fn payloads_yield_messages_and_failed_statuses() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
              "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
              "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
              "messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1749416383","type":"text","text":{"body":"status"}},
                          {"from":"16505551234","id":"wamid.B","timestamp":"1749416384","type":"image","image":{"id":"1"}}],
              "statuses":[{"id":"wamid.C","status":"failed","timestamp":"1749416385","recipient_id":"16505551234",
                "errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{"details":"More than 24 hours"}}]}]}}]}]}"#,
        )
        .expect("json");
        let (m, s) = parse_payload(&v).expect("parsed");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].text.as_deref(), Some("status"));
        assert_eq!(m[0].name.as_deref(), Some("Sheena Nelson"));
        assert_eq!(m[0].timestamp, Some(1749416383));
        assert_eq!(m[1].text, None, "media is not a command");
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].error,
            Some((131047, "Re-engagement message: More than 24 hours".into()))
        );
        assert!(parse_payload(&serde_json::json!({"object": "page"})).is_err());
    }

    #[test]
    fn the_command_may_be_prefixed_with_the_app_name() {
        assert_eq!(command_text("  status "), "status");
        assert_eq!(command_text("/convops ack inc_1"), "ack inc_1");
        assert_eq!(command_text("ConvOps investigate db"), "investigate db");
        assert_eq!(command_text("convopsy"), "convopsy");
        assert_eq!(tail("4915123456789"), "…6789");
    }
}
