//! The agent's own health and metrics, served on a local port (`metrics.listen`, by default
//! `127.0.0.1:9464`, the port the OpenTelemetry Prometheus exporter registered for its default):
//!
//! - `GET /healthz`: liveness. 200 while the alarm watcher keeps turning (it polls, or is inside
//!   an investigation that its deadline bounds); 503 once it has not for three poll intervals
//!   plus the investigation deadline, so ECS's container health check replaces a wedged task.
//!   AWS or control-plane trouble does not fail it: a restart would not fix either.
//! - `GET /readyz`: readiness. 200 when the last `DescribeAlarms` poll succeeded within that same
//!   window and the uplink is connected; 503 with the reasons otherwise.
//! - `GET /metrics`: Prometheus text format (see [`Metrics`] for the series).
//!
//! The port is plain HTTP on loopback by default: it serves no evidence and no secret, and an
//! ECS health check runs inside the task (`convops-agent health`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use convops_shared::telemetry::status_answer;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::aws::{Action, FailureKind};
use crate::spool::Spool;

/// The default `metrics.listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AwsCallLabels {
    pub action: &'static str,
    /// `ok`, `throttled`, `access_denied`, `error`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

/// Every series the agent exports. One per process ([`metrics`]): the counters are process-wide
/// facts, like the process's own CPU time.
pub struct Metrics {
    registry: Registry,
    /// `convops_agent_aws_calls_total{action,outcome}`: every attempt of every AWS call, retries
    /// included, by IAM action and how it ended.
    pub aws_calls: Family<AwsCallLabels, Counter>,
    /// `convops_agent_investigations_total{outcome}`: `complete` (every source ok) or
    /// `partial`.
    pub investigations: Family<OutcomeLabels, Counter>,
    /// `convops_agent_alarm_polls_total{outcome}`: `ok` or `failed`.
    pub alarm_polls: Family<OutcomeLabels, Counter>,
    /// `convops_agent_uplink_connected`: 1 while a session with the control plane is open.
    pub uplink_connected: Gauge,
    /// `convops_agent_uplink_sessions_total`: sessions opened.
    pub uplink_sessions: Counter,
    /// `convops_agent_frames_sent_total`, `…_acked_total`, `…_rejected_total`.
    pub frames_sent: Counter,
    pub frames_acked: Counter,
    pub frames_rejected: Counter,
    spool_frames: Gauge,
    spool_bytes: Gauge,
    spool_bound_bytes: Gauge,
    spool_oldest_age: Gauge,
    spool_dead: Gauge,
    /// When the watcher last turned and when a poll last succeeded (ms since [`Metrics::epoch`];
    /// -1: never).
    watcher_turned: AtomicI64,
    poll_succeeded: AtomicI64,
    epoch: Instant,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            registry: Registry::default(),
            aws_calls: Family::default(),
            investigations: Family::default(),
            alarm_polls: Family::default(),
            uplink_connected: Gauge::default(),
            uplink_sessions: Counter::default(),
            frames_sent: Counter::default(),
            frames_acked: Counter::default(),
            frames_rejected: Counter::default(),
            spool_frames: Gauge::default(),
            spool_bytes: Gauge::default(),
            spool_bound_bytes: Gauge::default(),
            spool_oldest_age: Gauge::default(),
            spool_dead: Gauge::default(),
            watcher_turned: AtomicI64::new(0),
            poll_succeeded: AtomicI64::new(-1),
            epoch: Instant::now(),
        };
        let r = &mut registry;
        r.register(
            "convops_agent_aws_calls",
            "AWS call attempts, retries included, by IAM action and outcome (ok, throttled, access_denied, error).",
            m.aws_calls.clone(),
        );
        r.register(
            "convops_agent_investigations",
            "Investigations finished, by outcome (complete: every evidence source ok; partial).",
            m.investigations.clone(),
        );
        r.register(
            "convops_agent_alarm_polls",
            "DescribeAlarms polls, by outcome (ok, failed).",
            m.alarm_polls.clone(),
        );
        r.register(
            "convops_agent_uplink_connected",
            "1 while a session with the control plane is open.",
            m.uplink_connected.clone(),
        );
        r.register(
            "convops_agent_uplink_sessions",
            "Sessions opened with the control plane.",
            m.uplink_sessions.clone(),
        );
        r.register(
            "convops_agent_frames_sent",
            "Spooled frames sent to the control plane (resent frames counted again).",
            m.frames_sent.clone(),
        );
        r.register(
            "convops_agent_frames_acked",
            "Frames the control plane stored and acknowledged.",
            m.frames_acked.clone(),
        );
        r.register(
            "convops_agent_frames_rejected",
            "Frames the control plane refused (moved to the dead tree).",
            m.frames_rejected.clone(),
        );
        r.register(
            "convops_agent_spool_frames",
            "Frames waiting in the spool for an acknowledgement.",
            m.spool_frames.clone(),
        );
        r.register(
            "convops_agent_spool_bytes",
            "Bytes of the frames waiting in the spool.",
            m.spool_bytes.clone(),
        );
        r.register(
            "convops_agent_spool_bound_bytes",
            "The spool's size bound (spool.max_kib) in bytes.",
            m.spool_bound_bytes.clone(),
        );
        r.register(
            "convops_agent_spool_oldest_age_seconds",
            "Age of the oldest frame waiting in the spool (0 when it is empty).",
            m.spool_oldest_age.clone(),
        );
        r.register(
            "convops_agent_spool_dead_frames",
            "Frames the control plane refused, kept for inspection.",
            m.spool_dead.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Count one AWS call attempt.
    pub fn aws_call(&self, action: Action, failure: Option<&FailureKind>) {
        let outcome = match failure {
            None => "ok",
            Some(FailureKind::Throttled) => "throttled",
            Some(FailureKind::AccessDenied) => "access_denied",
            Some(FailureKind::OverBudget | FailureKind::Other) => "error",
        };
        self.aws_calls
            .get_or_create(&AwsCallLabels {
                action: action.iam_name(),
                outcome,
            })
            .inc();
    }

    fn since_epoch_ms(&self) -> i64 {
        self.epoch.elapsed().as_millis() as i64
    }

    /// The alarm watcher turned (a poll or an investigation began or ended).
    pub fn watcher_turned(&self) {
        self.watcher_turned
            .store(self.since_epoch_ms(), Ordering::Relaxed);
    }

    /// A `DescribeAlarms` poll ended.
    pub fn alarm_poll(&self, ok: bool) {
        self.watcher_turned();
        if ok {
            self.poll_succeeded
                .store(self.since_epoch_ms(), Ordering::Relaxed);
        }
        self.alarm_polls
            .get_or_create(&OutcomeLabels {
                outcome: if ok { "ok" } else { "failed" },
            })
            .inc();
    }

    fn age(&self, at: &AtomicI64) -> Option<Duration> {
        let at = at.load(Ordering::Relaxed);
        (at >= 0).then(|| Duration::from_millis((self.since_epoch_ms() - at).max(0) as u64))
    }

    /// The exposition, with the spool's gauges read now.
    pub fn render(&self, spool: &Spool) -> String {
        self.spool_frames.set(spool.pending_count() as i64);
        self.spool_bytes.set(spool.pending_bytes() as i64);
        self.spool_bound_bytes.set(spool.max_bytes() as i64);
        self.spool_dead.set(spool.dead_count() as i64);
        let oldest = spool
            .oldest_pending_at_ms()
            .map(|at| (now_ms() - at).max(0) / 1000)
            .unwrap_or(0);
        self.spool_oldest_age.set(oldest);
        convops_shared::telemetry::encode(&self.registry)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the health endpoints judge against.
#[derive(Clone)]
pub struct Health {
    pub spool: Spool,
    /// How long the watcher may go without turning before the agent is not live, and the last
    /// successful poll may be old before it is not ready.
    pub stale_after: Duration,
}

impl Health {
    /// Three poll intervals plus one investigation's deadline (investigations run on the
    /// watcher) plus a margin for the limiter's waits.
    pub fn new(spool: Spool, poll_interval: Duration, deadline: Duration) -> Health {
        Health {
            spool,
            stale_after: poll_interval
                .saturating_mul(3)
                .saturating_add(deadline)
                .saturating_add(Duration::from_secs(30)),
        }
    }

    fn live(&self) -> Result<(), String> {
        let m = metrics();
        match m.age(&m.watcher_turned) {
            Some(age) if age > self.stale_after => Err(format!(
                "the alarm watcher has not turned for {} s (limit {} s)",
                age.as_secs(),
                self.stale_after.as_secs()
            )),
            _ => Ok(()),
        }
    }

    fn ready(&self) -> Result<(), Vec<String>> {
        let m = metrics();
        let mut why = Vec::new();
        if let Err(e) = self.live() {
            why.push(e);
        }
        match m.age(&m.poll_succeeded) {
            None => why.push("no DescribeAlarms poll has succeeded yet".to_owned()),
            Some(age) if age > self.stale_after => why.push(format!(
                "the last successful DescribeAlarms poll was {} s ago",
                age.as_secs()
            )),
            Some(_) => {}
        }
        if m.uplink_connected.get() < 1 {
            why.push("not connected to the control plane".to_owned());
        }
        if why.is_empty() {
            Ok(())
        } else {
            Err(why)
        }
    }
}

/// The router of the agent's local port.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Arc::new(health))
}

async fn render(State(h): State<Arc<Health>>) -> impl IntoResponse {
    let spool = h.spool.clone();
    // Reading the spool's first frame touches sled: off the async workers.
    let text = tokio::task::spawn_blocking(move || metrics().render(&spool))
        .await
        .unwrap_or_else(|e| format!("# rendering failed: {e}\n"));
    (
        [(
            header::CONTENT_TYPE,
            convops_shared::telemetry::CONTENT_TYPE,
        )],
        text,
    )
}

async fn healthz(State(h): State<Arc<Health>>) -> impl IntoResponse {
    status_answer(h.live().map_err(|e| vec![e]), "ok", "stalled")
}

async fn readyz(State(h): State<Arc<Health>>) -> impl IntoResponse {
    status_answer(h.ready(), "ready", "not ready")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_fails_once_the_watcher_stops_turning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path()).expect("spool");
        metrics().watcher_turned();
        let live = Health::new(
            spool.clone(),
            Duration::from_secs(30),
            Duration::from_secs(60),
        );
        assert!(live.live().is_ok());
        let stalled = Health {
            spool,
            stale_after: Duration::ZERO,
        };
        std::thread::sleep(Duration::from_millis(5));
        let e = stalled.live().expect_err("stale");
        assert!(e.contains("has not turned"), "{e}");
        // Absurd settings saturate instead of overflowing.
        let _ = Health::new(stalled.spool, Duration::MAX, Duration::MAX);
    }

    #[test]
    fn aws_calls_are_counted_by_action_and_outcome() {
        let m = metrics();
        m.aws_call(Action::LogsFilterLogEvents, None);
        m.aws_call(Action::LogsFilterLogEvents, Some(&FailureKind::Throttled));
        m.aws_call(Action::LogsFilterLogEvents, Some(&FailureKind::Throttled));
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(dir.path()).expect("spool");
        let text = m.render(&spool);
        let throttled = convops_shared::telemetry::sample(
            &text,
            "convops_agent_aws_calls_total",
            &[("action", "logs:FilterLogEvents"), ("outcome", "throttled")],
        );
        assert!(throttled >= Some(2.0), "{text}");
        assert_eq!(
            convops_shared::telemetry::sample(&text, "convops_agent_spool_frames", &[]),
            Some(0.0)
        );
    }
}
