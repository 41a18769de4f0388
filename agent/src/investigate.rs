//! One investigation: run the evidence sources for an alarm under a deadline, collect their
//! reports, and spool the resulting evidence frame.

use std::sync::Arc;
use std::time::Duration;

use convops_shared::evidence::{AlarmInfo, EvidenceItem, SourceReport, SourceStatus};
use convops_shared::protocol::{AgentFrame, EvidenceFrame, Trigger};
use convops_shared::redact::Redactor;

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

/// Redact every string of `frame` and encode it for spooling with the sequence number the spool
/// assigns. This is the one way evidence reaches the spool, so nothing unredacted is stored or
/// sent.
pub fn encoder(frame: EvidenceFrame, redactor: &Redactor) -> impl Fn(u64) -> Vec<u8> {
    let mut value = serde_json::to_value(AgentFrame::Evidence(Box::new(frame))).unwrap_or_default();
    let masked = redactor.redact_json(&mut value);
    if masked > 0 {
        tracing::debug!(masked, "values redacted from evidence");
    }
    move |seq| {
        let mut v = value.clone();
        v["seq"] = seq.into();
        v.to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convops_shared::evidence::AlarmInfo;

    #[test]
    fn spooled_frames_are_redacted_in_every_string() {
        let alarm = AlarmInfo {
            name: "api-5xx".into(),
            arn: Some("arn:aws:cloudwatch:eu-central-1:123456789012:alarm:api-5xx".into()),
            description: Some(
                "owner ops@example.com, runbook https://u:hunter2secret@wiki.example.com/x".into(),
            ),
            namespace: "AWS/ApplicationELB".into(),
            metric_name: "HTTPCode_Target_5XX_Count".into(),
            dimensions: Default::default(),
            statistic: "Sum".into(),
            period_secs: 60,
            evaluation_periods: 3,
            threshold: 10.0,
            comparison: "GreaterThanThreshold".into(),
            state: "ALARM".into(),
            state_reason: "Threshold Crossed from 203.0.113.7".into(),
            state_reason_data: None,
            transitioned_at: 1,
        };
        let frame = EvidenceFrame {
            seq: 0,
            investigation_id: "inv".into(),
            trigger: Trigger::Alarm,
            alarm,
            started_at: 0,
            finished_at: 0,
            items: vec![],
            sources: vec![],
            raw_bytes: 0,
        };
        let bytes = encoder(frame, &Redactor::new(b"k"))(42);
        let text = String::from_utf8(bytes).expect("utf8");
        for secret in [
            "123456789012",
            "ops@example.com",
            "hunter2secret",
            "203.0.113.7",
        ] {
            assert!(!text.contains(secret), "{secret} reached the spool: {text}");
        }
        let decoded = AgentFrame::decode(&text).expect("still a valid frame");
        let AgentFrame::Evidence(f) = decoded else {
            panic!("not evidence")
        };
        assert_eq!(f.seq, 42);
        assert_eq!(f.alarm.name, "api-5xx", "what is not sensitive is kept");
    }
}
