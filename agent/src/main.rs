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
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("CONVOPS_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match convops_agent::config::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("convops-agent: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Cmd::Run) {
        Cmd::CheckConfig => {
            eprintln!("convops-agent: configuration is valid");
            ExitCode::SUCCESS
        }
        Cmd::Run => {
            init_tracing();
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
