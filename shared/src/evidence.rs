//! What an investigation produces: the alarm that triggered it, the evidence items gathered, and
//! a report per evidence source (ok, partial or failed, with the reason).
//!
//! Timestamps are Unix epoch **milliseconds** (UTC) throughout.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The alarm as the agent read it with `DescribeAlarms`, at the transition into `ALARM`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: BTreeMap<String, String>,
    /// `Sum`, `Average`, … or an extended statistic such as `p99`.
    pub statistic: String,
    pub period_secs: u32,
    pub evaluation_periods: u32,
    pub threshold: f64,
    pub comparison: String,
    pub state: String,
    pub state_reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason_data: Option<String>,
    /// When the alarm entered its current state.
    pub transitioned_at: i64,
}

impl AlarmInfo {
    /// The span of data that put the alarm in `ALARM`: its period times its evaluation periods.
    pub fn evaluation_window_ms(&self) -> i64 {
        i64::from(self.period_secs) * i64::from(self.evaluation_periods.max(1)) * 1000
    }
}

/// How one evidence source fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceStatus {
    Ok,
    Partial,
    Failed,
}

/// One evidence source's outcome, so the diagnosis can say what could not be checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceReport {
    /// `metrics`, `logs`, `cloudtrail`, `ecs`, `rds`, `ec2`.
    pub source: String,
    pub status: SourceStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Bytes read from AWS for this source.
    pub raw_bytes: u64,
    /// AWS API calls made for this source.
    pub api_calls: u32,
}

/// Summary of one metric series around the alarm's transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSummary {
    pub datapoints: u32,
    /// Median of the points before onset (or before the alarm window when no onset is found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// Median absolute deviation of the baseline points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_spread: Option<f64>,
    /// Median of the points from onset (or of the alarm's evaluation window) to the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak: Option<f64>,
    /// Where the series changed level, by change-point detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset_at: Option<i64>,
}

/// A metric series with its summary and a downsampled copy for charts (at most 60 points).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricEvidence {
    /// Reference used by a diagnosis to cite this item, unique within an investigation (`m1`, …).
    pub id: String,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: BTreeMap<String, String>,
    pub statistic: String,
    pub period_secs: u32,
    pub summary: MetricSummary,
    /// `(timestamp_ms, value)` pairs in time order.
    pub points: Vec<(i64, f64)>,
}

/// A group of similar log lines: the template (variables as `<*>`), how many, when, examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogTemplate {
    pub template: String,
    pub count: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// A few redacted example lines.
    pub examples: Vec<String>,
}

/// Error-like lines of one log group in the investigation window, grouped into templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEvidence {
    pub id: String,
    pub group: String,
    /// Lines read from the group in the window.
    pub lines_read: u64,
    /// Lines that looked like errors.
    pub lines_matched: u64,
    /// Templates by count, largest first.
    pub templates: Vec<LogTemplate>,
    /// The lines just before the first error line, from its stream (`GetLogEvents`), oldest
    /// first: what the process was doing when it started failing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
}

/// A write (non-read-only) management event from CloudTrail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeEvidence {
    pub id: String,
    pub at: i64,
    pub event_source: String,
    pub event_name: String,
    pub actor: String,
    pub resources: Vec<String>,
    /// Redacted request parameters, truncated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<String>,
}

/// Stopped tasks of a service grouped by reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoppedTasks {
    pub reason: String,
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_stopped_at: Option<i64>,
}

/// An ECS service: its deployments, counts, and why its tasks stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsServiceEvidence {
    pub id: String,
    pub cluster: String,
    pub service: String,
    /// `family:revision` of the task definition the service runs.
    pub task_definition: String,
    pub desired: i64,
    pub running: i64,
    /// `(task definition, status, rollout state, created_at)` per deployment.
    pub deployments: Vec<String>,
    pub target_groups: Vec<String>,
    pub stopped: Vec<StoppedTasks>,
    /// The latest service events (messages), newest first.
    pub events: Vec<String>,
}

impl EcsServiceEvidence {
    /// Whether this service is behind the resource an alarm's dimensions name: its
    /// `ServiceName`, or a target group it registers tasks in.
    pub fn serves(&self, alarm_dimensions: &BTreeMap<String, String>) -> bool {
        if alarm_dimensions
            .get("ServiceName")
            .is_some_and(|n| *n == self.service)
        {
            return true;
        }
        if let Some(tg) = alarm_dimensions.get("TargetGroup") {
            return self
                .target_groups
                .iter()
                .any(|arn| arn.ends_with(tg.as_str()));
        }
        false
    }
}

/// An RDS instance or EC2 instance and its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceEvidence {
    pub id: String,
    /// `rds_instance` or `ec2_instance`.
    pub resource_type: String,
    pub name: String,
    pub state: String,
    /// Facts such as class, engine, storage, type, state reason.
    pub details: Vec<String>,
    /// The AWS identifier when `name` is a display name (an EC2 instance's `Name` tag): the
    /// dimension value of its metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

/// One piece of evidence. Tagged by `kind` on the wire; new kinds are added by later protocol
/// minor versions and an older control plane rejects them with a clear error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvidenceItem {
    Metric(MetricEvidence),
    Logs(LogEvidence),
    Change(ChangeEvidence),
    EcsService(EcsServiceEvidence),
    Resource(ResourceEvidence),
}

impl EvidenceItem {
    pub fn id(&self) -> &str {
        match self {
            EvidenceItem::Metric(m) => &m.id,
            EvidenceItem::Logs(l) => &l.id,
            EvidenceItem::Change(c) => &c.id,
            EvidenceItem::EcsService(e) => &e.id,
            EvidenceItem::Resource(r) => &r.id,
        }
    }

    /// The evidence source that produced this item (`metrics`, `logs`, `cloudtrail`, `ecs`,
    /// `rds`, `ec2`).
    pub fn source(&self) -> &str {
        match self {
            EvidenceItem::Metric(_) => "metrics",
            EvidenceItem::Logs(_) => "logs",
            EvidenceItem::Change(_) => "cloudtrail",
            EvidenceItem::EcsService(_) => "ecs",
            EvidenceItem::Resource(r) if r.resource_type == "rds_instance" => "rds",
            EvidenceItem::Resource(_) => "ec2",
        }
    }
}
