//! The ConvOps control plane: a multi-tenant service that ingests agents' evidence, opens
//! incidents, writes a diagnosis and delivers it to chat.
//!
//! Modules, in data-flow order:
//! - [`config`]: figment loading and validation; [`state`]: what handlers and tasks share (no
//!   module reaches it through the HTTP layer).
//! - [`http`]: router, TLS server loop, error type; [`ingest`]: the agent websocket.
//! - [`store`]: SQLite via sqlx, migrations, tenant-scoped queries; [`auth`]: issued secrets.
//! - [`diagnose`]: evidence → diagnosis.
//! - [`deliver`]: the delivery outbox worker and message formats (Slack, WhatsApp, webhooks);
//!   [`retry`]: the one classifier of HTTP answers and `Retry-After` parser every outbound call
//!   uses (deliveries and the LLM).
//! - [`chat`]: commands from Slack and WhatsApp.
//! - [`secrets`]: AES-256-GCM for secrets at rest; [`tls`]: rustls server config, local certs.

pub mod agents;
pub mod auth;
pub mod chat;
pub mod config;
pub mod deliver;
pub mod diagnose;
pub mod egress;
pub mod http;
pub mod ingest;
pub mod limits;
pub mod llm;
pub mod paths;
pub mod retry;
pub mod secrets;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::secrets::Sealer;
use crate::store::Store;

/// Open the data directory: the database and the secrets key.
pub async fn open_data_dir(settings: &Settings) -> anyhow::Result<(Store, Sealer)> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data_dir {}", settings.data_dir.display()))?;
    let db = settings.data_dir.join("convops.db");
    // A new key only for an empty data directory or when the operator asks: a key replaced
    // silently would leave every sealed route unreadable.
    let allow_new_key = settings.new_secrets_key || !db.exists();
    let sealer = Sealer::load(&settings.secrets_key_file, allow_new_key, &db)?;
    let store = Store::open_sqlite(&db).await?;
    store.reseal_legacy_routes(&sealer).await?;
    Ok((store, sealer))
}

/// Serve until `cancel` fires. `listener` is passed in so tests can bind port 0.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let tls = tls::server_config(&settings.tls.cert_file, &settings.tls.key_file)?;
    let (store, sealer) = open_data_dir(&settings).await?;
    let wake = Arc::new(tokio::sync::Notify::new());
    let http_client = reqwest::Client::builder()
        .timeout(settings.delivery_timeout)
        .use_rustls_tls()
        .build()
        .context("building the HTTP client")?;
    let state = Arc::new(state::AppState {
        store: store.clone(),
        // A process-private key: the rules are only ever used rekeyed per workspace.
        redaction_rules: convops_shared::redact::Redactor::new(&rand::random::<[u8; 32]>()),
        sealer: sealer.clone(),
        public_url: settings.public_url.clone(),
        heartbeat_secs: settings.heartbeat_secs,
        wake_delivery: wake.clone(),
        slack_signing_secret: settings.slack_signing_secret.clone(),
        whatsapp: settings.whatsapp.clone(),
        agents: agents::Registry::default(),
        limiter: limits::RateLimiter::new(settings.limits.clone()),
        sessions: limits::sessions(),
        cpu: Default::default(),
        http: http_client.clone(),
        llm: match &settings.llm {
            Some(s) => Some(Arc::new(
                llm::Llm::new(s.clone()).context("building the LLM client")?,
            )),
            None => None,
        },
    });
    let worker = deliver::Worker {
        store,
        sealer,
        http: http_client,
        routes_http: egress::client(
            settings.delivery_timeout,
            settings.allow_private_destinations,
        )
        .context("building the HTTP client for routes")?,
        allow_private_destinations: settings.allow_private_destinations,
        wake,
        max_attempts: settings.delivery_max_attempts,
        slack_api: settings.slack_api_url.to_string(),
        whatsapp: settings
            .whatsapp
            .clone()
            .map(deliver::whatsapp::Sender::new),
    };
    if let Some(addr) = settings.metrics_listen {
        let addr = convops_shared::telemetry::serve_local(
            "metrics.listen",
            addr,
            telemetry::router(state.store.clone(), cancel.clone()),
            cancel.clone(),
        )
        .await
        .map_err(anyhow::Error::msg)?;
        tracing::info!(%addr, "metrics, health and readiness listening");
    }
    tracing::info!(listen = %listener.local_addr()?, data_dir = %settings.data_dir.display(), "control plane serving");
    let mut worker_task = tokio::spawn(worker.run(cancel.clone()));
    let server = http::serve(
        listener,
        tls,
        http::app(state),
        cancel.clone(),
        Duration::from_secs(10),
        settings.limits.clone(),
    );
    let (result, worker_ended) = tokio::select! {
        r = server => (r, false),
        r = &mut worker_task => (match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.context("delivery worker stopped")),
            Err(e) => Err(anyhow::anyhow!("delivery worker panicked: {e}")),
        }, true),
    };
    cancel.cancel();
    // A finished `JoinHandle` must not be polled again (it panics): only a worker still running
    // is waited for.
    if !worker_ended {
        let _ = tokio::time::timeout(Duration::from_secs(5), worker_task).await;
    }
    result
}
