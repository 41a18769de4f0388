//! Chat commands: Slack slash commands (`/convops status`, …) run against the workspace the Slack
//! team is linked to; WhatsApp messages (see [`whatsapp`]) against the workspace the sender's
//! number is linked to. Both go through [`execute`].
//!
//! Order of work for every request: the signature is verified first (Slack's `v0` HMAC-SHA256 of
//! `v0:{timestamp}:{raw body}` keyed by the app's signing secret, compared in constant time,
//! timestamps more than five minutes away refused), before the body is even parsed. Then the
//! request is claimed by its event id (`trigger_id`), so a retried or replayed request gets the
//! first reply and runs nothing again. Every command goes to the workspace's action log (who,
//! what, when, from which channel).

pub mod whatsapp;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::json;

use crate::deliver::slack::{ACK_ACTION, RESOLVE_ACTION};
use crate::state::AppState;

/// Slash command bodies are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How far a request's timestamp may be from now.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why a request was refused before any processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed X-Slack-Request-Timestamp")]
    NoTimestamp,
    #[error("request timestamp is more than 5 minutes from now")]
    Stale,
    #[error("missing or malformed X-Slack-Signature")]
    NoSignature,
    #[error("signature does not match")]
    Mismatch,
}

/// Verifies a Slack request: `X-Slack-Signature: v0=<hex>` must be the HMAC-SHA256, keyed by the
/// signing secret, of `v0:{X-Slack-Request-Timestamp}:{body}`.
pub fn verify_slack(
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let ts: i64 = header("x-slack-request-timestamp")
        .and_then(|v| v.trim().parse().ok())
        .ok_or(SignatureError::NoTimestamp)?;
    // Overflow-free: a timestamp near `i64::MIN` or `i64::MAX` is stale, never a wrapped or
    // panicking subtraction.
    if now_secs
        .checked_sub(ts)
        .is_none_or(|d| d.unsigned_abs() > MAX_SKEW_SECS.unsigned_abs())
    {
        return Err(SignatureError::Stale);
    }
    let sig = header("x-slack-signature")
        .and_then(|v| v.strip_prefix("v0="))
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::NoSignature)?;
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| SignatureError::Mismatch)
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Status,
    Incidents,
    Show(String),
    Ack(String),
    Resolve(String),
    /// Ask the workspace's agent to investigate an alarm (by name) or the alarms of a resource.
    Investigate(String),
}

pub const USAGE: &str = "Commands: `status`, `incidents`, `show <incident id>`, `ack <incident id>`, `resolve <incident id>`, `investigate <alarm or resource name>`.";

/// Parses the text after the slash command; `Err` says what is wrong.
pub fn parse(text: &str) -> Result<Command, String> {
    let mut words = text.split_whitespace();
    let verb = words.next().unwrap_or("help").to_ascii_lowercase();
    let arg = words.next().map(str::to_owned);
    if words.next().is_some() {
        return Err(format!("`{verb}` takes at most one argument. {USAGE}"));
    }
    let need =
        |arg: Option<String>| arg.ok_or_else(|| format!("`{verb}` needs an incident id. {USAGE}"));
    match verb.as_str() {
        "help" => Ok(Command::Help),
        "status" => Ok(Command::Status),
        "incidents" => Ok(Command::Incidents),
        "show" => need(arg).map(Command::Show),
        "ack" => need(arg).map(Command::Ack),
        "resolve" => need(arg).map(Command::Resolve),
        "investigate" => match arg {
            Some(t) if t.len() <= 255 && !t.chars().any(char::is_control) => {
                Ok(Command::Investigate(t))
            }
            Some(_) => Err(
                "`investigate` takes an alarm or resource name of at most 255 characters.".into(),
            ),
            None => Err(format!(
                "`investigate` needs an alarm or resource name. {USAGE}"
            )),
        },
        other => Err(format!("Unknown command `{other}`. {USAGE}")),
    }
}

/// Who asked and from where, as the action log records it.
pub struct Caller {
    pub actor: String,
    pub channel: String,
    /// How to name the caller in a reply (`<@U123>` in Slack).
    pub mention: String,
    /// Where a later answer (an investigation's diagnosis) goes.
    pub reply_to: Option<ReplyTo>,
}

/// A conversation as a route: its kind and its plaintext target (sealed when stored).
pub struct ReplyTo {
    pub kind: &'static str,
    pub target: Vec<u8>,
}

/// `s`, which came from outside (evidence, an alarm name, what the user typed), made inert for
/// the conversation's format: no backtick can close the code span it is shown in, and in Slack's
/// mrkdwn `&`, `<` and `>` are escaped, so no `<!channel>`, `<@U…>` or `<url|text>` can be smuggled
/// in (https://api.slack.com/reference/surfaces/formatting#escaping).
pub fn untrusted(caller: &Caller, s: &str) -> String {
    let s = s.replace('`', "'");
    if caller.channel.starts_with("slack:") {
        crate::deliver::slack::escape(&s)
    } else {
        s
    }
}

/// Records command `text` from `caller` in the action log, then parses and runs it in `ws`:
/// the reply, and whether the whole conversation should see it.
pub async fn execute(state: &AppState, ws: &str, caller: &Caller, text: &str) -> (String, bool) {
    let redactor = state.redactor(ws);
    let logged = redactor.redact(text);
    if let Err(e) = state
        .store
        .audit(
            Some(ws),
            &caller.actor,
            "chat.command",
            serde_json::json!({ "channel": caller.channel, "text": logged }),
        )
        .await
    {
        tracing::error!(error = %format!("{e:#}"), "recording a chat command");
    }
    match parse(text) {
        Err(usage) => (untrusted(caller, &usage), false),
        Ok(cmd) => match run(state, ws, caller, cmd).await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "running a chat command");
                (
                    "ConvOps could not run that command; try again.".to_owned(),
                    false,
                )
            }
        },
    }
}

/// Runs `cmd` in workspace `ws`; returns the reply and whether the whole channel should see it.
pub async fn run(
    state: &AppState,
    ws: &str,
    caller: &Caller,
    cmd: Command,
) -> anyhow::Result<(String, bool)> {
    let store = &state.store;
    let link = |id: &str| crate::state::incident_url(&state.public_url, id);
    let u = |s: &str| untrusted(caller, s);
    Ok(match cmd {
        Command::Help => (USAGE.to_owned(), false),
        Command::Status => {
            let incidents = store.incidents(ws, 200).await?;
            let open = incidents.iter().filter(|i| i.status == "open").count();
            let acked = incidents
                .iter()
                .filter(|i| i.status == "acknowledged")
                .count();
            let latest = incidents
                .first()
                .map(|i| format!("\nLatest: `{}` {} ({})", i.id, u(&i.title), i.status))
                .unwrap_or_default();
            (format!("{open} open, {acked} acknowledged.{latest}"), false)
        }
        Command::Incidents => {
            let incidents = store.incidents(ws, 200).await?;
            let active: Vec<String> = incidents
                .iter()
                .filter(|i| i.status != "resolved")
                .take(10)
                .map(|i| {
                    format!(
                        "• `{}` {} — {}, opened {}",
                        i.id,
                        u(&i.title),
                        i.status,
                        crate::diagnose::utc(i.opened_at)
                    )
                })
                .collect();
            if active.is_empty() {
                ("No open incidents.".to_owned(), false)
            } else {
                (active.join("\n"), false)
            }
        }
        Command::Show(id) => match store.incident(ws, &id).await? {
            None => (
                format!("No incident `{}` in this workspace.", u(&id)),
                false,
            ),
            Some(i) => {
                let top = &i.diagnosis["hypotheses"][0];
                let cause = match (top["title"].as_str(), top["confidence"].as_f64()) {
                    (Some(t), Some(c)) => format!("\nMost likely: {} ({:.0}%)", u(t), c * 100.0),
                    _ => String::new(),
                };
                (
                    format!(
                        "`{}` {} — {}{cause}\n{}",
                        i.id,
                        u(&i.title),
                        i.status,
                        link(&i.id)
                    ),
                    false,
                )
            }
        },
        Command::Investigate(target) => investigate(state, ws, caller, &target).await?,
        Command::Ack(id) => set_status(state, ws, caller, &id, "acknowledged").await?,
        Command::Resolve(id) => set_status(state, ws, caller, &id, "resolved").await?,
    })
}

async fn investigate(
    state: &AppState,
    ws: &str,
    caller: &Caller,
    target: &str,
) -> anyhow::Result<(String, bool)> {
    use convops_shared::protocol::{Command as AgentCommand, ServerFrame};
    let id = crate::store::new_id("cmd");
    let frame = ServerFrame::Command {
        id: id.clone(),
        command: AgentCommand::Investigate {
            target: target.to_owned(),
            context: [("requested_by".to_owned(), caller.actor.clone())].into(),
        },
    };
    let no_agent = || {
        Ok((
            "No agent of this workspace is connected; nothing was started.".to_owned(),
            false,
        ))
    };
    let Some(agent) = state.agents.connected(ws) else {
        return no_agent();
    };
    // Recorded (with the route its answer goes to) before it is sent, so the answer always
    // finds its route.
    let reply = caller.reply_to.as_ref().map(|r| {
        let aad = crate::secrets::route_target_aad(ws, r.kind);
        (r.kind, state.sealer.seal(&r.target, &aad))
    });
    state
        .store
        .record_command(
            ws,
            &id,
            target,
            &caller.actor,
            &caller.channel,
            &agent,
            reply
                .as_ref()
                .map(|(kind, sealed)| (*kind, sealed.as_slice())),
        )
        .await?;
    if !state.agents.send_to(ws, &agent, frame) {
        return no_agent();
    }
    Ok((
        format!(
            "{} asked to investigate `{}` (`{id}`); the diagnosis will be posted here.",
            caller.mention,
            untrusted(caller, target)
        ),
        true,
    ))
}

async fn set_status(
    state: &AppState,
    ws: &str,
    caller: &Caller,
    id: &str,
    status: &str,
) -> anyhow::Result<(String, bool)> {
    if state
        .store
        .set_incident_status(ws, id, status, &caller.actor, &caller.channel)
        .await?
    {
        Ok((
            format!("{} {status} `{}`.", caller.mention, untrusted(caller, id)),
            true,
        ))
    } else {
        Ok((
            format!("No incident `{}` in this workspace.", untrusted(caller, id)),
            false,
        ))
    }
}

fn slack_reply(text: &str, in_channel: bool) -> String {
    json!({
        "response_type": if in_channel { "in_channel" } else { "ephemeral" },
        "text": text,
    })
    .to_string()
}

fn reply(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
}

/// What ConvOps needs from a Slack request, slash command or button click alike.
struct SlackRequest {
    team: String,
    user: String,
    user_name: String,
    channel: String,
    text: String,
    trigger_id: String,
    response_url: String,
}

type Form = std::collections::HashMap<String, String>;

/// A slash command: form fields.
fn from_command(form: &Form) -> Result<SlackRequest, String> {
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    Ok(SlackRequest {
        team: field("team_id"),
        user: field("user_id"),
        user_name: field("user_name"),
        channel: field("channel_id"),
        text: field("text"),
        trigger_id: field("trigger_id"),
        response_url: field("response_url"),
    })
}

/// A button click (`block_actions`): JSON in the form field `payload`.
fn from_interaction(form: &Form) -> Result<SlackRequest, String> {
    let payload: serde_json::Value = form
        .get("payload")
        .and_then(|p| serde_json::from_str(p).ok())
        .ok_or("no JSON payload")?;
    if payload["type"] != "block_actions" {
        return Err(format!("unsupported interaction type {}", payload["type"]));
    }
    let action = &payload["actions"][0];
    let id = action["value"].as_str().unwrap_or_default();
    let text = match action["action_id"].as_str() {
        Some(ACK_ACTION) => format!("ack {id}"),
        Some(RESOLVE_ACTION) => format!("resolve {id}"),
        // Link buttons also report clicks; nothing to run.
        _ => String::new(),
    };
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    Ok(SlackRequest {
        team: s(&payload["team"]["id"]),
        user: s(&payload["user"]["id"]),
        user_name: s(&payload["user"]["username"]),
        channel: s(&payload["channel"]["id"]),
        text,
        trigger_id: s(&payload["trigger_id"]),
        response_url: s(&payload["response_url"]),
    })
}

/// Verifies, parses, claims, logs and runs one Slack request; returns the status, the reply and
/// where a reply can be posted later (the request's `response_url`).
async fn handle_slack(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    parse_request: fn(&Form) -> Result<SlackRequest, String>,
) -> (StatusCode, String, Option<String>) {
    let Some(secret) = &state.slack_signing_secret else {
        return (
            StatusCode::NOT_FOUND,
            slack_reply("Slack commands are not configured on this ConvOps.", false),
            None,
        );
    };
    let now = crate::store::now_ms() / 1000;
    if let Err(e) = verify_slack(secret.expose().as_bytes(), headers, body, now) {
        tracing::warn!(error = %e, "Slack request refused");
        return (
            StatusCode::UNAUTHORIZED,
            json!({"error": e.to_string()}).to_string(),
            None,
        );
    }
    let form: Form = url::form_urlencoded::parse(body).into_owned().collect();
    let req = match parse_request(&form) {
        Ok(r) if !r.team.is_empty() && !r.user.is_empty() => r,
        Ok(_) => {
            return (
                StatusCode::BAD_REQUEST,
                slack_reply("The request has no team or user id.", false),
                None,
            )
        }
        Err(e) => return (StatusCode::BAD_REQUEST, slack_reply(&e, false), None),
    };
    let internal = || {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            slack_reply("ConvOps could not read its database; try again.", false),
            None,
        )
    };
    let ws = match state.store.workspace_for_slack_team(&req.team).await {
        Ok(Some(ws)) => ws,
        Ok(None) => {
            return (
                StatusCode::OK,
                slack_reply(
                    "This Slack workspace is not linked to a ConvOps workspace.",
                    false,
                ),
                None,
            )
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "looking up a Slack team");
            return internal();
        }
    };
    let response_url = (req.response_url.starts_with("https://")
        || req.response_url.starts_with("http://"))
    .then(|| req.response_url.clone());
    // One run per event: Slack's trigger_id is unique per invocation.
    let key = match req.trigger_id.as_str() {
        "" => format!(
            "slack-sig:{}",
            headers
                .get("x-slack-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        ),
        t => format!("slack:{t}"),
    };
    match state.store.claim_chat_request(&key, &ws).await {
        Ok(true) => {}
        Ok(false) => {
            let earlier = state
                .store
                .chat_reply(&key)
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            let body = if earlier.is_empty() {
                slack_reply("Already being handled.", false)
            } else {
                earlier
            };
            return (StatusCode::OK, body, None);
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "claiming a chat request");
            return internal();
        }
    }
    let caller = Caller {
        actor: format!("slack:{}/{} ({})", req.team, req.user, req.user_name),
        channel: format!("slack:{}/{}", req.team, req.channel),
        mention: format!("<@{}>", req.user),
        reply_to: response_url.as_ref().map(|url| ReplyTo {
            kind: crate::deliver::SLACK_RESPONSE,
            target: url.clone().into_bytes(),
        }),
    };
    let (text, in_channel) = execute(state, &ws, &caller, &req.text).await;
    let body = slack_reply(&text, in_channel);
    if let Err(e) = state.store.finish_chat_request(&key, &body).await {
        tracing::error!(error = %format!("{e:#}"), "recording a chat reply");
    }
    (StatusCode::OK, body, response_url)
}

/// `POST /api/v1/slack/commands`: the reply is the response.
pub async fn slack_command(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, body, _) = handle_slack(&state, &headers, &body, from_command).await;
    reply(status, body)
}

/// `POST /api/v1/slack/interactivity`: the Acknowledge and Resolve buttons. Slack wants an empty
/// 200 at once; the outcome is posted to the click's `response_url`.
pub async fn slack_interaction(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, body, response_url) =
        handle_slack(&state, &headers, &body, from_interaction).await;
    if status != StatusCode::OK {
        return reply(status, body);
    }
    if let Some(url) = response_url {
        let mut message: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        message["replace_original"] = false.into();
        let http = state.http.clone();
        // Best effort: the action itself is done and logged whether or not this note arrives.
        tokio::spawn(async move {
            if let Err(e) = http.post(url).json(&message).send().await {
                tracing::warn!(error = %e.without_url(), "posting a button's outcome to Slack");
            }
        });
    }
    StatusCode::OK.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(secret: &[u8], ts: i64, body: &[u8]) -> HeaderMap {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).expect("key");
        mac.update(format!("v0:{ts}:").as_bytes());
        mac.update(body);
        let mut h = HeaderMap::new();
        h.insert(
            "x-slack-request-timestamp",
            ts.to_string().parse().expect("header"),
        );
        h.insert(
            "x-slack-signature",
            format!("v0={}", hex::encode(mac.finalize().into_bytes()))
                .parse()
                .expect("header"),
        );
        h
    }

    #[test]
    fn signatures_are_checked_over_timestamp_and_raw_body() {
        let body = b"token=x&team_id=T1&text=status";
        let now = 1_700_000_000;
        let h = signed(b"secret-0123456789", now, body);
        assert_eq!(
            verify_slack(b"secret-0123456789", &h, body, now + 10),
            Ok(())
        );
        assert_eq!(
            verify_slack(b"other-secret-0000", &h, body, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack(
                b"secret-0123456789",
                &h,
                b"token=x&team_id=T2&text=status",
                now
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack(b"secret-0123456789", &h, body, now + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_slack(b"secret-0123456789", &h, body, now - 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_slack(b"secret-0123456789", &HeaderMap::new(), body, now),
            Err(SignatureError::NoTimestamp)
        );
        // Extreme timestamps are stale, not a panic or a wrapped difference.
        for ts in [i64::MIN, i64::MIN + 1, i64::MAX, -1] {
            let h = signed(b"secret-0123456789", ts, body);
            assert_eq!(
                verify_slack(b"secret-0123456789", &h, body, now),
                Err(SignatureError::Stale),
                "{ts}"
            );
            assert_eq!(
                verify_slack(b"secret-0123456789", &h, body, i64::MIN),
                if ts == i64::MIN || ts == i64::MIN + 1 {
                    Ok(())
                } else {
                    Err(SignatureError::Stale)
                },
                "{ts} at the earliest clock"
            );
        }
        let mut no_sig = h.clone();
        no_sig.remove("x-slack-signature");
        assert_eq!(
            verify_slack(b"secret-0123456789", &no_sig, body, now),
            Err(SignatureError::NoSignature)
        );
    }

    #[test]
    fn commands_parse_with_clear_errors() {
        assert_eq!(parse(""), Ok(Command::Help));
        assert_eq!(parse("  STATUS "), Ok(Command::Status));
        assert_eq!(parse("show inc_1"), Ok(Command::Show("inc_1".into())));
        assert_eq!(parse("ack inc_1"), Ok(Command::Ack("inc_1".into())));
        assert!(parse("ack")
            .expect_err("needs an id")
            .contains("needs an incident id"));
        assert!(parse("reboot prod")
            .expect_err("unknown")
            .contains("Unknown command `reboot`"));
        assert!(parse("show a b")
            .expect_err("too many")
            .contains("at most one argument"));
    }
}
