//! What both binaries share to be operated: the log set-up (plain text or JSON lines, chosen by
//! `CONVOPS_LOG_FORMAT`) and the Prometheus text exposition of a metrics registry.
//!
//! Metric names follow Prometheus's naming practices
//! (<https://prometheus.io/docs/practices/naming/>): a `convops_` prefix, base units (seconds,
//! bytes), `_total` on counters (added by the encoder). Labels carry only bounded sets (AWS
//! action, outcome, route kind), never a workspace, alarm or resource name, so a busy tenant
//! cannot blow up the series count.

use prometheus_client::registry::Registry;

/// The variable that chooses the log format: `text` (the default) or `json`.
pub const LOG_FORMAT_ENV: &str = "CONVOPS_LOG_FORMAT";
/// The variable that chooses what is logged (a `tracing` filter, e.g. `info,convops_agent=debug`).
pub const LOG_FILTER_ENV: &str = "CONVOPS_LOG";

/// How log events are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, coloured only on a terminal.
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`, and the fields of
    /// the enclosing spans, such as `investigation_id` or `incident_id`).
    Json,
}

impl LogFormat {
    /// The format named by [`LOG_FORMAT_ENV`], or an error that names the variable and the
    /// values it takes.
    pub fn from_env() -> Result<LogFormat, String> {
        match std::env::var(LOG_FORMAT_ENV) {
            Err(std::env::VarError::NotPresent) => Ok(LogFormat::Text),
            Ok(v) => LogFormat::parse(&v),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!(
                "{LOG_FORMAT_ENV} is not valid UTF-8; use `text` or `json`"
            )),
        }
    }

    pub fn parse(v: &str) -> Result<LogFormat, String> {
        match v.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "{LOG_FORMAT_ENV}={other:?} is not a log format; use `text` or `json`"
            )),
        }
    }
}

/// Install the global subscriber: events at or above [`LOG_FILTER_ENV`]'s filter (or
/// `default_filter`) to standard error in `format`.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env(LOG_FILTER_ENV).unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Colour only on a terminal: log files and journald get plain text.
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// The content type of [`encode`]'s output: OpenMetrics text 1.0 (`# EOF`-terminated, counters
/// typed as such), which Prometheus and its compatible scrapers read.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The registry in the OpenMetrics text exposition format.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail; an encoder error would be a bug in a metric's labels.
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, registry) {
        out.push_str(&format!("# encoding failed: {e}\n"));
    }
    out
}

/// Bind `addr` and serve `router` on it in plain HTTP until `cancel`, in a task of its own; the
/// bound address (the port may have been 0) is returned, or an error naming `key`. A server
/// that fails later is logged, not fatal: the health check that reads the port reports it.
pub async fn serve_local(
    key: &str,
    addr: std::net::SocketAddr,
    router: axum::Router,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<std::net::SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        format!("{key}: cannot listen on {addr}: {e} (set {key} to a free address)")
    })?;
    let bound = listener.local_addr().map_err(|e| format!("{key}: {e}"))?;
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { cancel.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "health and metrics port stopped");
        }
    });
    Ok(bound)
}

/// The JSON answer of a health or readiness endpoint: 200 with `{"status": ok_status}`, or 503
/// with `{"status": bad_status, "reasons": [...]}`.
pub fn status_answer(
    result: Result<(), Vec<String>>,
    ok_status: &str,
    bad_status: &str,
) -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    match result {
        Ok(()) => (
            axum::http::StatusCode::OK,
            axum::Json(serde_json::json!({ "status": ok_status })),
        ),
        Err(reasons) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": bad_status, "reasons": reasons })),
        ),
    }
}

/// `health` subcommands: GET `/healthz` from the local port `addr` (an unspecified address is
/// asked on loopback) and succeed only on HTTP 200. Plain blocking HTTP/1.0, each step bounded
/// at 1 s (the health checks that run it allow 5 s in all): container images have no curl, and
/// the check must not need a runtime.
pub fn probe_health(addr: std::net::SocketAddr) -> Result<(), String> {
    use std::io::{Read, Write};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
    let target = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    };
    let url = format!("http://{target}/healthz");
    let timeout = std::time::Duration::from_secs(1);
    let mut conn =
        TcpStream::connect_timeout(&target, timeout).map_err(|e| format!("{url}: {e}"))?;
    let _ = conn.set_read_timeout(Some(timeout));
    let _ = conn.set_write_timeout(Some(timeout));
    conn.write_all(format!("GET /healthz HTTP/1.0\r\nHost: {target}\r\n\r\n").as_bytes())
        .map_err(|e| format!("{url}: {e}"))?;
    let mut answer = Vec::new();
    conn.take(64 * 1024)
        .read_to_end(&mut answer)
        .map_err(|e| format!("{url}: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or_default();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("{url}: {} {}", status.trim(), body.trim()))
    }
}

/// The `health` subcommands' whole answer: 0 when `/healthz` on `addr` answers 200, else 1 with
/// the reason on standard error after `program: `.
pub fn health_exit(program: &str, addr: std::net::SocketAddr) -> std::process::ExitCode {
    match probe_health(addr) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: not healthy: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A metric's value in a text exposition, for tests: the sample named `name` whose labels
/// include every `label="value"` pair in `labels` (summed when several match).
pub fn sample(exposition: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in exposition.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (metric, label_text) = match series.split_once('{') {
            Some((m, rest)) => (m, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if metric != name {
            continue;
        }
        let all = labels
            .iter()
            .all(|(k, v)| label_text.split(',').any(|p| p == format!("{k}=\"{v}\"")));
        if all {
            if let Ok(v) = value.parse::<f64>() {
                *found.get_or_insert(0.0) += v;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;

    #[test]
    fn log_format_names_the_bad_value() {
        assert_eq!(LogFormat::parse("JSON"), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse(""), Ok(LogFormat::Text));
        let e = LogFormat::parse("yaml").expect_err("yaml is not a format");
        assert!(e.contains(LOG_FORMAT_ENV) && e.contains("yaml"), "{e}");
    }

    #[test]
    fn samples_are_read_back_by_name_and_labels() {
        let mut r = Registry::default();
        let f = Family::<Vec<(String, String)>, Counter>::default();
        r.register("convops_test_calls", "Calls.", f.clone());
        f.get_or_create(&vec![
            ("action".into(), "a".into()),
            ("outcome".into(), "ok".into()),
        ])
        .inc_by(3);
        f.get_or_create(&vec![
            ("action".into(), "b".into()),
            ("outcome".into(), "ok".into()),
        ])
        .inc();
        let text = encode(&r);
        assert_eq!(
            sample(&text, "convops_test_calls_total", &[("action", "a")]),
            Some(3.0)
        );
        assert_eq!(
            sample(&text, "convops_test_calls_total", &[("outcome", "ok")]),
            Some(4.0)
        );
        assert_eq!(
            sample(&text, "convops_test_calls_total", &[("action", "c")]),
            None
        );
    }
}
