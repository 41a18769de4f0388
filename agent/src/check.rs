//! `convops-agent check`: is this install able to work? One pass that an operator (or a
//! deployment pipeline) runs after installing:
//!
//! 1. the configuration is valid (it was loaded to get here);
//! 2. the control plane answers over TLS and accepts the agent token (a websocket handshake and
//!    the protocol's hello/welcome, then a normal close);
//! 3. each AWS read action of [`Action::ALL`] is called once with harmless arguments: an answer
//!    from the service (data, or an error such as "no such log group", which AWS returns only
//!    after authorising the request) means allowed; an access-denied error means the role lacks
//!    that action;
//! 4. a write is refused: `ec2:StopInstances` with `DryRun=true`, which AWS documents as checking
//!    the permission without acting ("If you have the required permissions, the error response is
//!    `DryRunOperation`. Otherwise, it is `UnauthorizedOperation`", EC2 API reference, common
//!    parameter `DryRun`). It is the only call outside [`Action`] the agent makes, it can never
//!    stop anything, and it runs only in this command.
//!
//! The result is a table; the exit status is non-zero when any row failed, and each failed row
//! says what to fix.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::aws::{Action, CallError, Clients, FailureKind};
use crate::config::Settings;
use crate::uplink::{Connect, Websocket};
use convops_shared::protocol::{AgentFrame, ServerFrame, PROTOCOL_VERSION};

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub check: String,
    pub ok: bool,
    /// `ok`, `allowed`, `denied`, `DENIED`, `ALLOWED`, `FAILED`, …
    pub result: String,
    pub detail: String,
}

impl Row {
    fn pass(check: impl Into<String>, result: &str, detail: impl Into<String>) -> Row {
        Row {
            check: check.into(),
            ok: true,
            result: result.into(),
            detail: detail.into(),
        }
    }
    fn fail(check: impl Into<String>, result: &str, detail: impl Into<String>) -> Row {
        Row {
            check: check.into(),
            ok: false,
            result: result.into(),
            detail: detail.into(),
        }
    }
}

/// The report as an aligned table.
pub fn render(rows: &[Row]) -> String {
    let w0 = rows.iter().map(|r| r.check.len()).max().unwrap_or(5).max(5);
    let w1 = rows
        .iter()
        .map(|r| r.result.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = format!("{:w0$}  {:w1$}  DETAIL\n", "CHECK", "RESULT");
    for r in rows {
        out.push_str(&format!(
            "{:w0$}  {:w1$}  {}\n",
            r.check, r.result, r.detail
        ));
    }
    let failed = rows.iter().filter(|r| !r.ok).count();
    if failed == 0 {
        out.push_str("\nall checks passed\n");
    } else {
        out.push_str(&format!("\n{failed} check(s) failed\n"));
    }
    out
}

/// Run every check.
pub async fn run(settings: &Settings, config: Option<&std::path::Path>) -> Vec<Row> {
    let mut rows = vec![Row::pass(
        "configuration",
        "ok",
        match config {
            Some(p) => format!("{} and CONVOPS_AGENT__* variables", p.display()),
            None => "CONVOPS_AGENT__* variables".to_owned(),
        },
    )];
    rows.push(control_plane(settings).await);
    let clients =
        Clients::from_env(settings.region.as_deref(), settings.assume_role.as_ref()).await;
    // The cluster the agent watches: configured, else (on ECS) its own, as `run` does.
    let cluster = match settings.ecs_clusters.first() {
        Some(c) => c.clone(),
        None => match std::env::var(crate::ecs_metadata::METADATA_ENV) {
            Ok(uri) => crate::ecs_metadata::own_cluster(&uri)
                .await
                .unwrap_or_else(|_| "default".to_owned()),
            Err(_) => "default".to_owned(),
        },
    };
    for action in Action::ALL {
        rows.push(read_row(action, probe(&clients, action, &cluster).await));
    }
    rows.push(write_row(&clients).await);
    rows
}

/// The control plane: TLS, the token, the protocol version.
async fn control_plane(settings: &Settings) -> Row {
    let name = format!(
        "control plane {}",
        settings.control_plane.url.host_str().unwrap_or("?")
    );
    let tls = match crate::tls::client_config(settings.control_plane.ca_file.as_deref()) {
        Ok(t) => t,
        Err(e) => return Row::fail(name, "FAILED", format!("TLS set-up: {e:#}")),
    };
    let ws = Websocket {
        settings: settings.control_plane.clone(),
        tls,
    };
    let outcome = tokio::time::timeout(Duration::from_secs(15), async {
        let (mut tx, mut rx) = ws.connect().await?;
        let hello = AgentFrame::Hello {
            protocol_version: PROTOCOL_VERSION,
            agent_id: format!("check-{:08x}", rand::random::<u32>()),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            probe: true,
        };
        tx.send(Message::text(hello.encode())).await?;
        let answer = loop {
            match rx.next().await {
                Some(Ok(Message::Text(t))) => break ServerFrame::decode(&t)?,
                Some(Ok(Message::Close(f))) => anyhow::bail!("closed by the control plane: {f:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("connection closed before the welcome"),
            }
        };
        let _ = tx.send(Message::Close(None)).await;
        Ok::<_, anyhow::Error>(answer)
    })
    .await;
    match outcome {
        Err(_) => Row::fail(
            name,
            "FAILED",
            "no answer within 15 s; check control_plane.url and that outbound 443 is open",
        ),
        Ok(Err(e)) => {
            let text = format!("{e:#}");
            let fix = if text.contains("401") || text.contains("403") {
                "the token was refused: set control_plane.token to a current agent token"
            } else if text.to_ascii_lowercase().contains("certificate") {
                "the server's certificate is not trusted: set control_plane.ca_file or fix the certificate"
            } else {
                "check control_plane.url, DNS and that outbound 443 is open"
            };
            Row::fail(name, "FAILED", format!("{text}; {fix}"))
        }
        Ok(Ok(ServerFrame::Welcome { workspace_id, .. })) => Row::pass(
            name,
            "ok",
            format!("TLS 1.3, token accepted, workspace {workspace_id}"),
        ),
        Ok(Ok(ServerFrame::Error { code, message, .. })) => {
            Row::fail(name, "FAILED", format!("refused ({code:?}): {message}"))
        }
        Ok(Ok(other)) => Row::fail(name, "FAILED", format!("unexpected answer {other:?}")),
    }
}

/// Error codes AWS answers with when the credentials themselves are bad (unknown, expired,
/// mis-signed): the request never reached the permission check, so it says nothing of it.
const CREDENTIAL_CODES: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "AuthFailure",
    "InvalidAccessKeyId",
];

fn credentials_failed(code: Option<&str>) -> bool {
    code.is_some_and(|c| CREDENTIAL_CODES.contains(&c))
}

const CREDENTIALS_FIX: &str = "the AWS credentials are invalid or expired: check the task role (or aws.role_arn and aws.external_id) and the region";

/// The verdict on one read action's probe.
pub fn read_row(action: Action, result: Result<(), CallError>) -> Row {
    let name = action.iam_name();
    match result {
        Ok(()) => Row::pass(name, "allowed", ""),
        Err(e) if credentials_failed(e.code.as_deref()) => {
            Row::fail(name, "FAILED", format!("{}; {CREDENTIALS_FIX}", e.message))
        }
        // Throttling may come before authorisation: it proves nothing either way.
        Err(e) if e.kind == FailureKind::Throttled => Row::fail(
            name,
            "UNKNOWN",
            format!("{}; throttled, run the check again", e.message),
        ),
        Err(e) if e.kind == FailureKind::AccessDenied => Row::fail(
            name,
            "DENIED",
            format!(
                "{}; allow {name} in the agent's role (statement ConvOpsReadOnly of cloudformation/agent.yaml)",
                e.message
            ),
        ),
        // Refused for its arguments (no such group, cluster or instance): AWS authorises a
        // request before it looks at what it names, so the action is allowed.
        Err(e) if e.code.is_some() => Row::pass(name, "allowed", format!("answered {}", e.message)),
        Err(e) => Row::fail(
            name,
            "FAILED",
            format!(
                "{}; check the region (aws.region or AWS_REGION) and outbound access to AWS",
                e.message
            ),
        ),
    }
}

/// One harmless call of `action`.
async fn probe(c: &Clients, action: Action, cluster: &str) -> Result<(), CallError> {
    use aws_sdk_cloudwatch::primitives::DateTime;
    let now = std::time::SystemTime::now();
    let start = DateTime::from(now - Duration::from_secs(600));
    let end = DateTime::from(now);
    // Names no customer resource has, so every answer is "nothing there", never the account's
    // data.
    const NONE: &str = "convops-check-nonexistent";
    match action {
        Action::CloudWatchGetMetricData => {
            let metric = aws_sdk_cloudwatch::types::Metric::builder()
                .namespace("ConvOps/Check")
                .metric_name(NONE)
                .build();
            let query = aws_sdk_cloudwatch::types::MetricDataQuery::builder()
                .id("m0")
                .metric_stat(
                    aws_sdk_cloudwatch::types::MetricStat::builder()
                        .metric(metric)
                        .period(300)
                        .stat("Average")
                        .build(),
                )
                .build();
            let req = c
                .cloudwatch
                .get_metric_data()
                .metric_data_queries(query)
                .start_time(start)
                .end_time(end);
            c.call(Action::CloudWatchGetMetricData, || req.clone().send())
                .await
                .map(drop)
        }
        Action::CloudWatchDescribeAlarms => {
            let req = c.cloudwatch.describe_alarms().alarm_names(NONE);
            c.call(Action::CloudWatchDescribeAlarms, || req.clone().send())
                .await
                .map(drop)
        }
        Action::CloudWatchGetMetricStatistics => {
            let req = c
                .cloudwatch
                .get_metric_statistics()
                .namespace("ConvOps/Check")
                .metric_name(NONE)
                .start_time(start)
                .end_time(end)
                .period(300)
                .statistics(aws_sdk_cloudwatch::types::Statistic::Average);
            c.call(Action::CloudWatchGetMetricStatistics, || req.clone().send())
                .await
                .map(drop)
        }
        Action::LogsFilterLogEvents => {
            let req = c.logs.filter_log_events().log_group_name(NONE).limit(1);
            c.call(Action::LogsFilterLogEvents, || req.clone().send())
                .await
                .map(drop)
        }
        Action::LogsGetLogEvents => {
            let req = c
                .logs
                .get_log_events()
                .log_group_name(NONE)
                .log_stream_name(NONE)
                .limit(1);
            c.call(Action::LogsGetLogEvents, || req.clone().send())
                .await
                .map(drop)
        }
        Action::LogsDescribeLogGroups => {
            let req = c.logs.describe_log_groups().log_group_name_prefix(NONE);
            c.call(Action::LogsDescribeLogGroups, || req.clone().send())
                .await
                .map(drop)
        }
        Action::LogsDescribeLogStreams => {
            let req = c.logs.describe_log_streams().log_group_name(NONE).limit(1);
            c.call(Action::LogsDescribeLogStreams, || req.clone().send())
                .await
                .map(drop)
        }
        Action::CloudTrailLookupEvents => {
            let by_name = aws_sdk_cloudtrail::types::LookupAttribute::builder()
                .attribute_key(aws_sdk_cloudtrail::types::LookupAttributeKey::EventName)
                .attribute_value(NONE)
                .build()
                .map_err(|e| CallError {
                    action: Action::CloudTrailLookupEvents,
                    kind: FailureKind::Other,
                    code: None,
                    message: e.to_string(),
                })?;
            let req = c
                .cloudtrail
                .lookup_events()
                .lookup_attributes(by_name)
                .start_time(start)
                .end_time(end)
                .max_results(1);
            c.call(Action::CloudTrailLookupEvents, || req.clone().send())
                .await
                .map(drop)
        }
        Action::EcsDescribeServices => {
            let req = c.ecs.describe_services().cluster(cluster).services(NONE);
            c.call(Action::EcsDescribeServices, || req.clone().send())
                .await
                .map(drop)
        }
        Action::EcsDescribeTasks => {
            let req = c
                .ecs
                .describe_tasks()
                .cluster(cluster)
                .tasks("00000000000000000000000000000000");
            c.call(Action::EcsDescribeTasks, || req.clone().send())
                .await
                .map(drop)
        }
        Action::EcsListTasks => {
            let req = c.ecs.list_tasks().cluster(cluster).service_name(NONE);
            c.call(Action::EcsListTasks, || req.clone().send())
                .await
                .map(drop)
        }
        Action::RdsDescribeDbInstances => {
            let req = c.rds.describe_db_instances().db_instance_identifier(NONE);
            c.call(Action::RdsDescribeDbInstances, || req.clone().send())
                .await
                .map(drop)
        }
        Action::Ec2DescribeInstances => {
            let req = c
                .ec2
                .describe_instances()
                .instance_ids("i-00000000000000000");
            c.call(Action::Ec2DescribeInstances, || req.clone().send())
                .await
                .map(drop)
        }
    }
}

/// The write probe's row: `StopInstances` with `DryRun` must be refused.
async fn write_row(c: &Clients) -> Row {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    let name = "ec2:StopInstances (dry run)";
    // The one SDK call outside `Action`: DryRun asks IAM and acts on nothing.
    let sent = c
        .ec2
        .stop_instances()
        .instance_ids("i-00000000000000000")
        .dry_run(true)
        .send()
        .await;
    let code = match &sent {
        Ok(_) => None,
        Err(e) => e.code().map(str::to_owned),
    };
    write_verdict(name, sent.is_ok(), code.as_deref())
}

/// The verdict on the write probe, from whether it succeeded and its error code.
pub fn write_verdict(name: &str, succeeded: bool, code: Option<&str>) -> Row {
    match code {
        c if credentials_failed(c) => Row::fail(name, "FAILED", CREDENTIALS_FIX),
        Some(c) if crate::aws::classify(Some(c)) == FailureKind::AccessDenied => {
            Row::pass(name, "denied", "writes are refused, as they must be")
        }
        Some("DryRunOperation") => Row::fail(
            name,
            "ALLOWED",
            "the role may stop instances: add the explicit deny (statement ConvOpsDenyWrites of cloudformation/agent.yaml) and remove any broader policy",
        ),
        _ if succeeded => Row::fail(name, "ALLOWED", "the request was accepted: the role can write"),
        Some(other) => Row::fail(
            name,
            "UNKNOWN",
            format!("answered {other}, which neither confirms nor rules out write access"),
        ),
        None => Row::fail(
            name,
            "FAILED",
            "no answer from EC2; check the region and outbound access to AWS",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: FailureKind, code: Option<&str>) -> CallError {
        CallError {
            action: Action::LogsFilterLogEvents,
            kind,
            code: code.map(str::to_owned),
            message: "m".into(),
        }
    }

    #[test]
    fn reads_are_allowed_when_the_service_answered_and_denied_only_when_iam_said_so() {
        let a = Action::LogsFilterLogEvents;
        assert!(read_row(a, Ok(())).ok);
        let nf = read_row(
            a,
            Err(err(FailureKind::Other, Some("ResourceNotFoundException"))),
        );
        assert!(nf.ok && nf.result == "allowed", "{nf:?}");
        assert!(
            !read_row(
                a,
                Err(err(FailureKind::Throttled, Some("ThrottlingException")))
            )
            .ok
        );
        let creds = read_row(
            a,
            Err(err(
                FailureKind::AccessDenied,
                Some("UnrecognizedClientException"),
            )),
        );
        assert!(
            !creds.ok && creds.detail.contains("credentials"),
            "{creds:?}"
        );
        let denied = read_row(
            a,
            Err(err(
                FailureKind::AccessDenied,
                Some("AccessDeniedException"),
            )),
        );
        assert!(
            !denied.ok && denied.detail.contains("logs:FilterLogEvents"),
            "{denied:?}"
        );
        let offline = read_row(a, Err(err(FailureKind::Other, None)));
        assert!(!offline.ok && offline.result == "FAILED");
    }

    #[test]
    fn the_write_probe_passes_only_when_refused() {
        assert!(write_verdict("w", false, Some("UnauthorizedOperation")).ok);
        assert!(write_verdict("w", false, Some("AccessDenied")).ok);
        assert!(!write_verdict("w", false, Some("AuthFailure")).ok);
        assert!(!write_verdict("w", false, Some("ExpiredToken")).ok);
        assert!(!write_verdict("w", false, Some("DryRunOperation")).ok);
        assert!(!write_verdict("w", true, None).ok);
        assert!(!write_verdict("w", false, Some("InvalidInstanceID.Malformed")).ok);
        assert!(!write_verdict("w", false, None).ok);
    }

    #[test]
    fn the_table_says_how_many_failed() {
        let rows = vec![
            Row::pass("configuration", "ok", ""),
            Row::fail("logs:FilterLogEvents", "DENIED", "allow it"),
        ];
        let t = render(&rows);
        assert!(t.starts_with("CHECK"), "{t}");
        assert!(t.contains("logs:FilterLogEvents  DENIED  allow it"), "{t}");
        assert!(t.ends_with("1 check(s) failed\n"), "{t}");
        assert!(render(&rows[..1]).ends_with("all checks passed\n"));
    }
}
