//! Agent configuration: a TOML file (`--config FILE`) overlaid with `CONVOPS_AGENT__…`
//! environment variables (`__` separates nesting: `CONVOPS_AGENT__CONTROL_PLANE__URL`), parsed
//! into a raw struct that rejects unknown keys, then validated into [`Settings`].
//!
//! Every error is one line naming the key or file and what is wrong with it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use convops_shared::secret::SecretString;
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

pub const ENV_PREFIX: &str = "CONVOPS_AGENT__";
pub const DEFAULT_POLL_INTERVAL_SECS: u64 = 30;
pub const DEFAULT_MAX_AGE_ON_START_SECS: u64 = 3600;
pub const DEFAULT_LOOKBACK_SECS: u64 = 3 * 3600;
pub const DEFAULT_DEADLINE_SECS: u64 = 60;
pub const DEFAULT_RAW_BYTE_BUDGET_MIB: u64 = 64;
pub const DEFAULT_EVIDENCE_BUDGET_KIB: u64 = 64;
pub const DEFAULT_SPOOL_DIR: &str = "/var/lib/convops-agent";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    control_plane: RawControlPlane,
    #[serde(default)]
    aws: RawAws,
    #[serde(default)]
    alarms: RawAlarms,
    #[serde(default)]
    investigation: RawInvestigation,
    #[serde(default)]
    spool: RawSpool,
    #[serde(default)]
    redaction: RawRedaction,
    #[serde(default)]
    ecs: RawEcs,
    #[serde(default)]
    logs: RawLogs,
    #[serde(default)]
    metrics: RawMetrics,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogs {
    error_pattern: Option<String>,
    #[serde(default)]
    groups: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEcs {
    clusters: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRedaction {
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    pattern: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawControlPlane {
    url: Option<String>,
    token: Option<SecretString>,
    ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAws {
    region: Option<String>,
    role_arn: Option<String>,
    #[serde(default, deserialize_with = "convops_shared::config_error::digits")]
    external_id: Option<String>,
    session_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlarms {
    poll_interval_secs: Option<u64>,
    name_prefix: Option<String>,
    max_age_on_start_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvestigation {
    lookback_secs: Option<u64>,
    deadline_secs: Option<u64>,
    raw_byte_budget_mib: Option<u64>,
    evidence_budget_kib: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpool {
    dir: Option<PathBuf>,
    max_kib: Option<u64>,
}

/// Validated agent settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub control_plane: ControlPlaneSettings,
    /// AWS region override; the default credential/region chain applies when `None`.
    pub region: Option<String>,
    /// Cross-account mode (`aws.role_arn`): the role assumed with STS for every call.
    pub assume_role: Option<crate::aws::AssumeRole>,
    pub poll_interval: Duration,
    /// Only alarms whose name starts with this are watched (empty: all).
    pub alarm_name_prefix: String,
    /// On first sight (nothing remembered), an alarm already in `ALARM` is investigated only if
    /// it entered that state at most this long ago; older ones are remembered as handled.
    pub max_age_on_start: Duration,
    pub lookback: Duration,
    pub deadline: Duration,
    /// Raw bytes one investigation may read from AWS (`investigation.raw_byte_budget_mib`).
    pub raw_byte_budget: u64,
    /// Bytes one evidence frame may take (`investigation.evidence_budget_kib`).
    pub evidence_budget: usize,
    pub spool_dir: PathBuf,
    /// Bound of the spool's outbox in bytes (`spool.max_kib`); see `spool`'s "Size bound".
    pub spool_max_bytes: u64,
    /// User-defined redaction rules `(name, regex)`, applied before the built-in ones.
    pub redaction_rules: Vec<(String, String)>,
    /// ECS clusters whose services are investigated (names or ARNs).
    pub ecs_clusters: Vec<String>,
    pub logs: LogSettings,
    /// Where the health and metrics endpoints listen (`metrics.listen`).
    pub metrics_listen: std::net::SocketAddr,
}

/// How the agent reads logs.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Lines matching this are kept as error-like (`logs.error_pattern`).
    pub error_pattern: regex::Regex,
    /// Extra log groups per resource name (`[logs.groups]`), read before the ones found by
    /// naming convention.
    pub groups: std::collections::BTreeMap<String, Vec<String>>,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            error_pattern: regex::Regex::new(crate::collect::logs::DEFAULT_ERROR_PATTERN)
                .unwrap_or_else(|e| panic!("{e}")),
            groups: Default::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ControlPlaneSettings {
    /// `wss://host:port/v1/agent/connect`.
    pub url: url::Url,
    pub token: SecretString,
    /// PEM file of CA certificates to trust instead of the system roots.
    pub ca_file: Option<PathBuf>,
}

/// A configuration problem, one line naming the key or file.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn key(key: &str, what: impl std::fmt::Display) -> Self {
        ConfigError(format!("{key}: {what}"))
    }
}

/// Load settings from an optional TOML file and the process environment.
pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
    load_from(file, Env::prefixed(ENV_PREFIX).split("__"))
}

/// Like [`load`], with the environment provider injected (tests pass a fixed map).
pub fn load_from(file: Option<&Path>, env: Env) -> Result<Settings, ConfigError> {
    validate(raw_config(file, env)?)
}

/// Only `metrics.listen`, from the file and the environment (for `convops-agent health`, which
/// must work whatever else the configuration lacks).
pub fn load_metrics_listen(file: Option<&Path>) -> Result<std::net::SocketAddr, ConfigError> {
    let raw = raw_config(file, Env::prefixed(ENV_PREFIX).split("__"))?;
    validate_metrics(raw.metrics)
}

fn validate_metrics(metrics: RawMetrics) -> Result<std::net::SocketAddr, ConfigError> {
    let listen = metrics
        .listen
        .unwrap_or_else(|| crate::telemetry::DEFAULT_LISTEN.to_owned());
    listen.parse().map_err(|e| {
        ConfigError::key(
            "metrics.listen",
            format!("{listen:?} is not an address and port (e.g. 127.0.0.1:9464): {e}"),
        )
    })
}

fn raw_config(file: Option<&Path>, env: Env) -> Result<RawConfig, ConfigError> {
    let mut figment = Figment::new();
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError(format!(
                "config file {}: not found or not a regular file",
                path.display()
            )));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    figment
        .merge(env)
        .extract()
        .map_err(|e| ConfigError(convops_shared::config_error::one_line(e)))
}

/// Only the `[redaction]` section of a config file, validated (for `convops-agent redact`).
pub fn load_redaction_rules(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    if !path.is_file() {
        return Err(ConfigError(format!(
            "config file {}: not found or not a regular file",
            path.display()
        )));
    }
    let raw: RawConfig = Figment::new()
        .merge(Toml::file_exact(path))
        .extract()
        .map_err(|e| ConfigError(convops_shared::config_error::one_line(e)))?;
    validate_rules(raw.redaction)
}

fn validate_rules(redaction: RawRedaction) -> Result<Vec<(String, String)>, ConfigError> {
    let RawRedaction { rules } = redaction;
    let mut out = Vec::new();
    for (i, RawRule { name, pattern }) in rules.into_iter().enumerate() {
        convops_shared::redact::Redactor::default()
            .with_rule(&name, &pattern)
            .map_err(|e| ConfigError::key(&format!("redaction.rules[{i}]"), e))?;
        out.push((name, pattern));
    }
    Ok(out)
}

fn validate(raw: RawConfig) -> Result<Settings, ConfigError> {
    let RawConfig {
        control_plane,
        aws,
        alarms,
        investigation,
        spool,
        redaction,
        ecs,
        logs,
        metrics,
    } = raw;
    let metrics_listen = validate_metrics(metrics)?;
    let RawControlPlane {
        url,
        token,
        ca_file,
    } = control_plane;
    let url = url.ok_or_else(|| {
        ConfigError::key(
            "control_plane.url",
            format!("missing (set it in the config file or {ENV_PREFIX}CONTROL_PLANE__URL)"),
        )
    })?;
    let url = url::Url::parse(&url)
        .map_err(|e| ConfigError::key("control_plane.url", format!("{url:?} is not a URL: {e}")))?;
    if url.scheme() != "wss" {
        return Err(ConfigError::key(
            "control_plane.url",
            format!(
                "scheme must be wss (TLS is required), got {:?}",
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none() {
        return Err(ConfigError::key("control_plane.url", "has no host"));
    }
    let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
        ConfigError::key(
            "control_plane.token",
            format!("missing (set {ENV_PREFIX}CONTROL_PLANE__TOKEN)"),
        )
    })?;
    if let Some(path) = &ca_file {
        crate::tls::read_ca_file(path).map_err(|e| ConfigError::key("control_plane.ca_file", e))?;
    }
    let RawAws {
        region,
        role_arn,
        external_id,
        session_name,
    } = aws;
    let assume_role = validate_role(role_arn, external_id, session_name)?;
    let RawAlarms {
        poll_interval_secs,
        name_prefix,
        max_age_on_start_secs,
    } = alarms;
    let poll = poll_interval_secs.unwrap_or(DEFAULT_POLL_INTERVAL_SECS);
    if poll == 0 {
        return Err(ConfigError::key(
            "alarms.poll_interval_secs",
            "must be at least 1",
        ));
    }
    let RawInvestigation {
        lookback_secs,
        deadline_secs,
        raw_byte_budget_mib,
        evidence_budget_kib,
    } = investigation;
    let evidence_kib = evidence_budget_kib.unwrap_or(DEFAULT_EVIDENCE_BUDGET_KIB);
    if !(8..=512).contains(&evidence_kib) {
        return Err(ConfigError::key(
            "investigation.evidence_budget_kib",
            format!("{evidence_kib} is out of range (8 to 512; frames are at most 1 MiB)"),
        ));
    }
    let budget_mib = raw_byte_budget_mib.unwrap_or(DEFAULT_RAW_BYTE_BUDGET_MIB);
    if !(1..=4096).contains(&budget_mib) {
        return Err(ConfigError::key(
            "investigation.raw_byte_budget_mib",
            format!("{budget_mib} is out of range (1 to 4096)"),
        ));
    }
    let lookback = lookback_secs.unwrap_or(DEFAULT_LOOKBACK_SECS);
    if !(60..=14 * 24 * 3600).contains(&lookback) {
        return Err(ConfigError::key(
            "investigation.lookback_secs",
            format!("{lookback} is out of range (60 to 1209600)"),
        ));
    }
    let deadline = deadline_secs.unwrap_or(DEFAULT_DEADLINE_SECS);
    if deadline == 0 {
        return Err(ConfigError::key(
            "investigation.deadline_secs",
            "must be at least 1",
        ));
    }
    let RawSpool { dir, max_kib } = spool;
    let spool_max_bytes = match max_kib {
        None => crate::spool::DEFAULT_MAX_BYTES,
        Some(kib @ 16..=1_073_741_824) if kib >= evidence_kib => kib * 1024,
        Some(kib @ 16..=1_073_741_824) => {
            return Err(ConfigError::key(
                "spool.max_kib",
                format!("{kib} is below investigation.evidence_budget_kib ({evidence_kib}): the spool could not hold one frame"),
            ))
        }
        Some(kib) => {
            return Err(ConfigError::key(
                "spool.max_kib",
                format!("{kib} is out of range (16 to 1073741824)"),
            ))
        }
    };
    let redaction_rules = validate_rules(redaction)?;
    let RawEcs { clusters } = ecs;
    let ecs_clusters: Vec<String> = clusters
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    let RawLogs {
        error_pattern,
        groups,
    } = logs;
    let error_pattern = match error_pattern {
        None => LogSettings::default().error_pattern,
        Some(p) => regex::RegexBuilder::new(&p)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| {
                ConfigError::key(
                    "logs.error_pattern",
                    format!(
                        "{p:?} is not a valid regular expression: {}",
                        one_line_regex(&e)
                    ),
                )
            })?,
    };
    for (name, list) in &groups {
        if let Some(bad) = list.iter().find(|g| g.is_empty() || g.len() > 512) {
            return Err(ConfigError::key(
                &format!("logs.groups.{name}"),
                format!("{bad:?} is not a log group name (1 to 512 characters)"),
            ));
        }
    }
    Ok(Settings {
        control_plane: ControlPlaneSettings {
            url,
            token,
            ca_file,
        },
        region: region.filter(|r| !r.is_empty()),
        assume_role,
        poll_interval: Duration::from_secs(poll),
        alarm_name_prefix: name_prefix.unwrap_or_default(),
        max_age_on_start: Duration::from_secs(
            max_age_on_start_secs.unwrap_or(DEFAULT_MAX_AGE_ON_START_SECS),
        ),
        lookback: Duration::from_secs(lookback),
        deadline: Duration::from_secs(deadline),
        raw_byte_budget: budget_mib * 1024 * 1024,
        evidence_budget: evidence_kib as usize * 1024,
        spool_dir: dir.unwrap_or_else(|| PathBuf::from(DEFAULT_SPOOL_DIR)),
        spool_max_bytes,
        redaction_rules,
        ecs_clusters,
        logs: LogSettings {
            error_pattern,
            groups,
        },
        metrics_listen,
    })
}

fn validate_role(
    role_arn: Option<String>,
    external_id: Option<String>,
    session_name: Option<String>,
) -> Result<Option<crate::aws::AssumeRole>, ConfigError> {
    let Some(arn) = role_arn.filter(|a| !a.trim().is_empty()) else {
        if external_id.is_some() {
            return Err(ConfigError::key(
                "aws.external_id",
                "set without aws.role_arn (it is only used when assuming a role)",
            ));
        }
        return Ok(None);
    };
    let arn = arn.trim().to_owned();
    let valid = regex::Regex::new(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9_+=,.@/-]+$")
        .map(|r| r.is_match(&arn))
        .unwrap_or(false)
        && arn.len() <= 2048;
    if !valid {
        return Err(ConfigError::key(
            "aws.role_arn",
            format!("{arn:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"),
        ));
    }
    if let Some(id) = &external_id {
        if !(2..=1224).contains(&id.len()) {
            return Err(ConfigError::key(
                "aws.external_id",
                "must be 2 to 1224 characters",
            ));
        }
    }
    let session_name = session_name.unwrap_or_else(|| "convops-agent".into());
    let session_ok = (2..=64).contains(&session_name.len())
        && session_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c));
    if !session_ok {
        return Err(ConfigError::key(
            "aws.session_name",
            format!("{session_name:?} must be 2 to 64 of [A-Za-z0-9+=,.@_-]"),
        ));
    }
    Ok(Some(crate::aws::AssumeRole {
        role_arn: arn,
        external_id: external_id.map(SecretString::new),
        session_name,
    }))
}

fn one_line_regex(e: &regex::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_none() -> Env {
        Env::prefixed("CONVOPS_AGENT_TEST_UNSET_PREFIX__").split("__")
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let p = dir.path().join("agent.toml");
        std::fs::write(&p, text).expect("write");
        p
    }

    fn err(text: &str) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(&dir, text);
        let e = load_from(Some(&p), env_none())
            .expect_err("must fail")
            .to_string();
        assert_eq!(e.lines().count(), 1, "one line expected: {e}");
        e
    }

    #[test]
    fn full_file_is_accepted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(
            &dir,
            r#"
            [control_plane]
            url = "wss://cp.example.com/v1/agent/connect"
            token = "cvo_agt_secret"
            [alarms]
            poll_interval_secs = 5
            [spool]
            dir = "/tmp/x"
            "#,
        );
        let s = load_from(Some(&p), env_none()).expect("valid");
        assert_eq!(s.poll_interval, Duration::from_secs(5));
        assert_eq!(s.spool_max_bytes, crate::spool::DEFAULT_MAX_BYTES);
        assert_eq!(s.control_plane.token.expose(), "cvo_agt_secret");
        assert!(
            !format!("{s:?}").contains("cvo_agt_secret"),
            "token must not print"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let e = err("[control_plane]\ntoken = \"t\"\n");
        assert!(
            e.contains("control_plane.url") && e.contains("missing"),
            "{e}"
        );
        let e = err("[control_plane]\nurl = \"https://x\"\ntoken = \"t\"\n");
        assert!(e.contains("control_plane.url") && e.contains("wss"), "{e}");
        let e = err("[control_plane]\nurl = \"wss://x/\"\ntoken = \"t\"\nbogus = 1\n");
        assert!(e.contains("bogus") && e.contains("control_plane"), "{e}");
        let e = err("[control_plane\nurl=");
        assert!(e.contains("agent.toml"), "{e}");
        let e = err("[control_plane]\nurl = \"wss://x/\"\ntoken = \"t\"\nca_file = \"/nonexistent/ca.pem\"\n");
        assert!(
            e.contains("control_plane.ca_file") && e.contains("/nonexistent/ca.pem"),
            "{e}"
        );
    }

    #[test]
    fn the_spool_bound_is_in_range() {
        let base = "[control_plane]\nurl = \"wss://x/\"\ntoken = \"t\"\n";
        let e = err(&format!("{base}[spool]\nmax_kib = 10\n"));
        assert!(
            e.contains("spool.max_kib") && e.contains("10 is out of range"),
            "{e}"
        );
        let e = err(&format!("{base}[spool]\nmax_kib = 32\n"));
        assert!(
            e.contains("spool.max_kib") && e.contains("evidence_budget_kib (64)"),
            "{e}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("agent.toml");
        std::fs::write(&p, format!("{base}[spool]\nmax_kib = 2048\n")).expect("write");
        let s = load_from(Some(&p), env_none()).expect("valid");
        assert_eq!(s.spool_max_bytes, 2 * 1024 * 1024);
    }

    #[test]
    fn cross_account_role_is_validated() {
        let base = "[control_plane]\nurl = \"wss://x/\"\ntoken = \"t\"\n";
        let e = err(&format!(
            "{base}[aws]\nrole_arn = \"arn:aws:s3:::bucket\"\n"
        ));
        assert!(
            e.contains("aws.role_arn") && e.contains("not an IAM role ARN"),
            "{e}"
        );
        let e = err(&format!("{base}[aws]\nexternal_id = \"abc\"\n"));
        assert!(
            e.contains("aws.external_id") && e.contains("without aws.role_arn"),
            "{e}"
        );
        let e = err(&format!(
            "{base}[aws]\nrole_arn = \"arn:aws:iam::123456789012:role/ro\"\nsession_name = \"has space\"\n"
        ));
        assert!(e.contains("aws.session_name"), "{e}");
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(
            &dir,
            &format!(
                "{base}[aws]\nrole_arn = \"arn:aws:iam::123456789012:role/convops-readonly\"\nexternal_id = \"ext-7f3a\"\n"
            ),
        );
        let s = load_from(Some(&p), env_none()).expect("valid");
        let r = s.assume_role.as_ref().expect("role");
        assert_eq!(
            r.role_arn,
            "arn:aws:iam::123456789012:role/convops-readonly"
        );
        assert_eq!(r.session_name, "convops-agent");
        assert!(
            !format!("{s:?}").contains("ext-7f3a"),
            "the external id is not printed"
        );
    }

    /// An external id of digits, as the environment delivers it (a number), loads as text.
    #[test]
    fn an_external_id_of_digits_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(
            &dir,
            "[control_plane]\nurl = \"wss://x/\"\ntoken = \"t\"\n[aws]\nrole_arn = \"arn:aws:iam::123456789012:role/ro\"\nexternal_id = 4815162342\n",
        );
        let s = load_from(Some(&p), env_none()).expect("valid");
        let id = s
            .assume_role
            .and_then(|r| r.external_id)
            .expect("external id");
        assert_eq!(id.expose(), "4815162342");
    }

    #[test]
    fn log_pattern_and_groups_are_validated() {
        let base = "[control_plane]\nurl = \"wss://x/\"\ntoken = \"t\"\n";
        let e = err(&format!("{base}[logs]\nerror_pattern = \"(unclosed\"\n"));
        assert!(
            e.contains("logs.error_pattern") && e.contains("(unclosed"),
            "{e}"
        );
        let e = err(&format!("{base}[logs.groups]\napi = [\"\"]\n"));
        assert!(e.contains("logs.groups.api"), "{e}");
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(
            &dir,
            &format!(
                "{base}[logs]\nerror_pattern = \"(?i)\\\\bsev=(crit|err)\"\n[logs.groups]\napi = [\"/legacy/api\"]\n"
            ),
        );
        let s = load_from(Some(&p), env_none()).expect("valid");
        assert!(s.logs.error_pattern.is_match("x SEV=ERR y"));
        assert!(!s.logs.error_pattern.is_match("ERROR without the field"));
        assert_eq!(s.logs.groups["api"], ["/legacy/api"]);
        let d = load_from(Some(&write(&dir, base)), env_none()).expect("valid");
        assert!(d.logs.error_pattern.is_match("java.lang.OutOfMemoryError"));
    }

    #[test]
    fn redaction_rules_are_compiled_at_load() {
        let base = "[control_plane]\nurl = \"wss://x/\"\ntoken = \"t\"\n";
        let e = err(&format!(
            "{base}[[redaction.rules]]\nname = \"emp\"\npattern = \"(\"\n"
        ));
        assert!(
            e.contains("redaction.rules[0]") && e.contains("\"emp\""),
            "{e}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(
            &dir,
            &format!("{base}[[redaction.rules]]\nname = \"emp\"\npattern = \"EMP-\\\\d+\"\n"),
        );
        let s = load_from(Some(&p), env_none()).expect("valid");
        assert_eq!(
            s.redaction_rules,
            vec![("emp".to_string(), "EMP-\\d+".to_string())]
        );
    }

    #[test]
    fn missing_file_is_named() {
        let e = load_from(Some(Path::new("/nonexistent/agent.toml")), env_none())
            .expect_err("must fail")
            .to_string();
        assert!(e.contains("/nonexistent/agent.toml"), "{e}");
    }
}
