//! The rules: from classified facts to scored hypotheses, one rule per root-cause category.
//!
//! Each rule looks for the way its failure presents on AWS (what stops, what the logs say, which
//! metric moves, which change precedes the onset) and scores how well the evidence supports it.
//! Scores are deterministic sums of weighted, independent pieces of support, capped below 1: a
//! cause with a symptom *and* an independent corroboration beats one with a symptom alone, and a
//! change can only be a cause when it precedes the onset.

use convops_shared::evidence::{ChangeEvidence, EcsServiceEvidence};
use convops_shared::stats;

use super::signals::{
    desired_count, family_name, proximity, ChangeKind, ErrorLines, Facts, Family, MetricKind, Role,
    Series,
};
use super::{num, utc, Category, Citation, Hypothesis};

/// A hypothesis being built.
struct Draft {
    category: Category,
    score: f64,
    title: String,
    evidence: Vec<Citation>,
    next_checks: Vec<String>,
}

impl Draft {
    fn new(category: Category) -> Self {
        Draft {
            category,
            score: 0.0,
            title: String::new(),
            evidence: Vec::new(),
            next_checks: Vec::new(),
        }
    }
    fn cite(&mut self, id: &str, fact: String) {
        if !self.evidence.iter().any(|c| c.id == id && c.fact == fact) {
            self.evidence.push(Citation {
                id: id.to_owned(),
                fact,
            });
        }
    }
    fn done(self) -> Option<Hypothesis> {
        (self.score > 0.0).then(|| Hypothesis {
            category: self.category,
            confidence: (self.score.clamp(0.0, 0.95) * 100.0).round() / 100.0,
            title: self.title,
            evidence: self.evidence,
            next_checks: self.next_checks,
        })
    }
}

/// `N min before the alarm` / `at the alarm` / `N min after the alarm`.
fn when(f: &Facts<'_>, at: i64) -> String {
    let min = (f.frame.alarm.transitioned_at - at) / 60_000;
    match min {
        0 => format!("at {}", utc(at)),
        m if m > 0 => format!("{m} min before the alarm"),
        m => format!("{} min after the alarm", -m),
    }
}

fn change_fact(f: &Facts<'_>, c: &ChangeEvidence) -> String {
    let on = super::on_resources(c);
    let params = match (c.event_name.as_str(), desired_count(c)) {
        ("UpdateService", Some(n)) => format!(" (desired count {n})"),
        _ => String::new(),
    };
    format!(
        "{}{on}{params} by {}, {}",
        c.event_name,
        c.actor,
        when(f, c.at)
    )
}

fn series_fact(f: &Facts<'_>, s: &Series<'_>) -> String {
    let sm = &s.m.summary;
    let mut out = format!(
        "{} went from {} to {}",
        s.label(),
        sm.baseline.map(num).unwrap_or_else(|| "?".into()),
        sm.current.map(num).unwrap_or_else(|| "?".into())
    );
    if let Some(p) = sm.peak {
        if sm.current.is_some_and(|c| (p - c).abs() > f64::EPSILON) {
            // The summary's extreme after the change: the lowest point of a fall.
            let word = if s.direction < 0 { "lowest" } else { "peak" };
            out.push_str(&format!(" ({word} {})", num(p)));
        }
    }
    if let Some(o) = s.onset() {
        out.push_str(&format!(", from {}", when(f, o)));
    }
    out
}

fn log_fact(e: &ErrorLines<'_>) -> String {
    format!(
        "{}× \"{}\" in {} (first {})",
        e.t.count,
        e.excerpt,
        e.logs.group,
        utc(e.t.first_seen)
    )
}

/// The services a change touched, by name or task definition family.
fn services_of_change<'a>(f: &Facts<'a>, c: &ChangeEvidence) -> Vec<&'a EcsServiceEvidence> {
    f.services
        .iter()
        .copied()
        .filter(|s| {
            c.resources.iter().any(|r| {
                let r = r.rsplit('/').next().unwrap_or(r);
                r == s.service || family_name(r) == family_name(&s.task_definition)
            })
        })
        .collect()
}

/// Errors logged by `svc` (its log groups), or by any group when it is the service behind the
/// alarm and the group belongs to no known service.
fn errors_of_service<'f, 'a, 's>(
    f: &'f Facts<'a>,
    svc: &'s EcsServiceEvidence,
) -> impl Iterator<Item = &'f ErrorLines<'a>> + use<'f, 'a, 's> {
    f.errors
        .iter()
        .filter(move |e| match f.service_of_group(&e.logs.group) {
            Some(s) => s.service == svc.service,
            None => e.services.contains(&svc.service),
        })
}

/// The change of `kinds` nearest before `onset` (proximity at least `min_proximity`), preferring
/// changes that touch `names`.
fn trigger<'a>(
    f: &Facts<'a>,
    kinds: &[ChangeKind],
    onset: i64,
    min_proximity: f64,
    names: &[&str],
) -> Option<(&'a ChangeEvidence, ChangeKind)> {
    f.changes
        .iter()
        .filter(|(c, k)| kinds.contains(k) && proximity(c.at, onset) >= min_proximity)
        .max_by(|(a, _), (b, _)| {
            let touches = |c: &ChangeEvidence| {
                c.resources
                    .iter()
                    .any(|r| names.iter().any(|n| !n.is_empty() && r.contains(n)))
            };
            (touches(a), proximity(a.at, onset), a.at)
                .partial_cmp(&(touches(b), proximity(b.at, onset), b.at))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .copied()
}

/// How well a template's timing fits the failure: lines that began around the onset (from 30
/// minutes before to 10 after) are the failure's own; lines already there long before are
/// background that the failure did not start; lines that began well after are its consequences.
pub fn timing(f: &Facts<'_>, e: &ErrorLines<'_>) -> f64 {
    let first = e.t.first_seen;
    if first < f.onset - 30 * 60_000 {
        0.5
    } else if first > f.onset + 10 * 60_000 && e.family != Family::Capacity {
        // Except capacity: scaling out is the answer to the failure, so the launches or
        // placements that fail come after its onset.
        0.7
    } else {
        1.0
    }
}

/// The strongest lines of `family`: cause lines before symptom lines, then by timing and count.
fn strongest<'f, 'a>(f: &'f Facts<'a>, family: Family) -> Vec<&'f ErrorLines<'a>> {
    let mut v: Vec<&ErrorLines<'_>> = f.errors_of(family).collect();
    by_strength(f, &mut v);
    v
}

/// Cause lines before symptom lines, then by timing, then the most frequent first.
fn by_strength(f: &Facts<'_>, lines: &mut [&ErrorLines<'_>]) {
    lines.sort_by_key(|e| {
        (
            e.role != Some(Role::Cause),
            -(timing(f, e) * 10.0) as i64,
            std::cmp::Reverse(e.t.count),
        )
    });
}

/// The score lines of a family earn on their own: a line that names its cause counts more than
/// one that shows a symptom, and lines whose timing does not fit count less.
fn line_score(f: &Facts<'_>, e: &ErrorLines<'_>, cause: f64, symptom: f64) -> f64 {
    let base = if e.role == Some(Role::Cause) {
        cause
    } else {
        symptom
    };
    base * timing(f, e)
}

/// What a log group belongs to, by AWS's naming conventions: `/aws/lambda/NAME` (a function),
/// `/aws/rds/instance/NAME/…`, `/ecs/NAME`, or the group's last meaningful segment.
pub fn owner_of_group(group: &str) -> String {
    let parts: Vec<&str> = group.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        ["aws", "lambda", name, ..] => (*name).to_owned(),
        ["aws", "rds", "instance" | "cluster", name, ..] => (*name).to_owned(),
        ["aws", "ecs", "containerinsights", cluster, ..] => (*cluster).to_owned(),
        ["ecs", name, ..] => (*name).to_owned(),
        ["aws", "vendedlogs", "states", name, ..] => (*name).to_owned(),
        _ => parts
            .iter()
            .rev()
            .find(|p| {
                !matches!(
                    **p,
                    "messages" | "syslog" | "var" | "log" | "logs" | "error" | "access"
                ) && !p.ends_with(".log")
            })
            .map(|p| (*p).to_owned())
            .unwrap_or_else(|| group.to_owned()),
    }
}

/// What a log group belongs to, named as the reader knows it: the one EC2 instance whose id names
/// the streams the group's error lines came from (the CloudWatch agent's default stream name),
/// else the RDS or EC2 instance one of its path segments names (`/ec2/billing-pg/postgresql` →
/// `billing-pg-01 (i-0c3e…)` when that is the only such instance), else [`owner_of_group`].
fn owner(f: &Facts<'_>, group: &str) -> String {
    let segments: Vec<String> = group
        .split('/')
        .filter(|p| p.len() >= 3)
        .map(str::to_lowercase)
        .collect();
    let hits: Vec<_> = f
        .resources
        .iter()
        .filter(|r| {
            let n = r.name.to_lowercase();
            segments
                .iter()
                .any(|seg| n == *seg || (n.starts_with(seg.as_str()) && seg.len() >= 5))
        })
        .collect();
    // Several instances share the segment (`billing-pg-01`, `billing-pg-backup`): the one the
    // group's lines or the changes name.
    let named = |r: &convops_shared::evidence::ResourceEvidence| {
        let mut keys = vec![r.name.as_str()];
        keys.extend(r.resource_id.as_deref());
        f.errors.iter().filter(|e| e.logs.group == group).any(|e| {
            e.t.examples
                .iter()
                .any(|x| keys.iter().any(|k| x.contains(k)))
        }) || f
            .changes
            .iter()
            .any(|(c, _)| c.resources.iter().any(|x| keys.contains(&x.as_str())))
    };
    // … or the one whose own metrics moved (its disk filled, its CPU rose).
    let moved = |r: &convops_shared::evidence::ResourceEvidence| {
        let key = r.resource_id.as_deref().unwrap_or(&r.name);
        f.series
            .iter()
            .any(|s| s.moved && s.m.dimensions.values().any(|v| v == key))
    };
    // … and first the one that wrote the lines: the CloudWatch agent names a host's stream after
    // its instance id by default.
    let wrote = |r: &convops_shared::evidence::ResourceEvidence| {
        r.resource_id.as_deref().is_some_and(|id| {
            f.errors
                .iter()
                .any(|e| e.logs.group == group && e.logs.streams.iter().any(|s| s.contains(id)))
        })
    };
    let writers: Vec<_> = f.resources.iter().filter(|r| wrote(r)).collect();
    let chosen = match (writers.as_slice(), hits.as_slice()) {
        ([r], _) | (_, [r]) => Some(*r),
        (_, many) => {
            let named: Vec<_> = many.iter().filter(|r| named(r)).collect();
            let moved: Vec<_> = many.iter().filter(|r| moved(r)).collect();
            match (named.as_slice(), moved.as_slice()) {
                ([r], _) | ([], [r]) => Some(**r),
                _ => None,
            }
        }
    };
    match chosen {
        Some(r) => match &r.resource_id {
            Some(id) if *id != r.name => format!("{} ({id})", r.name),
            _ => r.name.clone(),
        },
        None => owner_of_group(group),
    }
}

/// The resource a series is about, for titles: its most specific dimension value.
fn subject_of_series(s: &Series<'_>) -> String {
    for k in [
        "ServiceName",
        "FunctionName",
        "DBInstanceIdentifier",
        "DBClusterIdentifier",
        "CacheClusterId",
        "InstanceId",
        "AutoScalingGroupName",
        "TableName",
        "QueueName",
        "StreamName",
        "ApiName",
        "LoadBalancer",
    ] {
        if let Some(v) = s.dim(k) {
            return v.to_owned();
        }
    }
    s.m.dimensions
        .values()
        .next()
        .cloned()
        .unwrap_or_else(|| s.m.metric_name.clone())
}

/// A host's name for a series keyed by an instance id: the instance's `Name` tag when known.
fn instance_label(f: &Facts<'_>, id: &str) -> String {
    match f
        .resources
        .iter()
        .find(|r| r.resource_id.as_deref() == Some(id))
    {
        Some(r) if r.name != id => format!("{} ({id})", r.name),
        _ => id.to_owned(),
    }
}

pub fn memory_exhaustion(f: &Facts<'_>) -> Option<Hypothesis> {
    let mut d = Draft::new(Category::MemoryExhaustion);
    let mut kinds = 0;
    let mut subject: Option<String> = None;
    let mut rev = String::new();
    let mut token = String::new();
    for s in &f.services {
        for st in &s.stopped {
            let oom = super::signals::family_of(&st.reason).0 == Family::OutOfMemory
                || st.reason.contains("137");
            if oom {
                let r = st
                    .task_definition
                    .clone()
                    .unwrap_or_else(|| s.task_definition.clone());
                d.cite(
                    &s.id,
                    format!("{} tasks of {r} stopped: \"{}\"", st.count, st.reason),
                );
                if subject.is_none() {
                    subject = Some(s.service.clone());
                    rev = r;
                }
                d.score = d.score.max(0.9);
            }
        }
    }
    if d.score > 0.0 {
        kinds += 1;
    }
    let oom_logs = strongest(f, Family::OutOfMemory);
    if let Some(first) = oom_logs.first() {
        kinds += 1;
        d.score = d.score.max(line_score(f, first, 0.85, 0.65));
        token = first.token.clone();
        for e in oom_logs.iter().take(2) {
            d.cite(&e.logs.id, log_fact(e));
        }
        if subject.is_none() {
            subject = Some(match f.service_of_group(&first.logs.group) {
                Some(s) => {
                    rev = s.task_definition.clone();
                    s.service.clone()
                }
                None => owner(f, &first.logs.group),
            });
        }
    }
    // Memory at its limit: a service's or host's utilisation, or a cache's memory.
    if let Some(s) = f
        .series
        .iter()
        .filter(|s| {
            s.bad()
                && match s.kind {
                    MetricKind::ServiceMemory | MetricKind::HostMemory => s.level() >= 90.0,
                    MetricKind::CacheMemory => {
                        s.m.metric_name.contains("Percentage") && s.level() >= 90.0
                            || s.m.metric_name == "Evictions"
                    }
                    _ => false,
                }
        })
        .max_by_key(|s| {
            (
                s.m.metric_name.contains("Percent"),
                (s.level() * 100.0) as i64,
            )
        })
    {
        kinds += 1;
        d.score = d.score.max(if s.kind == MetricKind::CacheMemory {
            0.65
        } else {
            0.6
        });
        d.cite(&s.m.id, series_fact(f, s));
        if subject.is_none() {
            subject = Some(match s.dim("InstanceId") {
                Some(id) => instance_label(f, id),
                None => subject_of_series(s),
            });
        }
    }
    if d.score == 0.0 {
        return None;
    }
    d.score += 0.03 * (kinds - 1) as f64;
    let svc = subject.unwrap_or_else(|| "the service".into());
    let what = if rev.is_empty() {
        svc.clone()
    } else {
        format!("{svc} ({rev})")
    };
    d.title = if token.is_empty() {
        format!("{what} runs out of memory")
    } else {
        format!("{what} runs out of memory: \"{token}\"")
    };
    let fam = family_name(&rev).to_owned();
    if let Some((c, _)) = trigger(f, &[ChangeKind::Deploy], f.onset, 0.3, &[&fam, &rev]) {
        if !fam.is_empty() && c.resources.iter().any(|r| r.contains(&fam)) {
            d.cite(
                &c.id,
                format!("rolled out before onset: {}", change_fact(f, c)),
            );
            d.next_checks.push(format!(
                "Compare the memory settings of {rev} with the previous revision; roll back if the limit was lowered"
            ));
        }
    }
    d.next_checks.push(format!(
        "Check {svc}'s memory limit against its working set; raise it or fix what grows"
    ));
    d.done()
}

/// Errors a rollout introduces show up within this long of it.
const NEW_ERROR_WINDOW: i64 = 20 * 60_000;
/// New errors that began more than this long before the alarm's metric moved are not what
/// moved it.
const NEW_ERROR_BEFORE_ONSET: i64 = 15 * 60_000;

pub fn deploy_regression(f: &Facts<'_>) -> Option<Hypothesis> {
    let mut best: Option<Draft> = None;
    for (c, kind) in &f.changes {
        if *kind != ChangeKind::Deploy {
            continue;
        }
        let prox = proximity(c.at, f.onset);
        if prox < 0.2 {
            continue;
        }
        let mut d = Draft::new(Category::DeployRegression);
        d.score = 0.3 * prox;
        let svcs = services_of_change(f, c);
        let svc = svcs.first().copied();
        let rev = c
            .resources
            .iter()
            .find(|r| r.contains(':') && !r.starts_with("arn:"))
            .cloned()
            .or_else(|| svc.map(|s| s.task_definition.clone()))
            .unwrap_or_else(|| c.resources.join(", "));
        d.cite(&c.id, change_fact(f, c));
        // The errors of what was deployed: the service's log groups, or for other deploys
        // (functions, stacks) the groups named after the changed resource (`/aws/lambda/NAME`).
        let names: Vec<&str> = c
            .resources
            .iter()
            .map(|r| family_name(r.rsplit(':').next().filter(|x| x.len() > 2).unwrap_or(r)))
            .filter(|n| n.len() >= 3)
            .collect();
        // A deploy of something the alarm's resource shares a word of its name with (the
        // function behind an API, the consumer of a queue) is judged by the new errors anywhere:
        // the failure may surface in the caller's logs only (API Gateway's execution log).
        let related = c.resources.iter().any(|r| {
            f.frame
                .alarm
                .dimensions
                .values()
                .any(|v| convops_shared::names::share_a_word(r, v))
        }) || svc.is_some_and(|s| f.behind.iter().any(|b| b.service == s.service));
        let deployed_errors: Vec<&ErrorLines<'_>> = match svc {
            Some(s) => errors_of_service(f, s).collect(),
            None => f
                .errors
                .iter()
                .filter(|e| related || names.iter().any(|n| e.logs.group.contains(n)))
                .collect(),
        };
        // Errors a release causes: not capacity or quota, not a dependency that names its own
        // fault (a certificate, DNS, a service's internal error), not a resource that says it
        // is exhausted (a full disk, the OOM killer, a saturated database: their own categories
        // even when a release drove them), and starting within minutes.
        let errors: Vec<&ErrorLines<'_>> = deployed_errors
            .into_iter()
            .filter(|e| {
                let dependency_named =
                    e.family == Family::Connectivity && e.role == Some(Role::Cause);
                let not_a_release = matches!(
                    e.family,
                    Family::Capacity
                        | Family::Throttled
                        | Family::InstanceLost
                        | Family::Dns
                        | Family::CertExpired
                        | Family::StorageFull
                        | Family::OutOfMemory
                        | Family::DbSaturated
                );
                !(not_a_release || dependency_named)
            })
            .collect();
        // Errors new since the rollout that also began near the onset: errors that started long
        // before the alarm's metric moved did not move it (another component's failure), and
        // errors that started long after the rollout were not started by it.
        let new: Vec<&ErrorLines<'_>> = errors
            .iter()
            .copied()
            .filter(|e| {
                e.t.first_seen >= c.at - 60_000
                    && e.t.first_seen <= c.at + NEW_ERROR_WINDOW
                    && e.t.first_seen >= f.onset - NEW_ERROR_BEFORE_ONSET
            })
            .collect();
        // A named cause of another kind (a full disk, the OOM killer, a denied call...) that
        // began with the new errors in the same logs explains them better than the release.
        let explained = |e: &ErrorLines<'_>| {
            e.role != Some(Role::Cause)
                && f.errors.iter().any(|o| {
                    o.role == Some(Role::Cause)
                        && !matches!(o.family, Family::CodeError | Family::BadConfig)
                        && (o.t.first_seen - e.t.first_seen).abs() <= 5 * 60_000
                        && (o.logs.id == e.logs.id
                            || svc.is_some_and(|s| {
                                errors_of_service(f, s).any(|x| x.logs.id == o.logs.id)
                            }))
                })
        };
        let new: Vec<&ErrorLines<'_>> = new.into_iter().filter(|e| !explained(e)).collect();
        // The same kind of failure was already there before the rollout, as often as after: it
        // did not start it (background retries of one kind do not veto a new failure of it).
        let count =
            |v: &mut dyn Iterator<Item = &&ErrorLines<'_>>| -> u64 { v.map(|e| e.t.count).sum() };
        let old = new.iter().any(|n| {
            let same = |o: &&&ErrorLines<'_>| o.family == n.family && o.logs.id == n.logs.id;
            let before = count(
                &mut errors
                    .iter()
                    .filter(|o| o.t.first_seen < c.at - 5 * 60_000)
                    .filter(same),
            );
            let after = count(&mut new.iter().filter(same));
            n.family != Family::Other && before > 0 && before >= after
        });
        let mut token = None;
        if !new.is_empty() && !old {
            d.score += 0.35;
            if new
                .iter()
                .any(|e| matches!(e.family, Family::CodeError | Family::BadConfig))
            {
                d.score += 0.15;
            }
            let mut shown = new.clone();
            shown.sort_by_key(|e| {
                (
                    !matches!(e.family, Family::CodeError | Family::BadConfig),
                    std::cmp::Reverse(e.t.count),
                )
            });
            token = shown
                .iter()
                .find(|e| matches!(e.family, Family::CodeError | Family::BadConfig))
                .map(|e| e.token.clone());
            for e in shown.iter().take(2) {
                d.cite(
                    &e.logs.id,
                    format!("new since the rollout: {}", log_fact(e)),
                );
            }
        }
        if let Some(svc) = svc {
            // The other half of the rollout (RegisterTaskDefinition + UpdateService).
            for (o, k) in &f.changes {
                if *k == ChangeKind::Deploy
                    && o.id != c.id
                    && (o.at - c.at).abs() <= 10 * 60_000
                    && services_of_change(f, o)
                        .iter()
                        .any(|s| s.service == svc.service)
                {
                    d.cite(&o.id, change_fact(f, o));
                }
            }
            if f.behind.iter().any(|b| b.service == svc.service) {
                d.score += 0.1;
                d.cite(
                    &svc.id,
                    format!(
                        "{} serves the alarm's target and runs {}",
                        svc.service, svc.task_definition
                    ),
                );
            }
            let crashes: u32 = svc
                .stopped
                .iter()
                .filter(|st| {
                    let r = st.reason.to_lowercase();
                    st.task_definition.as_deref() == Some(rev.as_str())
                        && !r.contains("scaling activity")
                        && super::signals::family_of(&st.reason).0 != Family::OutOfMemory
                        && (r.contains("exited")
                            || r.contains("health check")
                            || r.contains("error"))
                })
                .map(|st| st.count)
                .sum();
            if crashes > 0 && prox >= 0.7 {
                d.score += 0.1;
                d.cite(
                    &svc.id,
                    format!(
                        "{crashes} tasks of {rev} stopped after failing (exits or health checks)"
                    ),
                );
            }
        }
        // A later rollout of the same resource (a rollback or a fix) after which the errors
        // went on: the release is not what keeps it failing.
        let later = f.changes.iter().find(|(o, k)| {
            *k == ChangeKind::Deploy
                && o.at > c.at + 60_000
                && o.resources
                    .iter()
                    .any(|r| c.resources.iter().any(|x| family_name(x) == family_name(r)))
        });
        if let Some((o, _)) = later {
            let went_on = new.iter().any(|e| e.t.last_seen > o.at + 5 * 60_000);
            if went_on {
                d.score -= 0.25;
                d.cite(
                    &o.id,
                    format!(
                        "the errors went on after a later rollout: {}",
                        change_fact(f, o)
                    ),
                );
            }
        }
        d.title = match token {
            Some(t) => format!(
                "The rollout of {rev} {} introduced {t} errors",
                when(f, c.at)
            ),
            None => format!(
                "The rollout of {rev} {} preceded the failure",
                when(f, c.at)
            ),
        };
        d.next_checks.push(format!(
            "Roll back to the previous revision of {} and watch the alarm",
            family_name(&rev)
        ));
        if best.as_ref().is_none_or(|b| d.score > b.score) {
            best = Some(d);
        }
    }
    best.and_then(|mut d| {
        d.score = d.score.min(0.9);
        d.done()
    })
}

/// A database series that shows load: CPU, connections, latency, IOPS up; I/O burst or CPU
/// credits drained (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html#CHAP_Storage.IO.Credits).
fn db_load(s: &Series<'_>) -> bool {
    match s.kind {
        MetricKind::DbCpu
        | MetricKind::DbConnections
        | MetricKind::DbLatency
        | MetricKind::DbIops => s.up(),
        MetricKind::BurstBalance | MetricKind::CpuCredits => {
            s.namespace_is("AWS/RDS") && drained(s)
        }
        MetricKind::CacheCpu => s.up() && s.level() >= 80.0,
        // Database load (`DBLoad`, average active sessions) is `Other` in kind but says it all.
        _ => s.namespace_is("AWS/RDS") && s.m.metric_name.starts_with("DBLoad") && s.up(),
    }
}

/// The database (or cache) a series belongs to.
fn db_of<'s>(s: &'s Series<'_>) -> Option<&'s str> {
    s.dim("DBInstanceIdentifier")
        .or_else(|| s.dim("DBClusterIdentifier"))
        .or_else(|| s.dim("CacheClusterId"))
}

pub fn db_overload(f: &Facts<'_>) -> Option<Hypothesis> {
    let mut d = Draft::new(Category::DbOverload);
    let sat = strongest(f, Family::DbSaturated);
    // The database: named by the failing lines' hosts, else the one whose load rose most.
    let named: Option<String> = sat
        .iter()
        .flat_map(|e| e.hosts.iter())
        .find_map(|h| f.resource_of_host(h))
        .filter(|r| r.resource_type == "rds_instance")
        .map(|r| r.name.clone());
    let in_time = |s: &Series<'_>| {
        s.onset()
            .is_none_or(|o| o <= f.onset + 5 * 60_000 && o >= f.onset - 120 * 60_000)
    };
    let loaded = |db: &str| -> Vec<&Series<'_>> {
        f.series
            .iter()
            .filter(|s| db_of(s) == Some(db) && db_load(s) && in_time(s))
            .collect()
    };
    let mut dbs: Vec<&str> = f.series.iter().filter_map(|s| db_of(s)).collect();
    dbs.sort();
    dbs.dedup();
    let db: Option<String> = named.clone().or_else(|| {
        dbs.iter()
            .max_by_key(|db| {
                // The alarm's own database first, then the one with the most load signals.
                let own = f.frame.alarm.dimensions.values().any(|v| v == *db);
                (own && !loaded(db).is_empty(), loaded(db).len())
            })
            .filter(|db| !loaded(db).is_empty())
            .map(|db| (*db).to_owned())
    });
    let support = db.as_deref().map(loaded).unwrap_or_default();
    if sat.is_empty() && support.is_empty() {
        return None;
    }
    let drained_io = support
        .iter()
        .find(|s| matches!(s.kind, MetricKind::BurstBalance | MetricKind::CpuCredits));
    if let Some(e) = sat.first() {
        d.score = line_score(f, e, 0.7, 0.6) + if support.is_empty() { 0.0 } else { 0.2 };
        for e in sat.iter().take(2) {
            d.cite(&e.logs.id, log_fact(e));
        }
    } else {
        let pegged = support.iter().any(|s| {
            matches!(s.kind, MetricKind::DbCpu | MetricKind::CacheCpu) && s.level() >= 90.0
        });
        d.score = (0.3
            + 0.08 * support.len() as f64
            + if pegged { 0.15 } else { 0.0 }
            + if drained_io.is_some() { 0.25 } else { 0.0 })
        .min(0.75);
    }
    // The drained balance first: it is the reason the rest moved.
    let mut shown: Vec<&&Series<'_>> = support.iter().collect();
    shown.sort_by_key(|s| !matches!(s.kind, MetricKind::BurstBalance | MetricKind::CpuCredits));
    for s in shown.iter().take(3) {
        d.cite(&s.m.id, series_fact(f, s));
    }
    let name = db.unwrap_or_default();
    let load_onset = support
        .iter()
        .filter_map(|s| s.onset())
        .chain(sat.iter().map(|e| e.t.first_seen))
        .min()
        .unwrap_or(f.onset);
    // The traffic the service serves rose sharply first: the database is saturated by that
    // load, and the surge is the cause to act on (`traffic_surge`, the categories of
    // scenarios/FORMAT.md); the saturation stays the runner-up with its evidence.
    if let Some(s) = surge(f).filter(|s| sharp_surge_before(s, load_onset)) {
        d.score -= 0.15;
        d.cite(
            &s.m.id,
            format!("the load it serves rose first: {}", series_fact(f, s)),
        );
    }
    if let Some((c, _)) = trigger(
        f,
        &[ChangeKind::Scale, ChangeKind::Deploy, ChangeKind::DbConfig],
        load_onset,
        0.7,
        &[&name],
    )
    .filter(|(c, kind)| {
        *kind != ChangeKind::DbConfig || c.resources.iter().any(|r| r.contains(&name))
    }) {
        d.cite(
            &c.id,
            format!("load added just before: {}", change_fact(f, c)),
        );
        d.next_checks.push(format!(
            "Check what {} changed: {} by {}",
            c.resources.join(", "),
            c.event_name,
            c.actor
        ));
    }
    let db_name = if name.is_empty() {
        "The database".to_owned()
    } else {
        format!("Database {name}")
    };
    d.title = match (sat.first(), drained_io) {
        (Some(e), _) => format!("{db_name} is saturated: \"{}\"", e.token),
        (None, Some(s)) => format!(
            "{db_name} ran out of {} ({} to {}) and slowed down",
            s.m.metric_name,
            s.m.summary.baseline.map(num).unwrap_or_default(),
            num(s.low())
        ),
        (None, None) => format!(
            "{db_name} is under heavy load ({})",
            support
                .iter()
                .take(3)
                .map(|s| s.m.metric_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    d.next_checks.push(format!(
        "Look at {}'s connections and top queries (Performance Insights); cap the pools of the clients that grew",
        if name.is_empty() { "the database" } else { name.as_str() }
    ));
    d.done()
}

pub fn db_storage_full(f: &Facts<'_>) -> Option<Hypothesis> {
    let mut d = Draft::new(Category::DbStorageFull);
    let mut pieces = 0;
    let mut name = None;
    let mut token = String::new();
    // Free space running out (RDS `FreeStorageSpace`), or a host's disk filling up (the
    // CloudWatch agent's `disk_used_percent`).
    let low = f
        .series
        .iter()
        .filter(|s| match s.kind {
            // Judged by the lowest point, not the last one: space added after the onset (the
            // usual first response) does not undo that it ran out.
            // A volume that fills steadily for hours widens its own baseline spread, so it may
            // never read as "moved"; falling to a seventh of its baseline, or draining, is the
            // signal then (as for burst and credit balances).
            MetricKind::DbFreeStorage => {
                let base = s.m.summary.baseline.unwrap_or(0.0);
                let fell_far = s.direction < 0 && base > 0.0 && s.low() / base < 0.15;
                (s.down() && (s.ratio.is_some_and(|r| r < 0.15) || s.low() < 2e9))
                    || fell_far
                    || drained(s)
            }
            MetricKind::HostDisk => {
                s.m.metric_name.contains("used_percent") && s.up() && s.level() >= 90.0
            }
            _ => false,
        })
        .min_by_key(|s| (s.low() * 1000.0) as i64);
    if let Some(s) = low {
        pieces += 1;
        d.cite(&s.m.id, series_fact(f, s));
        name = Some(match s.dim("InstanceId") {
            Some(i) => instance_label(f, i),
            None => subject_of_series(s),
        });
    }
    for r in f
        .resources
        .iter()
        .filter(|r| r.resource_type == "rds_instance" && r.state == "storage-full")
    {
        pieces += 1;
        d.cite(&r.id, format!("RDS instance {} is {}", r.name, r.state));
        name = Some(r.name.clone());
    }
    let full = strongest(f, Family::StorageFull);
    if let Some(e) = full.first() {
        pieces += 1;
        token = e.token.clone();
        for e in full.iter().take(2) {
            d.cite(&e.logs.id, log_fact(e));
        }
        if name.is_none() {
            name = Some(owner(f, &e.logs.group));
        }
    }
    if pieces == 0 {
        return None;
    }
    d.score = if pieces >= 2 { 0.88 } else { 0.7 };
    let name = name.unwrap_or_else(|| "the database".into());
    d.title = if token.is_empty() {
        format!("{name} is running out of storage")
    } else {
        format!("{name} is running out of storage: \"{token}\"")
    };
    d.next_checks.push(format!(
        "Free or add storage on {name} (or enable storage autoscaling) and find what grew"
    ));
    d.done()
}

fn is_internal(f: &Facts<'_>, host: &str) -> bool {
    f.resource_of_host(host).is_some()
        || host.ends_with(".amazonaws.com")
        || host.ends_with(".internal")
        || host.ends_with(".local")
}

pub fn dependency_failure(f: &Facts<'_>) -> Option<Hypothesis> {
    // A dependency whose failure the lines name: its certificate expired or is not trusted, its
    // name does not resolve.
    let mut named: Vec<&ErrorLines<'_>> = strongest(f, Family::CertExpired);
    named.extend(strongest(f, Family::Dns));
    // A dependency that answers with a server-side failure names its own fault.
    named.extend(
        f.errors_of(Family::Connectivity)
            .filter(|e| e.role == Some(Role::Cause)),
    );
    by_strength(f, &mut named);
    let conn: Vec<&ErrorLines<'_>> = f.errors_of(Family::Connectivity).collect();
    if conn.is_empty() && named.is_empty() {
        return None;
    }
    if let Some(e) = named.first() {
        let mut d = Draft::new(Category::DependencyFailure);
        d.score = line_score(f, e, 0.82, 0.62);
        let host = e.hosts.first().cloned();
        for e in named.iter().take(2) {
            d.cite(&e.logs.id, log_fact(e));
        }
        if let Some(c) = conn.iter().max_by_key(|c| c.t.count) {
            d.score += 0.05;
            d.cite(&c.logs.id, log_fact(c));
        }
        let what = match e.family {
            Family::Dns => "its name does not resolve",
            Family::CertExpired => "its TLS certificate is refused",
            _ => "it answers with a failure on its side",
        };
        d.title = match &host {
            Some(h) => format!("Calls to {h} fail, {what}: \"{}\"", e.token),
            None => format!("A dependency fails, {what}: \"{}\"", e.token),
        };
        d.next_checks.push(match (&host, e.family) {
            (Some(h), Family::Dns) => format!("Resolve {h} from the service's network (dig/nslookup) and check its DNS records and resolver"),
            (Some(h), _) => format!("Check {h}'s certificate dates and chain (openssl s_client -connect {h}:443) and the client's trust store"),
            (None, _) => "Find the host the failing calls go to and check its certificate and DNS".into(),
        });
        return d.done();
    }
    let mut d = Draft::new(Category::DependencyFailure);
    let total = f.error_total().max(1) as f64;
    let share = conn.iter().map(|e| e.t.count).sum::<u64>() as f64 / total;
    let external = conn
        .iter()
        .flat_map(|e| e.hosts.iter().map(move |h| (h, *e)))
        .find(|(h, _)| !is_internal(f, h));
    let internal = conn
        .iter()
        .flat_map(|e| e.hosts.iter().map(move |h| (h, *e)))
        .find_map(|(h, e)| f.resource_of_host(h).map(|r| (r, e)));
    let lead = conn.iter().max_by_key(|e| e.t.count).copied();
    match (external, internal) {
        (Some((host, e)), _) => {
            // Timeouts and refusals only show that a call failed, not why: any slow backend
            // looks like this. They lead only when nothing names a cause.
            d.score = (0.5 + 0.15 * (share / 0.5).min(1.0)) * timing(f, e);
            d.title = format!("Calls to {host} fail: {}", e.token);
            d.cite(&e.logs.id, log_fact(e));
            d.next_checks.push(format!(
                "Check {host}'s status page and your egress path (NAT gateway, DNS); consider failing fast"
            ));
        }
        (None, Some((r, e))) => {
            d.score = 0.45 * timing(f, e);
            d.title = format!("Connections to {} fail: {}", r.name, e.token);
            d.cite(&e.logs.id, log_fact(e));
        }
        (None, None) => {
            let e = lead?;
            d.score = (0.4 + 0.1 * (share / 0.5).min(1.0)) * timing(f, e);
            d.title = format!("A dependency fails: {}", e.token);
            d.cite(&e.logs.id, log_fact(e));
        }
    }
    for e in conn.iter().filter(|e| e.t.count > 0).take(2) {
        d.cite(&e.logs.id, log_fact(e));
    }
    d.next_checks.push(
        "Find what the failing calls have in common (host, port, zone) and test that path".into(),
    );
    d.done()
}

pub fn access_change(f: &Facts<'_>) -> Option<Hypothesis> {
    let mut best: Option<Draft> = None;
    for (c, kind) in &f.changes {
        if *kind != ChangeKind::AccessRestrict {
            continue;
        }
        let prox = proximity(c.at, f.onset);
        if prox < 0.5 {
            continue;
        }
        let mut d = Draft::new(Category::AccessChange);
        d.score = 0.4 * prox;
        d.cite(&c.id, change_fact(f, c));
        let blocked: Vec<&ErrorLines<'_>> = f
            .errors
            .iter()
            .filter(|e| matches!(e.family, Family::Connectivity | Family::AccessDenied))
            .filter(|e| e.t.first_seen >= c.at - 60_000)
            .collect();
        let mut affected: Option<String> = None;
        if !blocked.is_empty() {
            d.score += 0.35;
            let mut shown = blocked.clone();
            shown.sort_by_key(|e| std::cmp::Reverse(e.t.count));
            for e in shown.iter().take(2) {
                d.cite(&e.logs.id, format!("since the change: {}", log_fact(e)));
                if affected.is_none() {
                    affected = e
                        .hosts
                        .iter()
                        .find_map(|h| f.resource_of_host(h).map(|r| r.name.clone()));
                }
            }
        }
        if let Some(s) = f.series.iter().find(|s| {
            s.down()
                && matches!(
                    s.kind,
                    MetricKind::DbConnections | MetricKind::Traffic | MetricKind::Network
                )
                && s.onset()
                    .is_some_and(|o| o >= c.at - 2 * 60_000 && o <= c.at + 15 * 60_000)
        }) {
            d.score += 0.1;
            d.cite(&s.m.id, series_fact(f, s));
            if affected.is_none() {
                affected = s.dim("DBInstanceIdentifier").map(str::to_owned);
            }
        }
        let on = c
            .resources
            .first()
            .map(|r| format!(" on {r}"))
            .unwrap_or_default();
        d.title = match &affected {
            Some(a) => format!("{}{on} by {} cut access to {a}", c.event_name, c.actor),
            None => format!("{}{on} by {} blocks traffic", c.event_name, c.actor),
        };
        d.next_checks.push(format!(
            "Review {}{on} ({}) and restore the rule the clients need",
            c.event_name,
            utc(c.at)
        ));
        if best.as_ref().is_none_or(|b| d.score > b.score) {
            best = Some(d);
        }
    }
    // Denials whose own words name the cause (a disabled or deleted KMS key, an expired token)
    // point at an access change even when CloudTrail did not show it (IAM and KMS events of
    // another region or account); plain denials aligned with the onset count less.
    let denied = strongest(f, Family::AccessDenied);
    if let Some(e) = denied.first() {
        let score = line_score(f, e, 0.6, 0.5);
        match best.as_mut() {
            Some(b) if !b.evidence.iter().any(|c| c.id == e.logs.id) => {
                b.score += 0.05;
                b.cite(&e.logs.id, format!("since the change: {}", log_fact(e)));
            }
            Some(_) => {}
            None if timing(f, e) >= 1.0 => {
                let mut d = Draft::new(Category::AccessChange);
                d.score = score;
                for e in denied.iter().take(2) {
                    d.cite(&e.logs.id, log_fact(e));
                }
                let who = owner(f, &e.logs.group);
                d.title = format!("{who} is refused access: \"{}\"", e.token);
                d.next_checks.push(format!(
                    "Find the policy, key or credential change that denies {who} (CloudTrail in the region where IAM and KMS record it) and restore the permission"
                ));
                best = Some(d);
            }
            None => {}
        }
    }
    best.and_then(|mut d| {
        d.score = d.score.min(0.92);
        d.done()
    })
}

pub fn capacity_shortfall(f: &Facts<'_>) -> Option<Hypothesis> {
    let mut d = Draft::new(Category::CapacityShortfall);
    let placement = strongest(f, Family::Capacity);
    // Service events and stopped tasks that say there was no room: placement failures, no
    // free addresses in the subnet, no capacity for the launch type.
    let events: Vec<(&EcsServiceEvidence, &String)> = f
        .services
        .iter()
        .flat_map(|s| {
            s.events
                .iter()
                .chain(s.stopped.iter().map(|st| &st.reason))
                .map(move |e| (*s, e))
        })
        .filter(|(_, e)| super::signals::family_of(e).0 == Family::Capacity)
        .collect();
    let reserved: Vec<&Series<'_>> = f
        .series
        .iter()
        .filter(|s| s.kind == MetricKind::ClusterReservation && s.up() && s.level() >= 90.0)
        .collect();
    // Running below what was asked for: instances in service or tasks running fell.
    let short: Option<&Series<'_>> = f
        .series
        .iter()
        .filter(|s| {
            s.kind == MetricKind::Capacity
                && s.bad()
                && s.trouble == convops_shared::catalogue::Trouble::Down
        })
        .max_by_key(|s| (100.0 * (1.0 - s.ratio.unwrap_or(1.0))) as i64);
    if placement.is_empty() && events.is_empty() && reserved.is_empty() {
        return None;
    }
    let mut service: Option<String> = None;
    let mut token = String::new();
    if let Some(e) = placement.first() {
        d.score = line_score(f, e, 0.78, 0.6);
        for e in placement.iter().take(2) {
            d.cite(&e.logs.id, log_fact(e));
        }
        service = e.services.first().cloned().or_else(|| {
            Some(owner(f, &e.logs.group)).filter(|_| !e.logs.group.starts_with("/aws/events/"))
        });
        token = e.token.clone();
    }
    if let Some(s) = short {
        if d.score > 0.0 {
            d.score += 0.07;
        }
        d.cite(&s.m.id, series_fact(f, s));
        if service.is_none() {
            service = Some(subject_of_series(s));
        }
    }
    if let Some((s, ev)) = events.first() {
        d.score = d.score.max(0.75);
        d.cite(&s.id, format!("service event of {}: \"{ev}\"", s.service));
        service.get_or_insert_with(|| s.service.clone());
    }
    if let Some(s) = reserved.first() {
        d.score = if d.score > 0.0 { d.score + 0.15 } else { 0.5 };
        d.cite(&s.m.id, series_fact(f, s));
    }
    let service = service.unwrap_or_else(|| {
        f.behind
            .first()
            .map(|s| s.service.clone())
            .unwrap_or_else(|| "the service".into())
    });
    // What asked for more tasks, and what capped the capacity.
    for (c, _) in f
        .changes
        .iter()
        .filter(|(c, k)| *k == ChangeKind::Scale && proximity(c.at, f.onset) > 0.0)
    {
        d.cite(&c.id, change_fact(f, c));
        if d.evidence.len() >= 6 {
            break;
        }
    }
    d.title = if token.is_empty() {
        format!("The cluster has no room for more {service} tasks")
    } else {
        format!("{service} cannot place new tasks: {token}")
    };
    d.next_checks.push(format!(
        "Add cluster capacity (raise the Auto Scaling group's maximum or use a capacity provider) so {service} can reach its desired count"
    ));
    d.done()
}

pub fn throttling(f: &Facts<'_>) -> Option<Hypothesis> {
    let mut d = Draft::new(Category::Throttling);
    let logs: Vec<&ErrorLines<'_>> = f.errors_of(Family::Throttled).collect();
    let mut metrics: Vec<&Series<'_>> = f
        .series
        .iter()
        .filter(|s| s.kind == MetricKind::Throttles && s.up())
        .collect();
    metrics.sort_by_key(|s| std::cmp::Reverse((s.level() * 1000.0) as i64));
    if logs.is_empty() && metrics.is_empty() {
        return None;
    }
    d.score = match (logs.is_empty(), metrics.is_empty()) {
        (false, false) => 0.9,
        (false, true) => 0.65,
        _ => 0.6,
    };
    let resource = metrics.first().and_then(|s| {
        s.m.dimensions
            .iter()
            .find(|(k, _)| *k != "Operation")
            .map(|(_, v)| v.clone())
    });
    let mut shown: Vec<&&ErrorLines<'_>> = logs.iter().collect();
    shown.sort_by_key(|e| (e.role != Some(Role::Cause), std::cmp::Reverse(e.t.count)));
    for e in shown.iter().take(2) {
        d.cite(&e.logs.id, log_fact(e));
    }
    for s in metrics.iter().take(2) {
        d.cite(&s.m.id, series_fact(f, s));
    }
    // A shared pool at its limit: Lambda's account concurrency, which other functions fill
    // (https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html). The function whose
    // concurrency or invocations rose most, other than the throttled one, is where the load
    // came from.
    if let Some(s) = f
        .series
        .iter()
        .filter(|s| s.kind == MetricKind::Concurrency && s.up() && s.m.dimensions.is_empty())
        .max_by_key(|s| (s.ratio.unwrap_or(1.0) * 100.0) as i64)
    {
        d.cite(&s.m.id, series_fact(f, s));
    }
    let throttled_fn = f
        .frame
        .alarm
        .dimensions
        .get("FunctionName")
        .cloned()
        .or_else(|| {
            metrics
                .first()
                .and_then(|s| s.dim("FunctionName").map(str::to_owned))
        });
    if let Some(s) = f
        .series
        .iter()
        .filter(|s| {
            matches!(s.kind, MetricKind::Concurrency | MetricKind::Traffic)
                && s.up()
                && s.dim("FunctionName").is_some()
                && s.dim("FunctionName") != throttled_fn.as_deref()
        })
        .max_by_key(|s| (s.ratio.unwrap_or(1.0) * 100.0) as i64)
    {
        d.cite(
            &s.m.id,
            format!("the load came from: {}", series_fact(f, s)),
        );
    }
    let resource_name = resource.clone().unwrap_or_default();
    if let Some(s) = f.series.iter().find(|s| {
        s.kind == MetricKind::ConsumedCapacity
            && s.up()
            && s.m.dimensions.values().any(|v| *v == resource_name)
    }) {
        d.cite(&s.m.id, series_fact(f, s));
    }
    let throttle_onset = metrics
        .iter()
        .filter_map(|s| s.onset())
        .min()
        .unwrap_or(f.onset);
    if let Some((c, _)) = trigger(
        f,
        &[ChangeKind::Scale, ChangeKind::Deploy],
        throttle_onset,
        0.7,
        &[&resource_name],
    ) {
        d.cite(
            &c.id,
            format!("load added just before: {}", change_fact(f, c)),
        );
    }
    let token = logs.first().map(|e| e.token.clone());
    d.title = match (&resource, token) {
        (Some(r), Some(t)) => format!("Requests to {r} are throttled: {t}"),
        (Some(r), None) => format!("Requests to {r} are throttled"),
        (None, Some(t)) => format!("Calls are throttled: {t}"),
        (None, None) => "Calls are throttled".into(),
    };
    d.next_checks.push(format!(
        "Raise {}'s capacity or quota, or spread the load of the job that started; add backoff with jitter",
        resource.unwrap_or_else(|| "the throttled resource".into())
    ));
    d.done()
}

/// How much the evidence shows a fault of the service or its dependencies, as opposed to load:
/// error lines of fault families, tasks killed or unplaceable, a cluster out of room.
fn faults(f: &Facts<'_>, excused: &dyn Fn(&ErrorLines<'_>) -> bool) -> u64 {
    // Lines that name a cause and began with the failure; background errors that were there
    // long before do not make a surge a fault, nor do the `excused` ones.
    let logs: u64 = f
        .errors
        .iter()
        .filter(|e| e.role == Some(Role::Cause) && timing(f, e) > 0.5 && !excused(e))
        .filter(|e| {
            matches!(
                e.family,
                Family::OutOfMemory
                    | Family::Capacity
                    | Family::Throttled
                    | Family::DbSaturated
                    | Family::StorageFull
                    | Family::AccessDenied
                    | Family::CodeError
                    | Family::BadConfig
                    | Family::CertExpired
                    | Family::Dns
                    | Family::InstanceLost
            )
        })
        .map(|e| e.t.count)
        .sum();
    let services: u64 = f
        .services
        .iter()
        .map(|s| {
            let events = s
                .events
                .iter()
                .filter(|e| super::signals::family_of(e).0 == Family::Capacity)
                .count() as u64;
            let killed: u64 = s
                .stopped
                .iter()
                .filter(|st| super::signals::family_of(&st.reason).0 == Family::OutOfMemory)
                .map(|st| u64::from(st.count))
                .sum();
            events + killed
        })
        .sum();
    logs + services
}

fn surge<'f, 'a>(f: &'f Facts<'a>) -> Option<&'f Series<'a>> {
    let a = &f.frame.alarm.dimensions;
    f.series
        .iter()
        .filter(|s| {
            s.kind == MetricKind::Traffic
                && s.up()
                && s.ratio.is_some_and(|r| r >= 1.5)
                && s.onset()
                    .is_some_and(|o| o <= f.onset + 3 * 60_000 && o >= f.onset - 60 * 60_000)
        })
        .max_by_key(|s| {
            let same =
                s.m.dimensions
                    .iter()
                    .filter(|(k, v)| a.get(*k) == Some(*v))
                    .count();
            // A load metric (requests arriving) before a success count that rose with it: the
            // catalogue marks success counts `Down` (trouble is their fall).
            let load = s.trouble != convops_shared::catalogue::Trouble::Down;
            (same, load, (s.ratio.unwrap_or(0.0) * 100.0) as i64)
        })
}

/// A surge of at least this ratio overloads what serves it.
const SHARP_SURGE: f64 = 3.0;

/// `s` is a sharp surge that began no later than two minutes after `t`.
fn sharp_surge_before(s: &Series<'_>, t: i64) -> bool {
    s.ratio.is_some_and(|r| r >= SHARP_SURGE) && s.onset().is_some_and(|o| o <= t + 2 * 60_000)
}

pub fn traffic_surge(f: &Facts<'_>) -> Option<Hypothesis> {
    let s = surge(f)?;
    let ratio = s.ratio.unwrap_or(1.0);
    let mut d = Draft::new(Category::TrafficSurge);
    d.score = 0.55 + 0.2 * ((ratio - 1.5) / 1.5).clamp(0.0, 1.0);
    // Lines of overload (a saturated database or pool, timeouts and refusals, CPU starvation)
    // that began after a sharp surge are what the surge does, not a fault beside it. Throttling
    // by an AWS quota and capacity that cannot be added keep their own categories (`throttling`,
    // `capacity_shortfall`): the quota or the capacity is what to act on.
    let follows_load = |e: &ErrorLines<'_>| {
        matches!(
            e.family,
            Family::DbSaturated | Family::Connectivity | Family::CpuStarved
        ) && sharp_surge_before(s, e.t.first_seen)
    };
    if faults(f, &follows_load) > 0 {
        d.score -= 0.3;
    }
    let conn = f
        .errors_of(Family::Connectivity)
        .filter(|e| !follows_load(e))
        .map(|e| e.t.count)
        .sum::<u64>() as f64
        / f.error_total().max(1) as f64;
    if conn > 0.3 {
        d.score -= 0.15;
    }
    d.cite(&s.m.id, series_fact(f, s));
    let target = f
        .services
        .iter()
        .find(|svc| {
            s.dim("TargetGroup")
                .is_some_and(|tg| svc.target_groups.iter().any(|a| a.ends_with(tg)))
                || svc.serves(&f.frame.alarm.dimensions)
        })
        .map(|svc| svc.service.clone())
        .or_else(|| s.m.dimensions.values().next().cloned())
        .unwrap_or_default();
    for x in f
        .series
        .iter()
        .filter(|x| matches!(x.kind, MetricKind::ServiceCpu | MetricKind::InstanceCpu) && x.up())
        .take(1)
    {
        d.cite(&x.m.id, series_fact(f, x));
    }
    for (c, _) in f
        .changes
        .iter()
        .filter(|(c, k)| *k == ChangeKind::Scale && c.at >= f.onset - 5 * 60_000)
        .take(2)
    {
        d.cite(&c.id, format!("scaling followed: {}", change_fact(f, c)));
    }
    d.title = format!(
        "Load on {target} rose {}× ({} {} → {}) with no fault found in the service",
        num((ratio * 10.0).round() / 10.0),
        s.m.metric_name,
        s.m.summary.baseline.map(num).unwrap_or_default(),
        s.m.summary.current.map(num).unwrap_or_default()
    );
    d.next_checks.push(format!(
        "Find where the extra traffic to {target} comes from (campaign, bot, retry storm); scale out ahead of it or rate-limit"
    ));
    d.done()
}

/// A balance drained to (nearly) nothing: at most 2% of where it was, or under one unit.
fn drained(s: &Series<'_>) -> bool {
    let m = &s.m.summary;
    stats::drained(m.baseline, m.current, m.peak)
}

pub fn cpu_saturation(f: &Facts<'_>) -> Option<Hypothesis> {
    let mut d = Draft::new(Category::CpuSaturation);
    let pegged = f
        .series
        .iter()
        .filter(|s| matches!(s.kind, MetricKind::ServiceCpu | MetricKind::InstanceCpu) && s.up())
        .filter(|s| s.m.summary.current.is_some_and(|c| c >= 85.0) && s.level() >= 90.0)
        .max_by_key(|s| (s.level() * 100.0) as i64);
    // A burstable instance out of CPU credits is held at its baseline share, whatever its
    // utilisation reads (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-credits-baseline-concepts.html).
    let credits = f
        .series
        .iter()
        .filter(|s| s.kind == MetricKind::CpuCredits && s.namespace_is("AWS/EC2") && drained(s))
        .min_by_key(|s| (s.low() * 100.0) as i64);
    let starved = strongest(f, Family::CpuStarved);
    if pegged.is_none() && credits.is_none() && starved.is_empty() {
        return None;
    }
    let mut what = String::new();
    if let Some(s) = credits {
        d.score = 0.75;
        d.cite(&s.m.id, series_fact(f, s));
        what = s
            .dim("InstanceId")
            .map(|i| instance_label(f, i))
            .unwrap_or_default();
        if let Some(cpu) = f.series.iter().find(|x| {
            x.kind == MetricKind::InstanceCpu && x.dim("InstanceId") == s.dim("InstanceId")
        }) {
            d.cite(&cpu.m.id, series_fact(f, cpu));
        }
    }
    if let Some(s) = pegged {
        d.score = d.score.max(if s.level() >= 97.0 { 0.7 } else { 0.6 })
            + if credits.is_some() { 0.05 } else { 0.0 };
        d.cite(&s.m.id, series_fact(f, s));
        if what.is_empty() {
            what = match (s.dim("ServiceName"), s.dim("InstanceId")) {
                (Some(svc), _) => svc.to_owned(),
                (None, Some(i)) => instance_label(f, i),
                _ => subject_of_series(s),
            };
        }
    }
    if let Some(e) = starved.first() {
        d.score = if d.score > 0.0 {
            d.score + 0.08
        } else {
            line_score(f, e, 0.55, 0.45)
        };
        d.cite(&e.logs.id, log_fact(e));
        if what.is_empty() {
            what = owner(f, &e.logs.group);
        }
    }
    if surge(f).is_some() {
        d.score -= 0.25;
    }
    d.title = match credits {
        Some(c) => format!(
            "{what} ran out of CPU credits ({} went from {} to {}) and is held at its baseline CPU",
            c.m.metric_name,
            c.m.summary.baseline.map(num).unwrap_or_default(),
            num(c.low())
        ),
        None => format!("{what} is pegged at its CPU limit"),
    };
    d.next_checks.push(if credits.is_some() {
        format!("Switch {what} to unlimited credits or a non-burstable type, and find what burns the CPU")
    } else {
        format!("Profile {what} or give it more CPU / tasks")
    });
    d.done()
}

pub fn instance_failure(f: &Facts<'_>) -> Option<Hypothesis> {
    let mut best: Option<Draft> = None;
    for r in &f.resources {
        let bad_state = match r.resource_type.as_str() {
            "ec2_instance" => matches!(
                r.state.as_str(),
                "stopped" | "stopping" | "terminated" | "shutting-down"
            ),
            _ => matches!(
                r.state.as_str(),
                "stopped"
                    | "stopping"
                    | "rebooting"
                    | "failed"
                    | "inaccessible-encryption-credentials"
                    | "incompatible-network"
                    | "incompatible-parameters"
                    | "restore-error"
            ),
        };
        let key = r.resource_id.as_deref().unwrap_or(&r.name);
        // The component check that failed (`StatusCheckFailed_Instance`: the instance's own
        // OS or configuration; `_System`: the AWS host) says more than the aggregate
        // `StatusCheckFailed` (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-system-instance-status-check.html).
        let status = f
            .series
            .iter()
            .filter(|s| {
                s.kind == MetricKind::StatusCheck
                    && s.up()
                    && s.m.dimensions.values().any(|v| v == key)
                    && s.onset()
                        .is_some_and(|o| o >= f.onset - 30 * 60_000 && o <= f.onset + 5 * 60_000)
            })
            .max_by_key(|s| s.m.metric_name.starts_with("StatusCheckFailed_"));
        let lifecycle = f.changes.iter().find(|(c, k)| {
            *k == ChangeKind::Lifecycle && c.resources.iter().any(|x| x == key || *x == r.name)
        });
        if !bad_state && status.is_none() {
            continue;
        }
        let mut d = Draft::new(Category::InstanceFailure);
        let kind = if r.resource_type == "ec2_instance" {
            "EC2 instance"
        } else {
            "RDS instance"
        };
        if let Some(s) = status {
            d.score = 0.6;
            d.cite(&s.m.id, series_fact(f, s));
        }
        if bad_state {
            d.score += if status.is_some() { 0.15 } else { 0.25 };
            d.cite(
                &r.id,
                format!(
                    "{kind} {} is {} ({})",
                    r.name,
                    r.state,
                    r.details.join(", ")
                ),
            );
        }
        match lifecycle {
            Some((c, _)) if proximity(c.at, f.onset) >= 0.7 => {
                d.score += 0.3;
                d.cite(&c.id, change_fact(f, c));
            }
            Some((c, _)) if status.is_none() => {
                // Stopped on purpose long before the onset: not this incident.
                d.score = 0.1;
                d.cite(&c.id, change_fact(f, c));
            }
            _ => {}
        }
        if d.score >= 0.5 {
            if let Some(s) = f.series.iter().find(|s| {
                s.kind == MetricKind::Network
                    && s.down()
                    && s.m.dimensions.values().any(|v| v == key)
            }) {
                d.score += 0.05;
                d.cite(&s.m.id, series_fact(f, s));
            }
            if let Some(e) = f.errors_of(Family::Connectivity).max_by_key(|e| e.t.count) {
                d.score += 0.1;
                d.cite(
                    &e.logs.id,
                    format!("clients cannot reach it: {}", log_fact(e)),
                );
            }
        }
        d.title = match status {
            Some(s) => format!(
                "{kind} {} failed its status checks ({}) and is {}",
                r.name, s.m.metric_name, r.state
            ),
            None => format!("{kind} {} is {}", r.name, r.state),
        };
        d.next_checks.push(format!(
            "Recover or replace {} ({key}); check the AWS Health dashboard for the host",
            r.name
        ));
        if best.as_ref().is_none_or(|b| d.score > b.score) {
            best = Some(d);
        }
    }
    // Events that say an instance or database went away: a Spot interruption, a state change to
    // stopping or terminated, a scheduled retirement, a Multi-AZ failover or reboot, a cache node
    // replaced (the failure-signature table's `InstanceLost` rows).
    let lost = strongest(f, Family::InstanceLost);
    if let Some(e) = lost.first() {
        let line =
            e.t.examples
                .first()
                .map(String::as_str)
                .unwrap_or(&e.t.template);
        let named = f.resources.iter().find(|r| {
            line.contains(&r.name) || r.resource_id.as_deref().is_some_and(|id| line.contains(id))
        });
        let what = match named {
            Some(r) => match &r.resource_id {
                Some(id) if *id != r.name => format!("{} ({id})", r.name),
                _ => r.name.clone(),
            },
            None => owner(f, &e.logs.group),
        };
        let mut score = line_score(f, e, 0.75, 0.4);
        // A database that restarts or recovers after it ran out of disk or memory went away
        // because of that: PostgreSQL's PANIC on a failed WAL write, or the OOM killer, ends
        // the server process and recovery follows
        // (https://www.postgresql.org/docs/current/disk-full.html). The exhaustion is the cause.
        let exhausted = f.errors.iter().any(|x| {
            x.role == Some(Role::Cause)
                && matches!(x.family, Family::StorageFull | Family::OutOfMemory)
                && x.t.first_seen <= e.t.first_seen + 2 * 60_000
                && timing(f, x) >= 1.0
        });
        if exhausted {
            score -= 0.2;
        }
        // Capacity that is lost is replaced unless there is none to be had: when the
        // replacements cannot be placed or launched (Fargate Spot "capacity is unavailable",
        // InsufficientInstanceCapacity), the shortfall is what keeps the service down
        // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html).
        let unreplaced = f.errors.iter().any(|x| {
            x.role == Some(Role::Cause) && x.family == Family::Capacity && timing(f, x) >= 1.0
        }) || f.services.iter().any(|s| {
            s.stopped
                .iter()
                .map(|st| &st.reason)
                .chain(&s.events)
                .any(|r| super::signals::family_of(r).0 == Family::Capacity)
        });
        if unreplaced {
            score -= 0.15;
        }
        match best.as_mut() {
            Some(b) if b.score >= score => {
                b.score += 0.1;
                b.cite(&e.logs.id, log_fact(e));
            }
            _ => {
                let mut d = Draft::new(Category::InstanceFailure);
                d.score = score;
                for e in lost.iter().take(2) {
                    d.cite(&e.logs.id, log_fact(e));
                }
                // What went with it: capacity in service, healthy hosts or status checks.
                if let Some(s) = f.series.iter().find(|s| {
                    s.bad()
                        && matches!(
                            s.kind,
                            MetricKind::Capacity
                                | MetricKind::UnhealthyHosts
                                | MetricKind::StatusCheck
                                | MetricKind::HealthCheck
                        )
                }) {
                    d.score += 0.1;
                    d.cite(&s.m.id, series_fact(f, s));
                }
                d.title = format!("{what} went away: \"{}\"", e.token);
                d.next_checks.push(format!(
                    "Check that {what} (or its replacement) is back and that clients reconnected; spread across zones or instance types if it recurs"
                ));
                best = Some(d);
            }
        }
    }
    best.and_then(|mut d| {
        d.score = d.score.min(0.92);
        d.done()
    })
}

/// What the reader needs besides the cause: the failure as the logs show it. The most frequent
/// error lines that began with the failure (and are not already cited) are added to the leading
/// hypothesis, so the message quotes the error text, the endpoint and the host as logged.
pub fn add_effects(f: &Facts<'_>, h: &mut Hypothesis) {
    if h.category == Category::Unknown {
        return;
    }
    let mut lines: Vec<&ErrorLines<'_>> = f
        .errors
        .iter()
        .filter(|e| timing(f, e) >= 1.0 && e.t.first_seen <= f.frame.alarm.transitioned_at)
        .filter(|e| !h.evidence.iter().any(|c| c.fact.contains(&e.excerpt)))
        .collect();
    lines.sort_by_key(|e| (e.family == Family::Other, std::cmp::Reverse(e.t.count)));
    for e in lines.into_iter().take(2) {
        h.evidence.push(Citation {
            id: e.logs.id.clone(),
            fact: format!("what fails: {}", log_fact(e)),
        });
    }
    // For the causes that are load (more requests, a job, a tenant), the lines that grew when
    // it came say what the load is.
    if matches!(
        h.category,
        Category::TrafficSurge
            | Category::CpuSaturation
            | Category::MemoryExhaustion
            | Category::DbOverload
            | Category::Throttling
            | Category::CapacityShortfall
            | Category::DbStorageFull
    ) {
        for (l, g) in f.grown.iter().take(2) {
            h.evidence.push(Citation {
                id: l.id.clone(),
                fact: grown_fact(l, g),
            });
        }
    }
    add_host_changes(f, h);
}

/// Host changes cited per hypothesis at most.
const MAX_HOST_CHANGES: usize = 2;

/// The changes made on the hosts a hypothesis cites, before the onset, as their logs recorded
/// them (CloudTrail sees none of these): the latest first. A record belongs to a cited host when it
/// is in a cited log group or in a group that shares a stream with one (by the CloudWatch agent's
/// default, a host's streams are named after its instance id in every group it ships).
fn add_host_changes(f: &Facts<'_>, h: &mut Hypothesis) {
    let cited: Vec<&convops_shared::evidence::LogEvidence> = f
        .frame
        .items
        .iter()
        .filter_map(|i| match i {
            convops_shared::evidence::EvidenceItem::Logs(l)
                if h.evidence.iter().any(|c| c.id == l.id) =>
            {
                Some(l)
            }
            _ => None,
        })
        .collect();
    let on_cited_host = |l: &convops_shared::evidence::LogEvidence| {
        cited
            .iter()
            .any(|c| c.id == l.id || c.streams.iter().any(|s| l.streams.contains(s)))
    };
    let mut records: Vec<&super::signals::HostChange<'_>> = f
        .host_changes
        .iter()
        .filter(|r| r.t.first_seen <= f.onset + 2 * 60_000 && on_cited_host(r.logs))
        .collect();
    records.sort_by_key(|r| std::cmp::Reverse(r.t.last_seen.min(f.onset)));
    for r in records.into_iter().take(MAX_HOST_CHANGES) {
        let at = if r.t.count == 1 {
            when(f, r.t.first_seen)
        } else {
            format!("{}× from {}", r.t.count, when(f, r.t.first_seen))
        };
        h.evidence.push(Citation {
            id: r.logs.id.clone(),
            fact: format!(
                "{} {at}: \"{}\" in {}",
                r.kind.describe(),
                r.excerpt,
                r.logs.group
            ),
        });
    }
}

/// `lines that grew 12× from 10:05 UTC (40 before, 1200 after): "…" in GROUP`.
fn grown_fact(
    l: &convops_shared::evidence::LogEvidence,
    g: &convops_shared::evidence::GrownTemplate,
) -> String {
    let example: String = g.example.chars().take(240).collect();
    format!(
        "lines that grew {}× from {} ({} before, {} after): \"{}\" in {}",
        num(g.ratio),
        utc(g.since),
        g.before,
        g.after,
        example,
        l.group
    )
}

/// Below this, the top hypothesis is not confident and `unknown` leads.
pub const CONFIDENT: f64 = 0.45;

pub fn unknown(f: &Facts<'_>, best: f64) -> Hypothesis {
    let mut d = Draft::new(Category::Unknown);
    d.score = (1.0 - best).clamp(0.5, 0.9);
    let a = &f.frame.alarm;
    match &f.alarm_series {
        Some(s) => d.cite(&s.m.id, series_fact(f, s)),
        None => d.cite(
            "alarm",
            format!(
                "{}{} crossed its threshold {}",
                a.metric_name,
                dims(a),
                num(a.threshold)
            ),
        ),
    }
    let mut missing = Vec::new();
    if f.errors.is_empty() {
        missing.push("no error lines in the logs of the resources involved".to_owned());
    }
    if !f
        .changes
        .iter()
        .any(|(c, k)| *k != ChangeKind::Other && proximity(c.at, f.onset) >= 0.5)
    {
        missing.push(
            "no deploy, scaling, access or instance change in the 30 minutes before onset".into(),
        );
    } else {
        missing.push("the changes before onset touch nothing the alarm depends on".into());
    }
    if !f
        .related()
        .any(|s| s.moved && s.onset().is_some_and(|o| o <= f.onset + 5 * 60_000))
    {
        missing.push("no related metric moved before onset".into());
    }
    if !a.namespace.starts_with("AWS/") {
        missing.push(format!(
            "{} is a custom namespace: the agent cannot tell which AWS resources produce it (map its owners' log groups with [logs.groups])",
            a.namespace
        ));
    }
    for s in &f.frame.sources {
        if s.status != convops_shared::evidence::SourceStatus::Ok {
            missing.push(format!(
                "{} could not be read fully: {}",
                s.source,
                s.reason.as_deref().unwrap_or("no reason given")
            ));
        }
    }
    // Lines whose rate changed are not a cause by themselves, but they are where to look.
    for (l, g) in f.grown.iter().take(2) {
        d.cite(&l.id, grown_fact(l, g));
    }
    d.cite("gaps", format!("Not explained: {}", missing.join("; ")));
    d.title = format!(
        "No confident cause for {}{}: the evidence does not show why it moved",
        a.metric_name,
        dims(a)
    );
    d.next_checks.push(format!(
        "Ask the owners of {} what drives it; check the upstream systems that feed it",
        a.metric_name
    ));
    Hypothesis {
        category: Category::Unknown,
        confidence: (d.score * 100.0).round() / 100.0,
        title: d.title,
        evidence: d.evidence,
        next_checks: d.next_checks,
    }
}

fn dims(a: &convops_shared::evidence::AlarmInfo) -> String {
    let parts: Vec<String> = a
        .dimensions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// Every rule, in a fixed order (ties keep this order).
pub const RULES: &[fn(&Facts<'_>) -> Option<Hypothesis>] = &[
    instance_failure,
    access_change,
    memory_exhaustion,
    capacity_shortfall,
    throttling,
    db_storage_full,
    db_overload,
    deploy_regression,
    dependency_failure,
    cpu_saturation,
    traffic_surge,
];
