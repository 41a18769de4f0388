//! Diagnosis: from an investigation's evidence to ranked root-cause hypotheses, each with a
//! confidence, the evidence it rests on (cited by item id, so a reader can check it) and what to
//! check next; what could not be checked; and `unknown`, saying what is missing, when nothing is
//! supported well enough.
//!
//! [`diagnose`] is a pure, deterministic function of the evidence frame: no clock, no network.
//! [`signals`] classifies the evidence; [`rules`] holds one rule per root-cause category.

pub mod rules;
pub mod signals;

use convops_shared::evidence::{
    ChangeEvidence, EcsServiceEvidence, EvidenceItem, LogEvidence, MetricEvidence, SourceStatus,
};
use convops_shared::protocol::EvidenceFrame;
use serde::{Deserialize, Serialize};

/// Root-cause categories (`../shared/scenarios/FORMAT.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    DeployRegression,
    MemoryExhaustion,
    CpuSaturation,
    DbOverload,
    DbStorageFull,
    DependencyFailure,
    AccessChange,
    CapacityShortfall,
    Throttling,
    TrafficSurge,
    InstanceFailure,
    Unknown,
}

impl Category {
    pub const ALL: [Category; 12] = [
        Category::DeployRegression,
        Category::MemoryExhaustion,
        Category::CpuSaturation,
        Category::DbOverload,
        Category::DbStorageFull,
        Category::DependencyFailure,
        Category::AccessChange,
        Category::CapacityShortfall,
        Category::Throttling,
        Category::TrafficSurge,
        Category::InstanceFailure,
        Category::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::DeployRegression => "deploy_regression",
            Category::MemoryExhaustion => "memory_exhaustion",
            Category::CpuSaturation => "cpu_saturation",
            Category::DbOverload => "db_overload",
            Category::DbStorageFull => "db_storage_full",
            Category::DependencyFailure => "dependency_failure",
            Category::AccessChange => "access_change",
            Category::CapacityShortfall => "capacity_shortfall",
            Category::Throttling => "throttling",
            Category::TrafficSurge => "traffic_surge",
            Category::InstanceFailure => "instance_failure",
            Category::Unknown => "unknown",
        }
    }
}

/// One piece of evidence behind a hypothesis: the item's id and the fact it shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub id: String,
    pub fact: String,
}

/// A ranked root-cause hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hypothesis {
    pub category: Category,
    /// 0 to 1; comparable between hypotheses of one diagnosis.
    pub confidence: f64,
    /// One line: what happened.
    pub title: String,
    pub evidence: Vec<Citation>,
    #[serde(default)]
    pub next_checks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub title: String,
    pub alarm: String,
    /// What the alarm watches, as the reader would look it up: namespace, metric, dimensions,
    /// statistic and threshold.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metric: String,
    pub reason: String,
    /// When the symptom began (the alarm metric's onset).
    #[serde(default)]
    pub onset_at: Option<i64>,
    /// Best first; the first is `unknown` when nothing is supported well enough.
    #[serde(default)]
    pub hypotheses: Vec<Hypothesis>,
    /// The LLM write-up, when configured and it kept the hypotheses and citations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_up: Option<WriteUp>,
    /// Why a configured write-up was not used (timeout, rate limit, rejected text, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_up_skipped: Option<String>,
    /// One line per metric: baseline vs now, onset (cites the evidence item id).
    pub findings: Vec<Finding>,
    /// Sources that were partial or failed, with why.
    pub unchecked: Vec<String>,
    /// Changes in the window that the diagnosis did not take as the cause, each with why (after
    /// the onset, a resource nothing failing depends on, access widened rather than narrowed,
    /// long before the onset), so a reader sees that they were looked at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_aside: Vec<Finding>,
    /// Values the control plane masked on receipt because the agent had not (defence in depth;
    /// zero when the agent's redaction caught everything).
    #[serde(default)]
    pub masked_by_control_plane: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub evidence: String,
    pub text: String,
}

/// Hypotheses kept at most, and the least confidence kept.
const MAX_HYPOTHESES: usize = 5;
const MIN_CONFIDENCE: f64 = 0.1;

/// Changes stated as set aside at most.
const MAX_SET_ASIDE: usize = 5;

/// The changes of the window that no leading hypothesis rests on, with why each was set aside,
/// the ones nearest the onset first.
fn set_aside(f: &signals::Facts<'_>, hs: &[Hypothesis]) -> Vec<Finding> {
    use signals::ChangeKind;
    let cited = |id: &str| {
        hs.first()
            .is_some_and(|h| h.evidence.iter().any(|c| c.id == id))
    };
    let involved = f.involved_names();
    let mut out: Vec<(i64, Finding)> = Vec::new();
    for (c, kind) in &f.changes {
        if cited(&c.id) {
            continue;
        }
        let class = signals::change_class(c, *kind).as_str();
        let why = if c.at > f.onset + 2 * 60_000 {
            format!(
                "{} min after the onset: a change after the failure began cannot have caused it",
                (c.at - f.onset) / 60_000
            )
        } else if *kind == ChangeKind::AccessGrant {
            "it widens access rather than narrowing it".to_owned()
        } else if !c.resources.iter().any(|r| {
            let r = r.to_lowercase();
            involved.iter().any(|n| r.contains(n.as_str()))
        }) {
            "it touches none of the resources involved".to_owned()
        } else if signals::proximity(c.at, f.onset) < 0.2 {
            format!(
                "{} min before the onset, too long before it to explain it",
                (f.onset - c.at) / 60_000
            )
        } else {
            "the evidence shows no failure it would cause".to_owned()
        };
        let on = on_resources(c);
        out.push((
            (c.at - f.onset).abs(),
            Finding {
                evidence: c.id.clone(),
                text: format!("{}{on} by {} ({class}): {why}", c.event_name, c.actor),
            },
        ));
    }
    out.sort_by_key(|(d, _)| *d);
    out.into_iter()
        .take(MAX_SET_ASIDE)
        .map(|(_, f)| f)
        .collect()
}

/// Rank the hypotheses the evidence supports.
fn ranked(facts: &signals::Facts<'_>) -> Vec<Hypothesis> {
    let mut hs: Vec<Hypothesis> = rules::RULES.iter().filter_map(|rule| rule(facts)).collect();
    // Stable: equal confidences keep the rules' order.
    hs.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    hs.retain(|h| h.confidence >= MIN_CONFIDENCE);
    let best = hs.first().map(|h| h.confidence).unwrap_or(0.0);
    if best < rules::CONFIDENT {
        hs.insert(0, rules::unknown(facts, best));
    }
    hs.truncate(MAX_HYPOTHESES);
    if let Some(top) = hs.first_mut() {
        rules::add_effects(facts, top);
    }
    hs
}

/// Per kind, at most this many findings are stated (the API has all the evidence).
const MAX_CHANGES_STATED: usize = 6;
const MAX_LOG_GROUPS_STATED: usize = 3;
const MAX_SERVICES_STATED: usize = 4;

/// A kept LLM write-up of a diagnosis (`crate::llm` writes it; the diagnosis only carries it, so
/// this module depends on nothing of the LLM's).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WriteUp {
    pub text: String,
    pub model: String,
}

pub fn diagnose(frame: &EvidenceFrame) -> Diagnosis {
    let a = &frame.alarm;
    let mut findings = Vec::new();
    let (mut changes, mut logs, mut services) = (0, 0, 0);
    for item in &frame.items {
        let text = match item {
            EvidenceItem::Metric(m) => Some(metric_line(m, a.transitioned_at)),
            EvidenceItem::EcsService(e) => {
                services += 1;
                (services <= MAX_SERVICES_STATED).then(|| ecs_line(e))
            }
            EvidenceItem::Change(c) => {
                changes += 1;
                (changes <= MAX_CHANGES_STATED).then(|| change_line(c, a.transitioned_at))
            }
            EvidenceItem::Logs(l) => {
                logs += 1;
                (logs <= MAX_LOG_GROUPS_STATED).then(|| log_line(l))
            }
            EvidenceItem::Resource(r) => {
                let healthy = matches!(r.state.as_str(), "available" | "running");
                (!healthy).then(|| {
                    format!(
                        "{} {} is {} ({})",
                        kind_name(&r.resource_type),
                        r.name,
                        r.state,
                        r.details.join(", ")
                    )
                })
            }
        };
        if let Some(text) = text {
            findings.push(Finding {
                evidence: item.id().to_owned(),
                text,
            });
        }
    }
    let mut unchecked: Vec<String> = frame
        .sources
        .iter()
        .filter(|s| s.status != SourceStatus::Ok)
        .map(|s| {
            format!(
                "{} {}: {}",
                s.source,
                match s.status {
                    SourceStatus::Partial => "partial",
                    _ => "failed",
                },
                s.reason.as_deref().unwrap_or("no reason given")
            )
        })
        .collect();
    if !frame.omitted.is_empty() {
        unchecked.push(format!(
            "the agent's evidence budget trimmed or left out {} item(s): {}",
            frame.omitted.len(),
            frame.omitted.join("; ")
        ));
    }
    let facts = signals::Facts::new(frame);
    let hypotheses = ranked(&facts);
    let onset = facts.onset;
    let set_aside = set_aside(&facts, &hypotheses);
    let title = match hypotheses.first() {
        Some(h) => format!("{}: {}", a.name, h.title),
        None => format!("{} is in ALARM", a.name),
    };
    let dims: Vec<String> = a
        .dimensions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let metric = format!(
        "{} {}{} {} {} {} ({} × {} s)",
        a.namespace,
        a.metric_name,
        if dims.is_empty() {
            String::new()
        } else {
            format!(" ({})", dims.join(", "))
        },
        a.statistic,
        comparison_symbol(&a.comparison),
        num(a.threshold),
        a.evaluation_periods,
        a.period_secs
    );
    Diagnosis {
        title,
        alarm: a.name.clone(),
        metric,
        reason: a.state_reason.clone(),
        onset_at: Some(onset),
        hypotheses,
        write_up: None,
        write_up_skipped: None,
        findings,
        unchecked,
        set_aside,
        masked_by_control_plane: 0,
    }
}

/// `>` for `GreaterThanThreshold` and the like; the name itself when it is none of CloudWatch's.
fn comparison_symbol(c: &str) -> &str {
    match c {
        "GreaterThanThreshold" => ">",
        "GreaterThanOrEqualToThreshold" => "≥",
        "LessThanThreshold" => "<",
        "LessThanOrEqualToThreshold" => "≤",
        other => other,
    }
}

fn kind_name(resource_type: &str) -> &str {
    match resource_type {
        "rds_instance" => "RDS instance",
        "ec2_instance" => "EC2 instance",
        other => other,
    }
}

fn ecs_line(e: &EcsServiceEvidence) -> String {
    let mut line = format!(
        "ECS service {} ({}) runs {}: {} running of {} desired",
        e.service, e.cluster, e.task_definition, e.running, e.desired
    );
    if e.deployments.len() > 1 {
        line.push_str(&format!("; deployments: {}", e.deployments.join(" | ")));
    }
    if !e.stopped.is_empty() {
        let stopped: Vec<String> = e
            .stopped
            .iter()
            .take(3)
            .map(|s| {
                format!(
                    "{}× {}{}",
                    s.count,
                    s.reason,
                    s.task_definition
                        .as_deref()
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        line.push_str(&format!("; stopped tasks: {}", stopped.join("; ")));
    }
    line
}

/// ` on A, B` for a change's resources; nothing when it names none.
pub fn on_resources(c: &ChangeEvidence) -> String {
    if c.resources.is_empty() {
        String::new()
    } else {
        format!(" on {}", c.resources.join(", "))
    }
}

fn change_line(c: &ChangeEvidence, transition_ms: i64) -> String {
    let before = (transition_ms - c.at) / 60_000;
    let when = if before > 0 {
        format!("{before} min before the alarm")
    } else {
        "after the alarm".to_owned()
    };
    let on = on_resources(c);
    format!(
        "change: {} by {}{on} ({}, {})",
        c.event_name,
        c.actor,
        utc(c.at),
        when
    )
}

fn log_line(l: &LogEvidence) -> String {
    let top: Vec<String> = l
        .templates
        .iter()
        .take(2)
        .map(|t| {
            let example = t
                .examples
                .first()
                .map(String::as_str)
                .unwrap_or(t.template.as_str());
            let short: String = example.chars().take(220).collect();
            format!("{}× \"{}\"", t.count, short)
        })
        .collect();
    format!(
        "logs {}: {} error-like lines of {} read; {}",
        l.group,
        l.lines_matched,
        l.lines_read,
        top.join("; ")
    )
}

fn metric_line(m: &MetricEvidence, transition_ms: i64) -> String {
    let s = &m.summary;
    let dims = m
        .dimensions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut line = format!(
        "{} {} ({}) {}",
        m.namespace, m.metric_name, dims, m.statistic
    );
    match (s.baseline, s.current) {
        (Some(b), Some(c)) => line.push_str(&format!(": baseline {} → now {}", num(b), num(c))),
        (None, Some(c)) => line.push_str(&format!(": now {}", num(c))),
        _ if s.datapoints == 0 => line.push_str(": no datapoints in the window"),
        _ => {}
    }
    if let Some(p) = s.peak {
        line.push_str(&format!(" (peak {})", num(p)));
    }
    if let Some(onset) = s.onset_at {
        let before = (transition_ms - onset) / 60_000;
        line.push_str(&format!("; onset {}", utc(onset)));
        if before > 0 {
            line.push_str(&format!(", {before} min before the alarm"));
        }
    }
    line
}

/// A number with the decimals its size needs (3 below 1, none from 1000) and no trailing zeros.
pub fn num(v: f64) -> String {
    let decimals = match v.abs() {
        a if a >= 1000.0 => 0,
        a if a >= 100.0 => 1,
        a if a >= 1.0 => 2,
        _ => 3,
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s.as_str()
    };
    if s == "-0" {
        "0".into()
    } else {
        s.to_owned()
    }
}

/// `2026-11-22 22:31 UTC`.
pub fn utc(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// The plain-text rendering used in chat and the API: the alarm, the leading hypothesis with its
/// evidence and next checks, the others in a line each, and what could not be checked.
pub fn render_text(d: &Diagnosis, incident_url: &str) -> String {
    let mut out = format!("{} is in ALARM\n", d.alarm);
    if !d.metric.is_empty() {
        out.push_str(&format!("Metric: {}\n", d.metric));
    }
    out.push_str(&format!("Reason: {}\n", d.reason));
    if let Some(onset) = d.onset_at {
        out.push_str(&format!("Onset: {}\n", utc(onset)));
    }
    if let Some(w) = &d.write_up {
        out.push_str(&format!(
            "\nSummary (written by {}, checked against the evidence below):\n{}\n",
            w.model, w.text
        ));
    }
    let mut hs = d.hypotheses.iter();
    if let Some(h) = hs.next() {
        out.push_str(&format!(
            "\nMost likely: {} ({}, confidence {:.2})\n",
            h.title,
            h.category.as_str(),
            h.confidence
        ));
        for c in &h.evidence {
            out.push_str(&format!("• {} [{}]\n", c.fact, c.id));
        }
        if !h.next_checks.is_empty() {
            out.push_str("Next checks:\n");
            for n in &h.next_checks {
                out.push_str(&format!("• {n}\n"));
            }
        }
    }
    let others: Vec<&Hypothesis> = hs.collect();
    if !others.is_empty() {
        out.push_str("\nAlso considered:\n");
        for h in others {
            let mut ids: Vec<&str> = Vec::new();
            for c in &h.evidence {
                if !ids.contains(&c.id.as_str()) {
                    ids.push(&c.id);
                }
            }
            out.push_str(&format!(
                "• {} ({}, {:.2}) [{}]\n",
                h.title,
                h.category.as_str(),
                h.confidence,
                ids.join(", ")
            ));
        }
    }
    if !d.set_aside.is_empty() {
        out.push_str("Changes set aside:\n");
        for f in &d.set_aside {
            out.push_str(&format!("• {} [{}]\n", f.text, f.evidence));
        }
    }
    if d.hypotheses.is_empty() {
        for f in &d.findings {
            out.push_str(&format!("• {} [{}]\n", f.text, f.evidence));
        }
    }
    if !d.unchecked.is_empty() {
        out.push_str("Could not check:\n");
        for u in &d.unchecked {
            out.push_str(&format!("• {u}\n"));
        }
    }
    if d.masked_by_control_plane > 0 {
        out.push_str(&format!(
            "Note: {} value(s) in this evidence were masked by ConvOps on receipt (shown as [type:xxxx]).\n",
            d.masked_by_control_plane
        ));
    }
    out.push_str(&format!("Incident (API, workspace key): {incident_url}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use convops_shared::evidence::*;
    use std::collections::BTreeMap;

    fn frame() -> EvidenceFrame {
        EvidenceFrame {
            seq: 1,
            investigation_id: "inv".into(),
            trigger: convops_shared::protocol::Trigger::Alarm,
            alarm: AlarmInfo {
                name: "api-5xx".into(),
                arn: None,
                description: None,
                namespace: "AWS/ApplicationELB".into(),
                metric_name: "HTTPCode_Target_5XX_Count".into(),
                dimensions: BTreeMap::new(),
                statistic: "Sum".into(),
                period_secs: 60,
                evaluation_periods: 3,
                threshold: 10.0,
                comparison: "GreaterThanThreshold".into(),
                state: "ALARM".into(),
                state_reason: "Threshold Crossed".into(),
                state_reason_data: None,
                transitioned_at: 1_800_000,
            },
            started_at: 0,
            finished_at: 0,
            items: vec![EvidenceItem::Metric(MetricEvidence {
                id: "m1".into(),
                namespace: "AWS/ApplicationELB".into(),
                metric_name: "HTTPCode_Target_5XX_Count".into(),
                dimensions: BTreeMap::from([("LoadBalancer".into(), "app/x/1".into())]),
                statistic: "Sum".into(),
                period_secs: 60,
                summary: MetricSummary {
                    datapoints: 30,
                    baseline: Some(0.5),
                    baseline_spread: Some(0.5),
                    current: Some(42.25),
                    peak: Some(55.0),
                    onset_at: Some(600_000),
                },
                points: vec![],
            })],
            sources: vec![SourceReport {
                source: "logs".into(),
                status: SourceStatus::Partial,
                reason: Some("throttled".into()),
                raw_bytes: 0,
                api_calls: 1,
            }],
            raw_bytes: 0,
            omitted: Vec::new(),
        }
    }

    #[test]
    fn states_alarm_reason_metric_and_gaps() {
        let d = diagnose(&frame());
        let text = render_text(&d, "https://cp/api/v1/incidents/inc-1");
        for want in [
            "api-5xx is in ALARM",
            "Reason: Threshold Crossed",
            "went from 0.5 to 42.25 (peak 55), from 20 min before the alarm [m1]",
            "Onset: 1970-01-01 00:10 UTC",
            "(unknown, confidence",
            "no error lines in the logs",
            "logs partial: throttled",
            "Incident (API, workspace key): https://cp/api/v1/incidents/inc-1",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
    }

    #[test]
    fn what_the_budget_left_out_is_stated() {
        let mut f = frame();
        f.omitted = vec!["m7: left out by the evidence budget (1800 bytes)".into()];
        let text = render_text(&diagnose(&f), "https://cp/i/1");
        assert!(
            text.contains("evidence budget trimmed or left out 1 item(s): m7: left out"),
            "{text}"
        );
    }

    #[test]
    fn numbers_render_compactly() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.1234), "0.123");
        assert_eq!(num(-0.0001), "0");
        assert_eq!(num(117.321), "117.3");
        assert_eq!(num(9684.06), "9684");
        assert_eq!(num(42.25), "42.25");
        assert_eq!(num(1000.0), "1000");
        assert_eq!(num(-2500.4), "-2500");
    }
}
