//! Delivery: a worker drains the `deliveries` outbox (written with the incident, so nothing is
//! lost across restarts) and posts each message to its route:
//!
//! - `slack_webhook`: a Slack incoming webhook (the target is the URL);
//! - `slack_bot`: Slack's `chat.postMessage` with a bot token (the target is
//!   `{"token", "channel"}`); Slack answers HTTP 200 with `"ok": false` for most errors, which are
//!   read from the body;
//! - `whatsapp`: a phone number, through Meta's WhatsApp Cloud API from ConvOps's business
//!   number (see [`whatsapp`]: the 24-hour window, templates, pacing);
//! - `webhook`: any HTTPS endpoint (the target is `{"url", "secret"}`), the JSON body signed with
//!   HMAC-SHA256 (see [`sign`]).
//!
//! Per attempt: success marks the delivery done; rate limits, 5xx and network errors are retried
//! with exponential backoff (2 s doubling, at most 5 min, with jitter), or after `Retry-After`
//! (seconds or an HTTP date) when the server sends one; other errors are final and recorded in
//! the incident's delivery log. A crash between a successful post and marking it done can repeat
//! that one message: delivery is at-least-once, with that single window (webhook receivers can
//! drop the repeat by its `X-ConvOps-Delivery` id).

pub mod slack;
pub mod whatsapp;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::secrets::Sealer;
use crate::store::{now_ms, PendingDelivery, Store};

/// Route kinds, as the store keeps them.
pub use crate::store::{SLACK_BOT, SLACK_RESPONSE, SLACK_WEBHOOK, WEBHOOK, WHATSAPP};

/// The sealed target of a `slack_bot` route.
#[derive(Debug, Serialize, Deserialize)]
pub struct SlackBotTarget {
    pub token: String,
    pub channel: String,
}

/// The sealed target of a `webhook` route.
#[derive(Debug, Serialize, Deserialize)]
pub struct WebhookTarget {
    pub url: String,
    pub secret: String,
}

/// What a cut text ends with.
pub const TRUNCATED: &str = "…[truncated]";

/// `s` cut to at most `max` characters, the cut marked with [`TRUNCATED`].
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let keep = max.saturating_sub(TRUNCATED.chars().count() + 1);
    let mut out: String = s.chars().take(keep).collect();
    out.push(' ');
    out.push_str(TRUNCATED);
    out
}

/// Header names of signed webhooks.
pub const SIGNATURE_HEADER: &str = "x-convops-signature";
pub const TIMESTAMP_HEADER: &str = "x-convops-request-timestamp";
pub const DELIVERY_HEADER: &str = "x-convops-delivery";

/// The signature of a webhook body: `v1=` and the hex HMAC-SHA256, keyed by the route's secret,
/// of `v1:{timestamp}:{body}` (the timestamp in Unix seconds, as sent in
/// `X-ConvOps-Request-Timestamp`). Receivers recompute it over the raw body, compare in constant
/// time, and refuse timestamps more than five minutes old.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(format!("v1:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub struct Worker {
    pub store: Store,
    pub sealer: Sealer,
    /// For the operator's own endpoints (Slack's Web API, Meta's Graph API).
    pub http: reqwest::Client,
    /// For destinations a tenant chose (webhooks, Slack webhook and response URLs): no
    /// redirects, public addresses only ([`crate::egress`]).
    pub routes_http: reqwest::Client,
    /// `[delivery] allow_private_destinations`.
    pub allow_private_destinations: bool,
    pub wake: std::sync::Arc<Notify>,
    pub max_attempts: u32,
    /// Base URL of Slack's Web API (`https://slack.com/api`; a local server in tests).
    pub slack_api: String,
    /// WhatsApp, when configured.
    pub whatsapp: Option<whatsapp::Sender>,
}

use crate::retry::{backoff, Verdict};

enum Outcome {
    /// Delivered; where it landed when the service says (Slack's `ts`).
    Done(Option<String>),
    Retry {
        after: Duration,
        error: String,
    },
    Final(String),
    /// Not sent: try again after this long without counting an attempt (pacing).
    Defer(Duration),
}

impl Worker {
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        loop {
            let wake = self.wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            match self.store.due_deliveries(32).await {
                Ok(due) => {
                    for d in due {
                        self.attempt(d).await;
                    }
                }
                Err(e) => tracing::error!(error = %format!("{e:#}"), "reading the delivery outbox"),
            }
            let sleep = match self.store.next_delivery_due().await {
                Ok(Some(t)) => Duration::from_millis((t - now_ms()).clamp(0, 5_000) as u64),
                _ => Duration::from_secs(5),
            };
            if sleep.is_zero() {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = &mut wake => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    async fn attempt(&self, d: PendingDelivery) {
        let aad = crate::secrets::route_target_aad(&d.workspace_id, &d.route.kind);
        let started = std::time::Instant::now();
        let outcome = match self.sealer.open(&d.route.target_enc, &aad) {
            Err(e) => Outcome::Final(format!("route target cannot be decrypted: {e}")),
            Ok(target) => match d.route.kind.as_str() {
                SLACK_WEBHOOK | SLACK_RESPONSE => match String::from_utf8(target) {
                    Ok(url) => self.post_route(&url, &d.body, &[], d.attempts).await,
                    Err(_) => Outcome::Final("route target is not UTF-8".into()),
                },
                SLACK_BOT => match serde_json::from_slice::<SlackBotTarget>(&target) {
                    Ok(t) => {
                        self.slack_post_message(&t, &d.body, d.thread_ref.as_deref(), d.attempts)
                            .await
                    }
                    Err(e) => {
                        Outcome::Final(format!("route target is not a Slack bot target: {e}"))
                    }
                },
                WEBHOOK => match serde_json::from_slice::<WebhookTarget>(&target) {
                    Ok(t) => {
                        let ts = now_ms() / 1000;
                        let sig = sign(t.secret.as_bytes(), ts, d.body.as_bytes());
                        let headers = [
                            (TIMESTAMP_HEADER, ts.to_string()),
                            (SIGNATURE_HEADER, sig),
                            (DELIVERY_HEADER, d.id.clone()),
                        ];
                        self.post_route(&t.url, &d.body, &headers, d.attempts).await
                    }
                    Err(e) => Outcome::Final(format!("route target is not a webhook target: {e}")),
                },
                WHATSAPP => match serde_json::from_slice::<whatsapp::Target>(&target) {
                    Ok(t) => self.whatsapp_send(&d, &t).await,
                    Err(e) => Outcome::Final(format!("route target is not a WhatsApp target: {e}")),
                },
                other => Outcome::Final(format!("unknown route kind {other:?}")),
            },
        };
        let attempts = d.attempts + 1;
        // Paced deliveries made no request: counted, not timed.
        crate::telemetry::metrics().delivery(
            &d.route.kind,
            match &outcome {
                Outcome::Defer(_) => "deferred",
                Outcome::Done(_) => "delivered",
                Outcome::Retry { .. } if attempts < i64::from(self.max_attempts) => "retry",
                Outcome::Retry { .. } | Outcome::Final(_) => "failed",
            },
            (!matches!(outcome, Outcome::Defer(_))).then(|| started.elapsed()),
        );
        let incident = d.incident_id.as_deref().unwrap_or("-");
        let result = match outcome {
            Outcome::Defer(wait) => {
                tracing::debug!(%incident, route = %d.route.id, wait_ms = wait.as_millis() as u64, "delivery paced");
                self.store
                    .delivery_deferred(&d.workspace_id, &d.id, now_ms() + wait.as_millis() as i64)
                    .await
            }
            Outcome::Done(remote_ref) => {
                tracing::info!(%incident, route = %d.route.id, kind = %d.kind, attempts, "delivered");
                self.store
                    .delivery_done(&d.workspace_id, &d.id, &d.body, remote_ref.as_deref())
                    .await
            }
            Outcome::Retry { after, error } if attempts < i64::from(self.max_attempts) => {
                tracing::warn!(%incident, route = %d.route.id, attempts, %error, retry_in_ms = after.as_millis() as u64, "delivery failed; will retry");
                self.store
                    .delivery_failed(
                        &d.workspace_id,
                        &d.id,
                        &error,
                        Some(now_ms() + after.as_millis() as i64),
                    )
                    .await
            }
            Outcome::Retry { error, .. } | Outcome::Final(error) => {
                tracing::error!(%incident, route = %d.route.id, attempts, %error, "delivery failed for good");
                self.store
                    .delivery_failed(&d.workspace_id, &d.id, &error, None)
                    .await
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %format!("{e:#}"), "recording a delivery outcome");
        }
    }

    /// POSTs `body` as JSON to a destination a tenant chose; the status decides.
    async fn post_route(
        &self,
        url: &str,
        body: &str,
        headers: &[(&str, String)],
        attempts: i64,
    ) -> Outcome {
        if let Err(why) = crate::egress::check_url(url, self.allow_private_destinations) {
            return Outcome::Final(format!("destination refused: {why}"));
        }
        let mut req = self
            .routes_http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        match self.send(req, attempts).await {
            Ok(_) => Outcome::Done(None),
            Err(o) => o,
        }
    }

    /// Sends a request: its status, `Retry-After` and body; a network failure is the retry to
    /// record.
    async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
        attempts: i64,
    ) -> Result<(reqwest::StatusCode, Option<Duration>, String), Outcome> {
        let r = req.send().await.map_err(|e| Outcome::Retry {
            after: backoff(attempts),
            // reqwest errors include the URL, which for a webhook is a secret: drop it.
            error: format!("request failed: {}", e.without_url()),
        })?;
        let status = r.status();
        let after = crate::retry::retry_after(r.headers());
        Ok((status, after, r.text().await.unwrap_or_default()))
    }

    /// Sends a request: `Ok(body)` on 2xx; otherwise the outcome to record.
    async fn send(&self, req: reqwest::RequestBuilder, attempts: i64) -> Result<String, Outcome> {
        let (status, after, text) = self.exchange(req, attempts).await?;
        let verdict = crate::retry::classify(status);
        if verdict == Verdict::Success {
            return Ok(text);
        }
        // The body is not shown: a destination's error page is not the tenant's to read. An API's
        // error code (Slack's `no_service`, `invalid_token`) is kept, being no more than a token.
        let code = text.trim();
        let error = if !code.is_empty()
            && code.len() <= 60
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            format!("HTTP {status}: {code}")
        } else {
            format!("HTTP {status}")
        };
        Err(if verdict == Verdict::Retry {
            Outcome::Retry {
                after: after.unwrap_or_else(|| backoff(attempts)),
                error,
            }
        } else {
            Outcome::Final(error)
        })
    }

    /// `chat.postMessage` with the bot token, in the thread of `thread_ts` when given: HTTP 429
    /// carries `Retry-After`; other errors come as HTTP 200 with `"ok": false` and an error code.
    async fn slack_post_message(
        &self,
        t: &SlackBotTarget,
        body: &str,
        thread_ts: Option<&str>,
        attempts: i64,
    ) -> Outcome {
        let mut message: serde_json::Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => return Outcome::Final(format!("stored message is not JSON: {e}")),
        };
        message["channel"] = serde_json::Value::String(t.channel.clone());
        if let Some(ts) = thread_ts {
            message["thread_ts"] = serde_json::Value::String(ts.to_owned());
        }
        let req = self
            .http
            .post(format!(
                "{}/chat.postMessage",
                self.slack_api.trim_end_matches('/')
            ))
            .bearer_auth(&t.token)
            .header("content-type", "application/json; charset=utf-8")
            .body(message.to_string());
        let text = match self.send(req, attempts).await {
            Ok(text) => text,
            Err(o) => return o,
        };
        let reply: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if reply["ok"] == true {
            return Outcome::Done(reply["ts"].as_str().map(str::to_owned));
        }
        let code = reply["error"]
            .as_str()
            .unwrap_or("no error code in the reply")
            .to_owned();
        match code.as_str() {
            // Transient on Slack's side.
            "ratelimited"
            | "internal_error"
            | "fatal_error"
            | "service_unavailable"
            | "request_timeout" => Outcome::Retry {
                after: backoff(attempts),
                error: format!("Slack chat.postMessage: {code}"),
            },
            // The token, the channel or the message is wrong: retrying cannot help.
            _ => Outcome::Final(format!("Slack chat.postMessage: {code}")),
        }
    }

    /// One WhatsApp message: text inside the recipient's 24-hour window, the template outside it.
    async fn whatsapp_send(&self, d: &PendingDelivery, t: &whatsapp::Target) -> Outcome {
        let Some(wa) = &self.whatsapp else {
            return Outcome::Final(
                "WhatsApp is not configured on this control plane ([whatsapp] in its config)"
                    .into(),
            );
        };
        let body: whatsapp::Body = match serde_json::from_str(&d.body) {
            Ok(b) => b,
            Err(e) => return Outcome::Final(format!("stored WhatsApp message is not valid: {e}")),
        };
        let hash = whatsapp::contact_hash(&self.sealer, &t.to);
        let last_inbound = match self.store.whatsapp_contact(&hash).await {
            Ok(Some(c)) if c.workspace_id == d.workspace_id => c.last_inbound_at,
            Ok(_) => None,
            Err(e) => {
                return Outcome::Retry {
                    after: backoff(d.attempts),
                    error: format!("reading the WhatsApp contact: {e:#}"),
                }
            }
        };
        let window_open = last_inbound
            .is_some_and(|at| now_ms() - at < whatsapp::WINDOW_MS - whatsapp::WINDOW_MARGIN_MS);
        let message = match (window_open, &body.template) {
            (true, _) => whatsapp::text_message(&t.to, &body.text),
            (false, Some(params)) => whatsapp::template_message(
                &t.to,
                &wa.settings.template,
                &wa.settings.template_language,
                params,
            ),
            (false, None) => return Outcome::Final(
                "outside WhatsApp's 24-hour window, and a reply has no template to send instead"
                    .into(),
            ),
        };
        if let Some(wait) = wa.pacer.claim(&hash, whatsapp::PAIR_INTERVAL) {
            return Outcome::Defer(wait);
        }
        let req = self
            .http
            .post(wa.messages_url())
            .bearer_auth(wa.settings.access_token.expose())
            .json(&message);
        let exchanged = self.exchange(req, d.attempts).await;
        wa.pacer.answered(&hash);
        let (status, after, text) = match exchanged {
            Ok(r) => r,
            Err(o) => return o,
        };
        if status.is_success() {
            let reply: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            return Outcome::Done(reply["messages"][0]["id"].as_str().map(str::to_owned));
        }
        let (verdict, error) = match whatsapp::graph_error(&text) {
            Some((code, line)) => (whatsapp::verdict(code), format!("WhatsApp {code}: {line}")),
            None => {
                let snippet: String = text.chars().take(200).collect();
                let v = match crate::retry::classify(status) {
                    Verdict::Retry if status.as_u16() == 429 => whatsapp::Verdict::RateLimited,
                    Verdict::Retry => whatsapp::Verdict::Transient,
                    Verdict::Success | Verdict::Final => whatsapp::Verdict::Final,
                };
                (v, format!("HTTP {status}: {snippet}"))
            }
        };
        match verdict {
            whatsapp::Verdict::RateLimited | whatsapp::Verdict::Transient => Outcome::Retry {
                after: after
                    .unwrap_or_else(|| backoff(d.attempts).max(whatsapp::PAIR_INTERVAL))
                    .min(crate::retry::MAX_RETRY_AFTER),
                error,
            },
            whatsapp::Verdict::WindowClosed => {
                if let Err(e) = self.store.whatsapp_window_closed(&hash).await {
                    tracing::error!(error = %format!("{e:#}"), "forgetting a closed WhatsApp window");
                }
                Outcome::Final(error)
            }
            whatsapp::Verdict::Final => Outcome::Final(error),
        }
    }
}
