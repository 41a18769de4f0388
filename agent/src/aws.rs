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
use std::time::Duration;

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

    /// Sustained requests per second and burst the agent allows itself, per region: below the
    /// quotas AWS documents (LookupEvents 2/s, FilterLogEvents, DescribeLogGroups and
    /// DescribeLogStreams 5/s, GetLogEvents 25/s, GetMetricData 50/s, DescribeAlarms 9/s,
    /// GetMetricStatistics 400/s; EC2's and ECS's token buckets refill at about 20/s), leaving
    /// room for the customer's own tools.
    pub const fn rate(self) -> (f64, f64) {
        match self {
            Action::CloudTrailLookupEvents => (1.5, 2.0),
            Action::LogsFilterLogEvents
            | Action::LogsDescribeLogGroups
            | Action::LogsDescribeLogStreams => (4.0, 5.0),
            Action::LogsGetLogEvents => (20.0, 20.0),
            Action::CloudWatchGetMetricData => (40.0, 40.0),
            Action::CloudWatchDescribeAlarms => (7.0, 7.0),
            Action::CloudWatchGetMetricStatistics => (300.0, 300.0),
            Action::EcsDescribeServices | Action::EcsDescribeTasks | Action::EcsListTasks => {
                (15.0, 30.0)
            }
            Action::RdsDescribeDbInstances => (8.0, 10.0),
            Action::Ec2DescribeInstances => (15.0, 50.0),
        }
    }
}

/// One token bucket per (action, region), shared by every source of the agent.
#[derive(Debug, Default)]
pub struct Limiter {
    buckets: std::sync::Mutex<std::collections::HashMap<(Action, String), Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: tokio::time::Instant,
}

impl Limiter {
    /// Wait until `action` may be called in `region`.
    pub async fn acquire(&self, action: Action, region: &str) {
        let (rate, burst) = action.rate();
        self.acquire_at(action, region, rate, burst).await
    }

    async fn acquire_at(&self, action: Action, region: &str, rate: f64, burst: f64) {
        loop {
            let wait = {
                let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
                let now = tokio::time::Instant::now();
                let b = buckets
                    .entry((action, region.to_owned()))
                    .or_insert(Bucket {
                        tokens: burst,
                        last: now,
                    });
                b.tokens = (b.tokens + rate * now.duration_since(b.last).as_secs_f64()).min(burst);
                b.last = now;
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    None
                } else {
                    Some(Duration::from_secs_f64((1.0 - b.tokens) / rate))
                }
            };
            match wait {
                None => return,
                Some(w) => tokio::time::sleep(w).await,
            }
        }
    }
}

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 4;
/// The longest one attempt of an AWS call may take, response body included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest single wait between attempts, whatever a `Retry-After` asks.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(20);

/// Whether and when to try a failed call again: throttling (by error code or HTTP 429) and
/// transient failures (5xx, timeouts, connection errors) are retried after exponential backoff
/// with jitter, or after the server's `Retry-After` when it gives one; everything else, access
/// denied included, is final.
pub fn retry_after(
    code: Option<&str>,
    status: Option<u16>,
    retry_after_header: Option<&str>,
    transport_error: bool,
    attempt: u32,
) -> Option<Duration> {
    if attempt >= MAX_ATTEMPTS {
        return None;
    }
    let throttled = classify(code) == FailureKind::Throttled || status == Some(429);
    let transient = transport_error || status.is_some_and(|s| (500..600).contains(&s));
    if classify(code) == FailureKind::AccessDenied || !(throttled || transient) {
        return None;
    }
    if let Some(secs) = retry_after_header.and_then(|h| h.trim().parse::<f64>().ok()) {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs).min(MAX_RETRY_WAIT));
        }
    }
    // Full jitter over an exponential ceiling: 200 ms, 400 ms, 800 ms, …
    let ceiling = 0.2 * f64::from(1u32 << attempt.min(10)) / 2.0;
    let jittered = ceiling * (0.5 + 0.5 * rand::random::<f64>());
    Some(Duration::from_secs_f64(jittered).min(MAX_RETRY_WAIT))
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
    /// The raw bytes an investigation may still read (set by [`budgeted`]).
    static BUDGET: Arc<Budget>;
}

/// The raw-byte budget of one investigation, shared by its sources.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    used: AtomicU64,
}

impl Budget {
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Budget {
            limit,
            used: AtomicU64::new(0),
        })
    }
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
    pub fn exhausted(&self) -> bool {
        self.used() >= self.limit
    }
}

/// Run `fut` (an investigation) with every AWS response counted against `budget`; once it is
/// spent, further calls fail with [`FailureKind::OverBudget`] without being sent.
pub async fn budgeted<F: Future>(budget: Arc<Budget>, fut: F) -> F::Output {
    BUDGET.scope(budget, fut).await
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
        let _ = BUDGET.try_with(|b| b.used.fetch_add(len, Ordering::Relaxed));
        Ok(())
    }
}

/// How an AWS call failed, in the terms a source report needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    Throttled,
    AccessDenied,
    /// The investigation's raw-byte budget was spent; the call was not made.
    OverBudget,
    Other,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{action} failed: {message}", action = action.iam_name())]
pub struct CallError {
    pub action: Action,
    pub kind: FailureKind,
    /// The AWS error code, when the service answered with one (the call got past the network).
    pub code: Option<String>,
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

type HttpResponse = aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// A short account of an error that carries no AWS error code (the SDK's own display includes
/// the whole response, body and all).
fn describe<E>(err: &SdkError<E, HttpResponse>, status: Option<u16>) -> String {
    let status = status.map(|s| format!("HTTP {s}")).unwrap_or_default();
    match err {
        SdkError::TimeoutError(_) => "timed out".into(),
        SdkError::DispatchFailure(d) if d.is_timeout() => "timed out connecting".into(),
        SdkError::DispatchFailure(_) => "could not connect".into(),
        SdkError::ResponseError(_) => format!("unreadable response {status}").trim().to_owned(),
        SdkError::ServiceError(_) => format!("{status} without an AWS error code")
            .trim()
            .to_owned(),
        SdkError::ConstructionFailure(_) => "the request could not be built".into(),
        _ => format!("failed {status}").trim().to_owned(),
    }
}

impl Clients {
    /// The region the clients call (the limiter's key).
    pub fn region(&self) -> &str {
        self.sdk_config
            .region()
            .map(|r| r.as_ref())
            .unwrap_or_default()
    }

    /// Make one AWS call: `send` builds and sends the request (it is called again for a retry).
    /// Every SDK `send()` in the agent goes through here: the limiter for (action, region), our
    /// retry classifier ([`retry_after`]; the SDK's own retries are off), the meter.
    pub async fn call<T, E, F, Fut>(&self, action: Action, send: F) -> Result<T, CallError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Ok(Some(limit)) = BUDGET.try_with(|b| b.exhausted().then_some(b.limit)) {
                return Err(CallError {
                    action,
                    kind: FailureKind::OverBudget,
                    code: None,
                    message: format!(
                        "the investigation's raw-byte budget ({} KiB) is spent",
                        limit / 1024
                    ),
                });
            }
            self.limiter.acquire(action, self.region()).await;
            let _ = METER.try_with(|m| m.calls.fetch_add(1, Ordering::Relaxed));
            tracing::debug!(action = action.iam_name(), attempt, "aws call");
            let err = match send().await {
                Ok(v) => {
                    crate::telemetry::metrics().aws_call(action, None);
                    return Ok(v);
                }
                Err(e) => e,
            };
            let code = err.code().map(str::to_owned);
            let raw = err.raw_response();
            let status = raw.map(|r| r.status().as_u16());
            let kind = if status == Some(429) {
                FailureKind::Throttled
            } else {
                classify(code.as_deref())
            };
            crate::telemetry::metrics().aws_call(action, Some(&kind));
            let header = raw
                .and_then(|r| r.headers().get("retry-after"))
                .map(str::to_owned);
            let transport = matches!(
                err,
                SdkError::TimeoutError(_)
                    | SdkError::DispatchFailure(_)
                    | SdkError::ResponseError(_)
            );
            if let Some(wait) = retry_after(
                code.as_deref(),
                status,
                header.as_deref(),
                transport,
                attempt,
            ) {
                tracing::debug!(action = action.iam_name(), ?code, ?wait, "retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            let message = match (&code, err.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.clone(),
                _ => describe(&err, status),
            };
            let message = if attempt > 1 {
                format!("{message} (after {attempt} attempts)")
            } else {
                message
            };
            return Err(CallError {
                action,
                kind,
                code,
                message,
            });
        }
    }
}

/// The SDK clients the agent uses, built once from the default chain.
#[derive(Clone)]
pub struct Clients {
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub rds: aws_sdk_rds::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub limiter: Arc<Limiter>,
    /// The configuration every client above was built from (credentials provider included).
    pub sdk_config: aws_config::SdkConfig,
}

/// Only the region: the configuration holds the credentials provider (and the external id).
impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("region", &self.region())
            .finish_non_exhaustive()
    }
}

/// Cross-account mode: the role the agent assumes with STS `AssumeRole` for every call.
#[derive(Debug, Clone)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<convops_shared::secret::SecretString>,
    pub session_name: String,
}

impl Clients {
    /// Clients from the default credential and region chain, optionally assuming `role`.
    pub async fn from_env(region: Option<&str>, role: Option<&AssumeRole>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region.to_owned()));
        }
        Self::from_config(loader.load().await, role).await
    }

    /// Clients from `base`. With `role`, every call is signed with the role's temporary
    /// credentials: STS `AssumeRole` with the external id, authorised by `base`'s credentials.
    /// They are cached in memory by the SDK's identity cache and fetched again before they
    /// expire; nothing writes them anywhere.
    pub async fn from_config(base: aws_config::SdkConfig, role: Option<&AssumeRole>) -> Self {
        let shared = match role {
            None => base,
            Some(r) => {
                let mut b = aws_config::sts::AssumeRoleProvider::builder(&r.role_arn)
                    .session_name(&r.session_name);
                if let Some(id) = &r.external_id {
                    b = b.external_id(id.expose());
                }
                let provider = b.configure(&base).build().await;
                base.into_builder()
                    .credentials_provider(
                        aws_credential_types::provider::SharedCredentialsProvider::new(provider),
                    )
                    .build()
            }
        };
        // One retry policy, ours (`Clients::call`), not two stacked.
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(&shared)
                        .interceptor(ByteCounter)
                        .retry_config(aws_config::retry::RetryConfig::disabled())
                        // A stalled connection fails the attempt (and is retried by `call`)
                        // instead of holding the alarm watcher: the SDK's defaults bound only
                        // connecting.
                        .timeout_config(
                            aws_config::timeout::TimeoutConfig::builder()
                                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                                .build(),
                        )
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
            limiter: Arc::new(Limiter::default()),
            sdk_config: shared.clone(),
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
        let mut dry_runs = 0;
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read");
            // Tests in this file mention the pattern in strings; skip this module's test code.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            // Plain HTTP that is not AWS (the ECS task metadata endpoint) is allowed only in
            // files that touch no SDK client, and only in the files listed here, so a new one
            // is a reviewed decision.
            let plain_http = code.contains("reqwest::")
                && !code.contains("aws_sdk")
                && !code.contains("Clients");
            if plain_http {
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                assert_eq!(
                    name,
                    "ecs_metadata.rs",
                    "{}: unexpected non-AWS HTTP",
                    f.display()
                );
                continue;
            }
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            for (pos, _) in code.match_indices(".send()") {
                // The statement start: the last `;` or `{` before the call.
                let stmt_start = code[..pos].rfind([';', '{']).unwrap_or(0);
                let stmt = &code[stmt_start..pos];
                // The one exception, reviewed: `check`'s write probe, a DryRun that only asks
                // IAM whether a write would be allowed.
                if name == "check.rs" && stmt.contains(".dry_run(true)") {
                    dry_runs += 1;
                    continue;
                }
                assert!(
                    stmt.contains("call(") && stmt.contains("Action::"),
                    "{}: an SDK .send() outside call(Action::…): …{}",
                    f.display(),
                    &code[stmt_start..pos + 7]
                );
                sends += 1;
            }
        }
        assert_eq!(dry_runs, 1, "exactly one dry-run write probe (check.rs)");
        // Ten call sites today; fewer means the scan is not looking where the calls are.
        assert!(
            sends >= 10,
            "found only {sends} SDK calls; is the scan still looking at the right files?"
        );
    }

    #[tokio::test]
    async fn the_limiter_holds_its_rate_per_action_and_region() {
        let limiter = Limiter::default();
        let started = std::time::Instant::now();
        // Burst 5, then 50/s: 30 calls need at least 25 / 50 s.
        for _ in 0..30 {
            limiter
                .acquire_at(Action::LogsFilterLogEvents, "eu-west-1", 50.0, 5.0)
                .await;
        }
        assert!(
            started.elapsed() >= Duration::from_millis(480),
            "{:?}",
            started.elapsed()
        );
        // Another region and another action have their own buckets: their bursts are immediate.
        let t = std::time::Instant::now();
        for _ in 0..5 {
            limiter
                .acquire_at(Action::LogsFilterLogEvents, "us-east-1", 50.0, 5.0)
                .await;
            limiter
                .acquire_at(Action::LogsGetLogEvents, "eu-west-1", 50.0, 5.0)
                .await;
        }
        assert!(t.elapsed() < Duration::from_millis(80), "{:?}", t.elapsed());
    }

    #[test]
    fn rates_stay_below_the_documented_quotas() {
        assert!(Action::CloudTrailLookupEvents.rate().0 < 2.0);
        assert!(Action::LogsFilterLogEvents.rate().0 < 5.0);
        assert!(Action::CloudWatchGetMetricData.rate().0 < 50.0);
        for a in Action::ALL {
            let (rate, burst) = a.rate();
            assert!(rate > 0.0 && burst >= 1.0, "{a:?}");
        }
    }

    #[test]
    fn retries_throttling_and_transient_errors_but_not_denial() {
        let throttled = retry_after(Some("ThrottlingException"), Some(400), None, false, 1);
        assert!(throttled.is_some_and(|d| d <= Duration::from_millis(200)));
        assert_eq!(
            retry_after(Some("ThrottlingException"), Some(400), Some("3"), false, 1),
            Some(Duration::from_secs(3)),
            "Retry-After is honoured"
        );
        assert_eq!(
            retry_after(None, Some(429), Some("600"), false, 1),
            Some(MAX_RETRY_WAIT),
            "but capped"
        );
        assert!(retry_after(None, Some(503), None, false, 2).is_some());
        assert!(
            retry_after(None, None, None, true, 1).is_some(),
            "connection errors"
        );
        assert_eq!(
            retry_after(
                Some("AccessDeniedException"),
                Some(400),
                Some("1"),
                false,
                1
            ),
            None
        );
        assert_eq!(
            retry_after(Some("ValidationException"), Some(400), None, false, 1),
            None
        );
        assert_eq!(
            retry_after(
                Some("ThrottlingException"),
                Some(400),
                None,
                false,
                MAX_ATTEMPTS
            ),
            None,
            "attempts are bounded"
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
