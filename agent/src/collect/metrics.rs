//! CloudWatch metrics: the alarm's own metric and the related metrics of the resources behind it,
//! read in batches with `GetMetricData`.
//!
//! `cloudwatch:ListMetrics` is not in the read-only list, so related metrics are not discovered:
//! they are named from a catalogue of the metrics AWS publishes for each kind of resource (load
//! balancer target groups, ECS services and clusters, RDS and EC2 instances, SQS queues, DynamoDB
//! tables, Lambda functions), for the resources the alarm names and the ones the other sources
//! found. Series that have no datapoints (a metric the resource does not publish) are dropped.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use convops_shared::evidence::{AlarmInfo, EcsServiceEvidence, MetricEvidence, ResourceEvidence};
use convops_shared::stats;

use crate::aws::{Action, CallError, Clients};
use crate::reduce;

/// A metric to read.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: BTreeMap<String, String>,
    pub statistic: String,
    pub period_secs: u32,
}

impl Query {
    pub fn of_alarm(a: &AlarmInfo) -> Self {
        Query {
            namespace: a.namespace.clone(),
            metric_name: a.metric_name.clone(),
            dimensions: a.dimensions.clone(),
            statistic: a.statistic.clone(),
            period_secs: a.period_secs,
        }
    }

    fn same_series(&self, other: &Query) -> bool {
        self.namespace == other.namespace
            && self.metric_name == other.metric_name
            && self.dimensions == other.dimensions
    }
}

/// Period of related metrics (the alarm's own metric keeps the alarm's period).
const RELATED_PERIOD_SECS: u32 = 60;
/// Queries per `GetMetricData` call (the API allows 500; smaller calls keep pages small).
const BATCH: usize = 100;
/// Related series read per investigation at most.
pub const MAX_RELATED: usize = 400;
/// Resources of one kind whose metrics are read at most.
const MAX_PER_KIND: usize = 12;

/// The catalogue: metric name and statistic per kind of resource.
const TARGET_GROUP: &[(&str, &str)] = &[
    ("RequestCount", "Sum"),
    ("TargetResponseTime", "Average"),
    ("HTTPCode_Target_5XX_Count", "Sum"),
    ("HTTPCode_Target_4XX_Count", "Sum"),
    ("UnHealthyHostCount", "Maximum"),
    ("HealthyHostCount", "Minimum"),
    ("TargetConnectionErrorCount", "Sum"),
];
const LOAD_BALANCER: &[(&str, &str)] = &[
    ("RequestCount", "Sum"),
    ("HTTPCode_ELB_5XX_Count", "Sum"),
    ("HTTPCode_ELB_502_Count", "Sum"),
    ("HTTPCode_ELB_503_Count", "Sum"),
    ("HTTPCode_ELB_504_Count", "Sum"),
    ("TargetConnectionErrorCount", "Sum"),
    ("RejectedConnectionCount", "Sum"),
];
const ECS_SERVICE: &[(&str, &str)] = &[
    ("CPUUtilization", "Average"),
    ("MemoryUtilization", "Average"),
];
const ECS_CLUSTER: &[(&str, &str)] = &[
    ("CPUReservation", "Average"),
    ("MemoryReservation", "Average"),
    ("CPUUtilization", "Average"),
    ("MemoryUtilization", "Average"),
];
const RDS_INSTANCE: &[(&str, &str)] = &[
    ("CPUUtilization", "Average"),
    ("DatabaseConnections", "Average"),
    ("FreeStorageSpace", "Minimum"),
    ("FreeableMemory", "Minimum"),
    ("ReadLatency", "Average"),
    ("WriteLatency", "Average"),
    ("ReadIOPS", "Average"),
    ("WriteIOPS", "Average"),
    ("DiskQueueDepth", "Average"),
];
const EC2_INSTANCE: &[(&str, &str)] = &[
    ("CPUUtilization", "Average"),
    ("StatusCheckFailed", "Maximum"),
    ("StatusCheckFailed_System", "Maximum"),
    ("StatusCheckFailed_Instance", "Maximum"),
    ("NetworkIn", "Sum"),
];
const SQS_QUEUE: &[(&str, &str)] = &[
    ("ApproximateAgeOfOldestMessage", "Maximum"),
    ("ApproximateNumberOfMessagesVisible", "Maximum"),
    ("NumberOfMessagesSent", "Sum"),
    ("NumberOfMessagesReceived", "Sum"),
    ("NumberOfMessagesDeleted", "Sum"),
];
const DYNAMODB_TABLE: &[(&str, &str)] = &[
    ("ConsumedReadCapacityUnits", "Sum"),
    ("ConsumedWriteCapacityUnits", "Sum"),
    ("ProvisionedReadCapacityUnits", "Average"),
    ("ProvisionedWriteCapacityUnits", "Average"),
    ("ReadThrottleEvents", "Sum"),
    ("WriteThrottleEvents", "Sum"),
];
/// `ThrottledRequests` is published per operation.
const DYNAMODB_OPERATIONS: &[&str] = &[
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
];
const LAMBDA_FUNCTION: &[(&str, &str)] = &[
    ("Invocations", "Sum"),
    ("Errors", "Sum"),
    ("Throttles", "Sum"),
    ("Duration", "Average"),
    ("ConcurrentExecutions", "Maximum"),
];

/// What the other sources found, for naming related metrics.
#[derive(Debug, Default)]
pub struct Related<'a> {
    /// ECS services, those behind the alarm first.
    pub services: Vec<&'a EcsServiceEvidence>,
    /// RDS and EC2 instances.
    pub resources: Vec<&'a ResourceEvidence>,
}

/// `targetgroup/NAME/ID` from a target group ARN (or the input when it has no such part).
fn target_group_dimension(arn: &str) -> &str {
    arn.find("targetgroup/").map(|i| &arn[i..]).unwrap_or(arn)
}

/// The series of `catalogue` for one resource (`dims`), at the related-metrics period.
fn catalogue_queries<'c>(
    namespace: &'c str,
    dims: &'c [(&str, &str)],
    catalogue: &'c [(&str, &str)],
) -> impl Iterator<Item = Query> + 'c {
    catalogue.iter().map(move |(metric, stat)| Query {
        namespace: namespace.to_owned(),
        metric_name: (*metric).to_owned(),
        dimensions: dims
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        statistic: (*stat).to_owned(),
        period_secs: RELATED_PERIOD_SECS,
    })
}

/// A DynamoDB table's series: the table's own and `ThrottledRequests` per operation.
fn table_catalogue(table: &str) -> Vec<Query> {
    let mut out: Vec<Query> =
        catalogue_queries("AWS/DynamoDB", &[("TableName", table)], DYNAMODB_TABLE).collect();
    for op in DYNAMODB_OPERATIONS {
        out.extend(catalogue_queries(
            "AWS/DynamoDB",
            &[("TableName", table), ("Operation", op)],
            &[("ThrottledRequests", "Sum")],
        ));
    }
    out
}

/// The series of DynamoDB tables named in logs (`tables`, most mentioned first), except the one
/// the alarm names, whose series [`related_queries`] already has.
pub fn table_queries(alarm: &AlarmInfo, tables: &[String]) -> Vec<Query> {
    let own = alarm.dimensions.get("TableName");
    tables
        .iter()
        .filter(|t| Some(*t) != own)
        .take(MAX_PER_KIND)
        .flat_map(|t| table_catalogue(t))
        .collect()
}

/// The related series for `alarm` and what the other sources found, in priority order (the
/// resources the alarm names first), without the alarm's own series and without duplicates.
pub fn related_queries(alarm: &AlarmInfo, related: &Related<'_>) -> Vec<Query> {
    let mut out: Vec<Query> = Vec::new();
    let d = &alarm.dimensions;
    let lb = d.get("LoadBalancer").map(String::as_str);

    // Resources named in the alarm's dimensions.
    if let Some(lb) = lb {
        out.extend(catalogue_queries(
            "AWS/ApplicationELB",
            &[("LoadBalancer", lb)],
            LOAD_BALANCER,
        ));
        let mut tgs: Vec<&str> = d
            .get("TargetGroup")
            .map(String::as_str)
            .into_iter()
            .collect();
        for s in &related.services {
            if s.serves(d) || d.get("TargetGroup").is_none() {
                tgs.extend(s.target_groups.iter().map(|a| target_group_dimension(a)));
            }
        }
        tgs.dedup();
        for tg in tgs.into_iter().take(MAX_PER_KIND) {
            out.extend(catalogue_queries(
                "AWS/ApplicationELB",
                &[("LoadBalancer", lb), ("TargetGroup", tg)],
                TARGET_GROUP,
            ));
        }
    }
    if let Some(q) = d.get("QueueName") {
        out.extend(catalogue_queries("AWS/SQS", &[("QueueName", q)], SQS_QUEUE));
    }
    if let Some(f) = d.get("FunctionName") {
        out.extend(catalogue_queries(
            "AWS/Lambda",
            &[("FunctionName", f)],
            LAMBDA_FUNCTION,
        ));
    }
    if let Some(t) = d.get("TableName") {
        out.extend(table_catalogue(t));
    }
    if let Some(db) = d.get("DBInstanceIdentifier") {
        out.extend(catalogue_queries(
            "AWS/RDS",
            &[("DBInstanceIdentifier", db)],
            RDS_INSTANCE,
        ));
    }
    if let Some(i) = d.get("InstanceId") {
        out.extend(catalogue_queries(
            "AWS/EC2",
            &[("InstanceId", i)],
            EC2_INSTANCE,
        ));
    }

    // ECS services (behind the alarm first), then their clusters.
    let mut clusters: Vec<&str> = d
        .get("ClusterName")
        .map(String::as_str)
        .into_iter()
        .collect();
    for s in related.services.iter().take(MAX_PER_KIND) {
        out.extend(catalogue_queries(
            "AWS/ECS",
            &[("ClusterName", &s.cluster), ("ServiceName", &s.service)],
            ECS_SERVICE,
        ));
        clusters.push(&s.cluster);
    }
    clusters.sort();
    clusters.dedup();
    for c in clusters.into_iter().take(MAX_PER_KIND) {
        out.extend(catalogue_queries(
            "AWS/ECS",
            &[("ClusterName", c)],
            ECS_CLUSTER,
        ));
    }

    // Database and compute instances found in the account: the ones not in a normal state first.
    let mut resources = related.resources.clone();
    resources.sort_by_key(|r| matches!(r.state.as_str(), "available" | "running"));
    let (mut dbs, mut vms) = (0, 0);
    for r in resources {
        match r.resource_type.as_str() {
            "rds_instance" if dbs < MAX_PER_KIND => {
                dbs += 1;
                out.extend(catalogue_queries(
                    "AWS/RDS",
                    &[("DBInstanceIdentifier", &r.name)],
                    RDS_INSTANCE,
                ));
            }
            "ec2_instance" if vms < MAX_PER_KIND => {
                vms += 1;
                let id = r.resource_id.as_deref().unwrap_or(&r.name);
                out.extend(catalogue_queries(
                    "AWS/EC2",
                    &[("InstanceId", id)],
                    EC2_INSTANCE,
                ));
            }
            _ => {}
        }
    }

    let own = Query::of_alarm(alarm);
    let mut unique: Vec<Query> = Vec::with_capacity(out.len());
    for q in out {
        if !q.same_series(&own) && !unique.iter().any(|u| u.same_series(&q)) {
            unique.push(q);
        }
    }
    unique.truncate(MAX_RELATED);
    unique
}

fn metric_data_query(id: String, q: &Query) -> MetricDataQuery {
    let dims = q
        .dimensions
        .iter()
        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
        .collect::<Vec<_>>();
    let stat = MetricStat::builder()
        .metric(
            Metric::builder()
                .namespace(&q.namespace)
                .metric_name(&q.metric_name)
                .set_dimensions(Some(dims))
                .build(),
        )
        .period(q.period_secs as i32)
        .stat(&q.statistic)
        .build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(stat)
        .return_data(true)
        .build()
}

/// Read `queries` between `start_ms` and `end_ms` in batches, following `NextToken`. Returns one
/// time-ordered series per query, in the same order.
pub async fn read_series(
    clients: &Clients,
    queries: &[Query],
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<Vec<(i64, f64)>>, CallError> {
    let mut series: Vec<Vec<(i64, f64)>> = vec![Vec::new(); queries.len()];
    for (b, batch) in queries.chunks(BATCH).enumerate() {
        let index: HashMap<String, usize> = (0..batch.len())
            .map(|i| (format!("q{i}"), b * BATCH + i))
            .collect();
        let mdq: Vec<MetricDataQuery> = batch
            .iter()
            .enumerate()
            .map(|(i, q)| metric_data_query(format!("q{i}"), q))
            .collect();
        let mut token: Option<String> = None;
        loop {
            let req = clients
                .cloudwatch
                .get_metric_data()
                .set_metric_data_queries(Some(mdq.clone()))
                .start_time(DateTime::from_millis(start_ms))
                .end_time(DateTime::from_millis(end_ms))
                .scan_by(ScanBy::TimestampAscending)
                .set_next_token(token.take());
            let resp = clients
                .call(Action::CloudWatchGetMetricData, || req.clone().send())
                .await?;
            for r in resp.metric_data_results() {
                let Some(&slot) = r.id().and_then(|id| index.get(id)) else {
                    continue;
                };
                for (t, v) in r.timestamps().iter().zip(r.values()) {
                    if let Ok(ms) = t.to_millis() {
                        if v.is_finite() {
                            series[slot].push((ms, *v));
                        }
                    }
                }
            }
            match resp.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
    }
    for points in &mut series {
        points.sort_by_key(|p| p.0);
        points.dedup_by_key(|p| p.0);
    }
    Ok(series)
}

/// Read and summarise `queries`, preceded by the alarm's own series when `with_alarm` (a later
/// stage of the same investigation reads related series only). The alarm's series is kept even
/// when empty; related series without datapoints are dropped. Ids come from `next_id`.
pub async fn collect(
    clients: &Clients,
    alarm: &AlarmInfo,
    with_alarm: bool,
    related: Vec<Query>,
    (lookback_ms, now_ms): (i64, i64),
    next_id: &mut (dyn FnMut() -> String + Send),
) -> Result<Vec<MetricEvidence>, CallError> {
    let queries: Vec<Query> = if with_alarm {
        std::iter::once(Query::of_alarm(alarm))
            .chain(related)
            .collect()
    } else {
        related
    };
    let end = now_ms.max(alarm.transitioned_at);
    let start = alarm.transitioned_at.min(now_ms) - lookback_ms;
    let series = read_series(clients, &queries, start, end).await?;
    let eval_window = alarm.evaluation_window_ms();
    let mut out = Vec::new();
    for (n, (q, points)) in queries.into_iter().zip(series).enumerate() {
        let is_alarm = with_alarm && n == 0;
        if !is_alarm && points.is_empty() {
            continue;
        }
        let summary = reduce::summarise(&points, alarm.transitioned_at, eval_window);
        // Series that did not move keep their summary only: the points would repeat the baseline.
        let keep_points = is_alarm
            || stats::moved(
                summary.baseline,
                summary.baseline_spread,
                summary.current,
                summary.peak,
            );
        out.push(MetricEvidence {
            id: next_id(),
            namespace: q.namespace,
            metric_name: q.metric_name,
            dimensions: q.dimensions,
            statistic: q.statistic,
            period_secs: q.period_secs,
            summary,
            points: if keep_points {
                stats::chart_resolution(stats::downsample(&points, reduce::MAX_POINTS))
            } else {
                Vec::new()
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(dims: &[(&str, &str)]) -> AlarmInfo {
        AlarmInfo {
            name: "a".into(),
            arn: None,
            description: None,
            namespace: "AWS/ApplicationELB".into(),
            metric_name: "HTTPCode_Target_5XX_Count".into(),
            dimensions: dims
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            statistic: "Sum".into(),
            period_secs: 60,
            evaluation_periods: 3,
            threshold: 1.0,
            comparison: "GreaterThanThreshold".into(),
            state: "ALARM".into(),
            state_reason: String::new(),
            state_reason_data: None,
            transitioned_at: 0,
        }
    }

    fn service(name: &str, tg: &str) -> EcsServiceEvidence {
        EcsServiceEvidence {
            id: "e1".into(),
            cluster: "prod".into(),
            service: name.into(),
            task_definition: format!("{name}:1"),
            desired: 2,
            running: 2,
            deployments: vec![],
            target_groups: vec![format!(
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:{tg}"
            )],
            stopped: vec![],
            events: vec![],
        }
    }

    #[test]
    fn load_balancer_alarm_reads_its_target_groups_services_and_clusters() {
        let a = alarm(&[("LoadBalancer", "app/shop/1")]);
        let api = service("api", "targetgroup/api-tg/9");
        let qs = related_queries(
            &a,
            &Related {
                services: vec![&api],
                ..Default::default()
            },
        );
        let has = |ns: &str, m: &str, dim: (&str, &str)| {
            qs.iter().any(|q| {
                q.namespace == ns
                    && q.metric_name == m
                    && q.dimensions.get(dim.0).map(String::as_str) == Some(dim.1)
            })
        };
        assert!(has(
            "AWS/ApplicationELB",
            "RequestCount",
            ("TargetGroup", "targetgroup/api-tg/9")
        ));
        assert!(has(
            "AWS/ApplicationELB",
            "HTTPCode_ELB_5XX_Count",
            ("LoadBalancer", "app/shop/1")
        ));
        assert!(has("AWS/ECS", "MemoryUtilization", ("ServiceName", "api")));
        assert!(has("AWS/ECS", "MemoryReservation", ("ClusterName", "prod")));
        assert!(!qs.iter().any(|q| q.same_series(&Query::of_alarm(&a))));
        let n = qs.len();
        let mut dedup = qs.clone();
        dedup.dedup_by(|x, y| x.same_series(y));
        assert_eq!(dedup.len(), n, "no duplicates");
    }

    #[test]
    fn instances_tables_and_queues_get_their_catalogue() {
        let a = alarm(&[("QueueName", "jobs")]);
        let vm = ResourceEvidence {
            id: "i1".into(),
            resource_type: "ec2_instance".into(),
            name: "cache-01".into(),
            state: "stopped".into(),
            details: vec![],
            resource_id: Some("i-0abc".into()),
        };
        let mut qs = related_queries(
            &a,
            &Related {
                resources: vec![&vm],
                ..Default::default()
            },
        );
        qs.extend(table_queries(&a, &["sessions".into()]));
        let names = |ns: &str| -> Vec<String> {
            qs.iter()
                .filter(|q| q.namespace == ns)
                .map(|q| {
                    format!(
                        "{}:{:?}",
                        q.metric_name,
                        q.dimensions.values().collect::<Vec<_>>()
                    )
                })
                .collect()
        };
        assert!(names("AWS/EC2")
            .iter()
            .any(|n| n == r#"StatusCheckFailed:["i-0abc"]"#));
        assert!(names("AWS/SQS")
            .iter()
            .any(|n| n.starts_with("ApproximateAgeOfOldestMessage")));
        assert!(names("AWS/DynamoDB")
            .iter()
            .any(|n| n == r#"ThrottledRequests:["PutItem", "sessions"]"#));
    }
}
