//! The diagnosis rules, category by category, on small hand-built evidence bundles. Each bundle
//! also carries a red herring (an unrelated change, a deploy long before onset, a noisy second
//! metric, an instance stopped on purpose hours ago) that must not win.

use std::collections::BTreeMap;

use convops_control_plane::diagnose::{self, Category, Diagnosis};
use convops_shared::evidence::*;
use convops_shared::protocol::{EvidenceFrame, Trigger};

/// The alarm's transition time; everything is placed in minutes before it.
const T: i64 = 1_800_000_000_000;
const MIN: i64 = 60_000;

fn at(min_before: i64) -> i64 {
    T - min_before * MIN
}

fn dims(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

struct Bundle {
    frame: EvidenceFrame,
    n: usize,
}

impl Bundle {
    /// An alarm on `metric` whose series went from `baseline` to `current` `onset` minutes
    /// before the alarm.
    fn alarm(
        namespace: &str,
        metric: &str,
        d: &[(&str, &str)],
        baseline: f64,
        current: f64,
        onset: i64,
    ) -> Self {
        let mut b = Bundle {
            frame: EvidenceFrame {
                seq: 1,
                investigation_id: "inv-test".into(),
                trigger: Trigger::Alarm,
                alarm: AlarmInfo {
                    name: "the-alarm".into(),
                    arn: None,
                    description: None,
                    namespace: namespace.into(),
                    metric_name: metric.into(),
                    dimensions: dims(d),
                    statistic: "Sum".into(),
                    period_secs: 60,
                    evaluation_periods: 3,
                    threshold: (baseline + current) / 2.0,
                    comparison: "GreaterThanThreshold".into(),
                    state: "ALARM".into(),
                    state_reason: "Threshold Crossed".into(),
                    state_reason_data: None,
                    transitioned_at: T,
                },
                started_at: T + 5_000,
                finished_at: T + 6_000,
                items: Vec::new(),
                sources: Vec::new(),
                raw_bytes: 1,
                omitted: Vec::new(),
            },
            n: 0,
        };
        b.metric(namespace, metric, d, baseline, current, Some(onset));
        b
    }

    fn id(&mut self, prefix: &str) -> String {
        self.n += 1;
        format!("{prefix}{}", self.n)
    }

    fn metric(
        &mut self,
        namespace: &str,
        metric: &str,
        d: &[(&str, &str)],
        baseline: f64,
        current: f64,
        onset: Option<i64>,
    ) -> String {
        let id = self.id("m");
        let spread = (baseline.abs() * 0.02).max(0.01);
        self.frame.items.push(EvidenceItem::Metric(MetricEvidence {
            id: id.clone(),
            namespace: namespace.into(),
            metric_name: metric.into(),
            dimensions: dims(d),
            statistic: "Average".into(),
            period_secs: 60,
            summary: MetricSummary {
                datapoints: 180,
                baseline: Some(baseline),
                baseline_spread: Some(spread),
                current: Some(current),
                peak: Some(if current > baseline {
                    current * 1.05
                } else {
                    current
                }),
                onset_at: onset.map(at),
            },
            points: vec![],
        }));
        id
    }

    /// `lines`: (example line, count, first seen minutes before the alarm).
    fn logs(&mut self, group: &str, lines: &[(&str, u64, i64)]) -> String {
        let id = self.id("l");
        self.frame.items.push(EvidenceItem::Logs(LogEvidence {
            id: id.clone(),
            group: group.into(),
            lines_read: 1000,
            lines_matched: lines.iter().map(|l| l.1).sum(),
            templates: lines
                .iter()
                .map(|(line, count, first)| LogTemplate {
                    template: (*line).into(),
                    count: *count,
                    first_seen: at(*first),
                    last_seen: T,
                    examples: vec![(*line).into()],
                })
                .collect(),
            context: vec![],
            grew: vec![],
            streams: vec![],
            changes: vec![],
        }));
        id
    }

    /// The streams of log group `id` and the change records it holds: (line, minutes before
    /// the alarm), each seen once.
    fn host(&mut self, id: &str, streams: &[&str], records: &[(&str, i64)]) {
        for item in &mut self.frame.items {
            if let EvidenceItem::Logs(l) = item {
                if l.id == id {
                    l.streams = streams.iter().map(|s| (*s).to_owned()).collect();
                    l.changes = records
                        .iter()
                        .map(|(line, min_before)| LogTemplate {
                            template: (*line).into(),
                            count: 1,
                            first_seen: at(*min_before),
                            last_seen: at(*min_before),
                            examples: vec![(*line).into()],
                        })
                        .collect();
                }
            }
        }
    }

    fn change(
        &mut self,
        event: &str,
        resources: &[&str],
        actor: &str,
        min_before: i64,
        params: &str,
    ) -> String {
        let id = self.id("c");
        self.frame.items.push(EvidenceItem::Change(ChangeEvidence {
            id: id.clone(),
            at: at(min_before),
            event_source: "test.amazonaws.com".into(),
            event_name: event.into(),
            actor: actor.into(),
            resources: resources.iter().map(|r| (*r).to_owned()).collect(),
            parameters: (!params.is_empty()).then(|| params.to_owned()),
        }));
        id
    }

    fn service(
        &mut self,
        name: &str,
        task_definition: &str,
        tg: Option<&str>,
        stopped: &[(&str, u32)],
        events: &[&str],
    ) -> String {
        let id = self.id("e");
        self.frame
            .items
            .push(EvidenceItem::EcsService(EcsServiceEvidence {
                id: id.clone(),
                cluster: "prod".into(),
                service: name.into(),
                task_definition: task_definition.into(),
                desired: 4,
                running: 4,
                deployments: vec![],
                target_groups: tg
                    .map(|t| {
                        vec![format!(
                            "arn:aws:elasticloadbalancing:eu-west-1:[aws_account_id:1a2b]:{t}"
                        )]
                    })
                    .unwrap_or_default(),
                stopped: stopped
                    .iter()
                    .map(|(reason, count)| StoppedTasks {
                        reason: (*reason).into(),
                        count: *count,
                        task_definition: Some(task_definition.into()),
                        last_stopped_at: None,
                    })
                    .collect(),
                events: events.iter().map(|e| (*e).to_owned()).collect(),
            }));
        id
    }

    fn resource(
        &mut self,
        kind: &str,
        name: &str,
        state: &str,
        resource_id: Option<&str>,
    ) -> String {
        let id = self.id(if kind == "rds_instance" { "r" } else { "i" });
        self.frame
            .items
            .push(EvidenceItem::Resource(ResourceEvidence {
                id: id.clone(),
                resource_type: kind.into(),
                name: name.into(),
                state: state.into(),
                details: vec![],
                resource_id: resource_id.map(str::to_owned),
            }));
        id
    }

    fn diagnose(&self) -> Diagnosis {
        let d = diagnose::diagnose(&self.frame);
        // Every citation points at evidence the reader can open.
        let ids: Vec<&str> = self.frame.items.iter().map(|i| i.id()).collect();
        for h in &d.hypotheses {
            assert!(!h.evidence.is_empty(), "{:?} cites nothing", h.category);
            for c in &h.evidence {
                assert!(
                    ids.contains(&c.id.as_str()) || ["alarm", "gaps"].contains(&c.id.as_str()),
                    "{:?} cites unknown evidence {}",
                    h.category,
                    c.id
                );
            }
        }
        assert_eq!(d, diagnose::diagnose(&self.frame), "deterministic");
        d
    }
}

const TG: &str = "targetgroup/api-tg/0123456789abcdef";
const LB: &str = "app/prod-alb/0123456789abcdef";

fn alb_5xx(onset: i64) -> Bundle {
    Bundle::alarm(
        "AWS/ApplicationELB",
        "HTTPCode_Target_5XX_Count",
        &[("LoadBalancer", LB), ("TargetGroup", TG)],
        0.5,
        60.0,
        onset,
    )
}

fn top(d: &Diagnosis) -> Category {
    d.hypotheses.first().expect("a hypothesis").category
}

fn text(d: &Diagnosis) -> String {
    diagnose::render_text(d, "https://cp.example/incidents/1")
}

#[test]
fn deploy_regression_beats_an_unrelated_access_grant() {
    let mut b = alb_5xx(20);
    b.service("api", "api:7", Some(TG), &[], &[]);
    b.service("reports", "reports:2", None, &[], &[]);
    b.change(
        "UpdateService",
        &["api"],
        "ci-bot",
        22,
        r#"{"cluster":"prod","service":"api","taskDefinition":"api:7"}"#,
    );
    b.change(
        "RegisterTaskDefinition",
        &["api:7"],
        "ci-bot",
        23,
        r#"{"family":"api"}"#,
    );
    // Red herrings: access widened just before onset, another service deployed hours ago.
    b.change("AttachRolePolicy", &["exporter-role"], "p.admin", 24, "");
    b.change(
        "UpdateService",
        &["reports"],
        "ci-bot",
        160,
        r#"{"taskDefinition":"reports:2"}"#,
    );
    b.logs(
        "/ecs/api",
        &[(
            "TypeError: Cannot read properties of undefined (reading 'total')",
            300,
            20,
        )],
    );
    let d = b.diagnose();
    assert_eq!(top(&d), Category::DeployRegression, "{}", text(&d));
    let t = text(&d);
    assert!(t.contains("api:7") && t.contains("TypeError"), "{t}");
    assert!(
        !d.hypotheses
            .iter()
            .any(|h| h.category == Category::AccessChange),
        "granting access blocks nothing"
    );
}

#[test]
fn a_function_deploy_followed_by_new_errors_is_a_deploy_regression() {
    let mut b = Bundle::alarm(
        "AWS/Lambda",
        "Errors",
        &[("FunctionName", "thumbnailer")],
        0.0,
        40.0,
        8,
    );
    b.change(
        "UpdateFunctionCode",
        &["thumbnailer"],
        "ci",
        9,
        r#"{"functionName":"thumbnailer"}"#,
    );
    // A red herring: a tag change just before, and an old deploy of something else.
    b.change("TagResource", &["thumbnailer"], "ops", 10, "");
    b.change("UpdateFunctionCode", &["mailer"], "ci", 200, "");
    b.logs(
        "/aws/lambda/thumbnailer",
        &[(
            "[ERROR] AttributeError: 'NoneType' object has no attribute 'width'",
            60,
            8,
        )],
    );
    let d = b.diagnose();
    assert_eq!(top(&d), Category::DeployRegression, "{}", text(&d));
    let t = text(&d);
    assert!(
        t.contains("thumbnailer") && t.contains("AttributeError"),
        "{t}"
    );
}

#[test]
fn a_deploy_long_before_onset_does_not_explain_db_saturation() {
    let mut b = alb_5xx(25);
    b.service("api", "api:3", Some(TG), &[], &[]);
    b.resource("rds_instance", "orders-db", "available", None);
    b.metric(
        "AWS/RDS",
        "DatabaseConnections",
        &[("DBInstanceIdentifier", "orders-db")],
        100.0,
        400.0,
        Some(27),
    );
    b.change(
        "UpdateService",
        &["api"],
        "ci-bot",
        150,
        r#"{"taskDefinition":"api:3"}"#,
    );
    b.change(
        "UpdateService",
        &["batch-worker"],
        "j.doe",
        28,
        r#"{"service":"batch-worker","desiredCount":20}"#,
    );
    b.logs("/ecs/api", &[("FATAL: sorry, too many clients already (host=orders-db.abc.eu-west-1.rds.amazonaws.com)", 120, 25)]);
    let d = b.diagnose();
    assert_eq!(top(&d), Category::DbOverload, "{}", text(&d));
    let t = text(&d);
    assert!(
        t.contains("orders-db") && t.contains("batch-worker"),
        "names the database and the load: {t}"
    );
    let deploy = d
        .hypotheses
        .iter()
        .find(|h| h.category == Category::DeployRegression);
    assert!(deploy.is_none_or(|h| h.confidence < 0.3), "{deploy:?}");
}

#[test]
fn out_of_memory_kills_beat_a_noisy_second_metric() {
    let mut b = Bundle::alarm(
        "AWS/ApplicationELB",
        "HTTPCode_ELB_502_Count",
        &[("LoadBalancer", LB)],
        0.0,
        40.0,
        30,
    );
    b.service(
        "cart",
        "cart:12",
        None,
        &[("OutOfMemoryError: Container killed due to memory usage", 9)],
        &[],
    );
    b.metric(
        "AWS/ECS",
        "MemoryUtilization",
        &[("ClusterName", "prod"), ("ServiceName", "cart")],
        40.0,
        99.0,
        Some(35),
    );
    // Noise: another service's CPU wobbles up a little.
    b.metric(
        "AWS/ECS",
        "CPUUtilization",
        &[("ClusterName", "prod"), ("ServiceName", "search")],
        40.0,
        55.0,
        Some(31),
    );
    let d = b.diagnose();
    assert_eq!(top(&d), Category::MemoryExhaustion, "{}", text(&d));
    assert!(text(&d).contains("cart:12"));
    assert!(!d
        .hypotheses
        .iter()
        .any(|h| h.category == Category::CpuSaturation));
}

#[test]
fn cpu_pegged_without_more_traffic_is_cpu_saturation() {
    let mut b = Bundle::alarm(
        "AWS/ApplicationELB",
        "TargetResponseTime",
        &[("LoadBalancer", LB), ("TargetGroup", TG)],
        0.1,
        2.5,
        15,
    );
    b.service("api", "api:3", Some(TG), &[], &[]);
    b.metric(
        "AWS/ECS",
        "CPUUtilization",
        &[("ClusterName", "prod"), ("ServiceName", "api")],
        35.0,
        98.0,
        Some(16),
    );
    b.metric(
        "AWS/ApplicationELB",
        "RequestCount",
        &[("LoadBalancer", LB), ("TargetGroup", TG)],
        2000.0,
        2050.0,
        None,
    );
    b.change("PutRetentionPolicy", &["/ecs/api"], "ops", 14, "");
    let d = b.diagnose();
    assert_eq!(top(&d), Category::CpuSaturation, "{}", text(&d));
}

#[test]
fn storage_running_out_is_db_storage_full_not_the_parameter_change_elsewhere() {
    let mut b = alb_5xx(10);
    b.resource("rds_instance", "ledger-db", "available", None);
    b.metric(
        "AWS/RDS",
        "FreeStorageSpace",
        &[("DBInstanceIdentifier", "ledger-db")],
        50e9,
        0.4e9,
        Some(40),
    );
    b.change(
        "ModifyDBParameterGroup",
        &["analytics-pg"],
        "d.silva",
        12,
        "",
    );
    b.logs(
        "/ecs/ledger",
        &[(
            "ERROR: could not extend file \"base/16384/2619\": No space left on device",
            80,
            10,
        )],
    );
    let d = b.diagnose();
    assert_eq!(top(&d), Category::DbStorageFull, "{}", text(&d));
    assert!(text(&d).contains("ledger-db"));
}

#[test]
fn timeouts_to_an_external_host_are_a_dependency_failure_despite_an_ingress_grant() {
    let mut b = alb_5xx(20);
    b.service("checkout", "checkout:4", Some(TG), &[], &[]);
    b.change(
        "AuthorizeSecurityGroupIngress",
        &["sg-0123"],
        "helpdesk",
        22,
        "",
    );
    b.logs(
        "/ecs/checkout",
        &[
            ("POST https://api.vendor.example/v1/pay failed after 10001 ms: java.net.SocketTimeoutException: Read timed out", 200, 20),
            ("WARN circuit breaker 'vendor' is OPEN", 50, 18),
        ],
    );
    let d = b.diagnose();
    assert_eq!(top(&d), Category::DependencyFailure, "{}", text(&d));
    let t = text(&d);
    assert!(
        t.contains("api.vendor.example") && t.contains("SocketTimeoutException"),
        "{t}"
    );
}

#[test]
fn a_revoked_rule_just_before_connection_failures_is_an_access_change() {
    let mut b = Bundle::alarm(
        "AWS/ApplicationELB",
        "TargetResponseTime",
        &[("LoadBalancer", LB), ("TargetGroup", TG)],
        0.1,
        9.0,
        10,
    );
    b.service("payments", "payments:5", Some(TG), &[], &[]);
    b.resource("rds_instance", "pay-db", "available", None);
    b.metric(
        "AWS/RDS",
        "DatabaseConnections",
        &[("DBInstanceIdentifier", "pay-db")],
        60.0,
        2.0,
        Some(11),
    );
    b.change("RevokeSecurityGroupEgress", &["sg-0abc"], "t.net", 12, "");
    b.change(
        "UpdateService",
        &["payments"],
        "ci",
        95,
        r#"{"taskDefinition":"payments:5"}"#,
    );
    b.logs("/ecs/payments", &[("dial tcp 10.0.3.4:5432: connect: connection refused host=pay-db.xyz.eu-west-1.rds.amazonaws.com", 90, 11)]);
    let d = b.diagnose();
    assert_eq!(top(&d), Category::AccessChange, "{}", text(&d));
    let t = text(&d);
    assert!(
        t.contains("RevokeSecurityGroupEgress") && t.contains("sg-0abc") && t.contains("pay-db"),
        "{t}"
    );
}

#[test]
fn placement_failures_are_a_capacity_shortfall_even_with_more_traffic() {
    let mut b = Bundle::alarm(
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        &[("QueueName", "jobs")],
        30.0,
        1500.0,
        40,
    );
    b.service(
        "worker",
        "worker:9",
        None,
        &[],
        &["(service worker) was unable to place a task because no container instance met all of its requirements. The closest matching container-instance has insufficient memory available."],
    );
    b.metric(
        "AWS/ECS",
        "MemoryReservation",
        &[("ClusterName", "prod")],
        70.0,
        97.0,
        Some(41),
    );
    b.metric(
        "AWS/SQS",
        "NumberOfMessagesSent",
        &[("QueueName", "jobs")],
        1000.0,
        1700.0,
        Some(45),
    );
    b.change(
        "UpdateAutoScalingGroup",
        &["prod-asg"],
        "finops",
        170,
        r#"{"maxSize":4}"#,
    );
    let d = b.diagnose();
    assert_eq!(top(&d), Category::CapacityShortfall, "{}", text(&d));
    assert!(text(&d).contains("worker"));
    let surge = d
        .hypotheses
        .iter()
        .find(|h| h.category == Category::TrafficSurge);
    assert!(surge.is_none_or(|h| h.confidence < 0.45), "{surge:?}");
}

#[test]
fn throttled_function_is_throttling_not_the_noisy_latency_elsewhere() {
    let mut b = Bundle::alarm(
        "AWS/Lambda",
        "Errors",
        &[("FunctionName", "resize")],
        0.0,
        80.0,
        12,
    );
    b.metric(
        "AWS/Lambda",
        "Throttles",
        &[("FunctionName", "resize")],
        0.0,
        300.0,
        Some(12),
    );
    b.metric(
        "AWS/ApplicationELB",
        "TargetResponseTime",
        &[("LoadBalancer", LB), ("TargetGroup", "targetgroup/other/1")],
        0.2,
        0.4,
        Some(60),
    );
    b.change("RunTask", &["backfill:3"], "scheduler", 13, "");
    b.logs(
        "/aws/lambda/resize",
        &[("ERROR TooManyRequestsException: Rate exceeded", 80, 12)],
    );
    let d = b.diagnose();
    assert_eq!(top(&d), Category::Throttling, "{}", text(&d));
    let t = text(&d);
    assert!(
        t.contains("resize") && t.contains("backfill:3"),
        "names the resource and the load: {t}"
    );
}

#[test]
fn more_requests_with_no_fault_is_a_traffic_surge_not_an_old_deploy() {
    let mut b = Bundle::alarm(
        "AWS/ApplicationELB",
        "TargetResponseTime",
        &[("LoadBalancer", LB), ("TargetGroup", TG)],
        0.15,
        0.9,
        25,
    );
    b.service("web", "web:3", Some(TG), &[], &[]);
    b.metric(
        "AWS/ApplicationELB",
        "RequestCount",
        &[("LoadBalancer", LB), ("TargetGroup", TG)],
        5000.0,
        16000.0,
        Some(27),
    );
    b.metric(
        "AWS/ECS",
        "CPUUtilization",
        &[("ClusterName", "prod"), ("ServiceName", "web")],
        38.0,
        84.0,
        Some(26),
    );
    b.change(
        "UpdateService",
        &["web"],
        "ci",
        140,
        r#"{"taskDefinition":"web:3"}"#,
    );
    b.change(
        "UpdateService",
        &["web"],
        "autoscaling",
        20,
        r#"{"desiredCount":24}"#,
    );
    let d = b.diagnose();
    assert_eq!(top(&d), Category::TrafficSurge, "{}", text(&d));
    let t = text(&d);
    assert!(t.contains("web") && t.contains("RequestCount"), "{t}");
}

#[test]
fn a_failed_instance_beats_one_stopped_on_purpose_hours_ago() {
    let mut b = Bundle::alarm(
        "AWS/ApplicationELB",
        "TargetResponseTime",
        &[("LoadBalancer", LB), ("TargetGroup", TG)],
        0.03,
        1.7,
        20,
    );
    b.resource("ec2_instance", "queue-broker-2", "running", Some("i-0aaa"));
    b.metric(
        "AWS/EC2",
        "StatusCheckFailed_System",
        &[("InstanceId", "i-0aaa")],
        0.0,
        1.0,
        Some(21),
    );
    b.resource("ec2_instance", "build-box", "stopped", Some("i-0bbb"));
    b.change("StopInstances", &["i-0bbb"], "j.wolf", 200, "");
    b.logs(
        "/ecs/api",
        &[("amqp connect to 10.0.1.9:5672 failed: i/o timeout", 70, 19)],
    );
    let d = b.diagnose();
    assert_eq!(top(&d), Category::InstanceFailure, "{}", text(&d));
    let t = text(&d);
    assert!(
        t.contains("queue-broker-2") && t.contains("StatusCheckFailed"),
        "{t}"
    );
    assert!(!d.hypotheses[0].title.contains("build-box"));
}

#[test]
fn nothing_explaining_a_custom_metric_is_unknown_and_says_what_is_missing() {
    let mut b = Bundle::alarm(
        "Acme/Orders",
        "Backlog",
        &[("Region", "EU-2")],
        100.0,
        900.0,
        80,
    );
    // A deploy of an unrelated service after the rise began, and a tag change.
    b.service("labels", "labels:3", None, &[], &[]);
    b.change(
        "UpdateService",
        &["labels"],
        "ci",
        60,
        r#"{"taskDefinition":"labels:3"}"#,
    );
    b.change("CreateTags", &["i-0ccc"], "ops", 10, "");
    let d = b.diagnose();
    assert_eq!(top(&d), Category::Unknown, "{}", text(&d));
    let t = text(&d);
    assert!(
        t.contains("Backlog") && t.contains("EU-2"),
        "names the metric: {t}"
    );
    assert!(
        t.contains("custom namespace") && t.contains("no error lines"),
        "says what is missing: {t}"
    );
}

#[test]
fn evidence_of_nothing_at_all_is_unknown() {
    let b = alb_5xx(5);
    let d = b.diagnose();
    assert_eq!(top(&d), Category::Unknown);
    assert_eq!(d.hypotheses.len(), 1);
}

/// A host's own log says what changed on it (a job started, a configuration reloaded): the leading
/// hypothesis quotes it, the host is named by the stream its lines came from, and a record on
/// another host, or one written after the onset, is not cited.
#[test]
fn changes_recorded_on_the_failing_host_are_quoted_and_the_host_is_named_by_its_stream() {
    let mut b = Bundle::alarm(
        "CWAgent",
        "mem_used_percent",
        &[("InstanceId", "i-0aaa1111bbbb2222c")],
        60.0,
        98.0,
        40,
    );
    // Two instances whose names share the group's path segment: the stream decides.
    b.resource(
        "ec2_instance",
        "reports-app-1",
        "running",
        Some("i-0aaa1111bbbb2222c"),
    );
    b.resource(
        "ec2_instance",
        "reports-app-2",
        "running",
        Some("i-0ddd3333eeee4444f"),
    );
    // Both hosts' series moved, so that is no tie-break either.
    b.metric(
        "AWS/EC2",
        "CPUUtilization",
        &[("InstanceId", "i-0ddd3333eeee4444f")],
        20.0,
        60.0,
        Some(30),
    );
    let messages = b.logs(
        "/ec2/reports-app/messages",
        &[(
            // No host name in the line: only the stream says which host wrote it.
            "kernel: Out of memory: Killed process 2841 (java) total-vm:7368044kB, anon-rss:5205768kB",
            4,
            10,
        )],
    );
    let job = "reports-app-1 CROND[19020]: (exporter) CMD (/opt/exports/monthly.py --full)";
    let later = r#"[901]:LOG:  parameter "work_mem" changed to "64MB""#;
    let elsewhere = "reports-app-2 CROND[7001]: (root) CMD (/usr/local/bin/cleanup.sh)";
    b.host(
        &messages,
        &["i-0aaa1111bbbb2222c"],
        &[(later, 5), (job, 41)],
    );
    let other = b.logs("/ec2/reports-app-2/messages", &[]);
    b.host(&other, &["i-0ddd3333eeee4444f"], &[(elsewhere, 30)]);
    let d = b.diagnose();
    let t = text(&d);
    assert_eq!(top(&d), Category::MemoryExhaustion, "{t}");
    let lead = &d.hypotheses[0];
    assert!(
        lead.title.contains("reports-app-1 (i-0aaa1111bbbb2222c)"),
        "{t}"
    );
    assert!(
        lead.evidence.iter().any(|c| c.id == messages
            && c.fact.contains("job started on the host")
            && c.fact.contains("monthly.py")),
        "{t}"
    );
    assert!(
        !t.contains("work_mem"),
        "a change after the onset is no cause: {t}"
    );
    assert!(
        !t.contains("cleanup.sh"),
        "another host's job is not this one's: {t}"
    );
}
