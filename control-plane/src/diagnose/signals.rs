//! What the evidence says, classified: which metrics moved and what kind of signal each is, which
//! failure families the error logs show (with the exact words that matched), what kind of change
//! each CloudTrail event is, and which resources the errors point at.
//!
//! Classification follows how AWS failures present (metric names AWS publishes, error texts of
//! runtimes, drivers and AWS APIs, CloudTrail event names), never names of services or scenarios.

use std::sync::LazyLock;

use convops_shared::evidence::{
    ChangeEvidence, EcsServiceEvidence, EvidenceItem, LogEvidence, LogTemplate, MetricEvidence,
    ResourceEvidence,
};
use convops_shared::protocol::EvidenceFrame;
use convops_shared::stats;
use regex::Regex;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("{e}"))
}

/// What a metric measures, as far as the diagnosis cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Requests or messages arriving (load).
    Traffic,
    Latency,
    Errors,
    UnhealthyHosts,
    Backlog,
    ServiceCpu,
    ServiceMemory,
    ClusterReservation,
    InstanceCpu,
    StatusCheck,
    Network,
    DbCpu,
    DbConnections,
    DbLatency,
    DbIops,
    DbFreeStorage,
    DbFreeMemory,
    Throttles,
    ConsumedCapacity,
    Other,
}

pub fn metric_kind(namespace: &str, name: &str, dims: usize) -> MetricKind {
    use MetricKind::*;
    if name.contains("Throttl") {
        return Throttles;
    }
    match (namespace, name) {
        ("AWS/ApplicationELB" | "AWS/ELB" | "AWS/NetworkELB", "RequestCount")
        | ("AWS/SQS", "NumberOfMessagesSent")
        | ("AWS/Lambda", "Invocations")
        | ("AWS/ApiGateway", "Count") => Traffic,
        (_, "TargetResponseTime" | "Latency" | "Duration" | "IntegrationLatency") => Latency,
        (_, n)
            if n.contains("5XX")
                || n.contains("_502_")
                || n.contains("_503_")
                || n.contains("_504_")
                || n == "Errors"
                || n == "5XXError" =>
        {
            Errors
        }
        (_, "UnHealthyHostCount") => UnhealthyHosts,
        ("AWS/SQS", "ApproximateAgeOfOldestMessage" | "ApproximateNumberOfMessagesVisible") => {
            Backlog
        }
        ("AWS/ECS", "CPUReservation" | "MemoryReservation") => ClusterReservation,
        ("AWS/ECS", "CPUUtilization") if dims >= 2 => ServiceCpu,
        ("AWS/ECS", "MemoryUtilization") if dims >= 2 => ServiceMemory,
        ("AWS/EC2", "CPUUtilization") => InstanceCpu,
        ("AWS/EC2", n) if n.starts_with("StatusCheckFailed") => StatusCheck,
        ("AWS/EC2", "NetworkIn" | "NetworkOut") => Network,
        ("AWS/RDS", "CPUUtilization") => DbCpu,
        ("AWS/RDS", "DatabaseConnections") => DbConnections,
        ("AWS/RDS", "ReadLatency" | "WriteLatency" | "DiskQueueDepth") => DbLatency,
        ("AWS/RDS", "ReadIOPS" | "WriteIOPS") => DbIops,
        ("AWS/RDS", "FreeStorageSpace") => DbFreeStorage,
        ("AWS/RDS", "FreeableMemory") => DbFreeMemory,
        ("AWS/DynamoDB", n) if n.starts_with("Consumed") => ConsumedCapacity,
        _ => Other,
    }
}

/// A metric series with what the diagnosis needs to know about it.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    pub m: &'a MetricEvidence,
    pub kind: MetricKind,
    /// Moved clearly away from its baseline.
    pub moved: bool,
    /// +1 up, -1 down, 0 unknown.
    pub direction: i8,
    /// `current / baseline` when both are positive.
    pub ratio: Option<f64>,
}

impl Series<'_> {
    pub fn up(&self) -> bool {
        self.moved && self.direction > 0
    }
    pub fn down(&self) -> bool {
        self.moved && self.direction < 0
    }
    pub fn onset(&self) -> Option<i64> {
        self.m.summary.onset_at
    }
    /// The highest level reached after onset (the peak for rises).
    pub fn level(&self) -> f64 {
        let s = &self.m.summary;
        match (s.current, s.peak) {
            (Some(c), Some(p)) if self.direction > 0 => c.max(p),
            (Some(c), _) => c,
            (None, Some(p)) => p,
            _ => 0.0,
        }
    }
    pub fn dim(&self, key: &str) -> Option<&str> {
        self.m.dimensions.get(key).map(String::as_str)
    }
    /// `Namespace Metric (k=v, …)`.
    pub fn label(&self) -> String {
        let dims: Vec<String> = self
            .m
            .dimensions
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{} ({})", self.m.metric_name, dims.join(", "))
    }
}

fn series(m: &MetricEvidence) -> Series<'_> {
    let s = &m.summary;
    let moved = stats::moved(s.baseline, s.baseline_spread, s.current, s.peak);
    let direction = match (s.baseline, s.current.or(s.peak)) {
        (Some(b), Some(c)) if c > b => 1,
        (Some(b), Some(c)) if c < b => -1,
        _ => 0,
    };
    let ratio = match (s.baseline, s.current) {
        (Some(b), Some(c)) if b > 0.0 && c >= 0.0 => Some(c / b),
        _ => None,
    };
    Series {
        m,
        kind: metric_kind(&m.namespace, &m.metric_name, m.dimensions.len()),
        moved,
        direction,
        ratio,
    }
}

/// A failure family of log lines, by what the words say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    OutOfMemory,
    Placement,
    Throttled,
    DbSaturated,
    StorageFull,
    AccessDenied,
    CodeError,
    Connectivity,
    Other,
}

/// The families in the order they are tried: a line is put in the first that matches, so
/// "timed out waiting for a pool connection" is saturation, not connectivity.
static FAMILIES: LazyLock<Vec<(Family, Regex)>> = LazyLock::new(|| {
    vec![
        (
            Family::OutOfMemory,
            re(
                r"(?i)OutOfMemory\w*|out of memory|OOM[ -]?kill\w*|\bOOM\b|Cannot allocate memory|\bMemoryError\b|exit code:? 137\b|heap space|memory limit exceeded|JavaScript heap",
            ),
        ),
        (
            Family::Placement,
            re(
                r"(?i)SERVICE_TASK_PLACEMENT_FAILURE|unable to place (?:a )?task|no container instance met|RESOURCE:(?:MEMORY|CPU|PORTS?|ENI)|InsufficientInstanceCapacity|insufficient (?:memory|cpu|capacity)|VcpuLimitExceeded|no capacity|CapacityProvider\w* .*unavailable",
            ),
        ),
        (
            Family::Throttled,
            re(
                r"(?i)ThrottlingException|ProvisionedThroughputExceeded\w*|RequestLimitExceeded|TooManyRequests\w*|Rate exceeded|\bSlowDown\b|RequestThrottled\w*|\bthrottl\w*|\b429 Too Many",
            ),
        ),
        (
            Family::DbSaturated,
            re(
                r"(?i)too many (?:connections|clients)|remaining connection slots|connection slots are reserved|max_connections|connection pool (?:is )?(?:exhausted|full)|Connection is not available|Failed to obtain (?:JDBC )?Connection|Cannot acquire connection|could not obtain (?:a )?(?:jdbc )?connection|deadlock detected|lock wait timeout|statement timeout|sorry, too many clients",
            ),
        ),
        (
            Family::StorageFull,
            re(
                r"(?i)No space left on device|disk (?:is )?full|storage[- ]full|could not extend file|\bENOSPC\b|database or disk is full",
            ),
        ),
        (
            Family::AccessDenied,
            re(
                r"(?i)AccessDenied\w*|not authori[sz]ed to perform|UnauthorizedOperation|InvalidClientTokenId|ExpiredToken\w*|\bForbidden\b|permission denied|KMS\w*Exception",
            ),
        ),
        (
            Family::CodeError,
            re(
                r"\b(?:TypeError|ReferenceError|SyntaxError|RangeError|NullPointerException|NoSuchMethodError|ClassCastException|ClassNotFoundException|NoClassDefFoundError|IllegalArgumentException|IllegalStateException|NumberFormatException|ArrayIndexOutOfBoundsException|AttributeError|KeyError|IndexError|NameError|ImportError|ModuleNotFoundError|ValueError|ZeroDivisionError|NoMethodError|ArgumentError|CannotPullContainerError)\b|Cannot read propert(?:y|ies) of (?:undefined|null)|is not a function|nil pointer dereference|\bpanic: |segmentation fault|undefined method|unhandled (?:exception|rejection)",
            ),
        ),
        (
            Family::Connectivity,
            re(
                r"(?i)\w*Timeout\w*Exception|\bConnectTimeout\w*|\bReadTimeout\w*|timed? ?out|\btimeout\b|i/o timeout|connection refused|ECONNREFUSED|ECONNRESET|connection reset|no route to host|EHOSTUNREACH|Name or service not known|UnknownHost\w*|NXDOMAIN|getaddrinfo|could not resolve|ENOTFOUND|circuit ?breaker|upstream connect error|broken pipe|failed to connect|connection closed|handshake",
            ),
        ),
    ]
});

/// The family of one line and the words that put it there.
pub fn family_of(line: &str) -> (Family, Option<(usize, usize)>) {
    for (family, pattern) in FAMILIES.iter() {
        if let Some(m) = pattern.find(line) {
            return (*family, Some((m.start(), m.end())));
        }
    }
    (Family::Other, None)
}

/// A log template with its family, the matched words and where it points.
#[derive(Debug, Clone)]
pub struct ErrorLines<'a> {
    pub logs: &'a LogEvidence,
    pub t: &'a LogTemplate,
    pub family: Family,
    /// The exact words that matched (`SocketTimeoutException`, `OutOfMemoryError`, …).
    pub token: String,
    /// A short excerpt of an example around the match.
    pub excerpt: String,
    /// Host names the lines talk to.
    pub hosts: Vec<String>,
    /// ECS services named in ARNs (`service/CLUSTER/NAME`).
    pub services: Vec<String>,
}

static URL_HOST: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)(?:https?|jdbc:\w+|redis|rediss|mongodb|amqps?|postgres(?:ql)?|mysql)://(?:[^@/\s"']*@)?([a-z0-9.-]+)"#,
    )
});
static KEY_HOST: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\b(?:host|hostname|db_host|endpoint|server|address)["']?\s*[=:]\s*["']?([a-z0-9][a-z0-9.-]+[a-z0-9])"#,
    )
});
static DNS_NAME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:com|net|org|io|example|internal|local|cloud|dev|app|co|de|uk|fr|jp))\b",
    )
});
static SERVICE_ARN: LazyLock<Regex> =
    LazyLock::new(|| re(r":service/([A-Za-z0-9_-]+)/([A-Za-z0-9_-]+)"));

/// Host names a line talks to (lowercase, without redaction masks), in order of appearance.
pub fn hosts_in(line: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |h: &str| {
        let h = h.trim_matches('.').to_lowercase();
        if h.contains('.')
            && !h.chars().all(|c| c.is_ascii_digit() || c == '.')
            && !out.contains(&h)
        {
            out.push(h);
        }
    };
    for c in URL_HOST
        .captures_iter(line)
        .chain(KEY_HOST.captures_iter(line))
    {
        if let Some(m) = c.get(1) {
            push(m.as_str());
        }
    }
    for m in DNS_NAME.find_iter(line) {
        // `java.net.SocketTimeoutException` is a class name, not the host `java.net`.
        if line[m.end()..].starts_with('.') {
            continue;
        }
        push(m.as_str());
    }
    out
}

/// Up to `radius` characters either side of `span`, on char boundaries, with ellipses.
pub fn excerpt(line: &str, span: Option<(usize, usize)>, radius: usize) -> String {
    let (s, e) = span.unwrap_or((0, 0));
    let mut start = s.saturating_sub(radius);
    while !line.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (e + radius).min(line.len()).max(start);
    while !line.is_char_boundary(end) {
        end += 1;
    }
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(line[start..end].trim());
    if end < line.len() {
        out.push('…');
    }
    out
}

fn error_lines<'a>(logs: &'a LogEvidence, t: &'a LogTemplate) -> ErrorLines<'a> {
    let line = t
        .examples
        .first()
        .map(String::as_str)
        .unwrap_or(&t.template);
    let (family, span) = family_of(line);
    let token = span.map(|(s, e)| line[s..e].to_owned()).unwrap_or_default();
    let mut services = Vec::new();
    for c in SERVICE_ARN.captures_iter(line) {
        if let Some(s) = c.get(2) {
            services.push(s.as_str().to_owned());
        }
    }
    ErrorLines {
        logs,
        t,
        family,
        token,
        excerpt: excerpt(line, span, 110),
        hosts: hosts_in(line),
        services,
    }
}

/// What kind of change a CloudTrail write event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// New code or configuration rolled out.
    Deploy,
    /// Capacity or load changed: desired counts, scaling limits, jobs started, table capacity.
    Scale,
    /// Access narrowed: security group rules revoked, ACL entries, policies removed, keys disabled.
    AccessRestrict,
    /// Access widened (a red herring for outages: adding access does not block traffic).
    AccessGrant,
    /// Instances stopped, rebooted or terminated; databases rebooted or failed over.
    Lifecycle,
    /// Database configuration.
    DbConfig,
    Other,
}

pub fn change_kind(c: &ChangeEvidence) -> ChangeKind {
    use ChangeKind::*;
    let params = c.parameters.as_deref().unwrap_or("");
    match c.event_name.as_str() {
        "UpdateService" | "CreateService" if params.contains("\"taskDefinition\"") => Deploy,
        "UpdateService" if params.contains("\"desiredCount\"") => Scale,
        "UpdateService" => Deploy,
        "RegisterTaskDefinition"
        | "CreateDeployment"
        | "UpdateFunctionCode"
        | "UpdateFunctionConfiguration"
        | "PublishVersion"
        | "UpdateAlias"
        | "UpdateStack"
        | "ExecuteChangeSet"
        | "CreateService"
        | "UpdateEnvironment"
        | "PutParameter"
        | "UpdateSecret"
        | "PutSecretValue" => Deploy,
        "UpdateAutoScalingGroup"
        | "SetDesiredCapacity"
        | "RegisterScalableTarget"
        | "PutScalingPolicy"
        | "RunTask"
        | "StartTask"
        | "UpdateTable"
        | "PutProvisionedConcurrencyConfig"
        | "PutFunctionConcurrency"
        | "UpdateCapacityProvider"
        | "PutClusterCapacityProviders" => Scale,
        "RevokeSecurityGroupIngress"
        | "RevokeSecurityGroupEgress"
        | "DeleteSecurityGroup"
        | "CreateNetworkAclEntry"
        | "ReplaceNetworkAclEntry"
        | "DeleteNetworkAclEntry"
        | "ReplaceNetworkAclAssociation"
        | "DetachRolePolicy"
        | "DeleteRolePolicy"
        | "PutRolePolicy"
        | "DeleteRole"
        | "UpdateAssumeRolePolicy"
        | "PutBucketPolicy"
        | "DeleteBucketPolicy"
        | "PutKeyPolicy"
        | "DisableKey"
        | "ScheduleKeyDeletion"
        | "RevokeGrant"
        | "ModifyInstanceAttribute"
        | "ModifyNetworkInterfaceAttribute"
        | "DeleteRoute"
        | "ReplaceRoute"
        | "DisassociateRouteTable"
        | "DeleteVpcEndpoints"
        | "ModifyVpcEndpoint"
        | "DeleteNatGateway"
        | "DetachInternetGateway"
        | "ModifySecurityGroupRules"
        | "PutUserPolicy"
        | "DetachUserPolicy"
        | "DeleteUserPolicy"
        | "AddPermission"
        | "RemovePermission"
        | "UpdateSecurityGroupRuleDescriptionsIngress" => AccessRestrict,
        "AuthorizeSecurityGroupIngress"
        | "AuthorizeSecurityGroupEgress"
        | "AttachRolePolicy"
        | "CreateAccessKey"
        | "AttachUserPolicy"
        | "CreateGrant"
        | "EnableKey" => AccessGrant,
        "StopInstances" | "TerminateInstances" | "RebootInstances" | "StopDBInstance"
        | "RebootDBInstance" | "DeleteDBInstance" | "FailoverDBCluster" | "StopDBCluster"
        | "RebootDBCluster" | "RebootCacheCluster" | "DeleteCacheCluster" => Lifecycle,
        "ModifyDBInstance"
        | "ModifyDBParameterGroup"
        | "ModifyDBCluster"
        | "ModifyDBClusterParameterGroup"
        | "ResetDBParameterGroup" => DbConfig,
        _ => Other,
    }
}

/// The `desiredCount` an `UpdateService` asked for, when its parameters say.
pub fn desired_count(c: &ChangeEvidence) -> Option<i64> {
    let p = c.parameters.as_deref()?;
    let v: serde_json::Value = serde_json::from_str(p).ok()?;
    v.get("desiredCount")?.as_i64()
}

/// Everything classified, borrowed from one evidence frame.
#[derive(Debug)]
pub struct Facts<'a> {
    pub frame: &'a EvidenceFrame,
    /// When the symptom began: the onset of the alarm's metric, else the start of the alarm's
    /// evaluation window.
    pub onset: i64,
    pub alarm_series: Option<Series<'a>>,
    pub series: Vec<Series<'a>>,
    pub errors: Vec<ErrorLines<'a>>,
    pub changes: Vec<(&'a ChangeEvidence, ChangeKind)>,
    pub services: Vec<&'a EcsServiceEvidence>,
    /// Services behind the alarm (its target group or service dimensions).
    pub behind: Vec<&'a EcsServiceEvidence>,
    pub resources: Vec<&'a ResourceEvidence>,
}

impl<'a> Facts<'a> {
    pub fn new(frame: &'a EvidenceFrame) -> Self {
        let a = &frame.alarm;
        let mut all_series = Vec::new();
        let mut errors = Vec::new();
        let mut changes = Vec::new();
        let mut services = Vec::new();
        let mut resources = Vec::new();
        for item in &frame.items {
            match item {
                EvidenceItem::Metric(m) => all_series.push(series(m)),
                EvidenceItem::Logs(l) => {
                    errors.extend(l.templates.iter().map(|t| error_lines(l, t)));
                }
                EvidenceItem::Change(c) => changes.push((c, change_kind(c))),
                EvidenceItem::EcsService(s) => services.push(s),
                EvidenceItem::Resource(r) => resources.push(r),
            }
        }
        let is_alarm = |s: &Series<'_>| {
            s.m.namespace == a.namespace
                && s.m.metric_name == a.metric_name
                && s.m.dimensions == a.dimensions
        };
        // The agent sends the alarm's own series first, with the alarm's dimensions; a frame from
        // elsewhere may differ in dimensions only.
        let alarm_series = all_series
            .iter()
            .find(|s| is_alarm(s))
            .or_else(|| {
                all_series
                    .iter()
                    .find(|s| s.m.namespace == a.namespace && s.m.metric_name == a.metric_name)
            })
            .cloned();
        let alarm_id = alarm_series.as_ref().map(|s| s.m.id.clone());
        let window = a.evaluation_window_ms();
        let onset = alarm_series
            .as_ref()
            .and_then(|s| s.onset())
            .filter(|o| *o <= a.transitioned_at)
            .unwrap_or(a.transitioned_at - window);
        let behind = services
            .iter()
            .copied()
            .filter(|s| s.serves(&a.dimensions))
            .collect();
        Facts {
            frame,
            onset,
            alarm_series,
            series: all_series
                .into_iter()
                .filter(|s| Some(&s.m.id) != alarm_id.as_ref())
                .collect(),
            errors,
            changes,
            services,
            behind,
            resources,
        }
    }

    /// All error lines matched, for shares.
    pub fn error_total(&self) -> u64 {
        self.errors.iter().map(|e| e.t.count).sum()
    }

    pub fn errors_of(&self, family: Family) -> impl Iterator<Item = &ErrorLines<'a>> {
        self.errors.iter().filter(move |e| e.family == family)
    }

    pub fn count_of(&self, family: Family) -> u64 {
        self.errors_of(family).map(|e| e.t.count).sum()
    }

    /// The resource (RDS or EC2 instance) a host name belongs to: its first DNS label is the
    /// instance's name (`payments-db.xxxx.rds.amazonaws.com`).
    pub fn resource_of_host(&self, host: &str) -> Option<&'a ResourceEvidence> {
        let label = host.split('.').next()?;
        self.resources
            .iter()
            .copied()
            .find(|r| r.name.eq_ignore_ascii_case(label) || r.resource_id.as_deref() == Some(label))
    }

    /// The ECS service a log group belongs to (`/ecs/NAME`, `…/NAME/…`).
    pub fn service_of_group(&self, group: &str) -> Option<&'a EcsServiceEvidence> {
        let g = group.to_lowercase();
        self.services
            .iter()
            .copied()
            .filter(|s| g.contains(&s.service.to_lowercase()))
            .max_by_key(|s| s.service.len())
    }
}

/// The family part of `family:revision`.
pub fn family_name(task_definition: &str) -> &str {
    task_definition
        .rsplit('/')
        .next()
        .unwrap_or(task_definition)
        .split(':')
        .next()
        .unwrap_or(task_definition)
}

/// How strongly a change at `at` can explain an onset at `onset`: 1 within 15 minutes before,
/// falling to 0.3 at an hour and 0.1 at three hours; 0 after onset (2 minutes' slack for clocks
/// and the time a rollout takes to reach traffic).
pub fn proximity(at: i64, onset: i64) -> f64 {
    let before_min = (onset - at) as f64 / 60_000.0;
    if before_min < -2.0 {
        0.0
    } else if before_min <= 15.0 {
        1.0
    } else if before_min <= 60.0 {
        1.0 - 0.7 * (before_min - 15.0) / 45.0
    } else if before_min <= 180.0 {
        0.3 - 0.2 * (before_min - 60.0) / 120.0
    } else {
        0.05
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_follow_the_words() {
        let f = |l: &str| family_of(l).0;
        assert_eq!(
            f("java.lang.OutOfMemoryError: Java heap space"),
            Family::OutOfMemory
        );
        assert_eq!(
            f("HikariPool-1 - Connection is not available, request timed out after 30000ms."),
            Family::DbSaturated
        );
        assert_eq!(
            f("POST https://api.psp.example/v1 failed: java.net.SocketTimeoutException: timeout"),
            Family::Connectivity
        );
        assert_eq!(
            f("An error occurred (ProvisionedThroughputExceededException) when calling PutItem"),
            Family::Throttled
        );
        assert_eq!(
            f(r#"{"eventName":"SERVICE_TASK_PLACEMENT_FAILURE","reason":"RESOURCE:MEMORY"}"#),
            Family::Placement
        );
        assert_eq!(
            f("TypeError: Cannot read properties of undefined (reading 'id')"),
            Family::CodeError
        );
        assert_eq!(
            f("could not write block: No space left on device"),
            Family::StorageFull
        );
        assert_eq!(f("User: arn:aws:sts::[aws_account_id:1a2b]:assumed-role/x is not authorized to perform: s3:GetObject"), Family::AccessDenied);
        assert_eq!(f("something else went wrong"), Family::Other);
    }

    #[test]
    fn hosts_are_names_not_class_paths() {
        assert_eq!(
            hosts_in(
                "POST https://api.psp.example/v2/charges failed: java.net.SocketTimeoutException"
            ),
            ["api.psp.example"]
        );
        assert_eq!(
            hosts_in(
                r#"{"error":"dial tcp [ipv4:1]:5432: i/o timeout","db_host":"orders-db.abc.eu-west-1.rds.amazonaws.com"}"#
            ),
            ["orders-db.abc.eu-west-1.rds.amazonaws.com"]
        );
        assert!(hosts_in("java.net.ConnectException: Connection refused").is_empty());
    }

    #[test]
    fn excerpts_center_on_the_match_and_respect_utf8() {
        let line = format!("{}MATCH{}", "é".repeat(200), "ü".repeat(200));
        let start = line.find("MATCH").expect("present");
        let e = excerpt(&line, Some((start, start + 5)), 11);
        assert!(
            e.starts_with('…') && e.ends_with('…') && e.contains("MATCH"),
            "{e}"
        );
    }

    #[test]
    fn proximity_decays_and_is_zero_after_onset() {
        let onset = 10_000_000;
        assert_eq!(proximity(onset - 5 * 60_000, onset), 1.0);
        assert!(proximity(onset - 45 * 60_000, onset) < 0.6);
        assert!(proximity(onset - 150 * 60_000, onset) < 0.2);
        assert_eq!(proximity(onset + 10 * 60_000, onset), 0.0);
    }
}
