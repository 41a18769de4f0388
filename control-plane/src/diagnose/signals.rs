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

/// What a metric measures, as far as the diagnosis cares: the catalogue's [`Signal`] made
/// specific to the kind of resource where the rules need it (a database's CPU is not a service's).
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
    /// A T-family instance's (or database's) CPU credit balance.
    CpuCredits,
    /// Memory used on a host (CloudWatch agent).
    HostMemory,
    /// Disk used on a host (CloudWatch agent), or a volume's queue.
    HostDisk,
    StatusCheck,
    /// A Route 53 health check's status.
    HealthCheck,
    Network,
    DbCpu,
    DbConnections,
    DbLatency,
    DbIops,
    /// An EBS or RDS I/O burst balance.
    BurstBalance,
    DbFreeStorage,
    DbFreeMemory,
    /// A cache engine's CPU.
    CacheCpu,
    /// A cache's memory: usage percent, evictions, freeable memory.
    CacheMemory,
    Throttles,
    /// Lambda concurrency in use.
    Concurrency,
    /// Instances in service, port allocation errors, running against desired counts.
    Capacity,
    ConsumedCapacity,
    Other,
}

/// The kind of a metric, from the catalogue (`convops_shared::catalogue`): what AWS documents it
/// measures, specialised by the namespace of the resource that publishes it.
pub fn metric_kind(namespace: &str, name: &str, dims: &[&str]) -> MetricKind {
    use convops_shared::catalogue::Signal;
    use MetricKind::*;
    let Some(spec) = convops_shared::catalogue::spec(namespace, name, dims) else {
        // Not in the catalogue (a custom namespace): by the words AWS uses.
        return if name.contains("Throttl") {
            Throttles
        } else if name.contains("5XX") || name.contains("5xx") || name == "Errors" {
            Errors
        } else {
            Other
        };
    };
    let db = namespace == "AWS/RDS" || namespace == "AWS/DocDB";
    let cache = namespace == "AWS/ElastiCache" || namespace == "AWS/MemoryDB";
    let host = namespace == "AWS/EC2" || namespace == "CWAgent";
    match spec.signal {
        Signal::Traffic => Traffic,
        Signal::Latency => Latency,
        Signal::Errors => Errors,
        Signal::Health if namespace == "AWS/EC2" => StatusCheck,
        Signal::Health if namespace == "AWS/Route53" => HealthCheck,
        Signal::Health => UnhealthyHosts,
        Signal::Backlog => Backlog,
        Signal::Cpu if db => DbCpu,
        Signal::Cpu if cache => CacheCpu,
        Signal::Cpu if host => InstanceCpu,
        Signal::Cpu if dims.len() >= 2 && namespace.contains("ECS") => ServiceCpu,
        Signal::Cpu => Other,
        Signal::CpuCredits if name.contains("Balance") => CpuCredits,
        Signal::Memory | Signal::FreeMemory if cache => CacheMemory,
        Signal::Memory if host => HostMemory,
        Signal::Memory if dims.len() >= 2 && namespace.contains("ECS") => ServiceMemory,
        Signal::FreeMemory if db => DbFreeMemory,
        Signal::Storage if db => DbFreeStorage,
        Signal::Storage if host => HostDisk,
        Signal::BurstBalance => BurstBalance,
        Signal::Connections if db => DbConnections,
        Signal::Iops if db => DbIops,
        Signal::DiskLatency if db => DbLatency,
        Signal::DiskLatency => HostDisk,
        Signal::Throttles => Throttles,
        Signal::Concurrency => Concurrency,
        Signal::Capacity if namespace == "AWS/ECS" => ClusterReservation,
        Signal::Capacity => Capacity,
        Signal::ConsumedCapacity => ConsumedCapacity,
        Signal::Network => Network,
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
    /// Which way is trouble for this metric (the catalogue's; up when it does not know).
    pub trouble: convops_shared::catalogue::Trouble,
}

impl Series<'_> {
    pub fn up(&self) -> bool {
        self.moved && self.direction > 0
    }
    pub fn down(&self) -> bool {
        self.moved && self.direction < 0
    }
    /// Moved the way that means trouble (up for errors, down for balances and free space).
    pub fn bad(&self) -> bool {
        use convops_shared::catalogue::Trouble;
        match self.trouble {
            Trouble::Up => self.up(),
            Trouble::Down => self.down(),
            Trouble::Either => self.moved,
        }
    }
    /// The lowest level reached after onset (for falls: balances, free space).
    pub fn low(&self) -> f64 {
        let s = &self.m.summary;
        match (s.current, s.peak) {
            (Some(c), Some(p)) if self.direction < 0 => c.min(p),
            (Some(c), _) => c,
            (None, Some(p)) => p,
            _ => 0.0,
        }
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
    pub fn namespace_is(&self, ns: &str) -> bool {
        self.m.namespace == ns
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
    let dims: Vec<&str> = m.dimensions.keys().map(String::as_str).collect();
    let trouble = convops_shared::catalogue::spec(&m.namespace, &m.metric_name, &dims)
        .map(|s| s.trouble)
        .unwrap_or(convops_shared::catalogue::Trouble::Up);
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
        kind: metric_kind(&m.namespace, &m.metric_name, &dims),
        moved,
        direction,
        ratio,
        trouble,
    }
}

pub use convops_shared::signatures::{Family, Role};

/// The family of one line (by the failure-signature table, `convops_shared::signatures`: the
/// first cause it names, else the first symptom it shows), whether it names a cause, and the
/// words that put it there.
pub fn family_of(line: &str) -> (Family, Option<(usize, usize)>) {
    match convops_shared::signatures::classify(line) {
        Some((sig, span)) => (sig.family, Some(span)),
        None => (Family::Other, None),
    }
}

/// Like [`family_of`], with the role and the row's id.
pub fn signature_of(line: &str) -> Option<(Family, Role, &'static str, (usize, usize))> {
    convops_shared::signatures::classify(line)
        .map(|(sig, span)| (sig.family, sig.role, sig.id, span))
}

/// A log template with its family, the matched words and where it points.
#[derive(Debug, Clone)]
pub struct ErrorLines<'a> {
    pub logs: &'a LogEvidence,
    pub t: &'a LogTemplate,
    pub family: Family,
    /// Whether the line names its cause or only shows a symptom (`None`: the table knows it not).
    pub role: Option<Role>,
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
        // Not nginx's `server:` and `host:` fields: in its error log they name the local virtual
        // host and the request's Host header, not the peer (the peer is `upstream:`,
        // https://nginx.org/en/docs/ngx_core_module.html#error_log).
        r#"(?i)(?:\b(?:host|hostname|db_host|endpoint|address|server|upstream)["']?\s*=|\b(?:hostname|db_host|endpoint|address|upstream)["']?\s*:|"(?:host|server)"\s*:)\s*["']?(?:[a-z]+://)?([a-z0-9][a-z0-9.-]+[a-z0-9])"#,
    )
});
/// nginx's error-log fields that name this side of the connection (the virtual host, the
/// request's Host header, the client) or the page the client came from (`referrer`), whose
/// names are not peers the line talks to.
static LOCAL_FIELD: LazyLock<Regex> =
    LazyLock::new(|| re(r#"\b(?:server|host|client|referrer): "?[^,"\s]+"?"#));
/// The referer and user agent of an access-log line in the NCSA combined format (nginx's and
/// Apache's `combined`: `"$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`,
/// https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format): the page the client came
/// from and its browser, never a peer the server calls.
static CLIENT_FIELDS: LazyLock<Regex> = LazyLock::new(|| {
    re(r#""[A-Z]{3,10} \S+ HTTP/[0-9.]+" [0-9]{3} (?:[0-9]+|-) ("[^"]*"(?: "[^"]*")?)"#)
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
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut push = |h: &str| {
        let h = h.trim_matches('.').to_lowercase();
        if h.contains('.')
            && !h.chars().all(|c| c.is_ascii_digit() || c == '.')
            && seen.insert(h.clone())
        {
            out.push(h);
        }
    };
    // The spans that name this side of a connection or its client, in order and disjoint.
    let mut local: Vec<(usize, usize)> = LOCAL_FIELD
        .find_iter(line)
        .map(|m| (m.start(), m.end()))
        .chain(
            CLIENT_FIELDS
                .captures_iter(line)
                .filter_map(|c| c.get(1))
                .map(|m| (m.start(), m.end())),
        )
        .collect();
    local.sort_unstable();
    local.dedup_by(|b, a| {
        // Merge overlapping spans into the earlier one.
        if b.0 < a.1 {
            a.1 = a.1.max(b.1);
            true
        } else {
            false
        }
    });
    for c in URL_HOST
        .captures_iter(line)
        .chain(KEY_HOST.captures_iter(line))
    {
        if let Some(m) = c.get(1) {
            let i = local.partition_point(|&(_, e)| e < m.end());
            if local
                .get(i)
                .is_some_and(|&(s, e)| m.start() >= s && m.end() <= e)
            {
                continue;
            }
            push(m.as_str());
        }
    }
    for m in DNS_NAME.find_iter(line) {
        // `java.net.SocketTimeoutException` is a class name, not the host `java.net`.
        if line[m.end()..].starts_with('.') {
            continue;
        }
        // `local` is in order and disjoint: the one field that could hold `m` is found by a
        // binary search, so a line of many names costs no more than linear time.
        let i = local.partition_point(|&(_, e)| e < m.end());
        if local
            .get(i)
            .is_some_and(|&(s, e)| m.start() >= s && m.end() <= e)
        {
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
    // Never half a redaction mask (`[password_or_secret:…`): the reader could not tell it was
    // one, and the redactor re-checking the message would not either. Cut outside it.
    let mask_at = |i: usize| {
        let open = line[..i].rfind('[')?;
        let close = open + line[open..].find(']')?;
        (close >= i && convops_shared::redact::is_mask(&line[open..=close]))
            .then_some((open, close + 1))
    };
    if let Some((open, close)) = mask_at(end) {
        end = if open > start { open } else { close };
    }
    if let Some((_, close)) = mask_at(start).filter(|&(open, _)| open < start) {
        start = close;
        end = end.max(start);
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
    // The example may be a window of a long line; the template keeps every constant word of
    // it, so a cause it names is read from there when the example shows none.
    let mut line = line;
    let mut sig = signature_of(line);
    if sig.is_none_or(|(_, role, _, _)| role != Role::Cause) {
        if let Some(found) = signature_of(&t.template).filter(|(_, r, _, _)| *r == Role::Cause) {
            line = &t.template;
            sig = Some(found);
        }
    }
    let (family, role, span) = match sig {
        Some((f, r, _, span)) => (f, Some(r), Some(span)),
        None => (Family::Other, None, None),
    };
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
        role,
        token,
        excerpt: excerpt(line, span, 150),
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

/// An event name without the API version some services append in CloudTrail (Lambda records
/// `UpdateFunctionCode20150331v2`, `PublishVersion20150331`, `UpdateAlias20150331`:
/// https://docs.aws.amazon.com/lambda/latest/dg/logging-using-cloudtrail.html).
pub fn event_name(raw: &str) -> &str {
    let b = raw.as_bytes();
    let mut end = b.len();
    // An optional `v<digits>` after the date.
    let mut i = end;
    while i > 0 && b[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i < end && i > 0 && b[i - 1] == b'v' {
        end = i - 1;
    }
    let mut j = end;
    while j > 0 && b[j - 1].is_ascii_digit() {
        j -= 1;
    }
    if end - j == 8 && j > 0 {
        &raw[..j]
    } else {
        raw
    }
}

pub fn change_kind(c: &ChangeEvidence) -> ChangeKind {
    use ChangeKind::*;
    let params = c.parameters.as_deref().unwrap_or("");
    match event_name(&c.event_name) {
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
        // Settings changes of things that keep running: a rollout of configuration.
        "ModifyTargetGroup"
        | "ModifyTargetGroupAttributes"
        | "ModifyLoadBalancerAttributes"
        | "ModifyListener"
        | "UpdateStage"
        | "CreateStage"
        | "UpdateApi"
        | "UpdateIntegration"
        | "UpdateRestApi"
        | "PutIntegration"
        | "UpdateEventSourceMapping"
        | "UpdateStateMachine"
        | "PutRule"
        | "PutTargets"
        | "ModifyCacheCluster"
        | "ModifyReplicationGroup"
        | "ModifyCacheParameterGroup"
        | "ModifyLaunchTemplate"
        | "CreateLaunchTemplateVersion"
        | "UpdateDistribution"
        | "ChangeResourceRecordSets"
        | "UpdateHealthCheck"
        | "SetQueueAttributes"
        | "UpdateGlobalTable"
        | "PutBucketLifecycleConfiguration"
        // AppConfig rolls configuration out to its targets
        // (https://docs.aws.amazon.com/appconfig/latest/userguide/logging-using-cloudtrail.html).
        | "StartDeployment"
        | "CreateHostedConfigurationVersion"
        | "UpdateConfigurationProfile" => Deploy,
        "IncreaseReplicationFactor"
        | "DecreaseReplicationFactor"
        | "ModifyReplicationGroupShardConfiguration"
        | "UpdateShardCount"
        | "DeleteFunctionConcurrency"
        | "PutProvisionedConcurrency"
        | "SetInstanceHealth"
        | "DetachInstances"
        | "EnterStandby"
        | "SuspendProcesses"
        | "ModifyInstanceCapacityReservationAttributes" => Scale,
        "ModifyVpcAttribute" | "DisassociateAddress" | "ReleaseAddress" => AccessRestrict,
        // By verb, for the events no row names: a narrowing of access or of reachability is
        // what blocks traffic or calls.
        n if (n.starts_with("Revoke")
            || n.starts_with("Detach")
            || n.starts_with("Remove")
            || n.starts_with("Disable")
            || n.starts_with("Delete"))
            && (n.contains("Policy")
                || n.contains("Permission")
                || n.contains("Grant")
                || n.contains("SecurityGroup")
                || n.contains("NetworkAcl")
                || n.contains("Route")
                || n.contains("Endpoint")
                || n.contains("Key")) =>
        {
            AccessRestrict
        }
        _ => Other,
    }
}

/// What a change can break, for the reader: every CloudTrail write in the window is put in one
/// of these classes, and the message says which class a cause or a set-aside change is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeClass {
    /// Who can reach what over the network: security groups, network ACLs, routes, endpoints,
    /// load balancer listeners.
    Reachability,
    /// Who may call what: IAM policies and roles, KMS keys and grants, resource policies.
    Permissions,
    /// How much runs: desired counts, scaling limits, table capacity, concurrency, instances
    /// stopped or started.
    Capacity,
    /// Settings of something that keeps running: parameters, secrets, function configuration,
    /// database parameters, health checks.
    Configuration,
    /// New code or images rolled out.
    Code,
    /// Data itself: restores, deletions, purges.
    Data,
}

impl ChangeClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeClass::Reachability => "reachability",
            ChangeClass::Permissions => "permissions",
            ChangeClass::Capacity => "capacity",
            ChangeClass::Configuration => "configuration",
            ChangeClass::Code => "code",
            ChangeClass::Data => "data",
        }
    }
}

/// Which class a change is. Events the tables of [`change_kind`] know are classed by their kind;
/// the rest by the service and verb of the event name (IAM, KMS, STS → permissions; EC2 network
/// objects → reachability; Auto Scaling → capacity; …), defaulting to configuration.
pub fn change_class(c: &ChangeEvidence, kind: ChangeKind) -> ChangeClass {
    let service = c.event_source.split('.').next().unwrap_or("");
    let name = event_name(&c.event_name);
    let network = [
        "SecurityGroup",
        "NetworkAcl",
        "Route",
        "VpcEndpoint",
        "NatGateway",
        "InternetGateway",
        "TransitGateway",
        "VpcPeering",
        "Listener",
        "Subnet",
    ]
    .iter()
    .any(|w| name.contains(w));
    match kind {
        ChangeKind::Scale | ChangeKind::Lifecycle => ChangeClass::Capacity,
        ChangeKind::AccessRestrict | ChangeKind::AccessGrant => {
            if network || service == "ec2" {
                ChangeClass::Reachability
            } else {
                ChangeClass::Permissions
            }
        }
        ChangeKind::DbConfig => ChangeClass::Configuration,
        ChangeKind::Deploy => {
            let code = matches!(
                name,
                "UpdateFunctionCode"
                    | "PublishVersion"
                    | "UpdateAlias"
                    | "CreateDeployment"
                    | "RegisterTaskDefinition"
                    | "UpdateService"
                    | "CreateService"
                    | "UpdateStack"
                    | "ExecuteChangeSet"
                    | "UpdateEnvironment"
                    | "CreateImage"
            );
            if code {
                ChangeClass::Code
            } else {
                ChangeClass::Configuration
            }
        }
        ChangeKind::Other => {
            if matches!(service, "iam" | "kms" | "sts" | "sso" | "secretsmanager")
                && (name.contains("Policy")
                    || name.contains("Key")
                    || name.contains("Grant")
                    || name.contains("Role")
                    || name.contains("Permission"))
            {
                ChangeClass::Permissions
            } else if network {
                ChangeClass::Reachability
            } else if matches!(service, "autoscaling" | "application-autoscaling")
                || name.contains("Capacity")
                || name.contains("Concurrency")
                || name.contains("Scaling")
            {
                ChangeClass::Capacity
            } else if name.starts_with("Restore")
                || name.starts_with("Purge")
                || name.contains("Snapshot")
                || name.contains("Backup")
                || name.starts_with("DeleteTable")
                || name.starts_with("DeleteObject")
                || name.starts_with("DeleteItem")
            {
                ChangeClass::Data
            } else {
                ChangeClass::Configuration
            }
        }
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
    /// Every series, the alarm's own included (a rule that reads a level reads it wherever it
    /// is, and the alarm may watch the very metric that shows the cause).
    pub series: Vec<Series<'a>>,
    pub errors: Vec<ErrorLines<'a>>,
    pub changes: Vec<(&'a ChangeEvidence, ChangeKind)>,
    pub services: Vec<&'a EcsServiceEvidence>,
    /// Services behind the alarm (its target group or service dimensions).
    pub behind: Vec<&'a EcsServiceEvidence>,
    pub resources: Vec<&'a ResourceEvidence>,
    /// The evidence id of the alarm's own series.
    pub alarm_id: Option<String>,
    /// Templates whose lines grew sharply when their group's traffic changed, the most grown
    /// first: what the extra load is.
    pub grown: Vec<(&'a LogEvidence, &'a convops_shared::evidence::GrownTemplate)>,
    /// Changes made on hosts, as their logs recorded them (`convops_shared::host_changes`).
    pub host_changes: Vec<HostChange<'a>>,
}

/// A change a host's log recorded: a deployment's lifecycle event, a configuration reload, a
/// scheduled job.
#[derive(Debug, Clone)]
pub struct HostChange<'a> {
    pub logs: &'a LogEvidence,
    pub t: &'a LogTemplate,
    pub kind: convops_shared::host_changes::ChangeKind,
    /// The example line, cut around the words that identify the change.
    pub excerpt: String,
}

impl<'a> Facts<'a> {
    /// The series other than the alarm's own.
    pub fn related(&self) -> impl Iterator<Item = &Series<'a>> {
        self.series
            .iter()
            .filter(move |s| Some(&s.m.id) != self.alarm_id.as_ref())
    }

    pub fn new(frame: &'a EvidenceFrame) -> Self {
        let a = &frame.alarm;
        let mut all_series = Vec::new();
        let mut errors = Vec::new();
        let mut changes = Vec::new();
        let mut services = Vec::new();
        let mut resources = Vec::new();
        let mut grown: Vec<(&LogEvidence, &convops_shared::evidence::GrownTemplate)> = Vec::new();
        let mut host_changes = Vec::new();
        for item in &frame.items {
            match item {
                EvidenceItem::Metric(m) => all_series.push(series(m)),
                EvidenceItem::Logs(l) => {
                    errors.extend(l.templates.iter().map(|t| error_lines(l, t)));
                    grown.extend(l.grew.iter().map(|g| (l, g)));
                    host_changes.extend(l.changes.iter().filter_map(|t| {
                        let line = t.examples.first().unwrap_or(&t.template);
                        let (row, span) = convops_shared::host_changes::classify(line)?;
                        Some(HostChange {
                            logs: l,
                            t,
                            kind: row.kind,
                            excerpt: excerpt(line, Some(span), 150),
                        })
                    }));
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
            series: all_series,
            alarm_id,
            grown: {
                grown.sort_by(|a, b| {
                    (b.1.after.saturating_sub(b.1.before))
                        .cmp(&a.1.after.saturating_sub(a.1.before))
                        .then(a.0.id.cmp(&b.0.id))
                });
                grown
            },
            errors,
            changes,
            services,
            behind,
            resources,
            host_changes,
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

    /// The names of what the failure involves, lowercase: the alarm's dimension values (and
    /// their `type/NAME/id` middle part), the services behind it and their task definition
    /// families, the resources named by failing lines' hosts, the log groups with error lines.
    pub fn involved_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |n: &str| {
            let n = n.to_lowercase();
            if n.len() >= 3 && !out.contains(&n) {
                out.push(n);
            }
        };
        for v in self.frame.alarm.dimensions.values() {
            push(v);
            let parts: Vec<&str> = v.split('/').collect();
            if let [_, name, _] = parts.as_slice() {
                push(name);
            }
        }
        for s in &self.behind {
            push(&s.service);
            push(family_name(&s.task_definition));
        }
        for e in &self.errors {
            for h in &e.hosts {
                if let Some(r) = self.resource_of_host(h) {
                    push(&r.name);
                }
            }
            if let Some(s) = self.service_of_group(&e.logs.group) {
                push(&s.service);
                push(family_name(&s.task_definition));
            }
            if let Some(last) = e.logs.group.rsplit('/').find(|x| x.len() >= 3) {
                push(last);
            }
        }
        out
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

/// The family part of `family:revision` (shared with the agent's log discovery).
pub use convops_shared::names::task_family as family_name;

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
    fn families_follow_the_signature_table() {
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
            Family::Capacity
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
        // nginx names its own virtual host and the request's Host; the peer is the upstream.
        assert_eq!(
            hosts_in(
                r#"2024/01/01 [error] 7#7: *1 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.1, server: shop.example, request: "GET / HTTP/1.1", upstream: "http://php-fpm.internal:9000/index.php", host: "shop.example""#
            ),
            ["php-fpm.internal"]
        );
        assert_eq!(
            hosts_in(
                r#"2024/01/01 [error] 7#7: *1 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.1, server: shop.example, request: "GET / HTTP/1.1", upstream: "fastcgi://unix:/run/php/fpm.sock:", host: "shop.example", referrer: "https://news.ycombinator.com/""#
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_access_logs_referer_and_user_agent_are_not_peers() {
        // nginx `combined`: the referer is the page the client came from.
        assert!(hosts_in(
            r#"203.0.113.9 - - [29/Nov/2026:22:08:01 +0000] "GET /blog/post/ HTTP/1.1" 504 167 "https://news.ycombinator.com/" "Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0 (+https://bot.example.org/info)" rt=60.001"#
        )
        .is_empty());
        // The request's own absolute URL (a forward proxy's log) is still a peer.
        assert_eq!(
            hosts_in(
                r#"10.0.0.1 - - [x] "GET http://api.vendor.example/v1 HTTP/1.1" 502 0 "-" "curl/8""#
            ),
            ["api.vendor.example"]
        );
    }

    #[test]
    fn excerpts_never_cut_a_mask_in_half() {
        let line = "request: POST /v1/items?api_key=[password_or_secret:63bc] HTTP/1.1 upstream: x";
        let at = line.find("api_key").expect("key");
        for radius in 0..40 {
            let e = excerpt(line, Some((at, at + 7)), radius);
            let opens = e.matches("[password_or_secret").count();
            let whole = e.matches("[password_or_secret:63bc]").count();
            assert_eq!(opens, whole, "radius {radius}: {e}");
            assert!(
                !e.contains("or_secret:63bc]") || whole == 1,
                "radius {radius}: {e}"
            );
        }
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
    fn event_names_lose_their_api_version() {
        assert_eq!(
            event_name("UpdateFunctionCode20150331v2"),
            "UpdateFunctionCode"
        );
        assert_eq!(event_name("PublishVersion20150331"), "PublishVersion");
        assert_eq!(
            event_name("PutFunctionConcurrency20171031"),
            "PutFunctionConcurrency"
        );
        assert_eq!(event_name("UpdateService"), "UpdateService");
        assert_eq!(event_name("CreateKey2"), "CreateKey2");
        assert_eq!(event_name("20150331"), "20150331");
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
