//! `convops-control-plane`: the ConvOps control plane binary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use convops_control_plane::{config, deliver, open_data_dir, tls};
use tokio_util::sync::CancellationToken;

/// ConvOps control plane: receives agents' evidence over TLS websockets, opens incidents, writes
/// diagnoses and delivers them to chat; serves the REST API.
///
/// Configuration comes from the TOML file given with --config, overlaid with environment
/// variables named CONVOPS_CP__<SECTION>__<KEY> (for example CONVOPS_CP__TLS__CERT_FILE).
///
/// Logs go to standard error: CONVOPS_LOG sets the filter and CONVOPS_LOG_FORMAT=json writes one
/// JSON object per line. Prometheus metrics, /healthz and /readyz are served in plain HTTP on
/// metrics.listen (default 127.0.0.1:9465; "off" disables it); /healthz and /readyz also on the
/// main TLS listener.
#[derive(Debug, Parser)]
#[command(name = "convops-control-plane", version)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Create a new secrets master key when its file is missing although the database exists
    /// (without this the control plane refuses to start: the routes sealed with the lost key
    /// cannot be opened, and must be added again after a new key is made).
    #[arg(long, global = true)]
    new_secrets_key: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve the API and the agent endpoint (the default).
    Serve,
    /// Ask the running control plane's health endpoint (GET /healthz on metrics.listen, by
    /// default 127.0.0.1:9465) whether it is live: exit 0 if so, 1 otherwise. For container
    /// health checks, in images without curl.
    Health,
    /// Write a local CA (ca.pem) and a server certificate signed by it (cert.pem, key.pem).
    Cert {
        /// Directory to write the files into (must not already hold them).
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        /// Host names and IP addresses the certificate is valid for.
        #[arg(long = "host", value_name = "NAME", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
        hosts: Vec<String>,
    },
    /// Manage workspaces.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCmd,
    },
    /// Manage agent tokens.
    AgentToken {
        #[command(subcommand)]
        command: AgentTokenCmd,
    },
    /// Manage delivery routes.
    Route {
        #[command(subcommand)]
        command: RouteCmd,
    },
}

#[derive(Debug, Subcommand)]
enum WorkspaceCmd {
    /// Create a workspace; prints its id and an API key (shown once).
    Create {
        name: String,
        /// Output as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Link a Slack workspace (team) so its slash commands act on this workspace; needs
    /// `[slack] signing_secret_file` on the server. A team links to one workspace at a time.
    LinkSlack {
        /// Workspace id or name.
        #[arg(long)]
        workspace: String,
        /// Slack team id (T…), as sent in slash commands' team_id.
        #[arg(long)]
        team: String,
    },
}

#[derive(Debug, Subcommand)]
enum AgentTokenCmd {
    /// Create an agent token for a workspace; prints the token (shown once).
    Create {
        /// Workspace id or name.
        #[arg(long)]
        workspace: String,
        /// A label for the token (e.g. the AWS account it is used in).
        #[arg(long, default_value = "agent")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
#[allow(clippy::enum_variant_names)] // the subcommands read `route add-…`
enum RouteCmd {
    /// Deliver a workspace's diagnoses to a Slack incoming webhook (stored encrypted).
    AddSlackWebhook {
        /// Workspace id or name.
        #[arg(long)]
        workspace: String,
        /// The webhook URL; read from the environment variable CONVOPS_SLACK_WEBHOOK_URL if not given.
        #[arg(long, env = "CONVOPS_SLACK_WEBHOOK_URL", hide_env_values = true)]
        url: String,
    },
    /// Deliver a workspace's diagnoses to a Slack channel with a bot token (chat.postMessage;
    /// the app needs the chat:write scope and must be in the channel). Stored encrypted.
    AddSlackBot {
        /// Workspace id or name.
        #[arg(long)]
        workspace: String,
        /// Channel id (C…); the bot must be a member.
        #[arg(long)]
        channel: String,
        /// Bot token (xoxb-…); read from CONVOPS_SLACK_BOT_TOKEN if not given.
        #[arg(long, env = "CONVOPS_SLACK_BOT_TOKEN", hide_env_values = true)]
        token: String,
    },
    /// Deliver a workspace's diagnoses to a phone over WhatsApp, from the business number in
    /// [whatsapp] (text within 24 hours of the number's last message to ConvOps, the approved
    /// template otherwise). The number can then send commands (status, ack <id>, …). A number
    /// belongs to one workspace. Stored encrypted; found again by a keyed hash.
    AddWhatsapp {
        /// Workspace id or name.
        #[arg(long)]
        workspace: String,
        /// The phone number in international format, e.g. +4915123456789.
        #[arg(long)]
        to: String,
    },
    /// Deliver a workspace's diagnoses as JSON to any HTTPS endpoint, signed with HMAC-SHA256:
    /// header X-ConvOps-Signature is v1= and the hex HMAC of "v1:{timestamp}:{body}" keyed by the
    /// secret, X-ConvOps-Request-Timestamp the Unix seconds, X-ConvOps-Delivery a unique id.
    AddWebhook {
        /// Workspace id or name.
        #[arg(long)]
        workspace: String,
        /// Endpoint URL (https; http only for a local receiver).
        #[arg(long)]
        url: String,
        /// Signing secret, at least 16 characters; read from CONVOPS_WEBHOOK_SECRET if not given.
        #[arg(long, env = "CONVOPS_WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Cmd::Cert { out_dir, hosts }) = &cli.command {
        return match tls::write_self_signed(out_dir, hosts) {
            Ok(()) => {
                println!(
                    "wrote {0}/ca.pem, {0}/cert.pem and {0}/key.pem",
                    out_dir.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("convops-control-plane: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if matches!(cli.command, Some(Cmd::Health)) {
        return match config::load_metrics_listen(cli.config.as_deref()) {
            Err(e) => {
                eprintln!("convops-control-plane: {e}");
                ExitCode::from(2)
            }
            Ok(None) => {
                eprintln!("convops-control-plane: metrics.listen is off: there is no local health endpoint to ask");
                ExitCode::from(2)
            }
            Ok(Some(addr)) => convops_shared::telemetry::health_exit("convops-control-plane", addr),
        };
    }
    let log_format = match convops_shared::telemetry::LogFormat::from_env() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("convops-control-plane: {e}");
            return ExitCode::from(2);
        }
    };
    let settings = match config::load(cli.config.as_deref()) {
        Ok(mut s) => {
            s.new_secrets_key |= cli.new_secrets_key;
            s
        }
        Err(e) => {
            eprintln!("convops-control-plane: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::Serve => serve(settings, log_format).await,
        Cmd::Cert { .. } | Cmd::Health => Ok(()),
        Cmd::Workspace { command } => admin_workspace(settings, command).await,
        Cmd::AgentToken { command } => admin_token(settings, command).await,
        Cmd::Route { command } => admin_route(settings, command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convops-control-plane: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    settings: config::Settings,
    log_format: convops_shared::telemetry::LogFormat,
) -> anyhow::Result<()> {
    convops_shared::telemetry::init_logging(log_format, "info");
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding listen address {}", settings.listen))?;
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested");
        c.cancel();
    });
    #[cfg(unix)]
    {
        let c = cancel.clone();
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::spawn(async move {
                term.recv().await;
                tracing::info!("shutdown requested");
                c.cancel();
            });
        }
    }
    convops_control_plane::run(settings, listener, cancel).await
}

const ADMIN_ACTOR: &str = "cli";

async fn admin_workspace(settings: config::Settings, cmd: WorkspaceCmd) -> anyhow::Result<()> {
    let (store, _) = open_data_dir(&settings).await?;
    match cmd {
        WorkspaceCmd::Create { name, json } => {
            if name.trim().is_empty() || name.len() > 64 {
                anyhow::bail!("workspace name must be 1 to 64 characters");
            }
            let (ws, key) = store.create_workspace(&name, ADMIN_ACTOR).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"id": ws.id, "name": ws.name, "api_key": key})
                );
            } else {
                println!(
                    "workspace {} ({})\napi key (shown once): {key}",
                    ws.id, ws.name
                );
            }
        }
        WorkspaceCmd::LinkSlack { workspace, team } => {
            if !team.starts_with('T') || !team.chars().all(|c| c.is_ascii_alphanumeric()) {
                anyhow::bail!("--team: a Slack team id such as T0123ABCD");
            }
            let ws = store.workspace_by_ref(&workspace).await?.ok_or_else(|| {
                anyhow::anyhow!("--workspace: no workspace with id or name {workspace:?}")
            })?;
            store.link_slack_team(&ws.id, &team, ADMIN_ACTOR).await?;
            println!(
                "linked Slack team {team} to workspace {} ({})",
                ws.id, ws.name
            );
        }
    }
    Ok(())
}

async fn admin_token(settings: config::Settings, cmd: AgentTokenCmd) -> anyhow::Result<()> {
    let (store, _) = open_data_dir(&settings).await?;
    match cmd {
        AgentTokenCmd::Create { workspace, name } => {
            let ws = store.workspace_by_ref(&workspace).await?.ok_or_else(|| {
                anyhow::anyhow!("--workspace: no workspace with id or name {workspace:?}")
            })?;
            let token = store.create_agent_token(&ws.id, &name, ADMIN_ACTOR).await?;
            println!("{token}");
        }
    }
    Ok(())
}

async fn admin_route(settings: config::Settings, cmd: RouteCmd) -> anyhow::Result<()> {
    let (store, sealer) = open_data_dir(&settings).await?;
    let workspace_id = |name: String| {
        let store = store.clone();
        async move {
            store
                .workspace_by_ref(&name)
                .await?
                .map(|w| w.id)
                .ok_or_else(|| {
                    anyhow::anyhow!("--workspace: no workspace with id or name {name:?}")
                })
        }
    };
    let check_url = |url: &str| -> anyhow::Result<()> {
        let parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("--url: not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            anyhow::bail!("--url: scheme must be https (or http for a local test receiver)");
        }
        Ok(())
    };
    let (ws, kind, target) = match cmd {
        RouteCmd::AddWhatsapp { workspace, to } => {
            // A route plus the number's keyed hash, in one transaction: not the common path.
            let digits = deliver::whatsapp::normalize_number(&to)
                .map_err(|e| anyhow::anyhow!("--to: {e}"))?;
            if settings.whatsapp.is_none() {
                eprintln!(
                    "note: [whatsapp] is not configured yet; messages to this route fail until it is"
                );
            }
            let ws = workspace_id(workspace).await?;
            let target = serde_json::to_vec(&deliver::whatsapp::Target { to: digits.clone() })?;
            let id = store
                .add_whatsapp_route(
                    &ws,
                    &deliver::whatsapp::contact_hash(&sealer, &digits),
                    &sealer.seal(
                        &target,
                        &convops_control_plane::secrets::route_target_aad(&ws, deliver::WHATSAPP),
                    ),
                    ADMIN_ACTOR,
                )
                .await?
                .map_err(|other| {
                    anyhow::anyhow!("--to: this number already receives the diagnoses of workspace {other:?}; a number belongs to one workspace")
                })?;
            println!("{id}");
            return Ok(());
        }
        RouteCmd::AddSlackWebhook { workspace, url } => {
            check_url(&url)?;
            (
                workspace_id(workspace).await?,
                deliver::SLACK_WEBHOOK,
                url.into_bytes(),
            )
        }
        RouteCmd::AddSlackBot {
            workspace,
            channel,
            token,
        } => {
            if !token.starts_with("xoxb-") {
                anyhow::bail!("--token: a Slack bot token starts with xoxb-");
            }
            if channel.is_empty() || !channel.chars().all(|c| c.is_ascii_alphanumeric()) {
                anyhow::bail!("--channel: a channel id such as C0123456 (letters and digits)");
            }
            let target = serde_json::to_vec(&deliver::SlackBotTarget { token, channel })?;
            (workspace_id(workspace).await?, deliver::SLACK_BOT, target)
        }
        RouteCmd::AddWebhook {
            workspace,
            url,
            secret,
        } => {
            check_url(&url)?;
            if secret.chars().count() < 16 {
                anyhow::bail!("--secret: at least 16 characters");
            }
            let target = serde_json::to_vec(&deliver::WebhookTarget { url, secret })?;
            (workspace_id(workspace).await?, deliver::WEBHOOK, target)
        }
    };
    let id = store
        .add_route(
            &ws,
            kind,
            &sealer.seal(
                &target,
                &convops_control_plane::secrets::route_target_aad(&ws, kind),
            ),
            ADMIN_ACTOR,
        )
        .await?;
    println!("{id}");
    Ok(())
}
