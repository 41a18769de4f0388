//! Access to the customer's AWS account: the one list of actions the agent may call, the SDK
//! clients, and the wrapper every call goes through.
//!
//! **Architecture invariant.** The agent is read-only in the customer account. [`Action`] is the
//! single source of truth for the AWS operations it may call; it is exactly the read action list
//! of the security page (`shared/seeds/000_…`), and a unit test pins it. Every SDK call is made
//! through [`call`], which names its [`Action`], meters bytes read and calls made, and classifies
//! failures (throttled, access denied, other) so a source can report itself *partial* instead of
//! aborting an investigation. Credentials come from the SDK's default chain and live only in the
//! SDK's in-memory cache: nothing here writes them anywhere.

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Every AWS operation the agent may call. Adding a variant here is the only way to call a new
/// operation, and the test below keeps this list within the published read-only IAM actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    CloudWatchGetMetricData,
    CloudWatchDescribeAlarms,
    CloudWatchGetMetricStatistics,
    LogsFilterLogEvents,
    LogsGetLogEvents,
    LogsDescribeLogGroups,
    LogsDescribeLogStreams,
    CloudTrailLookupEvents,
    EcsDescribeServices,
    EcsDescribeTasks,
    EcsListTasks,
    RdsDescribeDbInstances,
    Ec2DescribeInstances,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::CloudWatchGetMetricData,
        Action::CloudWatchDescribeAlarms,
        Action::CloudWatchGetMetricStatistics,
        Action::LogsFilterLogEvents,
        Action::LogsGetLogEvents,
        Action::LogsDescribeLogGroups,
        Action::LogsDescribeLogStreams,
        Action::CloudTrailLookupEvents,
        Action::EcsDescribeServices,
        Action::EcsDescribeTasks,
        Action::EcsListTasks,
        Action::RdsDescribeDbInstances,
        Action::Ec2DescribeInstances,
    ];

    /// The IAM action name, as in an IAM policy.
    pub const fn iam_name(self) -> &'static str {
        match self {
            Action::CloudWatchGetMetricData => "cloudwatch:GetMetricData",
            Action::CloudWatchDescribeAlarms => "cloudwatch:DescribeAlarms",
            Action::CloudWatchGetMetricStatistics => "cloudwatch:GetMetricStatistics",
            Action::LogsFilterLogEvents => "logs:FilterLogEvents",
            Action::LogsGetLogEvents => "logs:GetLogEvents",
            Action::LogsDescribeLogGroups => "logs:DescribeLogGroups",
            Action::LogsDescribeLogStreams => "logs:DescribeLogStreams",
            Action::CloudTrailLookupEvents => "cloudtrail:LookupEvents",
            Action::EcsDescribeServices => "ecs:DescribeServices",
            Action::EcsDescribeTasks => "ecs:DescribeTasks",
            Action::EcsListTasks => "ecs:ListTasks",
            Action::RdsDescribeDbInstances => "rds:DescribeDBInstances",
            Action::Ec2DescribeInstances => "ec2:DescribeInstances",
        }
    }
}

/// Bytes read and calls made, for one investigation or one source within it.
#[derive(Debug, Default)]
pub struct Meter {
    raw_bytes: AtomicU64,
    calls: AtomicU32,
}

impl Meter {
    pub fn raw_bytes(&self) -> u64 {
        self.raw_bytes.load(Ordering::Relaxed)
    }
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }
}

tokio::task_local! {
    /// The meter of the source currently calling AWS (set by [`metered`]).
    static METER: Arc<Meter>;
}

/// Run `fut` with every AWS call inside it counted on `meter`.
pub async fn metered<F: Future>(meter: Arc<Meter>, fut: F) -> F::Output {
    METER.scope(meter, fut).await
}

/// Counts response bytes of every SDK call onto the current task's [`Meter`].
#[derive(Debug, Clone, Copy)]
pub struct ByteCounter;

impl Intercept for ByteCounter {
    fn name(&self) -> &'static str {
        "convops-byte-counter"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let len = response
            .headers()
            .get("content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| response.body().bytes().map(|b| b.len() as u64))
            .unwrap_or(0);
        let _ = METER.try_with(|m| m.raw_bytes.fetch_add(len, Ordering::Relaxed));
        Ok(())
    }
}

/// How an AWS call failed, in the terms a source report needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    Throttled,
    AccessDenied,
    Other,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{action} failed: {message}", action = action.iam_name())]
pub struct CallError {
    pub action: Action,
    pub kind: FailureKind,
    pub message: String,
}

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "SlowDown",
];

const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "AuthFailure",
];

/// Classify an error code from AWS.
pub fn classify(code: Option<&str>) -> FailureKind {
    match code {
        Some(c) if THROTTLING_CODES.contains(&c) => FailureKind::Throttled,
        Some(c) if DENIED_CODES.contains(&c) => FailureKind::AccessDenied,
        _ => FailureKind::Other,
    }
}

/// Make one AWS call. Every SDK `send()` in the agent goes through here.
pub async fn call<T, E, R>(
    action: Action,
    fut: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, CallError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let _ = METER.try_with(|m| m.calls.fetch_add(1, Ordering::Relaxed));
    tracing::debug!(action = action.iam_name(), "aws call");
    fut.await.map_err(|err| {
        let code = err.code().map(str::to_owned);
        let kind = classify(code.as_deref());
        let message = match (&code, err.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.clone(),
            _ => aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
        };
        CallError {
            action,
            kind,
            message,
        }
    })
}

/// The SDK clients the agent uses, built once from the default chain.
#[derive(Clone, Debug)]
pub struct Clients {
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub rds: aws_sdk_rds::Client,
    pub ec2: aws_sdk_ec2::Client,
}

impl Clients {
    pub async fn from_env(region: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region.to_owned()));
        }
        let shared = loader.load().await;
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(&shared)
                        .interceptor(ByteCounter)
                        .build(),
                )
            };
        }
        Clients {
            cloudwatch: client!(aws_sdk_cloudwatch),
            logs: client!(aws_sdk_cloudwatchlogs),
            cloudtrail: client!(aws_sdk_cloudtrail),
            ecs: client!(aws_sdk_ecs),
            rds: client!(aws_sdk_rds),
            ec2: client!(aws_sdk_ec2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The read actions published on the security page, verbatim.
    const SECURITY_PAGE: &str = "CloudWatch:GetMetricData, CloudWatch:DescribeAlarms, \
        CloudWatch:GetMetricStatistics; Logs:FilterLogEvents, Logs:GetLogEvents, \
        Logs:DescribeLogGroups, Logs:DescribeLogStreams; CloudTrail:LookupEvents; \
        ECS:DescribeServices, ECS:DescribeTasks, ECS:ListTasks; RDS:DescribeDBInstances; \
        EC2:DescribeInstances";

    #[test]
    fn action_list_is_exactly_the_security_page() {
        let page: std::collections::BTreeSet<String> = SECURITY_PAGE
            .split([',', ';'])
            .map(|s| s.trim().to_ascii_lowercase())
            .collect();
        let ours: std::collections::BTreeSet<String> = Action::ALL
            .iter()
            .map(|a| a.iam_name().to_ascii_lowercase())
            .collect();
        assert_eq!(ours, page);
        for a in Action::ALL {
            let op = a.iam_name().split(':').nth(1).unwrap_or_default();
            assert!(
                ["Get", "Describe", "List", "Filter", "Lookup"]
                    .iter()
                    .any(|p| op.starts_with(p)),
                "{op} is not a read action"
            );
        }
    }

    /// Every SDK request in the agent's source is sent inside `call(Action::…, …)`: the `.send()`
    /// must be preceded, within the same statement, by `call(` and `Action::`.
    #[test]
    fn every_aws_call_goes_through_the_action_list() {
        fn rs_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).expect("src dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    rs_files(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        rs_files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut sends = 0;
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read");
            // Tests in this file mention the pattern in strings; skip this module's test code.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (pos, _) in code.match_indices(".send()") {
                // The statement start: the last `;` or `{` before the call.
                let stmt_start = code[..pos].rfind([';', '{']).unwrap_or(0);
                let stmt = &code[stmt_start..pos];
                assert!(
                    stmt.contains("call(") && stmt.contains("Action::"),
                    "{}: an SDK .send() outside call(Action::…): …{}",
                    f.display(),
                    &code[stmt_start..pos + 7]
                );
                sends += 1;
            }
        }
        // Ten call sites today; fewer means the scan is not looking where the calls are.
        assert!(
            sends >= 10,
            "found only {sends} SDK calls; is the scan still looking at the right files?"
        );
    }

    #[test]
    fn classifies_throttling_and_denial() {
        assert_eq!(
            classify(Some("ThrottlingException")),
            FailureKind::Throttled
        );
        assert_eq!(
            classify(Some("AccessDeniedException")),
            FailureKind::AccessDenied
        );
        assert_eq!(classify(Some("InternalFailure")), FailureKind::Other);
        assert_eq!(classify(None), FailureKind::Other);
    }
}
