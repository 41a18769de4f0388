//! `convops-agent`: the ConvOps agent binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

/// ConvOps agent: watches CloudWatch alarms in this AWS account with read-only access, gathers and
/// redacts evidence when one fires, and streams it to the ConvOps control plane.
///
/// Configuration comes from the TOML file given with --config, overlaid with environment
/// variables named CONVOPS_AGENT__<SECTION>__<KEY> (for example
/// CONVOPS_AGENT__CONTROL_PLANE__TOKEN). AWS credentials and region come from the standard AWS
/// chain (task role, AWS_* variables, profile); AWS_ENDPOINT_URL points it at an emulator.
///
/// Logs go to standard error: CONVOPS_LOG sets the filter (e.g. info,convops_agent=debug) and
/// CONVOPS_LOG_FORMAT=json writes one JSON object per line. Health and Prometheus metrics are
/// served on metrics.listen (default 127.0.0.1:9464): /healthz, /readyz, /metrics.
#[derive(Debug, Parser)]
#[command(name = "convops-agent", version)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Watch alarms and stream evidence (the default).
    Run,
    /// Check the configuration and exit.
    CheckConfig,
    /// Check that this install can work, and print a table: the configuration, the control
    /// plane (TLS, token, protocol), each AWS read action the agent needs (called once with
    /// harmless arguments: allowed or denied), and that a write is refused (EC2 StopInstances
    /// with DryRun, which acts on nothing). Exits 1 when any check fails, naming the fix.
    Check,
    /// Redact lines from stdin to stdout, one output line per input line, in order: shows what
    /// would leave this account. Applies the built-in rules plus any in the --config file.
    Redact,
    /// Mine log templates from raw lines on stdin: writes one JSON object per input line, in
    /// order, {"template_id": "...", "template": "..."} with variables as <*>. The header
    /// (timestamps, levels, pids, components) is found from the first 2,000 lines; lines are
    /// written in chunks of 10,000, each with its template as of the end of its chunk.
    Templates,
    /// Ask the running agent's health endpoint (GET /healthz on metrics.listen, by default
    /// 127.0.0.1:9464) whether it is live: exit 0 if so, 1 otherwise. For container health
    /// checks, in images without curl.
    Health,
}

/// `redact`: stream stdin to stdout. User rules come from the config file when one is given; a
/// missing control-plane section is fine here.
fn redact(config: Option<&std::path::Path>) -> ExitCode {
    use std::io::{BufRead, Write};
    let rules = match config {
        None => Vec::new(),
        Some(path) => match convops_agent::config::load_redaction_rules(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("convops-agent: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let redactor = match convops_agent::redactor(&rules) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("convops-agent: {e:#}");
            return ExitCode::from(2);
        }
    };
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut buf = Vec::new();
    let mut reader = std::io::BufReader::new(stdin);
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {
                let had_newline = buf.last() == Some(&b'\n');
                if had_newline {
                    buf.pop();
                }
                // Invalid UTF-8 is redacted lossily rather than passed through unchecked.
                let line = String::from_utf8_lossy(&buf);
                let red = redactor.redact(&line);
                let res = out
                    .write_all(red.as_bytes())
                    .and_then(|_| out.write_all(b"\n"));
                if let Err(e) = res {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return ExitCode::SUCCESS;
                    }
                    eprintln!("convops-agent: writing output: {e}");
                    return ExitCode::FAILURE;
                }
            }
            Err(e) => {
                eprintln!("convops-agent: reading input: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    match out.flush() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convops-agent: writing output: {e}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Cmd::Redact)) {
        return redact(cli.config.as_deref());
    }
    if matches!(cli.command, Some(Cmd::Templates)) {
        let out = std::io::stdout().lock();
        return match convops_shared::templates::stream(std::io::stdin().lock(), out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("convops-agent: templates: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if matches!(cli.command, Some(Cmd::Health)) {
        let addr = match convops_agent::config::load_metrics_listen(cli.config.as_deref()) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("convops-agent: {e}");
                return ExitCode::from(2);
            }
        };
        return convops_shared::telemetry::health_exit("convops-agent", addr);
    }
    let log_format = match convops_shared::telemetry::LogFormat::from_env() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("convops-agent: {e}");
            return ExitCode::from(2);
        }
    };
    let settings = match convops_agent::config::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("convops-agent: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Cmd::Run) {
        Cmd::Redact | Cmd::Templates | Cmd::Health => {
            unreachable!("handled before loading the full configuration")
        }
        Cmd::Check => {
            let rows = convops_agent::check::run(&settings, cli.config.as_deref()).await;
            print!("{}", convops_agent::check::render(&rows));
            if rows.iter().all(|r| r.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Cmd::CheckConfig => {
            eprintln!("convops-agent: configuration is valid");
            ExitCode::SUCCESS
        }
        Cmd::Run => {
            convops_shared::telemetry::init_logging(
                log_format,
                "info,aws_config=warn,aws_smithy_runtime=warn",
            );
            let cancel = CancellationToken::new();
            let signal_cancel = cancel.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutdown requested");
                signal_cancel.cancel();
            });
            match convops_agent::run(settings, cancel).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "agent stopped");
                    eprintln!("convops-agent: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
