//! One investigation: run the evidence sources for an alarm under a deadline, collect their
//! reports, and spool the resulting evidence frame.

use std::sync::Arc;
use std::time::Duration;

use convops_shared::evidence::{
    AlarmInfo, EcsServiceEvidence, EvidenceItem, ResourceEvidence, SourceReport, SourceStatus,
};
use convops_shared::protocol::{AgentFrame, EvidenceFrame, Trigger};
use convops_shared::redact::Redactor;

use crate::aws::{metered, CallError, Clients, FailureKind, Meter};
use crate::collect;

/// Knobs of an investigation.
#[derive(Debug, Clone)]
pub struct Limits {
    pub lookback: Duration,
    pub deadline: Duration,
    /// ECS clusters to look at.
    pub clusters: Vec<String>,
    pub logs: crate::config::LogSettings,
    /// Raw bytes an investigation may read from AWS, all sources together.
    pub raw_byte_budget: u64,
    /// Bytes the evidence frame may take (before redaction, which changes lengths little).
    pub evidence_budget: usize,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A source that fails leaves the evidence *partial*, with the reason, whatever the failure: the
/// investigation goes on with the other sources and the diagnosis says what it could not check.
fn failure_status(e: &CallError) -> (SourceStatus, String) {
    let reason = match e.kind {
        FailureKind::Throttled => format!("throttled: {e}"),
        FailureKind::AccessDenied => format!("access denied: {e}"),
        FailureKind::OverBudget | FailureKind::Other => e.to_string(),
    };
    (SourceStatus::Partial, reason)
}

/// Sequential ids with a prefix (`m1`, `e1`, …), unique within an investigation.
fn ids(prefix: &'static str) -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("{prefix}{n}")
    }
}

/// What one source produced: items (possibly some before a failure), status and reason.
struct Outcome {
    items: Vec<EvidenceItem>,
    status: SourceStatus,
    reason: Option<String>,
}

impl Outcome {
    fn ok(items: Vec<EvidenceItem>) -> Self {
        Outcome {
            items,
            status: SourceStatus::Ok,
            reason: None,
        }
    }
    fn partial(items: Vec<EvidenceItem>, reason: String) -> Self {
        Outcome {
            items,
            status: SourceStatus::Partial,
            reason: Some(reason),
        }
    }
    fn failed(e: &CallError) -> Self {
        let (status, reason) = failure_status(e);
        Outcome {
            items: Vec::new(),
            status,
            reason: Some(reason),
        }
    }
}

/// Run one source metered and until `deadline`, and report it.
async fn run_source(
    name: &str,
    deadline: tokio::time::Instant,
    fut: impl std::future::Future<Output = Outcome>,
    sources: &mut Vec<SourceReport>,
) -> Vec<EvidenceItem> {
    let meter = Arc::new(Meter::default());
    let outcome = match tokio::time::timeout_at(deadline, metered(meter.clone(), fut)).await {
        Ok(o) => o,
        Err(_) => Outcome {
            items: Vec::new(),
            status: SourceStatus::Partial,
            reason: Some("the investigation's deadline was reached".into()),
        },
    };
    if let Some(reason) = &outcome.reason {
        tracing::warn!(source = name, status = ?outcome.status, %reason, "evidence source incomplete");
    }
    sources.push(SourceReport {
        source: name.to_owned(),
        status: outcome.status,
        reason: outcome.reason,
        raw_bytes: meter.raw_bytes(),
        api_calls: meter.calls(),
    });
    outcome.items
}

/// Instances in a normal state kept in the evidence at most (the others, stopped, failed,
/// rebooting…, are always kept).
const MAX_NORMAL_RESOURCES: usize = 25;

/// Instances as evidence: every one not in a normal state, and the first normal ones.
fn resource_outcome(all: Vec<ResourceEvidence>, truncated: bool, what: &str) -> Outcome {
    let mut normal = 0;
    let items = all
        .into_iter()
        .filter(|r| {
            let is_normal = matches!(r.state.as_str(), "available" | "running");
            normal += usize::from(is_normal);
            !is_normal || normal <= MAX_NORMAL_RESOURCES
        })
        .map(EvidenceItem::Resource)
        .collect();
    if truncated {
        Outcome::partial(
            items,
            format!("more {what} than the listing limit; the rest were not read"),
        )
    } else {
        Outcome::ok(items)
    }
}

/// Fold the report of a source's second stage into its first.
fn merge_report(into: &mut SourceReport, later: SourceReport) {
    into.raw_bytes += later.raw_bytes;
    into.api_calls += later.api_calls;
    let rank = |s: SourceStatus| match s {
        SourceStatus::Ok => 0,
        SourceStatus::Partial => 1,
        SourceStatus::Failed => 2,
    };
    if rank(later.status) > rank(into.status) {
        // A failed second stage after a good first one leaves the source partial.
        into.status = if into.status == SourceStatus::Ok && later.status == SourceStatus::Failed {
            SourceStatus::Partial
        } else {
            later.status
        };
    }
    into.reason = match (into.reason.take(), later.reason) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    };
}

/// The last path segment of a dimension value (`app/shop-alb/5f2a` → `shop-alb`, …).
fn dimension_names(alarm: &AlarmInfo) -> Vec<String> {
    alarm
        .dimensions
        .values()
        .map(|v| {
            let parts: Vec<&str> = v.split('/').collect();
            match parts.as_slice() {
                [_, name, _] => (*name).to_owned(),
                _ => v.clone(),
            }
        })
        .collect()
}

/// What log discovery looks for: `names` (the alarm's resources first, then the services and
/// families involved) plus the instances and databases that matter: those the alarm names (by
/// id, with their `Name` tags) and those not in a normal state (a stopped instance, a rebooting
/// database), whose events and host logs say why. Without duplicates, in that order.
fn involved(
    alarm: &AlarmInfo,
    names: Vec<String>,
    resources: &[&ResourceEvidence],
) -> collect::logs::Involved {
    let mut out = collect::logs::Involved::default();
    let push = |v: &mut Vec<String>, n: &str| {
        if !n.is_empty() && !v.iter().any(|x| x.eq_ignore_ascii_case(n)) {
            v.push(n.to_owned());
        }
    };
    for n in &names {
        push(&mut out.names, n);
    }
    let named_by_alarm = |r: &ResourceEvidence| {
        alarm
            .dimensions
            .values()
            .any(|v| v == &r.name || r.resource_id.as_deref() == Some(v.as_str()))
    };
    for r in resources {
        let abnormal = !matches!(r.state.as_str(), "available" | "running");
        if !(abnormal || named_by_alarm(r) || names.iter().any(|n| n == &r.name)) {
            push(&mut out.known, &r.name);
            if let Some(id) = &r.resource_id {
                push(&mut out.known, id);
            }
            continue;
        }
        push(&mut out.names, &r.name);
        if r.resource_type == "ec2_instance" {
            if let Some(id) = &r.resource_id {
                push(&mut out.instance_ids, id);
            }
        }
    }
    if let Some(id) = alarm.dimensions.get("InstanceId") {
        push(&mut out.instance_ids, id);
    }
    out
}

/// Gather evidence for `alarm`. Never fails: a source that fails is reported as such.
pub async fn gather(
    clients: &Clients,
    alarm: &AlarmInfo,
    trigger: Trigger,
    limits: &Limits,
) -> EvidenceFrame {
    use tracing::Instrument;
    let investigation_id = format!("inv-{:016x}", rand::random::<u64>());
    // Every event of the investigation carries its id (a field of JSON log lines).
    let span = tracing::info_span!("investigation", %investigation_id, alarm = %alarm.name);
    let budget = crate::aws::Budget::new(limits.raw_byte_budget);
    let metrics = crate::telemetry::metrics();
    metrics.watcher_turned();
    let frame = crate::aws::budgeted(
        budget,
        gather_within_budget(clients, alarm, trigger, limits, investigation_id),
    )
    .instrument(span)
    .await;
    metrics.watcher_turned();
    let complete = frame.sources.iter().all(|s| s.status == SourceStatus::Ok);
    metrics
        .investigations
        .get_or_create(&crate::telemetry::OutcomeLabels {
            outcome: if complete { "complete" } else { "partial" },
        })
        .inc();
    frame
}

async fn gather_within_budget(
    clients: &Clients,
    alarm: &AlarmInfo,
    trigger: Trigger,
    limits: &Limits,
    investigation_id: String,
) -> EvidenceFrame {
    let started_at = now_ms();
    let lookback = limits.lookback.as_millis() as i64;
    let window_start = alarm.transitioned_at.min(started_at) - lookback;
    let mut sources = Vec::new();
    let deadline = tokio::time::Instant::now() + limits.deadline;

    // Stage 1: what the account holds (services, changes, databases, instances).
    let ecs = async {
        if limits.clusters.is_empty() {
            return Outcome::partial(
                Vec::new(),
                "no ECS clusters configured (ecs.clusters)".into(),
            );
        }
        let mut next = ids("e");
        let mut items = Vec::new();
        for cluster in &limits.clusters {
            match collect::ecs::cluster_services(clients, cluster, &mut next).await {
                Ok(services) => items.extend(services.into_iter().map(EvidenceItem::EcsService)),
                Err(e) => {
                    let (status, reason) = failure_status(&e);
                    return Outcome {
                        items,
                        status,
                        reason: Some(format!("cluster {cluster}: {reason}")),
                    };
                }
            }
        }
        Outcome::ok(items)
    };
    let cloudtrail = async {
        let mut next = ids("c");
        match collect::cloudtrail::changes(clients, window_start, started_at, &mut next).await {
            Ok((changes, truncated)) => {
                let items = changes.into_iter().map(EvidenceItem::Change).collect();
                if truncated {
                    Outcome::partial(
                        items,
                        "more changes than the page limit; the oldest were not read".into(),
                    )
                } else {
                    Outcome::ok(items)
                }
            }
            Err(e) => Outcome::failed(&e),
        }
    };
    let rds = async {
        let mut next = ids("r");
        match collect::resources::db_instances(clients, &mut next).await {
            Ok((r, truncated)) => resource_outcome(r, truncated, "DB instances"),
            Err(e) => Outcome::failed(&e),
        }
    };
    let ec2 = async {
        let mut next = ids("i");
        match collect::resources::ec2_instances(clients, &mut next).await {
            Ok((r, truncated)) => resource_outcome(r, truncated, "EC2 instances"),
            Err(e) => Outcome::failed(&e),
        }
    };
    let (mut s1, mut s2, mut s3, mut s4) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (ecs_items, change_items, rds_items, ec2_items) = tokio::join!(
        // Boxed: SDK futures are large, and several of them joined overflow a worker's stack.
        run_source("ecs", deadline, Box::pin(ecs), &mut s1),
        run_source("cloudtrail", deadline, Box::pin(cloudtrail), &mut s2),
        run_source("rds", deadline, Box::pin(rds), &mut s3),
        run_source("ec2", deadline, Box::pin(ec2), &mut s4),
    );

    // Stage 2: the logs of the resources involved, and the metrics of everything found.
    let services: Vec<&EcsServiceEvidence> = ecs_items
        .iter()
        .filter_map(|i| match i {
            EvidenceItem::EcsService(s) => Some(s),
            _ => None,
        })
        .collect();
    let (behind, others): (Vec<&EcsServiceEvidence>, Vec<&EcsServiceEvidence>) =
        services.iter().partition(|s| s.serves(&alarm.dimensions));
    // Logs of the services behind the alarm (or of every service when none is identified) and
    // of the resources the alarm names.
    let names: Vec<String> = if behind.is_empty() {
        others.iter().map(|s| s.service.clone()).collect()
    } else {
        behind.iter().map(|s| s.service.clone()).collect()
    };
    // Task definition families name their log groups as often as services do (`/ecs/FAMILY`).
    let families: Vec<String> = behind
        .iter()
        .chain(if behind.is_empty() { &others[..] } else { &[] })
        .map(|s| convops_shared::names::task_family(&s.task_definition).to_owned())
        .collect();
    // The resource the alarm names leads: its groups are read first.
    let mut names_first = dimension_names(alarm);
    names_first.extend(names);
    names_first.extend(families);
    let resources: Vec<&ResourceEvidence> = rds_items
        .iter()
        .chain(&ec2_items)
        .filter_map(|i| match i {
            EvidenceItem::Resource(r) => Some(r),
            _ => None,
        })
        .collect();
    let involved = involved(alarm, names_first, &resources);
    let names = involved.names.clone();
    let related = collect::metrics::Related {
        services: behind.iter().chain(&others).copied().collect(),
        resources,
        indexes: collect::metrics::indexes_in_changes(change_items.iter().filter_map(
            |i| match i {
                EvidenceItem::Change(c) => Some(c),
                _ => None,
            },
        )),
    };
    let related_queries = collect::metrics::related_queries(alarm, &related);
    // One numbering for the metrics of both stages.
    let mut metric_ids = ids("m");
    let metrics = async {
        match collect::metrics::collect(
            clients,
            alarm,
            true,
            related_queries,
            (lookback, started_at),
            &mut metric_ids,
        )
        .await
        {
            Ok(m) => Outcome::ok(m.into_iter().map(EvidenceItem::Metric).collect()),
            Err(e) => Outcome::failed(&e),
        }
    };
    let mut tables: Vec<(String, u32)> = Vec::new();
    let mut functions: Vec<String> = Vec::new();
    let logs = async {
        let groups =
            match collect::logs::relevant_groups(clients, &involved, &limits.logs.groups).await {
                Ok(g) => g,
                Err(e) => return Outcome::failed(&e),
            };
        let mut items = Vec::new();
        let mut notes = Vec::new();
        let mut mentioned: std::collections::HashMap<String, u32> = Default::default();
        // Groups are read a few at a time, in priority order; a group with no lines in the
        // window does not count against the cap, but at most MAX_LOG_GROUPS_TRIED are tried.
        let tried = groups.len().min(MAX_LOG_GROUPS_TRIED);
        let mut active = 0;
        let mut left_unread = groups
            .iter()
            .skip(tried)
            .filter(|(_, scope)| *scope != collect::logs::Scope::Any)
            .count();
        type Read<'r> = std::pin::Pin<
            Box<
                dyn std::future::Future<
                        Output = Result<collect::logs::GroupRead, crate::aws::CallError>,
                    > + Send
                    + 'r,
            >,
        >;
        let indexed: Vec<(usize, &(String, collect::logs::Scope))> =
            groups.iter().take(tried).enumerate().collect();
        for chunk in indexed.chunks(LOG_READS_AT_ONCE) {
            if active >= MAX_LOG_GROUPS {
                left_unread += chunk
                    .iter()
                    .filter(|(_, (_, scope))| *scope != collect::logs::Scope::Any)
                    .count();
                continue;
            }
            let reads: Vec<Read<'_>> = chunk
                .iter()
                .map(|(n, (group, scope))| -> Read<'_> {
                    Box::pin(collect::logs::group_errors(
                        clients,
                        group,
                        scope,
                        &limits.logs.error_pattern,
                        (window_start, started_at),
                        alarm.transitioned_at,
                        format!("l{}", n + 1),
                    ))
                })
                .collect();
            let results = futures_util::future::join_all(reads).await;
            for ((_, (group, _)), r) in chunk.iter().zip(results) {
                match r {
                    Ok(read) => {
                        if read.evidence.lines_read > 0 {
                            active += 1;
                            // A function whose log group was written in the window ran then:
                            // its metrics say how much of the account's concurrency it took.
                            if let Some(f) = group.strip_prefix("/aws/lambda/") {
                                functions.push(f.to_owned());
                            }
                        }
                        if read.truncated {
                            notes.push(format!("{group}: read cap reached"));
                        }
                        for (t, c) in read.tables {
                            *mentioned.entry(t).or_default() += c;
                        }
                        if read.evidence.lines_matched > 0
                            || !read.evidence.grew.is_empty()
                            || !read.evidence.changes.is_empty()
                        {
                            items.push(EvidenceItem::Logs(read.evidence));
                        }
                    }
                    Err(e) => notes.push(format!("{group}: {}", failure_status(&e).1)),
                }
            }
        }
        if left_unread > 0 {
            notes.push(format!("{left_unread} more log groups not read"));
        }
        tables = mentioned.into_iter().collect();
        if notes.is_empty() {
            Outcome::ok(items)
        } else {
            Outcome::partial(items, notes.join("; "))
        }
    };
    let (mut s5, mut s6) = (Vec::new(), Vec::new());
    let (mut metric_items, log_items) = tokio::join!(
        run_source("metrics", deadline, Box::pin(metrics), &mut s5),
        run_source("logs", deadline, Box::pin(logs), &mut s6),
    );

    // Stage 3: the metrics of DynamoDB tables the logs named (most mentioned first) and of the
    // Lambda functions whose logs were written in the window.
    tables.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let named: Vec<String> = tables.into_iter().take(MAX_TABLES).map(|t| t.0).collect();
    let mut table_queries = collect::metrics::table_queries(alarm, &named);
    table_queries.extend(collect::metrics::function_queries(alarm, &functions));
    if !table_queries.is_empty() {
        let tables_fut = async {
            match collect::metrics::collect(
                clients,
                alarm,
                false,
                table_queries,
                (lookback, started_at),
                &mut metric_ids,
            )
            .await
            {
                Ok(m) => Outcome::ok(m.into_iter().map(EvidenceItem::Metric).collect()),
                Err(e) => Outcome::failed(&e),
            }
        };
        let mut s7 = Vec::new();
        metric_items.extend(run_source("metrics", deadline, Box::pin(tables_fut), &mut s7).await);
        if let (Some(first), Some(second)) = (s5.first_mut(), s7.pop()) {
            merge_report(first, second);
        }
    }
    for s in [s5, s1, s2, s6, s3, s4] {
        sources.extend(s);
    }

    // Priority order: the alarm's metric, the services behind it, recent changes, errors, other
    // metrics, other services, state.
    let (related_items, other_ecs): (Vec<EvidenceItem>, Vec<EvidenceItem>) = ecs_items
        .into_iter()
        .partition(|i| matches!(i, EvidenceItem::EcsService(s) if s.serves(&alarm.dimensions)));
    let onset = match metric_items.first() {
        Some(EvidenceItem::Metric(m)) => m.summary.onset_at,
        _ => None,
    }
    .unwrap_or(alarm.transitioned_at - alarm.evaluation_window_ms());
    let mut metric_items = metric_items.into_iter();
    let mut items: Vec<EvidenceItem> = metric_items.next().into_iter().collect();
    items.extend(related_items);
    items.extend(
        rank_changes(change_items, onset, &names)
            .into_iter()
            .take(MAX_CHANGES),
    );
    items.extend(log_items);
    items.extend(metric_items);
    items.extend(other_ecs);
    // Databases and instances go along when something names them (the alarm, a metric, a log
    // group or line, a change, involved resources) or when they are not in a normal state; a
    // healthy instance nothing mentions tells the diagnosis nothing.
    let mentioned = serde_json::to_string(&(&items, &alarm.dimensions, &names)).unwrap_or_default();
    items.extend(rds_items.into_iter().chain(ec2_items).filter(|i| {
        match i {
            EvidenceItem::Resource(r) => {
                !matches!(r.state.as_str(), "available" | "running")
                    || mentioned.contains(&r.name)
                    || r.resource_id
                        .as_deref()
                        .is_some_and(|id| mentioned.contains(id))
            }
            _ => true,
        }
    }));

    let raw_bytes = sources.iter().map(|s| s.raw_bytes).sum();
    let mut frame = EvidenceFrame {
        seq: 0,
        investigation_id,
        trigger,
        alarm: alarm.clone(),
        started_at,
        finished_at: now_ms(),
        items: Vec::new(),
        sources,
        raw_bytes,
        omitted: Vec::new(),
    };
    // What is not items (alarm, source reports) comes first; items fill the rest in order.
    let fixed = crate::reduce::json_len(&frame);
    let (items, omitted) = crate::reduce::fit(items, limits.evidence_budget.saturating_sub(fixed));
    frame.items = items;
    frame.omitted = omitted;
    frame
}

/// Changes in the order they matter: those touching a resource involved (`names`: the services
/// behind the alarm, the resources it names) first, then by closeness to the onset, changes
/// before it ahead of changes after it at the same distance. Deterministic.
fn rank_changes(changes: Vec<EvidenceItem>, onset: i64, names: &[String]) -> Vec<EvidenceItem> {
    let lower: Vec<String> = names
        .iter()
        .filter(|n| n.len() >= 3)
        .map(|n| n.to_lowercase())
        .collect();
    let key = |item: &EvidenceItem| match item {
        EvidenceItem::Change(c) => {
            let touches = c.resources.iter().any(|r| {
                let r = r.to_lowercase();
                lower.iter().any(|n| r.contains(n.as_str()))
            });
            let after = c.at > onset;
            (
                !touches,
                (c.at - onset).abs(),
                after,
                std::cmp::Reverse(c.at),
            )
        }
        _ => (true, i64::MAX, true, std::cmp::Reverse(i64::MIN)),
    };
    let mut changes = changes;
    changes.sort_by_key(|c| key(c));
    changes
}

/// Log groups read per investigation at most.
const MAX_LOG_GROUPS: usize = 10;
/// Log groups tried at most (idle ones cost one `DescribeLogStreams` each).
const MAX_LOG_GROUPS_TRIED: usize = 24;
/// Log groups read at the same time (the logs token buckets still pace the calls).
const LOG_READS_AT_ONCE: usize = 4;
/// DynamoDB tables named in logs whose metrics are read at most.
const MAX_TABLES: usize = 3;
/// Changes kept per investigation at most (newest first).
const MAX_CHANGES: usize = 25;

/// Redact every string of `frame` and encode it for spooling with the sequence number the spool
/// assigns. This is the one way evidence reaches the spool, so nothing unredacted is stored or
/// sent.
pub fn encoder(frame: EvidenceFrame, redactor: &Redactor) -> impl Fn(u64) -> Vec<u8> {
    let mut value = serde_json::to_value(AgentFrame::Evidence(Box::new(frame))).unwrap_or_default();
    let masked = redactor.redact_json(&mut value);
    if masked > 0 {
        tracing::debug!(masked, "values redacted from evidence");
    }
    // Long strings are cut to their wire length only now, after redaction: a secret cut in half
    // before it was masked would no longer look like one.
    if let Ok(AgentFrame::Evidence(mut f)) = serde_json::from_value::<AgentFrame>(value.clone()) {
        crate::reduce::cut_frame_for_wire(&mut f);
        value = serde_json::to_value(AgentFrame::Evidence(f)).unwrap_or(value);
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

    fn change(id: &str, at: i64, resource: &str) -> EvidenceItem {
        EvidenceItem::Change(convops_shared::evidence::ChangeEvidence {
            id: id.into(),
            at,
            event_source: "ecs.amazonaws.com".into(),
            event_name: "UpdateService".into(),
            actor: "ci".into(),
            resources: vec![resource.into()],
            parameters: None,
        })
    }

    #[test]
    fn changes_rank_by_relevance_then_closeness_to_onset() {
        let onset = 100 * 60_000;
        let changes = vec![
            change("c1", 150 * 60_000, "orders-api"), // involved, 50 min after
            change("c2", 99 * 60_000, "billing"),     // unrelated, 1 min before
            change("c3", 90 * 60_000, "orders-api:3"), // involved, 10 min before
            change("c4", 110 * 60_000, "orders-api"), // involved, 10 min after
            change("c5", 10 * 60_000, "search"),      // unrelated, long before
        ];
        let ranked = rank_changes(changes, onset, &["orders-api".into()]);
        let ids: Vec<&str> = ranked.iter().map(|i| i.id()).collect();
        assert_eq!(ids, ["c3", "c4", "c1", "c2", "c5"]);
    }

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
            omitted: Vec::new(),
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

    #[test]
    fn long_strings_are_masked_whole_then_cut() {
        // A password that straddles the 600th character of the parameters and the 400th of a
        // log example: cut first, its tail would no longer look like a secret.
        let secret = "Zq7!mPw2vLx9sRt4";
        let params = format!(
            r#"{{"pad":"{}","environment":[{{"name":"DB_PASSWORD","value":"{secret}"}}]}}"#,
            "p".repeat(560)
        );
        let line = format!(
            "{} connect failed: postgres://app:{secret}@db.internal:5432/x ERROR timeout",
            "w".repeat(370)
        );
        let frame = EvidenceFrame {
            seq: 0,
            investigation_id: "inv".into(),
            trigger: Trigger::Alarm,
            alarm: AlarmInfo {
                name: "a".into(),
                arn: None,
                description: None,
                namespace: "AWS/ECS".into(),
                metric_name: "CPUUtilization".into(),
                dimensions: Default::default(),
                statistic: "Average".into(),
                period_secs: 60,
                evaluation_periods: 1,
                threshold: 1.0,
                comparison: "GreaterThanThreshold".into(),
                state: "ALARM".into(),
                state_reason: String::new(),
                state_reason_data: None,
                transitioned_at: 1,
            },
            started_at: 0,
            finished_at: 0,
            items: vec![
                EvidenceItem::Change(convops_shared::evidence::ChangeEvidence {
                    id: "c1".into(),
                    at: 0,
                    event_source: "ecs.amazonaws.com".into(),
                    event_name: "RegisterTaskDefinition".into(),
                    actor: "ci".into(),
                    resources: vec![],
                    parameters: Some(params),
                }),
                EvidenceItem::Logs(convops_shared::evidence::LogEvidence {
                    id: "l1".into(),
                    group: "/ecs/x".into(),
                    lines_read: 1,
                    lines_matched: 1,
                    templates: vec![convops_shared::evidence::LogTemplate {
                        template: "t".into(),
                        count: 1,
                        first_seen: 0,
                        last_seen: 0,
                        examples: vec![line],
                    }],
                    context: vec![],
                    grew: vec![],
                    streams: vec![],
                    changes: vec![],
                }),
            ],
            sources: vec![],
            raw_bytes: 0,
            omitted: Vec::new(),
        };
        let text = String::from_utf8(encoder(frame, &Redactor::new(b"k"))(1)).expect("utf8");
        for part in [secret, &secret[..8], &secret[8..]] {
            assert!(!text.contains(part), "{part} reached the spool: {text}");
        }
        let AgentFrame::Evidence(f) = AgentFrame::decode(&text).expect("frame") else {
            panic!("not evidence")
        };
        for item in &f.items {
            match item {
                EvidenceItem::Change(c) => {
                    let p = c.parameters.as_deref().unwrap_or_default();
                    assert!(
                        p.chars().count() <= crate::reduce::MAX_PARAMETER_CHARS + 2,
                        "{p}"
                    );
                }
                EvidenceItem::Logs(l) => {
                    let e = &l.templates[0].examples[0];
                    assert!(
                        e.chars().count() <= crate::reduce::MAX_EXAMPLE_CHARS + 2,
                        "{e}"
                    );
                    assert!(e.contains("timeout") || e.contains("failed"), "{e}");
                }
                _ => {}
            }
        }
    }
}
