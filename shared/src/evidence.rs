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
    /// `(timestamp_ms, value)` pairs in time order. On the wire, a series on a regular grid is
    /// sent as its start, step and values (`null` for a missing point), about a quarter of the
    /// bytes of pairs; other series as pairs. See [`compact_points`].
    #[serde(with = "compact_points")]
    pub points: Vec<(i64, f64)>,
}

/// The wire form of chart points: `{"start": ms, "step_ms": ms, "values": [v, null, …]}` when the
/// timestamps lie on one grid with few gaps, else `[[ms, v], …]`. Both forms are accepted.
pub mod compact_points {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Grid {
        start: i64,
        step_ms: i64,
        values: Vec<Option<f64>>,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Grid(Grid),
        Pairs(Vec<(i64, f64)>),
    }

    /// The grid of `points`, when they have one and it is at most half empty.
    fn grid(points: &[(i64, f64)]) -> Option<Grid> {
        let (first, rest) = points.split_first()?;
        let step = rest
            .iter()
            .zip(points)
            .map(|(b, a)| b.0 - a.0)
            .filter(|d| *d > 0)
            .min()?;
        let span = points.last()?.0 - first.0;
        if span % step != 0 || points.iter().any(|p| (p.0 - first.0) % step != 0) {
            return None;
        }
        let slots = usize::try_from(span / step).ok()? + 1;
        if slots > points.len() * 2 {
            return None;
        }
        let mut values = vec![None; slots];
        for p in points {
            let slot = usize::try_from((p.0 - first.0) / step).ok()?;
            *values.get_mut(slot)? = Some(p.1);
        }
        Some(Grid {
            start: first.0,
            step_ms: step,
            values,
        })
    }

    pub fn serialize<S: Serializer>(points: &[(i64, f64)], s: S) -> Result<S::Ok, S::Error> {
        match grid(points) {
            Some(g) if points.len() > 1 => g.serialize(s),
            _ => points.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(i64, f64)>, D::Error> {
        match Wire::deserialize(d)? {
            Wire::Pairs(p) => Ok(p),
            Wire::Grid(g) => {
                if g.step_ms <= 0 || g.values.len() > 100_000 {
                    return Err(serde::de::Error::custom(
                        "points: step_ms must be positive and values at most 100000",
                    ));
                }
                g.values
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, v)| Some((i, v?)))
                    .map(|(i, v)| {
                        (i as i64)
                            .checked_mul(g.step_ms)
                            .and_then(|o| g.start.checked_add(o))
                            .map(|t| (t, v))
                            .ok_or_else(|| serde::de::Error::custom("points: timestamp overflow"))
                    })
                    .collect()
            }
        }
    }
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
    /// Templates of all the group's lines, errors or not, whose rate rose sharply when the
    /// group's traffic changed: what the extra load is (a crawler's user agent, a campaign's
    /// path, a tenant, a job), when no error line says it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grew: Vec<GrownTemplate>,
    /// The streams the error lines and change records came from, most lines first (at most
    /// three): by the
    /// CloudWatch agent's default, a host's stream is named after its instance id, and an ECS
    /// task's ends in the task id, so they say which host or task wrote the errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<String>,
    /// Lines that record a change made on the host (a deployment's lifecycle events, a
    /// configuration reload, a scheduled job started: `crate::host_changes`), as templates, the
    /// latest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<LogTemplate>,
}

/// A template whose lines came much more often after a point than before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrownTemplate {
    pub template: String,
    /// One redacted example line from after the change.
    pub example: String,
    /// Lines before `since`, and from `since` on.
    pub before: u64,
    pub after: u64,
    /// Where the group's line rate changed (epoch ms).
    pub since: i64,
    /// `after`'s rate over `before`'s (per minute, `before` counted as at least one line).
    pub ratio: f64,
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

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct P(#[serde(with = "super::compact_points")] Vec<(i64, f64)>);

    fn round_trip(points: Vec<(i64, f64)>) -> String {
        let json = serde_json::to_string(&P(points.clone())).expect("serialise");
        assert_eq!(
            serde_json::from_str::<P>(&json).expect("deserialise").0,
            points,
            "{json}"
        );
        json
    }

    #[test]
    fn regular_series_go_as_a_grid_and_come_back_the_same() {
        let json = round_trip(vec![(60_000, 1.5), (120_000, 2.0), (240_000, 3.25)]);
        assert_eq!(
            json,
            r#"{"start":60000,"step_ms":60000,"values":[1.5,2.0,null,3.25]}"#
        );
        // Irregular, sparse, single and empty series stay pairs.
        assert!(round_trip(vec![(0, 1.0), (7, 2.0), (60_000, 3.0)]).starts_with("[["));
        assert!(round_trip(vec![(0, 1.0), (600_000, 2.0)]).starts_with('{'));
        assert!(round_trip(vec![(0, 1.0), (60_000, 2.0), (6_000_000, 3.0)]).starts_with("[["));
        assert_eq!(round_trip(vec![(5, 1.0)]), "[[5,1.0]]");
        assert_eq!(round_trip(vec![]), "[]");
    }

    #[test]
    fn bad_grids_are_refused() {
        for bad in [
            r#"{"start":0,"step_ms":0,"values":[1.0]}"#,
            r#"{"start":9223372036854775000,"step_ms":1000,"values":[1.0,2.0]}"#,
            r#"{"start":0,"step_ms":60000,"values":[1.0],"extra":1}"#,
        ] {
            assert!(serde_json::from_str::<P>(bad).is_err(), "{bad}");
        }
    }
}
