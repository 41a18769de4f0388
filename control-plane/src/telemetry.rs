//! The control plane's metrics, health and readiness.
//!
//! `/healthz` and `/readyz` (readiness: the database answers and the process is not shutting
//! down) are served on the main TLS listener for load balancers; on the metrics port `/healthz`
//! is liveness only (the process answers), for container health checks. The Prometheus exposition, `/metrics`, is served with both on
//! a separate plain-HTTP port, `metrics.listen` (default `127.0.0.1:9465`, `off` to disable):
//! the series are operational, not a tenant's, and are kept off the public listener.
//!
//! Labels are bounded sets only (outcome, route kind): never a workspace or incident id.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use convops_shared::telemetry::status_answer;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// The default `metrics.listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9465";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// The route kind (`slack_webhook`, `slack_bot`, `webhook`, `whatsapp`, …).
    pub kind: String,
    /// `delivered`, `retry`, `failed`, `deferred`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

type DurationHistograms = Family<KindLabels, Histogram, fn() -> Histogram>;

/// Every series the control plane exports (one per process: [`metrics`]).
pub struct Metrics {
    registry: Registry,
    /// `convops_cp_agent_frames_total{outcome}`: frames from agents answered `acked` (stored,
    /// or already stored), `refused` (the frame is bad; the agent sets it aside) or `failed`
    /// (not stored this time; the agent sends it again).
    pub agent_frames: Family<OutcomeLabels, Counter>,
    /// `convops_cp_agent_sessions`: agent websocket sessions open now.
    pub agent_sessions: Gauge,
    /// `convops_cp_incidents_opened_total`, `convops_cp_incident_alarms_joined_total`.
    pub incidents_opened: Counter,
    pub alarms_joined: Counter,
    /// `convops_cp_deliveries_total{kind,outcome}`: delivery attempts by route kind and outcome.
    pub deliveries: Family<DeliveryLabels, Counter>,
    /// `convops_cp_delivery_duration_seconds{kind}`: time of one delivery attempt (the request
    /// to Slack, WhatsApp or the webhook), by route kind.
    pub delivery_duration: DurationHistograms,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

fn delivery_histogram() -> Histogram {
    // 10 ms to about 20 s: a chat API answers in tens of milliseconds; the HTTP timeout is 10 s.
    Histogram::new(exponential_buckets(0.01, 2.0, 12))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            registry: Registry::default(),
            agent_frames: Family::default(),
            agent_sessions: Gauge::default(),
            incidents_opened: Counter::default(),
            alarms_joined: Counter::default(),
            deliveries: Family::default(),
            delivery_duration: Family::new_with_constructor(delivery_histogram),
        };
        let r = &mut registry;
        r.register(
            "convops_cp_agent_frames",
            "Frames from agents, by answer: acked (stored), refused (bad; set aside), failed (to be resent).",
            m.agent_frames.clone(),
        );
        r.register(
            "convops_cp_agent_sessions",
            "Agent websocket sessions open now.",
            m.agent_sessions.clone(),
        );
        r.register(
            "convops_cp_incidents_opened",
            "Incidents opened.",
            m.incidents_opened.clone(),
        );
        r.register(
            "convops_cp_incident_alarms_joined",
            "Alarms that joined an open incident instead of opening one.",
            m.alarms_joined.clone(),
        );
        r.register(
            "convops_cp_deliveries",
            "Delivery attempts by route kind and outcome (delivered, retry, failed, deferred).",
            m.deliveries.clone(),
        );
        r.register(
            "convops_cp_delivery_duration_seconds",
            "Duration of one delivery attempt, by route kind.",
            m.delivery_duration.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Count the answer to one agent frame.
    pub fn agent_frame(&self, outcome: &'static str) {
        self.agent_frames
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Count one delivery attempt of route kind `kind`, and time it when a request was made.
    pub fn delivery(&self, kind: &str, outcome: &'static str, took: Option<Duration>) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                kind: kind.to_owned(),
                outcome,
            })
            .inc();
        if let Some(took) = took {
            self.delivery_duration
                .get_or_create(&KindLabels {
                    kind: kind.to_owned(),
                })
                .observe(took.as_secs_f64());
        }
    }

    /// Count an open agent session until the guard is dropped.
    pub fn agent_session(&'static self) -> SessionGuard {
        self.agent_sessions.inc();
        SessionGuard(self)
    }

    pub fn render(&self) -> String {
        convops_shared::telemetry::encode(&self.registry)
    }
}

/// An open agent session, counted in `convops_cp_agent_sessions` while it lives.
pub struct SessionGuard(&'static Metrics);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.agent_sessions.dec();
    }
}

/// Readiness: the database answers and the process is not stopping.
pub async fn ready(store: &Store, stopping: bool) -> Result<(), String> {
    if stopping {
        return Err("shutting down".into());
    }
    store.ping().await.map_err(|e| format!("database: {e:#}"))
}

#[derive(Clone)]
struct Probe {
    store: Store,
    cancel: CancellationToken,
}

/// The router of the metrics port: `/metrics`, `/healthz`, `/readyz`.
pub fn router(store: Store, cancel: CancellationToken) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Arc::new(Probe { store, cancel }))
}

async fn render() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            convops_shared::telemetry::CONTENT_TYPE,
        )],
        metrics().render(),
    )
}

/// Liveness: the process answers. The database is readiness's business: restarting a healthy
/// process because its database is slow or away would only add a cold start to the outage.
async fn healthz() -> impl IntoResponse {
    status_answer(Ok(()), "ok", "unhealthy")
}

async fn readyz(State(p): State<Arc<Probe>>) -> impl IntoResponse {
    readiness(ready(&p.store, p.cancel.is_cancelled()).await)
}

/// The `/readyz` answer for a readiness result.
pub fn readiness(r: Result<(), String>) -> (StatusCode, Json<serde_json::Value>) {
    status_answer(r.map_err(|why| vec![why]), "ready", "not ready")
}
