//! CloudWatch metrics: the alarm's own metric over the lookback window, with `GetMetricData`.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use convops_shared::evidence::{AlarmInfo, MetricEvidence};
use convops_shared::stats;

use crate::aws::{call, Action, CallError, Clients};
use crate::reduce;

/// A metric to read.
#[derive(Debug, Clone)]
pub struct Query {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: std::collections::BTreeMap<String, String>,
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
}

/// Read one series between `start_ms` and `end_ms`, following `NextToken`.
pub async fn read_series(
    clients: &Clients,
    q: &Query,
    start_ms: i64,
    end_ms: i64,
) -> Result<Vec<(i64, f64)>, CallError> {
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
    let query = MetricDataQuery::builder()
        .id("m0")
        .metric_stat(stat)
        .return_data(true)
        .build();
    let mut points = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = clients
            .cloudwatch
            .get_metric_data()
            .metric_data_queries(query.clone())
            .start_time(DateTime::from_millis(start_ms))
            .end_time(DateTime::from_millis(end_ms))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(token.take());
        let resp = call(Action::CloudWatchGetMetricData, req.send()).await?;
        for r in resp.metric_data_results() {
            for (t, v) in r.timestamps().iter().zip(r.values()) {
                if let Ok(ms) = t.to_millis() {
                    if v.is_finite() {
                        points.push((ms, *v));
                    }
                }
            }
        }
        match resp.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    points.sort_by_key(|p| p.0);
    points.dedup_by_key(|p| p.0);
    Ok(points)
}

/// Read and summarise the alarm's own metric.
pub async fn alarm_metric(
    clients: &Clients,
    alarm: &AlarmInfo,
    id: &str,
    lookback_ms: i64,
    now_ms: i64,
) -> Result<MetricEvidence, CallError> {
    let q = Query::of_alarm(alarm);
    let end = now_ms.max(alarm.transitioned_at);
    let start = alarm.transitioned_at.min(now_ms) - lookback_ms;
    let points = read_series(clients, &q, start, end).await?;
    let eval_window = i64::from(alarm.period_secs) * i64::from(alarm.evaluation_periods) * 1000;
    let summary = reduce::summarise(&points, alarm.transitioned_at, eval_window);
    Ok(MetricEvidence {
        id: id.to_owned(),
        namespace: q.namespace,
        metric_name: q.metric_name,
        dimensions: q.dimensions,
        statistic: q.statistic,
        period_secs: q.period_secs,
        summary,
        points: stats::downsample(&points, reduce::MAX_POINTS),
    })
}
