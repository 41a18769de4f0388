//! CloudWatch metrics: the alarm's own metric and the related metrics of the resources behind it,
//! read in batches with `GetMetricData`.
//!
//! `cloudwatch:ListMetrics` is not in the read-only list, so related metrics are not discovered:
//! they are named from the catalogue of the metrics AWS publishes for each kind of resource
//! (`convops_shared::catalogue`, with the documentation page of each table): every metric of the
//! resource the alarm watches, whatever its kind, and of the resources the alarm's dimensions and
//! the other sources name (load balancers and target groups, ECS services, Container Insights and
//! clusters, RDS and EC2 instances with the CloudWatch agent's host metrics, Lambda functions and
//! the account's concurrency, DynamoDB tables named in logs). Series that have no datapoints (a
//! metric the resource does not publish) are dropped.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use convops_shared::catalogue::{self, kind_by_id as kind, ResourceKind};
use convops_shared::evidence::{
    AlarmInfo, ChangeEvidence, EcsServiceEvidence, MetricEvidence, ResourceEvidence,
};
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
pub const MAX_RELATED: usize = 500;
/// Resources of one kind whose metrics are read at most.
const MAX_PER_KIND: usize = 12;

/// What the other sources found, for naming related metrics.
#[derive(Debug, Default)]
pub struct Related<'a> {
    /// ECS services, those behind the alarm first.
    pub services: Vec<&'a EcsServiceEvidence>,
    /// RDS and EC2 instances.
    pub resources: Vec<&'a ResourceEvidence>,
    /// DynamoDB global secondary indexes as `(table, index)`, from the changes in the window
    /// ([`indexes_in_changes`]): without `dynamodb:DescribeTable` or `cloudwatch:ListMetrics`,
    /// the changes that create, resize or scale an index are where its name is found.
    pub indexes: Vec<(String, String)>,
}

/// The DynamoDB global secondary indexes the changes name, as `(table, index)`, in order of first
/// mention: `UpdateTable` / `CreateTable` requests (`tableName` with `indexName` under
/// `globalSecondaryIndexUpdates` or `globalSecondaryIndexes`:
/// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html), and
/// Application Auto Scaling targets and policies whose resource id is `table/T/index/I`
/// (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html).
pub fn indexes_in_changes<'a>(
    changes: impl IntoIterator<Item = &'a ChangeEvidence>,
) -> Vec<(String, String)> {
    fn index_names(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("indexName", serde_json::Value::String(n)) => out.push(n.clone()),
                        // Local indexes publish no series of their own; a deleted index none.
                        ("localSecondaryIndexes" | "delete", _) => {}
                        _ => index_names(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| index_names(v, out)),
            _ => {}
        }
    }
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |t: &str, i: &str| {
        let pair = (t.to_owned(), i.to_owned());
        if !t.is_empty() && !i.is_empty() && !out.contains(&pair) {
            out.push(pair);
        }
    };
    for c in changes {
        let Some(params) = c
            .parameters
            .as_deref()
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        else {
            continue;
        };
        if let Some(rid) = params.get("resourceId").and_then(|v| v.as_str()) {
            if let ["table", t, "index", i] = rid.split('/').collect::<Vec<_>>().as_slice() {
                push(t, i);
            }
        }
        if c.event_source == "dynamodb.amazonaws.com" {
            // The table by name or by ARN (`arn:aws:dynamodb:…:table/NAME`).
            let table = params
                .get("tableName")
                .and_then(|v| v.as_str())
                .map(|t| t.rsplit_once(":table/").map_or(t, |(_, name)| name));
            if let Some(t) = table {
                let mut names = Vec::new();
                index_names(&params, &mut names);
                for i in names {
                    push(t, &i);
                }
            }
        }
    }
    out
}

/// `targetgroup/NAME/ID` from a target group ARN (or the input when it has no such part).
fn target_group_dimension(arn: &str) -> &str {
    arn.find("targetgroup/").map(|i| &arn[i..]).unwrap_or(arn)
}

/// Every metric of `kind` for the resource whose dimension values are `values` (in the kind's
/// dimension order), at the related-metrics period.
fn kind_queries(kind: Option<&ResourceKind>, values: &[&str]) -> Vec<Query> {
    let Some(k) = kind else {
        return Vec::new();
    };
    if k.dimensions.len() != values.len() {
        return Vec::new();
    }
    let dims: BTreeMap<String, String> = k
        .dimensions
        .iter()
        .zip(values)
        .map(|(d, v)| ((*d).to_owned(), (*v).to_owned()))
        .collect();
    k.metrics
        .iter()
        .map(|m| Query {
            namespace: k.namespace.to_owned(),
            metric_name: m.name.to_owned(),
            dimensions: dims.clone(),
            statistic: m.stat.to_owned(),
            period_secs: RELATED_PERIOD_SECS,
        })
        .collect()
}

/// The kinds whose dimensions the alarm has (the most specific first), with the alarm's values for
/// them: the other metrics of the resource the alarm watches, whatever kind it is. Kinds of the
/// alarm's namespace when it has one; otherwise (a custom namespace that reuses AWS's dimension
/// names, as `InstanceId` or `FunctionName`) kinds of any namespace.
fn own_resource_queries(alarm: &AlarmInfo) -> Vec<Query> {
    let fits = |k: &&ResourceKind| {
        !k.dimensions.is_empty()
            && k.dimensions
                .iter()
                .all(|d| alarm.dimensions.contains_key(*d))
    };
    let mut kinds: Vec<&ResourceKind> = catalogue::KINDS
        .iter()
        .filter(|k| k.namespace == alarm.namespace)
        .filter(fits)
        .collect();
    if kinds.is_empty() {
        kinds = catalogue::KINDS.iter().filter(fits).collect();
    }
    kinds.sort_by_key(|k| std::cmp::Reverse(k.dimensions.len()));
    let mut out = Vec::new();
    for k in kinds {
        let values: Vec<&str> = k
            .dimensions
            .iter()
            .filter_map(|d| alarm.dimensions.get(*d).map(String::as_str))
            .collect();
        out.extend(kind_queries(Some(k), &values));
    }
    out
}

/// A DynamoDB table's series: the table's own and those published per operation.
fn table_catalogue(table: &str) -> Vec<Query> {
    let mut out = kind_queries(kind("dynamodb_table"), &[table]);
    for op in DYNAMODB_OPERATIONS {
        out.extend(kind_queries(kind("dynamodb_table_operation"), &[table, op]));
    }
    out
}

/// Operations whose per-operation DynamoDB series (`ThrottledRequests`, `SystemErrors`,
/// `SuccessfulRequestLatency`) are read: the data-plane calls applications make.
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

/// Functions whose metrics are read because their logs were active, at most.
const MAX_ACTIVE_FUNCTIONS: usize = 6;

/// The series of Lambda functions whose log groups were written in the window (`functions`, in
/// the order the groups were read), except the one the alarm names: functions share the
/// account's concurrency, so one that surged can throttle another.
pub fn function_queries(alarm: &AlarmInfo, functions: &[String]) -> Vec<Query> {
    let own = alarm.dimensions.get("FunctionName");
    let mut seen: Vec<&String> = Vec::new();
    functions
        .iter()
        .filter(|f| Some(*f) != own)
        .filter(|f| {
            let new = !seen.contains(f);
            seen.push(f);
            new
        })
        .take(MAX_ACTIVE_FUNCTIONS)
        .flat_map(|f| kind_queries(kind("lambda_function"), &[f]))
        .collect()
}

/// The related series for `alarm` and what the other sources found, in priority order (the
/// resource the alarm watches first: every metric the catalogue lists for its kind), without the
/// alarm's own series and without duplicates.
pub fn related_queries(alarm: &AlarmInfo, related: &Related<'_>) -> Vec<Query> {
    let mut out: Vec<Query> = own_resource_queries(alarm);
    let d = &alarm.dimensions;

    // Resources the alarm's dimensions name in other namespaces.
    if let Some(lb) = d.get("LoadBalancer").map(String::as_str) {
        // `app/NAME/ID` is an Application Load Balancer, `net/NAME/ID` a Network Load Balancer.
        let (lb_kind, tg_kind) = if lb.starts_with("net/") {
            ("nlb", "nlb_target_group")
        } else {
            ("alb", "alb_target_group")
        };
        out.extend(kind_queries(kind(lb_kind), &[lb]));
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
            out.extend(kind_queries(kind(tg_kind), &[lb, tg]));
        }
    }
    if let Some(f) = d.get("FunctionName") {
        out.extend(kind_queries(kind("lambda_function"), &[f]));
    }
    if d.contains_key("FunctionName") || alarm.namespace == "AWS/Lambda" {
        // Concurrency is an account-wide pool: a function is throttled when others fill it.
        out.extend(kind_queries(kind("lambda_account"), &[]));
    }
    if let Some(t) = d.get("TableName") {
        out.extend(table_catalogue(t));
        // A table's writes are throttled when one of its indexes is: the index's own series say
        // which (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations).
        for (_, i) in related
            .indexes
            .iter()
            .filter(|(table, _)| table == t)
            .take(MAX_PER_KIND)
        {
            out.extend(kind_queries(kind("dynamodb_gsi"), &[t, i]));
        }
    }
    if let Some(db) = d.get("DBInstanceIdentifier") {
        out.extend(kind_queries(kind("rds_instance"), &[db]));
    }
    if let Some(c) = d.get("DBClusterIdentifier") {
        out.extend(kind_queries(kind("rds_cluster"), &[c]));
    }
    if let Some(i) = d.get("InstanceId") {
        out.extend(kind_queries(kind("ec2_instance"), &[i]));
        out.extend(kind_queries(kind("cwagent_instance"), &[i]));
    }

    // ECS services (behind the alarm first), then their clusters.
    let mut clusters: Vec<&str> = d
        .get("ClusterName")
        .map(String::as_str)
        .into_iter()
        .collect();
    for s in related.services.iter().take(MAX_PER_KIND) {
        out.extend(kind_queries(kind("ecs_service"), &[&s.cluster, &s.service]));
        clusters.push(&s.cluster);
    }
    for s in related.services.iter().take(MAX_PER_KIND) {
        out.extend(kind_queries(
            kind("container_insights_service"),
            &[&s.cluster, &s.service],
        ));
    }
    clusters.sort();
    clusters.dedup();
    for c in clusters.into_iter().take(MAX_PER_KIND) {
        out.extend(kind_queries(kind("ecs_cluster"), &[c]));
    }

    // Database and compute instances found in the account: the ones not in a normal state first.
    let mut resources = related.resources.clone();
    resources.sort_by_key(|r| matches!(r.state.as_str(), "available" | "running"));
    let (mut dbs, mut vms) = (0, 0);
    for r in resources {
        match r.resource_type.as_str() {
            "rds_instance" if dbs < MAX_PER_KIND => {
                dbs += 1;
                out.extend(kind_queries(kind("rds_instance"), &[&r.name]));
            }
            "ec2_instance" if vms < MAX_PER_KIND => {
                vms += 1;
                let id = r.resource_id.as_deref().unwrap_or(&r.name);
                out.extend(kind_queries(kind("ec2_instance"), &[id]));
                out.extend(kind_queries(kind("cwagent_instance"), &[id]));
            }
            _ => {}
        }
    }

    let own = Query::of_alarm(alarm);
    let mut unique: Vec<Query> = Vec::with_capacity(out.len());
    let mut seen = std::collections::HashSet::new();
    for q in out {
        let key = (
            q.namespace.clone(),
            q.metric_name.clone(),
            q.dimensions.clone(),
        );
        if !q.same_series(&own) && seen.insert(key) {
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
        // A related series that did not move says nothing about this incident: it is read (so
        // the diagnosis knows it was looked at through the source report) but not sent. A balance
        // that ran down to nothing counts as moved even when its slow slide widened its spread.
        if !is_alarm && !reduce::moved_or_drained(&summary) {
            continue;
        }
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
            // The alarm's own chart at full resolution; a related series' chart only has to
            // show when and how far it moved.
            points: if keep_points {
                let max = if is_alarm {
                    reduce::MAX_POINTS
                } else {
                    reduce::MAX_POINTS / 2
                };
                stats::chart_resolution(stats::downsample(&points, max))
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

    #[test]
    fn indexes_are_found_in_table_changes_and_scaling_targets() {
        let change = |source: &str, params: &str| ChangeEvidence {
            id: "c1".into(),
            at: 0,
            event_source: source.into(),
            event_name: "UpdateTable".into(),
            actor: "a".into(),
            resources: vec![],
            parameters: Some(params.into()),
        };
        let changes = [
            change(
                "dynamodb.amazonaws.com",
                r#"{"tableName":"orders","globalSecondaryIndexUpdates":[{"update":{"indexName":"by-status","provisionedThroughput":{"writeCapacityUnits":50}}}]}"#,
            ),
            change(
                "application-autoscaling.amazonaws.com",
                r#"{"serviceNamespace":"dynamodb","resourceId":"table/orders/index/by-customer","scalableDimension":"dynamodb:index:WriteCapacityUnits"}"#,
            ),
            // The same index again, a table-level target, and a change of another service.
            change(
                "application-autoscaling.amazonaws.com",
                r#"{"resourceId":"table/orders/index/by-status"}"#,
            ),
            change(
                "application-autoscaling.amazonaws.com",
                r#"{"resourceId":"table/orders"}"#,
            ),
            change("s3.amazonaws.com", r#"{"tableName":"x","indexName":"y"}"#),
            // By ARN; a deleted index and a local one have no series.
            change(
                "dynamodb.amazonaws.com",
                r#"{"tableName":"arn:aws:dynamodb:eu-west-1:123456789012:table/orders","globalSecondaryIndexUpdates":[{"delete":{"indexName":"old"}},{"create":{"indexName":"by-day"}}],"localSecondaryIndexes":[{"indexName":"lsi"}]}"#,
            ),
        ];
        assert_eq!(
            indexes_in_changes(&changes),
            [
                ("orders".to_owned(), "by-status".to_owned()),
                ("orders".to_owned(), "by-customer".to_owned()),
                ("orders".to_owned(), "by-day".to_owned())
            ]
        );
        // The table the alarm names gets its indexes' series.
        let a = AlarmInfo {
            namespace: "AWS/DynamoDB".into(),
            ..alarm(&[("TableName", "orders")])
        };
        let qs = related_queries(
            &a,
            &Related {
                indexes: indexes_in_changes(&changes),
                ..Default::default()
            },
        );
        assert!(qs.iter().any(|q| q.metric_name == "WriteThrottleEvents"
            && q.dimensions
                .get("GlobalSecondaryIndexName")
                .map(String::as_str)
                == Some("by-customer")));
    }

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
    fn every_kind_named_here_is_in_the_catalogue() {
        for id in [
            "alb",
            "alb_target_group",
            "nlb",
            "nlb_target_group",
            "lambda_function",
            "lambda_account",
            "dynamodb_table",
            "dynamodb_table_operation",
            "rds_instance",
            "rds_cluster",
            "ec2_instance",
            "cwagent_instance",
            "ecs_service",
            "container_insights_service",
            "ecs_cluster",
        ] {
            assert!(kind(id).is_some(), "{id} is not a catalogue kind");
        }
    }

    #[test]
    fn any_alarmed_resource_gets_its_kinds_metrics() {
        let mut a = alarm(&[("CacheClusterId", "sessions-001"), ("CacheNodeId", "0001")]);
        a.namespace = "AWS/ElastiCache".into();
        a.metric_name = "EngineCPUUtilization".into();
        let qs = related_queries(&a, &Related::default());
        assert!(qs
            .iter()
            .any(|q| q.metric_name == "DatabaseMemoryUsagePercentage" && q.dimensions.len() == 2));
        let mut l = alarm(&[("FunctionName", "resize")]);
        l.namespace = "AWS/Lambda".into();
        l.metric_name = "Errors".into();
        let qs = related_queries(&l, &Related::default());
        assert!(qs
            .iter()
            .any(|q| q.metric_name == "Throttles" && q.dimensions.len() == 1));
        // The account's concurrency, which other functions share.
        assert!(qs
            .iter()
            .any(|q| q.metric_name == "ConcurrentExecutions" && q.dimensions.is_empty()));
        // A custom namespace keyed by an instance: the instance's AWS/EC2 series.
        let mut c = alarm(&[("InstanceId", "i-0abc")]);
        c.namespace = "Acme/Worker".into();
        let qs = related_queries(&c, &Related::default());
        assert!(qs
            .iter()
            .any(|q| q.namespace == "AWS/EC2" && q.metric_name == "CPUCreditBalance"));
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
