//! Watches CloudWatch alarms with `DescribeAlarms` and decides which transitions to investigate.
//!
//! A transition is identified by `(alarm name, time it entered ALARM)`. It is investigated once:
//! the spool remembers the handled transition in the same transaction that spools the evidence, so
//! an alarm that stays in `ALARM` is not investigated again, a restart does not repeat work, and an
//! alarm that fired while the agent was down is picked up on the first poll after it starts
//! (unless it is older than `max_age_on_start` and the agent has never seen it).

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{MetricAlarm, StateValue};
use convops_shared::evidence::AlarmInfo;

use crate::aws::{Action, CallError, Clients};
use crate::spool::{AlarmMemo, Spool, SpoolError};

/// What to do about one alarm on this poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Investigate,
    /// In ALARM, but already handled (or too old on first sight).
    Skip,
    /// Not in ALARM; remember the state.
    Track,
}

/// Decide about an alarm from what the agent remembers. Pure; tested below.
pub fn decide(
    memo: Option<&AlarmMemo>,
    state: &str,
    transition_ms: i64,
    now_ms: i64,
    max_age_on_start_ms: i64,
) -> Decision {
    if state != "ALARM" {
        return Decision::Track;
    }
    match memo {
        Some(m) if m.handled_transition == Some(transition_ms) => Decision::Skip,
        Some(_) => Decision::Investigate,
        None if now_ms - transition_ms > max_age_on_start_ms => Decision::Skip,
        None => Decision::Investigate,
    }
}

/// Read every metric alarm (all pages), optionally filtered by name prefix.
/// The alarm a person means by `target`: the alarm of that name, else an alarm on a resource of
/// that name (a dimension value such as an ECS service or a table), one in `ALARM` first.
pub fn for_target(alarms: Vec<AlarmInfo>, target: &str) -> Option<AlarmInfo> {
    if let Some(i) = alarms.iter().position(|a| a.name == target) {
        return alarms.into_iter().nth(i);
    }
    let about = |a: &AlarmInfo| {
        a.dimensions.values().any(|v| {
            v.eq_ignore_ascii_case(target)
                || v.rsplit('/')
                    .next()
                    .is_some_and(|last| last.eq_ignore_ascii_case(target))
        })
    };
    let mut candidates: Vec<AlarmInfo> = alarms.into_iter().filter(about).collect();
    candidates.sort_by_key(|a| (a.state != "ALARM", std::cmp::Reverse(a.transitioned_at)));
    candidates.into_iter().next()
}

pub async fn describe_all(clients: &Clients, prefix: &str) -> Result<Vec<AlarmInfo>, CallError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = clients.cloudwatch.describe_alarms().max_records(100);
        if !prefix.is_empty() {
            req = req.alarm_name_prefix(prefix);
        }
        if let Some(t) = token.take() {
            req = req.next_token(t);
        }
        let resp = clients
            .call(Action::CloudWatchDescribeAlarms, || req.clone().send())
            .await?;
        out.extend(resp.metric_alarms().iter().filter_map(alarm_info));
        match resp.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

fn alarm_info(a: &MetricAlarm) -> Option<AlarmInfo> {
    let name = a.alarm_name()?.to_owned();
    let (namespace, metric_name) = match (a.namespace(), a.metric_name()) {
        (Some(ns), Some(m)) => (ns.to_owned(), m.to_owned()),
        // Metric-math alarms: take the first query that reads a metric and returns data.
        _ => {
            let stat = a
                .metrics()
                .iter()
                .find(|q| q.return_data().unwrap_or(true) && q.metric_stat().is_some())
                .and_then(|q| q.metric_stat())?;
            let m = stat.metric()?;
            (m.namespace()?.to_owned(), m.metric_name()?.to_owned())
        }
    };
    let dimensions: BTreeMap<String, String> = a
        .dimensions()
        .iter()
        .filter_map(|d| Some((d.name()?.to_owned(), d.value()?.to_owned())))
        .collect();
    let statistic = a
        .statistic()
        .map(|s| s.as_str().to_owned())
        .or_else(|| a.extended_statistic().map(str::to_owned))
        .unwrap_or_else(|| "Average".to_owned());
    let transitioned = a
        .state_transitioned_timestamp()
        .or(a.state_updated_timestamp())
        .and_then(|t| t.to_millis().ok())
        .unwrap_or(0);
    Some(AlarmInfo {
        name,
        arn: a.alarm_arn().map(str::to_owned),
        description: a
            .alarm_description()
            .map(str::to_owned)
            .filter(|d| !d.is_empty()),
        namespace,
        metric_name,
        dimensions,
        statistic,
        period_secs: a.period().unwrap_or(60).max(1) as u32,
        evaluation_periods: a.evaluation_periods().unwrap_or(1).max(1) as u32,
        threshold: a.threshold().unwrap_or(0.0),
        comparison: a
            .comparison_operator()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        state: a
            .state_value()
            .unwrap_or(&StateValue::InsufficientData)
            .as_str()
            .to_owned(),
        state_reason: a.state_reason().unwrap_or_default().to_owned(),
        state_reason_data: a
            .state_reason_data()
            .map(str::to_owned)
            .filter(|d| !d.is_empty()),
        transitioned_at: transitioned,
    })
}

/// Remember a state that needs no investigation (only when it changed, to spare the disk).
pub async fn track(
    spool: &Spool,
    alarm: &AlarmInfo,
    memo: Option<&AlarmMemo>,
    skip: bool,
) -> Result<(), SpoolError> {
    let handled = if skip {
        Some(alarm.transitioned_at)
    } else {
        memo.and_then(|m| m.handled_transition)
    };
    let next = AlarmMemo {
        state: alarm.state.clone(),
        handled_transition: handled,
    };
    if memo != Some(&next) {
        spool.set_alarm_memo(&alarm.name, &next).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memo(state: &str, handled: Option<i64>) -> AlarmMemo {
        AlarmMemo {
            state: state.into(),
            handled_transition: handled,
        }
    }

    fn alarm(name: &str, state: &str, dims: &[(&str, &str)], at: i64) -> AlarmInfo {
        AlarmInfo {
            name: name.into(),
            arn: None,
            description: None,
            namespace: "AWS/ECS".into(),
            metric_name: "CPUUtilization".into(),
            dimensions: dims
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            statistic: "Average".into(),
            period_secs: 60,
            evaluation_periods: 1,
            threshold: 1.0,
            comparison: "GreaterThanThreshold".into(),
            state: state.into(),
            state_reason: String::new(),
            state_reason_data: None,
            transitioned_at: at,
        }
    }

    #[test]
    fn a_target_is_an_alarm_name_or_a_resource_an_alarm_is_about() {
        let alarms = vec![
            alarm("checkout-cpu", "OK", &[("ServiceName", "checkout")], 5),
            alarm(
                "checkout-5xx",
                "ALARM",
                &[
                    ("LoadBalancer", "app/prod/abc"),
                    ("ServiceName", "checkout"),
                ],
                3,
            ),
            alarm(
                "orders-5xx",
                "ALARM",
                &[("LoadBalancer", "app/orders-alb/123")],
                9,
            ),
        ];
        let pick = |t: &str| for_target(alarms.clone(), t).map(|a| a.name);
        assert_eq!(
            pick("checkout-cpu").as_deref(),
            Some("checkout-cpu"),
            "names first"
        );
        assert_eq!(
            pick("checkout").as_deref(),
            Some("checkout-5xx"),
            "then a resource, in ALARM first"
        );
        assert_eq!(pick("CHECKOUT").as_deref(), Some("checkout-5xx"));
        assert_eq!(
            pick("123").as_deref(),
            Some("orders-5xx"),
            "the last part of an ARN-like value"
        );
        assert_eq!(pick("payments"), None);
    }

    #[test]
    fn decisions() {
        let hour = 3_600_000;
        // Fresh agent, recent alarm: investigate; old alarm: skip.
        assert_eq!(
            decide(None, "ALARM", 1000, 2000, hour),
            Decision::Investigate
        );
        assert_eq!(decide(None, "ALARM", 0, 2 * hour, hour), Decision::Skip);
        // Same transition already handled: skip, however long it stays in ALARM.
        assert_eq!(
            decide(
                Some(&memo("ALARM", Some(1000))),
                "ALARM",
                1000,
                10 * hour,
                hour
            ),
            Decision::Skip
        );
        // A new transition (went OK and back, even between polls): investigate.
        assert_eq!(
            decide(Some(&memo("ALARM", Some(1000))), "ALARM", 5000, 6000, hour),
            Decision::Investigate
        );
        assert_eq!(
            decide(Some(&memo("OK", None)), "ALARM", 0, 10 * hour, hour),
            Decision::Investigate
        );
        assert_eq!(
            decide(Some(&memo("ALARM", Some(1))), "OK", 1, 2, hour),
            Decision::Track
        );
    }
}
