//! Websocket ingest of agent frames.
//!
//! The handshake is refused (401) unless it carries a valid agent token, which names the
//! workspace; everything the session stores is scoped to that workspace. The first frame must be
//! `Hello` with a protocol version this build speaks, otherwise the agent gets an `Error` frame and
//! a clean close. After that, a malformed, invalid or oversized frame that names its `seq` gets an
//! `Error` frame with it and the session goes on (the agent sets the frame aside); one that names
//! none (not JSON, not inflatable) gets an `Error` frame and the session is closed; an evidence frame is acknowledged only once it is durably stored (exactly once per
//! `(agent, seq)`). A session's failure never affects other sessions.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use convops_shared::protocol::{
    AgentFrame, ErrorCode, EvidenceFrame, LossFrame, ServerFrame, Trigger, MAX_AGENT_VERSION_CHARS,
    MAX_FRAME_BYTES, MAX_STRING_BYTES, PROTOCOL_VERSION,
};

use crate::deliver::{
    slack, whatsapp, SLACK_BOT, SLACK_RESPONSE, SLACK_WEBHOOK, WEBHOOK, WHATSAPP,
};
use crate::diagnose;
use crate::limits::{INGEST_BURST, INGEST_PER_SEC, LLM_CALLS_PER_HOUR};
use crate::state::{incident_url, AppState};
use crate::store::{BodyFor, NewIncident, Received, Route, Stored};

const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an agent's `last_seen` is written, however often it sends heartbeats.
const SEEN_WRITE_EVERY: Duration = Duration::from_secs(60);
/// Frames of one workspace redacted and diagnosed at once (on the blocking pool).
const CPU_SLOTS_PER_WORKSPACE: usize = 2;
/// Alarms a merged loss record may name (the agent names at most 20).
const MAX_LOSS_ALARMS: usize = 100;
/// Close code for a policy violation (RFC 6455 §7.4.1).
const CLOSE_POLICY: u16 = 1008;

async fn send(ws: &mut WebSocket, frame: ServerFrame) -> bool {
    ws.send(Message::Text(frame.encode().into())).await.is_ok()
}

async fn refuse(mut ws: WebSocket, code: ErrorCode, message: String) {
    tracing::warn!(?code, %message, "agent session refused");
    let _ = send(&mut ws, ServerFrame::error(code, message.clone())).await;
    let reason: String = message.chars().take(100).collect();
    let _ = ws
        .send(Message::Close(Some(CloseFrame {
            code: CLOSE_POLICY,
            reason: reason.into(),
        })))
        .await;
}

/// Best effort: the `seq` of a frame too large to decode normally, so the agent can set it aside.
fn seq_of(text: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct SeqOnly {
        seq: Option<u64>,
    }
    serde_json::from_str::<SeqOnly>(text).ok()?.seq
}

pub async fn session(mut ws: WebSocket, state: Arc<AppState>, workspace_id: String) {
    let first = tokio::time::timeout(HELLO_TIMEOUT, ws.recv()).await;
    let text = match first {
        Ok(Some(Ok(Message::Text(t)))) => t,
        Ok(Some(Ok(_))) => {
            return refuse(
                ws,
                ErrorCode::ExpectedHello,
                "first frame must be a text hello frame".into(),
            )
            .await
        }
        Ok(Some(Err(e))) => {
            tracing::debug!(error = %e, "agent session ended before hello");
            return;
        }
        Ok(None) => return,
        Err(_) => return refuse(ws, ErrorCode::ExpectedHello, "no hello within 10s".into()).await,
    };
    let (agent_id, agent_version, probe) = match AgentFrame::decode(&text) {
        Ok(AgentFrame::Hello {
            protocol_version,
            agent_id,
            agent_version,
            probe,
        }) => {
            if protocol_version != PROTOCOL_VERSION {
                return refuse(
                    ws,
                    ErrorCode::UnsupportedProtocolVersion,
                    format!("protocol version {protocol_version} is not supported; this control plane speaks {PROTOCOL_VERSION}"),
                )
                .await;
            }
            if agent_id.is_empty() || agent_id.len() > 128 || agent_id.chars().any(char::is_control)
            {
                return refuse(
                    ws,
                    ErrorCode::MalformedFrame,
                    "agent_id must be 1 to 128 characters, none a control character".into(),
                )
                .await;
            }
            if agent_version.chars().count() > MAX_AGENT_VERSION_CHARS
                || agent_version.chars().any(char::is_control)
            {
                return refuse(
                    ws,
                    ErrorCode::MalformedFrame,
                    format!("agent_version must be at most {MAX_AGENT_VERSION_CHARS} characters, none a control character"),
                )
                .await;
            }
            (agent_id, agent_version, probe)
        }
        Ok(_) => {
            return refuse(
                ws,
                ErrorCode::ExpectedHello,
                "first frame must be hello".into(),
            )
            .await
        }
        Err(e) => return refuse(ws, e.code(), format!("hello: {e}")).await,
    };
    let welcome = ServerFrame::Welcome {
        protocol_version: PROTOCOL_VERSION,
        workspace_id: workspace_id.clone(),
        heartbeat_secs: state.heartbeat_secs,
        encodings: vec![convops_shared::wire::ENCODING.to_owned()],
    };
    if probe {
        // `convops-agent check`: the token, TLS and protocol are proven by the welcome; the
        // probe is neither recorded nor registered, so no command is ever routed to it.
        tracing::info!(%workspace_id, %agent_id, %agent_version, "agent installation check answered");
        if send(&mut ws, welcome).await {
            let _ = ws.send(Message::Close(None)).await;
        }
        return;
    }
    if let Err(e) = state
        .store
        .agent_seen(&workspace_id, &agent_id, &agent_version)
        .await
    {
        tracing::error!(error = %format!("{e:#}"), "recording agent");
        return refuse(ws, ErrorCode::Internal, "internal error".into()).await;
    }
    if !send(&mut ws, welcome).await {
        return;
    }
    tracing::info!(%workspace_id, %agent_id, %agent_version, "agent connected");
    let mut registration = state.agents.register(&workspace_id, &agent_id);
    let _counted = crate::telemetry::metrics().agent_session();
    let mut seen_written = std::time::Instant::now();
    // An agent sends a heartbeat every `heartbeat_secs`: three missed, and the session is over.
    let silence = Duration::from_secs(u64::from(state.heartbeat_secs.max(10)) * 3);

    loop {
        let msg = tokio::select! {
            msg = tokio::time::timeout(silence, ws.recv()) => match msg {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(_) => {
                    tracing::info!(%workspace_id, %agent_id, "no frame for {} s; closing the session", silence.as_secs());
                    break;
                }
            },
            Some(frame) = registration.frames.recv() => {
                if !send(&mut ws, frame).await {
                    break;
                }
                continue;
            }
        };
        let (text, wire_bytes) = match msg {
            Ok(Message::Text(t)) => {
                let n = t.len();
                (t, n)
            }
            // Evidence in the compressed encoding announced in the welcome.
            Ok(Message::Binary(b)) => match inflate(&b) {
                Ok(t) => (t.into(), b.len()),
                // Nothing in it can be read, not even a `seq`: the peer is broken, and the
                // session ends after the error (the agent reconnects; its spool keeps the frame).
                Err((code, message)) => {
                    tracing::warn!(%workspace_id, %agent_id, %message, "bad binary frame from agent; closing the session");
                    return refuse(ws, code, message).await;
                }
            },
            Ok(Message::Close(frame)) => {
                let reason = frame
                    .as_ref()
                    .map(|f| f.reason.to_string())
                    .unwrap_or_default();
                tracing::info!(%workspace_id, %agent_id, %reason, "agent closed the connection");
                break;
            }
            Ok(_) => continue,
            Err(e) => {
                tracing::info!(%workspace_id, %agent_id, error = %e, "agent connection error");
                break;
            }
        };
        let reply = match AgentFrame::decode(&text) {
            Ok(AgentFrame::Evidence(frame)) => {
                // Backpressure, not refusal: this session waits for the workspace's rate.
                while let Err(wait) = state.limiter.take_for(
                    crate::limits::Budget::Ingest,
                    &workspace_id,
                    INGEST_PER_SEC,
                    INGEST_BURST,
                ) {
                    tracing::debug!(%workspace_id, wait_ms = wait.as_millis() as u64, "ingest rate: reading this session more slowly");
                    tokio::time::sleep(wait).await;
                }
                handle_evidence(
                    &state,
                    &workspace_id,
                    &agent_id,
                    *frame,
                    text.as_str().to_owned(),
                    wire_bytes,
                )
                .await
            }
            Ok(AgentFrame::Heartbeat { spooled, .. }) => {
                tracing::debug!(%agent_id, spooled, "heartbeat");
                // The database learns the agent is alive once a minute, not once a heartbeat.
                if seen_written.elapsed() >= SEEN_WRITE_EVERY {
                    seen_written = std::time::Instant::now();
                    if let Err(e) = state
                        .store
                        .agent_seen(&workspace_id, &agent_id, &agent_version)
                        .await
                    {
                        tracing::warn!(error = %format!("{e:#}"), "recording heartbeat");
                    }
                }
                None
            }
            Ok(AgentFrame::Loss(loss)) => handle_loss(&state, &workspace_id, &agent_id, loss).await,
            Ok(AgentFrame::CommandFailed { command_id, reason }) => {
                command_failed(&state, &workspace_id, &agent_id, &command_id, &reason).await;
                None
            }
            Ok(AgentFrame::Hello { .. }) => Some(ServerFrame::error(
                ErrorCode::MalformedFrame,
                "hello was already received",
            )),
            Err(e) => {
                tracing::warn!(%workspace_id, %agent_id, error = %e, "bad frame from agent");
                // Whatever is wrong with it (too large, a field this build does not know from
                // a newer agent, a `null` where a number goes), a frame that names its `seq` is
                // answered with it, so the agent sets it aside instead of resending it forever
                // and holding up the frames behind it.
                // A frame that names no `seq` cannot be set aside: the peer is broken, and the
                // session ends after the error frame.
                let Some(seq) = seq_of(&text) else {
                    crate::telemetry::metrics().agent_frame("refused");
                    return refuse(ws, e.code(), e.to_string()).await;
                };
                Some(ServerFrame::Error {
                    code: e.code(),
                    message: e.to_string(),
                    seq: Some(seq),
                })
            }
        };
        if let Some(reply) = reply {
            crate::telemetry::metrics().agent_frame(match &reply {
                ServerFrame::Ack { .. } => "acked",
                ServerFrame::Error {
                    code: ErrorCode::Internal,
                    ..
                } => "failed",
                _ => "refused",
            });
            if !send(&mut ws, reply).await {
                break;
            }
        }
    }
    tracing::info!(%workspace_id, %agent_id, "agent disconnected");
}

/// Store a loss the agent reported (re-redacted like evidence) and acknowledge it.
async fn handle_loss(
    state: &AppState,
    workspace_id: &str,
    agent_id: &str,
    mut loss: LossFrame,
) -> Option<ServerFrame> {
    let seq = loss.seq;
    let invalid = |message: String| {
        Some(ServerFrame::Error {
            code: ErrorCode::InvalidEvidence,
            message,
            seq: Some(seq),
        })
    };
    if seq == 0 {
        return invalid("seq must be at least 1".into());
    }
    if loss.alarms.len() > MAX_LOSS_ALARMS {
        return invalid(format!(
            "alarms names {} alarms; at most {MAX_LOSS_ALARMS}",
            loss.alarms.len()
        ));
    }
    for (field, value) in [
        ("detail", Some(&loss.detail)),
        ("alarm_name", loss.alarm_name.as_ref()),
        ("investigation_id", loss.investigation_id.as_ref()),
    ]
    .into_iter()
    .chain(loss.alarms.iter().map(|a| ("alarms[]", Some(a))))
    {
        if let Some(len) = value.map(String::len).filter(|l| *l > MAX_STRING_BYTES) {
            return invalid(format!(
                "{field} is {len} bytes; at most {MAX_STRING_BYTES}"
            ));
        }
    }
    let redactor = state.redactor(workspace_id);
    for text in [
        Some(&mut loss.detail),
        loss.alarm_name.as_mut(),
        loss.investigation_id.as_mut(),
    ]
    .into_iter()
    .flatten()
    .chain(loss.alarms.iter_mut())
    {
        if let std::borrow::Cow::Owned(masked) = redactor.redact(text) {
            *text = masked;
        }
    }
    match state.store.record_loss(workspace_id, agent_id, &loss).await {
        Ok(recorded) => {
            if recorded {
                tracing::warn!(%workspace_id, %agent_id, seq, reason = loss.reason.as_str(), alarm = loss.alarm_name.as_deref().unwrap_or("-"), "agent reports evidence lost");
            }
            Some(ServerFrame::Ack { seq })
        }
        Err(e) => {
            tracing::error!(%workspace_id, %agent_id, seq, error = %format!("{e:#}"), "recording a loss");
            Some(ServerFrame::error(ErrorCode::Internal, "internal error"))
        }
    }
}

/// The text of a binary frame, or the error code and message that refuse it.
fn inflate(data: &[u8]) -> Result<String, (ErrorCode, String)> {
    use convops_shared::wire::{decompress, WireError};
    match decompress(data, MAX_FRAME_BYTES) {
        Ok(t) => String::from_utf8(t).map_err(|_| {
            (
                ErrorCode::MalformedFrame,
                "inflated frame is not UTF-8".to_owned(),
            )
        }),
        Err(e @ WireError::TooLarge { .. }) => Err((ErrorCode::FrameTooLarge, e.to_string())),
        Err(e) => Err((ErrorCode::MalformedFrame, e.to_string())),
    }
}

fn validate(frame: &EvidenceFrame) -> Result<(), String> {
    if frame.seq == 0 {
        return Err("seq must be at least 1".into());
    }
    if frame.investigation_id.is_empty() || frame.investigation_id.len() > 128 {
        return Err("investigation_id must be 1 to 128 characters".into());
    }
    if frame.alarm.name.is_empty() {
        return Err("alarm.name is empty".into());
    }
    let mut ids = std::collections::HashSet::new();
    for item in &frame.items {
        if !ids.insert(item.id()) {
            return Err(format!("evidence id {:?} is used twice", item.id()));
        }
    }
    Ok(())
}

/// What the CPU-heavy part of ingest makes of a frame: the frame as stored (re-redacted), its
/// text, its JSON, how many values were masked here, and the diagnosis.
struct Checked {
    frame: EvidenceFrame,
    text: String,
    value: serde_json::Value,
    masked: usize,
    diagnosis: diagnose::Diagnosis,
}

/// Re-redaction and diagnosis of one frame: pure CPU work, run on the blocking pool so the async
/// workers keep serving everyone else.
fn check(
    frame: EvidenceFrame,
    raw: String,
    redactor: &convops_shared::redact::Redactor,
) -> Result<Checked, ServerFrame> {
    let seq = frame.seq;
    // `raw` is this frame's text, already decoded once: parse it rather than clone and re-encode.
    let mut value: serde_json::Value = serde_json::from_str(&raw).unwrap_or_default();
    if let Some((path, len)) = convops_shared::protocol::overlong_string(&value, MAX_STRING_BYTES) {
        return Err(ServerFrame::Error {
            code: ErrorCode::InvalidEvidence,
            message: format!("the string at {path} is {len} bytes; at most {MAX_STRING_BYTES}"),
            seq: Some(seq),
        });
    }
    // Defence in depth: re-redact what the agent sent before storing or sending any of it.
    let masked = redactor.redact_json(&mut value);
    let (frame, text) = if masked == 0 {
        (frame, raw)
    } else {
        match serde_json::from_value::<AgentFrame>(value.clone()) {
            Ok(AgentFrame::Evidence(f)) => (*f, value.to_string()),
            _ => {
                return Err(ServerFrame::Error {
                    code: ErrorCode::Internal,
                    message: "re-redaction failed".into(),
                    seq: None,
                })
            }
        }
    };
    let mut diagnosis = diagnose::diagnose(&frame);
    diagnosis.masked_by_control_plane = masked;
    Ok(Checked {
        frame,
        text,
        value,
        masked,
        diagnosis,
    })
}

async fn handle_evidence(
    state: &AppState,
    workspace_id: &str,
    agent_id: &str,
    frame: EvidenceFrame,
    raw: String,
    wire_bytes: usize,
) -> Option<ServerFrame> {
    let seq = frame.seq;
    if let Err(why) = validate(&frame) {
        return Some(ServerFrame::Error {
            code: ErrorCode::InvalidEvidence,
            message: why,
            seq: Some(seq),
        });
    }
    debug_assert!(raw.len() <= MAX_FRAME_BYTES);
    let redactor = state.redactor(workspace_id);
    // At most a few frames of one workspace on the blocking pool at once: a workspace sending
    // many heavy frames waits for its own slots, not everyone's.
    let slots = state.cpu_slots(workspace_id, CPU_SLOTS_PER_WORKSPACE);
    let Ok(_slot) = slots.acquire_owned().await else {
        return Some(ServerFrame::error(ErrorCode::Internal, "shutting down"));
    };
    let r = redactor.clone();
    let checked = match tokio::task::spawn_blocking(move || check(frame, raw, &r)).await {
        Ok(Ok(c)) => c,
        Ok(Err(refusal)) => return Some(refusal),
        Err(e) => {
            tracing::error!(%workspace_id, %agent_id, seq, error = %e, "checking a frame failed");
            return Some(ServerFrame::Error {
                code: ErrorCode::Internal,
                message: "internal error".into(),
                seq: None,
            });
        }
    };
    drop(_slot);
    let Checked {
        frame,
        text: stored_text,
        value,
        masked,
        mut diagnosis,
    } = checked;
    if masked > 0 {
        tracing::warn!(%workspace_id, %agent_id, seq, masked, "control plane masked values the agent had not redacted");
    }
    let frame = &frame;
    if let Some(llm) = &state.llm {
        match state.limiter.take_for(
            crate::limits::Budget::Llm,
            workspace_id,
            LLM_CALLS_PER_HOUR / 3600.0,
            LLM_CALLS_PER_HOUR,
        ) {
            // The model sees only redacted data; still, nothing it writes leaves unchecked.
            Ok(()) => {
                crate::llm::enrich(llm, &mut diagnosis, &value, |t| {
                    redactor.redact(t).into_owned()
                })
                .await
            }
            Err(_) => {
                diagnosis.write_up_skipped = Some(format!(
                    "this workspace's LLM budget ({LLM_CALLS_PER_HOUR:.0} write-ups an hour) is spent"
                ));
            }
        }
    }
    let dedupe_key = match &frame.trigger {
        Trigger::Alarm => format!("alarm:{}:{}", frame.alarm.name, frame.alarm.transitioned_at),
        Trigger::Command { command_id } => format!("command:{command_id}"),
    };
    let public_url = state.public_url.clone();
    let result = state
        .store
        .store_evidence(
            Received {
                workspace_id,
                agent_id,
                seq,
                investigation_id: &frame.investigation_id,
                body: &stored_text,
                wire_bytes,
                command_id: match &frame.trigger {
                    Trigger::Command { command_id } => Some(command_id),
                    Trigger::Alarm => None,
                },
            },
            |_| NewIncident {
                dedupe_key,
                alarm_name: frame.alarm.name.clone(),
                transitioned_at: frame.alarm.transitioned_at,
                title: diagnosis.title.clone(),
                diagnosis: serde_json::to_value(&diagnosis).unwrap_or_default(),
                resources: frame
                    .alarm
                    .dimensions
                    .values()
                    .filter(|v| v.len() >= 3)
                    .cloned()
                    .collect(),
            },
            |incident_id, route, what| {
                let url = incident_url(&public_url, incident_id);
                if let BodyFor::Update { joined } = what {
                    let mut body = update_body(route, incident_id, &url, joined);
                    redactor.redact_json(&mut body);
                    return body.to_string();
                }
                let text = diagnose::render_text(&diagnosis, &url);
                let mut body = match route.kind.as_str() {
                    SLACK_WEBHOOK | SLACK_BOT => {
                        slack::message(&diagnosis, Some(incident_id), &url, &text)
                    }
                    SLACK_RESPONSE => {
                        let mut m = slack::message(&diagnosis, Some(incident_id), &url, &text);
                        m["response_type"] = "in_channel".into();
                        m["replace_original"] = false.into();
                        m
                    }
                    WHATSAPP => whatsapp::incident_body(&diagnosis, incident_id, &text),
                    WEBHOOK => serde_json::json!({
                        "type": "incident.opened",
                        "incident_id": incident_id,
                        "incident_url": url,
                        "alarm": frame.alarm.name,
                        "title": diagnosis.title,
                        "text": text,
                        "diagnosis": diagnosis,
                    }),
                    _ => serde_json::json!({ "text": text }),
                };
                // And once more on exactly what leaves: idempotent, so a no-op unless something slipped.
                redactor.redact_json(&mut body);
                body.to_string()
            },
        )
        .await;
    match result {
        Ok(Stored::New {
            incident_id,
            opened,
            joined,
        }) => {
            tracing::info!(%workspace_id, %agent_id, seq, %incident_id, opened, joined, "evidence stored");
            let m = crate::telemetry::metrics();
            if opened {
                m.incidents_opened.inc();
            } else if joined {
                m.alarms_joined.inc();
            }
            if opened || joined {
                state.wake_delivery.notify_one();
            }
            Some(ServerFrame::Ack { seq })
        }
        Ok(Stored::Duplicate) => {
            tracing::debug!(%workspace_id, %agent_id, seq, "duplicate evidence acknowledged");
            Some(ServerFrame::Ack { seq })
        }
        Err(e) => {
            // Not acknowledged: the agent keeps the frame and sends it again.
            tracing::error!(%workspace_id, %agent_id, seq, error = %format!("{e:#}"), "storing evidence");
            Some(ServerFrame::Error {
                code: ErrorCode::Internal,
                message: "could not store evidence; it will be retried".into(),
                seq: None,
            })
        }
    }
}

/// An agent could not carry out a command: whoever asked is told, in their conversation.
async fn command_failed(
    state: &AppState,
    workspace_id: &str,
    agent_id: &str,
    command_id: &str,
    reason: &str,
) {
    let redactor = state.redactor(workspace_id);
    let reason = redactor.redact(reason);
    let result = state
        .store
        .command_failed(
            workspace_id,
            agent_id,
            command_id,
            &reason,
            |route, target| {
                let text = format!("Could not investigate `{target}` (`{command_id}`): {reason}.");
                let mut body = match route.kind.as_str() {
                    SLACK_RESPONSE => serde_json::json!({
                        "response_type": "in_channel",
                        "replace_original": false,
                        "text": text,
                    }),
                    WHATSAPP => whatsapp::reply_body(&text),
                    _ => serde_json::json!({ "text": text }),
                };
                redactor.redact_json(&mut body);
                body.to_string()
            },
        )
        .await;
    match result {
        Ok(true) => state.wake_delivery.notify_one(),
        Ok(false) => {
            tracing::warn!(%workspace_id, %agent_id, %command_id, "failure reported for a command this agent was not sent, or reported again");
        }
        Err(e) => {
            tracing::error!(%workspace_id, %agent_id, %command_id, error = %format!("{e:#}"), "recording a command's failure");
        }
    }
}

/// An update to an incident's thread: the alarms that joined it since it opened (the latest
/// named last; a long list is shortened, the count is always there).
pub fn update_body(
    route: &Route,
    incident_id: &str,
    url: &str,
    joined: &[String],
) -> serde_json::Value {
    const NAMED: usize = 10;
    let mut names: Vec<&str> = joined
        .iter()
        .rev()
        .take(NAMED)
        .map(String::as_str)
        .collect();
    names.reverse();
    let more = joined.len().saturating_sub(NAMED);
    let list = if more > 0 {
        format!("{} more, then {}", more, names.join(", "))
    } else {
        names.join(", ")
    };
    let text = format!(
        "Update: {} related alarm(s) joined this incident: {list}. Incident: {url}",
        joined.len()
    );
    match route.kind.as_str() {
        WHATSAPP => whatsapp::update_body(incident_id, &text, joined.len()),
        WEBHOOK => serde_json::json!({
            "type": "incident.updated",
            "incident_id": incident_id,
            "incident_url": url,
            "joined_alarms": joined,
            "text": text,
        }),
        _ => serde_json::json!({
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": slack::escape(&text)}}],
        }),
    }
}
