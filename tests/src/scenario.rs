//! The incident scenario format `convops-scenario/1` (`shared/scenarios/FORMAT.md`): parsing with
//! errors that name the field and the rule broken, and deterministic generation of the data a
//! scenario describes (metric datapoints, log lines) from its seed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "convops-scenario/1";

/// The root-cause vocabulary of FORMAT.md.
pub const CATEGORIES: &[&str] = &[
    "deploy_regression",
    "memory_exhaustion",
    "cpu_saturation",
    "db_overload",
    "db_storage_full",
    "dependency_failure",
    "access_change",
    "capacity_shortfall",
    "throttling",
    "traffic_surge",
    "instance_failure",
    "unknown",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scenario {
    pub format: String,
    pub name: String,
    #[serde(default)]
    pub title: String,
    pub region: String,
    pub seed: u64,
    pub alarm: Alarm,
    #[serde(default)]
    pub metrics: Vec<MetricSeries>,
    #[serde(default)]
    pub logs: Vec<LogGroup>,
    #[serde(default)]
    pub cloudtrail: Vec<TrailEvent>,
    #[serde(default)]
    pub ecs: Vec<EcsCluster>,
    #[serde(default)]
    pub rds: Vec<RdsInstance>,
    #[serde(default)]
    pub ec2: Vec<Ec2Instance>,
    pub expect: Expect,
    /// Where the incident comes from (a public report or an AWS documentation page);
    /// informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alarm {
    pub name: String,
    pub namespace: String,
    pub metric: String,
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    pub statistic: String,
    pub period: i64,
    pub evaluation_periods: i64,
    pub threshold: f64,
    pub comparison: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricSeries {
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    pub from: i64,
    pub to: i64,
    pub step: i64,
    pub baseline: f64,
    #[serde(default)]
    pub jitter: f64,
    #[serde(default)]
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Segment {
    pub from: i64,
    pub to: i64,
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub ramp: Option<[f64; 2]>,
    #[serde(default)]
    pub jitter: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogGroup {
    pub group: String,
    pub stream: String,
    #[serde(default)]
    pub background: Option<Emitter>,
    #[serde(default)]
    pub bursts: Vec<Emitter>,
    #[serde(default)]
    pub lines: Vec<(i64, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Emitter {
    pub from: i64,
    pub to: i64,
    pub every: i64,
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrailEvent {
    pub t: i64,
    pub event_source: String,
    pub event_name: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub resources: Vec<TrailResource>,
    #[serde(default)]
    pub request_parameters: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrailResource {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EcsCluster {
    pub cluster: String,
    #[serde(default)]
    pub services: Vec<EcsService>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EcsService {
    pub name: String,
    pub desired: i64,
    pub task_definitions: Vec<TaskDefinition>,
    #[serde(default)]
    pub stopped_tasks: Vec<StoppedTasks>,
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskDefinition {
    pub family: String,
    pub image: String,
    #[serde(default)]
    pub memory: Option<i64>,
    #[serde(default)]
    pub cpu: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoppedTasks {
    pub count: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub target_group: String,
    #[serde(default)]
    pub container: Option<String>,
    #[serde(default)]
    pub port: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RdsInstance {
    pub id: String,
    pub class: String,
    pub engine: String,
    pub allocated_storage: i64,
    #[serde(default = "available")]
    pub status: String,
}

fn available() -> String {
    "available".into()
}

fn running() -> String {
    "running".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ec2Instance {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default = "running")]
    pub state: String,
    #[serde(default)]
    pub instance_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Expect {
    pub root_cause: String,
    #[serde(default)]
    pub also_acceptable: Vec<String>,
    #[serde(default)]
    pub must_cite: Vec<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
}

/// A scenario file that cannot be used: names the field (as a path) and the rule broken.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: {field}: {rule}")]
pub struct ScenarioError {
    pub file: String,
    pub field: String,
    pub rule: String,
}

pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        field: "(file)".into(),
        rule: format!("cannot be read: {e}"),
    })?;
    parse(&file, &text)
}

pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ScenarioError {
            file: file.to_owned(),
            field: if path == "." {
                "(document)".into()
            } else {
                path
            },
            rule: inner.to_string(),
        }
    })?;
    validate(&scenario).map_err(|(field, rule)| ScenarioError {
        file: file.to_owned(),
        field,
        rule,
    })?;
    Ok(scenario)
}

const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];
const COMPARISONS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
];

fn is_extended_statistic(s: &str) -> bool {
    s.strip_prefix('p')
        .is_some_and(|n| n.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v)))
}

type Invalid = (String, String);

fn need(ok: bool, field: impl Into<String>, rule: impl Into<String>) -> Result<(), Invalid> {
    if ok {
        Ok(())
    } else {
        Err((field.into(), rule.into()))
    }
}

fn non_empty(s: &str, field: impl Into<String>) -> Result<(), Invalid> {
    need(!s.trim().is_empty(), field, "must not be empty")
}

fn range(from: i64, to: i64, field: &str) -> Result<(), Invalid> {
    need(
        from <= to,
        format!("{field}.from"),
        format!("must not be after `to` ({from} > {to})"),
    )?;
    need(
        to <= 7200,
        format!("{field}.to"),
        format!("must be at most 7200 (2 hours ahead), got {to}"),
    )?;
    need(
        from >= -14 * 86400,
        format!("{field}.from"),
        format!("must be within the last 14 days, got {from}"),
    )
}

fn validate(s: &Scenario) -> Result<(), Invalid> {
    need(
        s.format == FORMAT,
        "format",
        format!("must be {FORMAT:?}, got {:?}", s.format),
    )?;
    need(
        !s.name.is_empty()
            && s.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "name",
        format!("must be a slug of a-z, 0-9 and '-', got {:?}", s.name),
    )?;
    non_empty(&s.region, "region")?;
    let a = &s.alarm;
    non_empty(&a.name, "alarm.name")?;
    non_empty(&a.namespace, "alarm.namespace")?;
    non_empty(&a.metric, "alarm.metric")?;
    non_empty(&a.reason, "alarm.reason")?;
    need(
        STATISTICS.contains(&a.statistic.as_str()) || is_extended_statistic(&a.statistic),
        "alarm.statistic",
        format!(
            "must be one of {STATISTICS:?} or a percentile like p99, got {:?}",
            a.statistic
        ),
    )?;
    need(
        a.period >= 10 && (a.period == 10 || a.period == 30 || a.period % 60 == 0),
        "alarm.period",
        format!(
            "must be 10, 30 or a multiple of 60 seconds, got {}",
            a.period
        ),
    )?;
    need(
        a.evaluation_periods >= 1,
        "alarm.evaluation_periods",
        format!("must be at least 1, got {}", a.evaluation_periods),
    )?;
    need(
        COMPARISONS.contains(&a.comparison.as_str()),
        "alarm.comparison",
        format!("must be one of {COMPARISONS:?}, got {:?}", a.comparison),
    )?;
    need(
        s.metrics.iter().any(|m| {
            m.namespace == a.namespace && m.name == a.metric && m.dimensions == a.dimensions
        }),
        "alarm",
        "the alarm's own metric (namespace, metric and dimensions) must also appear in `metrics`",
    )?;
    for (i, m) in s.metrics.iter().enumerate() {
        let f = format!("metrics[{i}]");
        non_empty(&m.namespace, format!("{f}.namespace"))?;
        non_empty(&m.name, format!("{f}.name"))?;
        need(
            m.step > 0,
            format!("{f}.step"),
            format!("must be positive, got {}", m.step),
        )?;
        range(m.from, m.to, &f)?;
        need(
            (m.to - m.from) / m.step.max(1) <= 20_160,
            format!("{f}.step"),
            "more than 20160 datapoints in one series",
        )?;
        need(
            m.jitter >= 0.0,
            format!("{f}.jitter"),
            "must not be negative",
        )?;
        for (j, seg) in m.segments.iter().enumerate() {
            let g = format!("{f}.segments[{j}]");
            need(
                seg.from <= seg.to,
                format!("{g}.from"),
                format!("must not be after `to` ({} > {})", seg.from, seg.to),
            )?;
            need(
                seg.value.is_some() != seg.ramp.is_some(),
                &g,
                "must give exactly one of `value` and `ramp`",
            )?;
            need(
                seg.jitter.unwrap_or(0.0) >= 0.0,
                format!("{g}.jitter"),
                "must not be negative",
            )?;
        }
    }
    for (i, l) in s.logs.iter().enumerate() {
        let f = format!("logs[{i}]");
        need(
            l.group.starts_with('/') || !l.group.is_empty(),
            format!("{f}.group"),
            "must not be empty",
        )?;
        non_empty(&l.stream, format!("{f}.stream"))?;
        need(
            !l.stream.contains(':') && !l.stream.contains('*'),
            format!("{f}.stream"),
            "must not contain ':' or '*'",
        )?;
        let emitters = l
            .background
            .iter()
            .map(|e| ("background".to_owned(), e))
            .chain(
                l.bursts
                    .iter()
                    .enumerate()
                    .map(|(j, e)| (format!("bursts[{j}]"), e)),
            );
        for (name, e) in emitters {
            let g = format!("{f}.{name}");
            range(e.from, e.to, &g)?;
            need(
                e.every > 0,
                format!("{g}.every"),
                format!("must be positive, got {}", e.every),
            )?;
            need(
                !e.lines.is_empty(),
                format!("{g}.lines"),
                "must not be empty",
            )?;
        }
        for (j, (t, _)) in l.lines.iter().enumerate() {
            need(
                (-14 * 86400..=7200).contains(t),
                format!("{f}.lines[{j}][0]"),
                format!("time {t} is outside the last 14 days to 2 hours ahead"),
            )?;
        }
    }
    for (i, e) in s.cloudtrail.iter().enumerate() {
        let f = format!("cloudtrail[{i}]");
        non_empty(&e.event_source, format!("{f}.event_source"))?;
        non_empty(&e.event_name, format!("{f}.event_name"))?;
        need(e.t <= 7200, format!("{f}.t"), "must be at most 7200")?;
    }
    for (i, c) in s.ecs.iter().enumerate() {
        let f = format!("ecs[{i}]");
        non_empty(&c.cluster, format!("{f}.cluster"))?;
        for (j, svc) in c.services.iter().enumerate() {
            let g = format!("{f}.services[{j}]");
            non_empty(&svc.name, format!("{g}.name"))?;
            need(
                (0..=1000).contains(&svc.desired),
                format!("{g}.desired"),
                format!("must be 0 to 1000, got {}", svc.desired),
            )?;
            need(
                !svc.task_definitions.is_empty(),
                format!("{g}.task_definitions"),
                "must list at least one task definition",
            )?;
            for (k, td) in svc.task_definitions.iter().enumerate() {
                non_empty(&td.family, format!("{g}.task_definitions[{k}].family"))?;
                non_empty(&td.image, format!("{g}.task_definitions[{k}].image"))?;
            }
            for (k, st) in svc.stopped_tasks.iter().enumerate() {
                need(
                    (1..=1000).contains(&st.count),
                    format!("{g}.stopped_tasks[{k}].count"),
                    format!("must be 1 to 1000, got {}", st.count),
                )?;
            }
            for (k, lb) in svc.load_balancers.iter().enumerate() {
                need(
                    lb.target_group.starts_with("targetgroup/"),
                    format!("{g}.load_balancers[{k}].target_group"),
                    format!(
                        "must look like targetgroup/NAME/ID, got {:?}",
                        lb.target_group
                    ),
                )?;
            }
        }
    }
    for (i, r) in s.rds.iter().enumerate() {
        let f = format!("rds[{i}]");
        non_empty(&r.id, format!("{f}.id"))?;
        need(
            ["available", "stopped"].contains(&r.status.as_str()),
            format!("{f}.status"),
            format!("must be \"available\" or \"stopped\", got {:?}", r.status),
        )?;
        need(
            r.allocated_storage > 0,
            format!("{f}.allocated_storage"),
            "must be positive",
        )?;
    }
    for (i, e) in s.ec2.iter().enumerate() {
        let f = format!("ec2[{i}]");
        non_empty(&e.name, format!("{f}.name"))?;
        need(
            ["running", "stopped"].contains(&e.state.as_str()),
            format!("{f}.state"),
            format!("must be \"running\" or \"stopped\", got {:?}", e.state),
        )?;
    }
    let x = &s.expect;
    need(
        CATEGORIES.contains(&x.root_cause.as_str()),
        "expect.root_cause",
        format!("must be one of {CATEGORIES:?}, got {:?}", x.root_cause),
    )?;
    for (i, c) in x.also_acceptable.iter().enumerate() {
        need(
            CATEGORIES.contains(&c.as_str()),
            format!("expect.also_acceptable[{i}]"),
            format!("{c:?} is not a root-cause category"),
        )?;
    }
    for (i, c) in x.must_cite.iter().enumerate() {
        non_empty(c, format!("expect.must_cite[{i}]"))?;
    }
    for (i, c) in x.secrets.iter().enumerate() {
        need(
            c.len() >= 4,
            format!("expect.secrets[{i}]"),
            "must be at least 4 characters (shorter strings match by accident)",
        )?;
    }
    Ok(())
}

/// SplitMix64: a tiny PRNG whose output is fixed by its seed forever (unlike library RNGs whose
/// algorithms may change between versions), so a scenario always generates the same data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for one component (`label`) of a scenario with `seed`.
    pub fn new(seed: u64, label: &str) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in label.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(seed ^ h)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[-j, +j]`.
    pub fn jitter(&mut self, j: f64) -> f64 {
        if j <= 0.0 {
            0.0
        } else {
            (self.unit() * 2.0 - 1.0) * j
        }
    }
}

/// The datapoints of a series: `(relative seconds, value)`.
pub fn datapoints(seed: u64, index: usize, m: &MetricSeries) -> Vec<(i64, f64)> {
    let mut rng = Rng::new(seed, &format!("metric:{index}:{}:{}", m.namespace, m.name));
    let mut out = Vec::new();
    let mut t = m.from;
    while t <= m.to {
        let mut v = m.baseline + rng.jitter(m.jitter);
        if let Some(seg) = m.segments.iter().rev().find(|s| s.from <= t && t <= s.to) {
            let base = match (seg.value, seg.ramp) {
                (Some(v), _) => v,
                (None, Some([a, b])) => {
                    let span = (seg.to - seg.from).max(1) as f64;
                    a + (b - a) * (t - seg.from) as f64 / span
                }
                (None, None) => m.baseline,
            };
            v = base + rng.jitter(seg.jitter.unwrap_or(m.jitter));
        }
        out.push((t, v.max(0.0)));
        t += m.step;
    }
    out
}

/// All log events of a group, merged and sorted by time: `(relative seconds, line)`.
pub fn log_events(seed: u64, index: usize, l: &LogGroup) -> Vec<(i64, String)> {
    let mut rng = Rng::new(seed, &format!("logs:{index}:{}:{}", l.group, l.stream));
    let mut out: Vec<(i64, String)> = Vec::new();
    for e in l.background.iter().chain(l.bursts.iter()) {
        let mut t = e.from;
        let mut i = 0usize;
        while t <= e.to {
            out.push((t, fill(&e.lines[i % e.lines.len()], &mut rng)));
            t += e.every;
            i += 1;
        }
    }
    for (t, line) in &l.lines {
        out.push((*t, fill(line, &mut rng)));
    }
    out.sort_by_key(|e| e.0);
    out
}

fn fill(template: &str, rng: &mut Rng) -> String {
    let mut s = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(i) = rest.find("{n}") {
        s.push_str(&rest[..i]);
        s.push_str(&(rng.next_u64() % 10_000).to_string());
        rest = &rest[i + 3..];
    }
    s.push_str(rest);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_public_and_corpus_scenario_parses() {
        let mut dirs = vec![
            (crate::corpus_dir(), 40),
            (crate::workspace_root().join("tests/scenarios-heldout"), 24),
            (
                crate::workspace_root().join("tests/scenarios-heldout-2"),
                24,
            ),
        ];
        dirs.extend(crate::shared_path("scenarios/public").map(|d| (d, 10)));
        for (dir, at_least) in dirs {
            let mut n = 0;
            for e in std::fs::read_dir(&dir).expect("scenario folder") {
                let p = e.expect("entry").path();
                if p.extension().is_some_and(|x| x == "json") {
                    load(&p).unwrap_or_else(|e| panic!("{e}"));
                    n += 1;
                }
            }
            assert!(n >= at_least, "{}: {n}", dir.display());
        }
    }

    fn err_of(mutate: impl Fn(&mut serde_json::Value)) -> String {
        let p = crate::corpus_dir().join("ledger-postgres-multi-az-failover-stale-dns.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json");
        mutate(&mut v);
        parse("x.json", &v.to_string())
            .expect_err("must be invalid")
            .to_string()
    }

    #[test]
    fn errors_name_field_and_rule() {
        let e = err_of(|v| v["alarm"]["period"] = 0.into());
        assert!(
            e.contains("alarm.period") && e.contains("multiple of 60"),
            "{e}"
        );
        let e = err_of(|v| v["metrics"][1]["segments"][0]["ramp"] = serde_json::json!([1, 2]));
        assert!(
            e.contains("metrics[1].segments[0]") && e.contains("exactly one"),
            "{e}"
        );
        let e = err_of(|v| v["metrics"][0]["step"] = "sixty".into());
        assert!(
            e.contains("metrics[0].step") && e.contains("invalid type"),
            "{e}"
        );
        let e = err_of(|v| {
            v.as_object_mut().map(|o| o.remove("alarm"));
        });
        assert!(e.contains("alarm"), "{e}");
        let e = err_of(|v| v["expect"]["root_cause"] = "gremlins".into());
        assert!(
            e.contains("expect.root_cause") && e.contains("gremlins"),
            "{e}"
        );
        let e = err_of(|v| v["format"] = "convops-scenario/2".into());
        assert!(e.starts_with("x.json: format: must be"), "{e}");
        let e = err_of(|v| v["alarm"]["dimensions"]["LoadBalancer"] = "app/other/1".into());
        assert!(
            e.contains("alarm") && e.contains("must also appear in `metrics`"),
            "{e}"
        );
    }

    #[test]
    fn generation_is_deterministic_and_follows_segments() {
        let m = MetricSeries {
            namespace: "N".into(),
            name: "M".into(),
            unit: None,
            dimensions: BTreeMap::new(),
            from: -600,
            to: 0,
            step: 60,
            baseline: 10.0,
            jitter: 1.0,
            segments: vec![
                Segment {
                    from: -300,
                    to: 0,
                    value: Some(90.0),
                    ramp: None,
                    jitter: Some(0.0),
                },
                Segment {
                    from: -120,
                    to: 0,
                    value: None,
                    ramp: Some([0.0, 120.0]),
                    jitter: Some(0.0),
                },
            ],
        };
        let a = datapoints(7, 0, &m);
        assert_eq!(a, datapoints(7, 0, &m));
        assert_ne!(a, datapoints(8, 0, &m));
        assert_eq!(a.len(), 11);
        assert!((9.0..=11.0).contains(&a[0].1));
        assert_eq!(a[6], (-240, 90.0));
        assert_eq!(a[9], (-60, 60.0), "later segments win; ramp is linear");
        let l = LogGroup {
            group: "/g".into(),
            stream: "s".into(),
            background: Some(Emitter {
                from: -10,
                to: 0,
                every: 5,
                lines: vec!["a {n}".into(), "b".into()],
            }),
            bursts: vec![],
            lines: vec![(-7, "fixed".into())],
        };
        let ev = log_events(1, 0, &l);
        assert_eq!(ev.len(), 4);
        assert!(ev.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(ev[0].1.starts_with("a ") && ev[0].1 != "a {n}");
        assert_eq!(ev, log_events(1, 0, &l));
    }
}
