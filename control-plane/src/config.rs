//! Control-plane configuration: a TOML file (`--config FILE`) overlaid with `CONVOPS_CP__…`
//! environment variables (`__` separates nesting: `CONVOPS_CP__TLS__CERT_FILE`), parsed into a raw
//! struct that rejects unknown keys, then validated into [`Settings`]. Errors are one line naming
//! the key or file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

pub const ENV_PREFIX: &str = "CONVOPS_CP__";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
pub const DEFAULT_DATA_DIR: &str = "./convops-data";
pub const DEFAULT_HEARTBEAT_SECS: u32 = 30;
pub const DEFAULT_DELIVERY_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_DELIVERY_MAX_ATTEMPTS: u32 = 8;
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";
pub const DEFAULT_WHATSAPP_API_URL: &str = "https://graph.facebook.com/v21.0";
pub const DEFAULT_WHATSAPP_TEMPLATE: &str = "convops_incident";
pub const DEFAULT_WHATSAPP_TEMPLATE_LANGUAGE: &str = "en_US";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    public_url: Option<String>,
    #[serde(default)]
    tls: RawTls,
    #[serde(default)]
    secrets: RawSecrets,
    #[serde(default)]
    delivery: RawDelivery,
    #[serde(default)]
    agents: RawAgents,
    llm: Option<RawLlm>,
    #[serde(default)]
    slack: RawSlack,
    whatsapp: Option<RawWhatsApp>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    metrics: RawMetrics,
}

/// `[metrics]`: the plain-HTTP port for `/metrics`, `/healthz` and `/readyz`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<String>,
}

fn validate_metrics(metrics: RawMetrics) -> Result<Option<SocketAddr>, ConfigError> {
    let listen = metrics
        .listen
        .unwrap_or_else(|| crate::telemetry::DEFAULT_LISTEN.to_owned());
    if listen.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    listen.parse().map(Some).map_err(|e| {
        key_err(
            "metrics.listen",
            format!("{listen:?} is not an address and port (e.g. 127.0.0.1:9465) or \"off\": {e}"),
        )
    })
}

/// Only `metrics.listen`, from the file and the environment (for `convops-control-plane
/// health`, which must not need the rest of the configuration to be valid).
pub fn load_metrics_listen(file: Option<&Path>) -> Result<Option<SocketAddr>, ConfigError> {
    validate_metrics(raw_config(file, Env::prefixed(ENV_PREFIX).split("__"))?.metrics)
}

/// `[limits]`: connections and request rates (see `crate::limits`); every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    connections: Option<usize>,
    connections_per_ip: Option<usize>,
    requests_per_sec: Option<f64>,
    burst: Option<f64>,
    auth_requests_per_sec: Option<f64>,
    auth_burst: Option<f64>,
    per_credential_per_sec: Option<f64>,
    per_credential_burst: Option<f64>,
    handshakes_per_sec: Option<f64>,
    handshake_burst: Option<f64>,
    webhooks_per_sec: Option<f64>,
    webhook_burst: Option<f64>,
}

fn validate_limits(raw: RawLimits) -> Result<crate::limits::Limits, ConfigError> {
    let d = crate::limits::Limits::default();
    let count = |key: &str, v: Option<usize>, default: usize| match v {
        Some(0) => Err(key_err(key, "must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(default),
    };
    let rate = |key: &str, v: Option<f64>, default: f64| match v {
        Some(x) if !(x.is_finite() && x > 0.0) => Err(key_err(key, "must be a positive number")),
        Some(x) => Ok(x),
        None => Ok(default),
    };
    let burst = |key: &str, v: Option<f64>, default: f64| match v {
        Some(x) if !(x.is_finite() && x >= 1.0) => Err(key_err(key, "must be at least 1")),
        Some(x) => Ok(x),
        None => Ok(default),
    };
    Ok(crate::limits::Limits {
        header_read: d.header_read,
        idle: d.idle,
        connections: count("limits.connections", raw.connections, d.connections)?,
        connections_per_ip: count(
            "limits.connections_per_ip",
            raw.connections_per_ip,
            d.connections_per_ip,
        )?,
        requests_per_sec: rate(
            "limits.requests_per_sec",
            raw.requests_per_sec,
            d.requests_per_sec,
        )?,
        burst: burst("limits.burst", raw.burst, d.burst)?,
        auth_requests_per_sec: rate(
            "limits.auth_requests_per_sec",
            raw.auth_requests_per_sec,
            d.auth_requests_per_sec,
        )?,
        auth_burst: burst("limits.auth_burst", raw.auth_burst, d.auth_burst)?,
        per_credential_per_sec: rate(
            "limits.per_credential_per_sec",
            raw.per_credential_per_sec,
            d.per_credential_per_sec,
        )?,
        per_credential_burst: burst(
            "limits.per_credential_burst",
            raw.per_credential_burst,
            d.per_credential_burst,
        )?,
        handshakes_per_sec: rate(
            "limits.handshakes_per_sec",
            raw.handshakes_per_sec,
            d.handshakes_per_sec,
        )?,
        handshake_burst: burst(
            "limits.handshake_burst",
            raw.handshake_burst,
            d.handshake_burst,
        )?,
        webhooks_per_sec: rate(
            "limits.webhooks_per_sec",
            raw.webhooks_per_sec,
            d.webhooks_per_sec,
        )?,
        webhook_burst: burst("limits.webhook_burst", raw.webhook_burst, d.webhook_burst)?,
    })
}

/// `[whatsapp]`: ConvOps's WhatsApp Business number; present turns WhatsApp routes and commands
/// on. Secrets are read from files, never put in config.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhatsApp {
    /// Digits, written as a string or a number (as environment variables always parse).
    #[serde(default, deserialize_with = "convops_shared::config_error::digits")]
    phone_number_id: Option<String>,
    access_token_file: Option<PathBuf>,
    app_secret_file: Option<PathBuf>,
    verify_token_file: Option<PathBuf>,
    template: Option<String>,
    template_language: Option<String>,
    api_url: Option<String>,
}

/// `[slack]`: the ConvOps Slack app's signing secret turns slash commands on.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlack {
    signing_secret_file: Option<PathBuf>,
}

/// `[llm]`: present turns the write-up on.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLlm {
    api_key_file: Option<PathBuf>,
    model: Option<String>,
    base_url: Option<String>,
    timeout_secs: Option<u64>,
    max_tokens: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    key_file: Option<PathBuf>,
    /// Create a new master key when the key file is missing although the database exists.
    new_key: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    /// Let routes deliver to private, loopback and link-local addresses (a receiver on the
    /// operator's own network); off by default.
    allow_private_destinations: Option<bool>,
    timeout_secs: Option<u64>,
    max_attempts: Option<u32>,
    slack_api_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgents {
    heartbeat_secs: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Base URL of the web UI, for links in chat messages.
    pub public_url: url::Url,
    pub tls: TlsSettings,
    pub secrets_key_file: PathBuf,
    /// Create a new master key if the key file is missing while the database exists
    /// (`[secrets] new_key`, `--new-secrets-key`): sealed routes are then lost.
    pub new_secrets_key: bool,
    pub delivery_timeout: Duration,
    pub delivery_max_attempts: u32,
    /// Routes may deliver to non-public addresses (`[delivery] allow_private_destinations`).
    pub allow_private_destinations: bool,
    /// Connection and request limits (`[limits]`).
    pub limits: crate::limits::Limits,
    /// The plain-HTTP port for `/metrics`, `/healthz`, `/readyz` (`metrics.listen`); `None`: off.
    pub metrics_listen: Option<SocketAddr>,
    /// Slack's Web API (`chat.postMessage` for bot-token routes).
    pub slack_api_url: url::Url,
    /// The Slack app's signing secret (`[slack] signing_secret_file`); `None`: slash commands off.
    pub slack_signing_secret: Option<convops_shared::secret::SecretString>,
    pub heartbeat_secs: u32,
    /// The optional LLM write-up (`[llm]`); `None`: off.
    pub llm: Option<crate::llm::LlmSettings>,
    /// WhatsApp (`[whatsapp]`); `None`: off.
    pub whatsapp: Option<WhatsAppSettings>,
}

/// ConvOps's WhatsApp Business number on Meta's Cloud API.
#[derive(Debug, Clone)]
pub struct WhatsAppSettings {
    /// The Graph API base, with its version (`https://graph.facebook.com/v21.0`).
    pub api_url: url::Url,
    /// The business number's id (not the number itself).
    pub phone_number_id: String,
    /// A system user's access token with `whatsapp_business_messaging`.
    pub access_token: convops_shared::secret::SecretString,
    /// The app secret: Meta signs webhooks with it (`X-Hub-Signature-256`).
    pub app_secret: convops_shared::secret::SecretString,
    /// What Meta echoes in the webhook verification handshake (`hub.verify_token`).
    pub verify_token: convops_shared::secret::SecretString,
    /// The approved template sent outside the 24-hour window, with three body parameters.
    pub template: String,
    pub template_language: String,
}

#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

fn key_err(key: &str, what: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("{key}: {what}"))
}

pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
    load_from(file, Env::prefixed(ENV_PREFIX).split("__"))
}

pub fn load_from(file: Option<&Path>, env: Env) -> Result<Settings, ConfigError> {
    validate(raw_config(file, env)?)
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

fn validate(raw: RawConfig) -> Result<Settings, ConfigError> {
    let RawConfig {
        listen,
        data_dir,
        public_url,
        tls,
        secrets,
        delivery,
        agents,
        llm,
        slack,
        whatsapp,
        limits,
        metrics,
    } = raw;
    let listen_text = listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen: SocketAddr = listen_text.parse().map_err(|e| {
        key_err(
            "listen",
            format!("{listen_text:?} is not an address:port: {e}"),
        )
    })?;
    let data_dir = data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let RawTls {
        cert_file,
        key_file,
    } = tls;
    let tls = match (cert_file, key_file) {
        (Some(cert_file), Some(key_file)) => {
            for (k, p) in [("tls.cert_file", &cert_file), ("tls.key_file", &key_file)] {
                if !p.is_file() {
                    return Err(key_err(k, format!("{} does not exist", p.display())));
                }
            }
            TlsSettings { cert_file, key_file }
        }
        (None, None) => {
            return Err(key_err(
                "tls.cert_file",
                "missing: TLS is required (run `convops-control-plane cert --out-dir DIR` for a local certificate)",
            ))
        }
        (Some(_), None) => return Err(key_err("tls.key_file", "missing (tls.cert_file is set)")),
        (None, Some(_)) => return Err(key_err("tls.cert_file", "missing (tls.key_file is set)")),
    };
    let public_text = public_url.unwrap_or_else(|| format!("https://{listen}"));
    let public_url = url::Url::parse(&public_text)
        .map_err(|e| key_err("public_url", format!("{public_text:?} is not a URL: {e}")))?;
    let RawSecrets { key_file, new_key } = secrets;
    let new_secrets_key = new_key.unwrap_or(false);
    let RawDelivery {
        allow_private_destinations,
        timeout_secs,
        max_attempts,
        slack_api_url,
    } = delivery;
    let slack_api_url = service_url(
        "delivery.slack_api_url",
        slack_api_url.as_deref().unwrap_or(DEFAULT_SLACK_API_URL),
    )?;
    let timeout = timeout_secs.unwrap_or(DEFAULT_DELIVERY_TIMEOUT_SECS);
    if timeout == 0 {
        return Err(key_err("delivery.timeout_secs", "must be at least 1"));
    }
    let RawAgents { heartbeat_secs } = agents;
    let llm = llm.map(validate_llm).transpose()?;
    let slack_signing_secret = match slack.signing_secret_file {
        None => None,
        Some(f) => {
            let s = std::fs::read_to_string(&f).map_err(|e| {
                key_err("slack.signing_secret_file", format!("{}: {e}", f.display()))
            })?;
            let s = s.trim();
            if s.len() < 16 {
                return Err(key_err(
                    "slack.signing_secret_file",
                    format!(
                        "{}: a Slack signing secret has at least 16 characters",
                        f.display()
                    ),
                ));
            }
            Some(convops_shared::secret::SecretString::new(s))
        }
    };
    let whatsapp = whatsapp.map(validate_whatsapp).transpose()?;
    Ok(Settings {
        listen,
        secrets_key_file: key_file.unwrap_or_else(|| data_dir.join("master.key")),
        new_secrets_key,
        data_dir,
        public_url,
        tls,
        delivery_timeout: Duration::from_secs(timeout),
        delivery_max_attempts: max_attempts.unwrap_or(DEFAULT_DELIVERY_MAX_ATTEMPTS).max(1),
        allow_private_destinations: allow_private_destinations.unwrap_or(false),
        limits: validate_limits(limits)?,
        metrics_listen: validate_metrics(metrics)?,
        slack_api_url,
        slack_signing_secret,
        heartbeat_secs: heartbeat_secs.unwrap_or(DEFAULT_HEARTBEAT_SECS).max(1),
        llm,
        whatsapp,
    })
}

/// The base URL of a third-party API (`key` names it in errors): https, or http for a local
/// test server.
fn service_url(key: &str, text: &str) -> Result<url::Url, ConfigError> {
    let url =
        url::Url::parse(text).map_err(|e| key_err(key, format!("{text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(key_err(
            key,
            "scheme must be https (or http for a local test server)",
        ));
    }
    Ok(url)
}

/// A secret from a file: trimmed, at least `min` characters.
fn secret_file(
    key: &str,
    file: Option<PathBuf>,
    min: usize,
) -> Result<convops_shared::secret::SecretString, ConfigError> {
    let f = file.ok_or_else(|| key_err(key, "missing: a file holding the secret"))?;
    let s =
        std::fs::read_to_string(&f).map_err(|e| key_err(key, format!("{}: {e}", f.display())))?;
    let s = s.trim();
    if s.chars().count() < min {
        return Err(key_err(
            key,
            format!(
                "{}: the secret has fewer than {min} characters",
                f.display()
            ),
        ));
    }
    Ok(convops_shared::secret::SecretString::new(s.to_owned()))
}

fn validate_whatsapp(raw: RawWhatsApp) -> Result<WhatsAppSettings, ConfigError> {
    let RawWhatsApp {
        phone_number_id,
        access_token_file,
        app_secret_file,
        verify_token_file,
        template,
        template_language,
        api_url,
    } = raw;
    let phone_number_id = phone_number_id.ok_or_else(|| {
        key_err(
            "whatsapp.phone_number_id",
            "missing: the id of ConvOps's WhatsApp Business number (WhatsApp Manager → API setup)",
        )
    })?;
    if phone_number_id.is_empty() || !phone_number_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(key_err(
            "whatsapp.phone_number_id",
            format!(
                "{phone_number_id:?}: a phone number id is digits (it is not the phone number)"
            ),
        ));
    }
    let access_token = secret_file("whatsapp.access_token_file", access_token_file, 16)?;
    let app_secret = secret_file("whatsapp.app_secret_file", app_secret_file, 16)?;
    let verify_token = secret_file("whatsapp.verify_token_file", verify_token_file, 16)?;
    let template = template.unwrap_or_else(|| DEFAULT_WHATSAPP_TEMPLATE.to_owned());
    if template.is_empty()
        || !template
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(key_err(
            "whatsapp.template",
            format!("{template:?}: a template name is lowercase letters, digits and underscores"),
        ));
    }
    let template_language =
        template_language.unwrap_or_else(|| DEFAULT_WHATSAPP_TEMPLATE_LANGUAGE.to_owned());
    if !(2..=8).contains(&template_language.len())
        || !template_language
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '_')
    {
        return Err(key_err(
            "whatsapp.template_language",
            format!("{template_language:?}: a language code such as en_US or de"),
        ));
    }
    let api_url = service_url(
        "whatsapp.api_url",
        api_url.as_deref().unwrap_or(DEFAULT_WHATSAPP_API_URL),
    )?;
    Ok(WhatsAppSettings {
        api_url,
        phone_number_id,
        access_token,
        app_secret,
        verify_token,
        template,
        template_language,
    })
}

fn validate_llm(raw: RawLlm) -> Result<crate::llm::LlmSettings, ConfigError> {
    use crate::llm;
    let RawLlm {
        api_key_file,
        model,
        base_url,
        timeout_secs,
        max_tokens,
    } = raw;
    let key_file = api_key_file.ok_or_else(|| {
        key_err(
            "llm.api_key_file",
            "missing: a file holding the Anthropic API key (the key itself is never put in config)",
        )
    })?;
    let key = std::fs::read_to_string(&key_file)
        .map_err(|e| key_err("llm.api_key_file", format!("{}: {e}", key_file.display())))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(key_err(
            "llm.api_key_file",
            format!("{} is empty", key_file.display()),
        ));
    }
    let model = model
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| key_err("llm.model", "missing (the Anthropic model id to use)"))?;
    let base_text = base_url.unwrap_or_else(|| llm::DEFAULT_BASE_URL.to_owned());
    let mut base = url::Url::parse(&base_text)
        .map_err(|e| key_err("llm.base_url", format!("{base_text:?} is not a URL: {e}")))?;
    let loopback = matches!(base.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if base.scheme() != "https" && !(base.scheme() == "http" && loopback) {
        return Err(key_err(
            "llm.base_url",
            format!("{base_text:?} must be https (plain http only to a loopback address)"),
        ));
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    let timeout = timeout_secs.unwrap_or(llm::DEFAULT_TIMEOUT_SECS);
    if !(1..=120).contains(&timeout) {
        return Err(key_err(
            "llm.timeout_secs",
            format!("{timeout} is out of range (1 to 120)"),
        ));
    }
    let max_tokens = max_tokens.unwrap_or(llm::DEFAULT_MAX_TOKENS);
    if !(64..=4096).contains(&max_tokens) {
        return Err(key_err(
            "llm.max_tokens",
            format!("{max_tokens} is out of range (64 to 4096)"),
        ));
    }
    Ok(llm::LlmSettings {
        base_url: base,
        api_key: convops_shared::secret::SecretString::new(key.to_owned()),
        model,
        timeout: Duration::from_secs(timeout),
        max_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_none() -> Env {
        Env::prefixed("CONVOPS_CP_TEST_UNSET__").split("__")
    }

    /// A directory with a certificate pair, and the `[tls]` section naming it.
    fn tls_section() -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::tls::write_self_signed(dir.path(), &["localhost".into()]).expect("cert");
        let tls = format!(
            "[tls]\ncert_file = {:?}\nkey_file = {:?}\n",
            dir.path().join("cert.pem"),
            dir.path().join("key.pem")
        );
        (dir, tls)
    }

    fn err(text: &str) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("cp.toml");
        std::fs::write(&p, text).expect("write");
        let e = load_from(Some(&p), env_none())
            .expect_err("must fail")
            .to_string();
        assert_eq!(e.lines().count(), 1, "{e}");
        e
    }

    #[test]
    fn defaults_with_tls_files_are_valid() {
        let (dir, tls) = tls_section();
        let p = dir.path().join("cp.toml");
        std::fs::write(&p, tls).expect("write");
        let s = load_from(Some(&p), env_none()).expect("valid");
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(s.public_url.as_str(), "https://127.0.0.1:8443/");
        crate::tls::server_config(&s.tls.cert_file, &s.tls.key_file).expect("usable pair");
        assert!(s.llm.is_none(), "the LLM write-up is off by default");
    }

    #[test]
    fn llm_section_is_validated_and_keeps_the_key_out_of_debug_output() {
        let (dir, tls) = tls_section();
        let key = dir.path().join("anthropic.key");
        std::fs::write(&key, "sk-ant-secret-123\n").expect("key");
        let e = err(&format!("{tls}[llm]\nmodel = \"m\"\n"));
        assert!(
            e.contains("llm.api_key_file") && e.contains("missing"),
            "{e}"
        );
        let e = err(&format!("{tls}[llm]\napi_key_file = {key:?}\n"));
        assert!(e.contains("llm.model"), "{e}");
        let e = err(&format!(
            "{tls}[llm]\napi_key_file = {key:?}\nmodel = \"m\"\nbase_url = \"http://llm.example.com\"\n"
        ));
        assert!(e.contains("llm.base_url") && e.contains("https"), "{e}");
        let e = err(&format!(
            "{tls}[llm]\napi_key_file = \"/nonexistent/key\"\nmodel = \"m\"\n"
        ));
        assert!(
            e.contains("llm.api_key_file") && e.contains("/nonexistent/key"),
            "{e}"
        );
        let p = dir.path().join("cp.toml");
        std::fs::write(
            &p,
            format!("{tls}[llm]\napi_key_file = {key:?}\nmodel = \"m\"\n"),
        )
        .expect("write");
        let s = load_from(Some(&p), env_none()).expect("valid");
        let llm = s.llm.as_ref().expect("on");
        assert_eq!(llm.api_key.expose(), "sk-ant-secret-123");
        assert_eq!(llm.base_url.as_str(), "https://api.anthropic.com/");
        assert!(!format!("{s:?}").contains("sk-ant-secret-123"));
    }

    #[test]
    fn whatsapp_section_needs_its_secrets_in_files_and_checks_names() {
        let (dir, tls) = tls_section();
        let secret = dir.path().join("wa.secret");
        std::fs::write(&secret, "EAAG-0123456789abcdef\n").expect("secret");
        let files = format!(
            "access_token_file = {secret:?}\napp_secret_file = {secret:?}\nverify_token_file = {secret:?}\n"
        );
        let e = err(&format!("{tls}[whatsapp]\n{files}"));
        assert!(
            e.contains("whatsapp.phone_number_id") && e.contains("missing"),
            "{e}"
        );
        let e = err(&format!(
            "{tls}[whatsapp]\nphone_number_id = \"+4915123\"\n{files}"
        ));
        assert!(e.contains("not the phone number"), "{e}");
        let e = err(&format!(
            "{tls}[whatsapp]\nphone_number_id = \"106540352242922\"\naccess_token_file = {secret:?}\n"
        ));
        assert!(
            e.contains("whatsapp.app_secret_file") && e.contains("missing"),
            "{e}"
        );
        let e = err(&format!(
            "{tls}[whatsapp]\nphone_number_id = \"1065\"\n{files}template = \"Incident Alert\"\n"
        ));
        assert!(e.contains("whatsapp.template"), "{e}");
        let p = dir.path().join("cp.toml");
        std::fs::write(
            &p,
            format!("{tls}[whatsapp]\nphone_number_id = \"106540352242922\"\n{files}"),
        )
        .expect("write");
        let s = load_from(Some(&p), env_none()).expect("valid");
        let w = s.whatsapp.as_ref().expect("on");
        assert_eq!(w.phone_number_id, "106540352242922");
        std::fs::write(
            &p,
            format!("{tls}[whatsapp]\nphone_number_id = 106540352242922\n{files}"),
        )
        .expect("write");
        let unquoted = load_from(Some(&p), env_none()).expect("a number is fine too");
        assert_eq!(
            unquoted.whatsapp.expect("on").phone_number_id,
            "106540352242922"
        );
        assert_eq!(w.template, DEFAULT_WHATSAPP_TEMPLATE);
        assert_eq!(w.api_url.as_str(), DEFAULT_WHATSAPP_API_URL);
        assert!(!format!("{s:?}").contains("EAAG-0123456789abcdef"));
    }

    #[test]
    fn tls_is_required() {
        let e = load_from(None, env_none()).expect_err("no tls").to_string();
        assert!(e.contains("tls.cert_file") && e.contains("required"), "{e}");
    }

    #[test]
    fn errors_name_the_key() {
        assert!(err("listen = \"nope\"").contains("listen"));
        let e = err(
            "[tls]\ncert_file = \"/nonexistent/cert.pem\"\nkey_file = \"/nonexistent/key.pem\"\n",
        );
        assert!(
            e.contains("tls.cert_file") && e.contains("/nonexistent/cert.pem"),
            "{e}"
        );
        let e = err("[tls]\nkey_file = \"/x\"\n");
        assert!(e.contains("tls.cert_file"), "{e}");
        let e = err("colour = \"blue\"");
        assert!(e.contains("colour"), "{e}");
        let e = err("listen = ");
        assert!(e.contains("cp.toml"), "{e}");
    }
}
