//! One investigation: run the evidence sources for an alarm under a deadline, collect their
//! reports, and spool the resulting evidence frame.

use std::sync::Arc;
use std::time::Duration;

use convops_shared::evidence::{AlarmInfo, EvidenceItem, SourceReport, SourceStatus};
use convops_shared::protocol::{AgentFrame, EvidenceFrame, Trigger};

use crate::aws::{metered, CallError, Clients, FailureKind, Meter};
use crate::collect;

/// Knobs of an investigation.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub lookback: Duration,
    pub deadline: Duration,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn failure_status(e: &CallError) -> (SourceStatus, String) {
    match e.kind {
        FailureKind::Throttled => (SourceStatus::Partial, format!("throttled: {e}")),
        FailureKind::AccessDenied => (SourceStatus::Failed, format!("access denied: {e}")),
        FailureKind::Other => (SourceStatus::Failed, e.to_string()),
    }
}

/// Gather evidence for `alarm`. Never fails: a source that fails is reported as such.
pub async fn gather(
    clients: &Clients,
    alarm: &AlarmInfo,
    trigger: Trigger,
    limits: Limits,
) -> EvidenceFrame {
    let started_at = now_ms();
    let investigation_id = format!("inv-{:016x}", rand::random::<u64>());
    let mut items = Vec::new();
    let mut sources = Vec::new();

    let meter = Arc::new(Meter::default());
    let fut = collect::metrics::alarm_metric(
        clients,
        alarm,
        "m1",
        limits.lookback.as_millis() as i64,
        started_at,
    );
    let result = tokio::time::timeout(limits.deadline, metered(meter.clone(), fut)).await;
    let (status, reason) = match result {
        Ok(Ok(m)) => {
            items.push(EvidenceItem::Metric(m));
            (SourceStatus::Ok, None)
        }
        Ok(Err(e)) => {
            tracing::warn!(alarm = %alarm.name, error = %e, "metrics source failed");
            let (s, r) = failure_status(&e);
            (s, Some(r))
        }
        Err(_) => (
            SourceStatus::Partial,
            Some(format!(
                "deadline of {}s reached",
                limits.deadline.as_secs()
            )),
        ),
    };
    sources.push(SourceReport {
        source: "metrics".into(),
        status,
        reason,
        raw_bytes: meter.raw_bytes(),
        api_calls: meter.calls(),
    });

    let raw_bytes = sources.iter().map(|s| s.raw_bytes).sum();
    EvidenceFrame {
        seq: 0,
        investigation_id,
        trigger,
        alarm: alarm.clone(),
        started_at,
        finished_at: now_ms(),
        items,
        sources,
        raw_bytes,
    }
}

/// Encode `frame` for spooling with the sequence number the spool assigns.
pub fn encoder(frame: EvidenceFrame) -> impl Fn(u64) -> Vec<u8> {
    move |seq| {
        let mut f = frame.clone();
        f.seq = seq;
        AgentFrame::Evidence(Box::new(f)).encode().into_bytes()
    }
}
