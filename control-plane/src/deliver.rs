//! Delivery: a worker drains the `deliveries` outbox (written with the incident, so nothing is
//! lost across restarts) and posts each message to its route.
//!
//! Per attempt: a 2xx marks the delivery done; 429 and 5xx and network errors are retried with
//! exponential backoff, honouring `Retry-After`; other 4xx are final and recorded. A crash between
//! a successful post and marking it done can repeat that one message: delivery is at-least-once,
//! with that single window.

pub mod slack;

use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::secrets::Sealer;
use crate::store::{now_ms, PendingDelivery, Store};

/// Route kinds.
pub const SLACK_WEBHOOK: &str = "slack_webhook";

pub struct Worker {
    pub store: Store,
    pub sealer: Sealer,
    pub http: reqwest::Client,
    pub wake: std::sync::Arc<Notify>,
    pub max_attempts: u32,
}

enum Outcome {
    Done,
    Retry { after: Duration, error: String },
    Final(String),
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
        let outcome = match self.sealer.open(&d.route.target_enc) {
            Err(e) => Outcome::Final(format!("route target cannot be decrypted: {e}")),
            Ok(target) => match String::from_utf8(target) {
                Err(_) => Outcome::Final("route target is not UTF-8".into()),
                Ok(url) => match d.route.kind.as_str() {
                    SLACK_WEBHOOK => self.post_json(&url, &d.body).await,
                    other => Outcome::Final(format!("unknown route kind {other:?}")),
                },
            },
        };
        let attempts = d.attempts + 1;
        let result = match outcome {
            Outcome::Done => {
                tracing::info!(incident = %d.incident_id, route = %d.route.id, attempts, "delivered");
                self.store.delivery_done(&d.workspace_id, &d.id).await
            }
            Outcome::Retry { after, error } if attempts < i64::from(self.max_attempts) => {
                tracing::warn!(incident = %d.incident_id, route = %d.route.id, attempts, %error, retry_in_ms = after.as_millis() as u64, "delivery failed; will retry");
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
                tracing::error!(incident = %d.incident_id, route = %d.route.id, attempts, %error, "delivery failed for good");
                self.store
                    .delivery_failed(&d.workspace_id, &d.id, &error, None)
                    .await
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %format!("{e:#}"), "recording a delivery outcome");
        }
    }

    async fn post_json(&self, url: &str, body: &str) -> Outcome {
        let backoff = Duration::from_secs(2);
        let resp = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await;
        match resp {
            Err(e) => Outcome::Retry {
                after: backoff,
                // reqwest errors include the URL, which for a webhook is a secret: drop it.
                error: format!("request failed: {}", e.without_url()),
            },
            Ok(r) => {
                let status = r.status();
                let retry_after = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let text = r.text().await.unwrap_or_default();
                let snippet: String = text.chars().take(200).collect();
                if status.is_success() {
                    Outcome::Done
                } else if status.as_u16() == 429 || status.is_server_error() {
                    Outcome::Retry {
                        after: retry_after.unwrap_or(backoff).min(Duration::from_secs(300)),
                        error: format!("HTTP {status}: {snippet}"),
                    }
                } else {
                    Outcome::Final(format!("HTTP {status}: {snippet}"))
                }
            }
        }
    }
}
