//! The ConvOps agent: runs in the customer's AWS account with a read-only role, watches CloudWatch
//! alarms, gathers and reduces evidence when one fires, spools it on disk and streams it to the
//! control plane over an outbound TLS 1.3 websocket.
//!
//! Modules, in data-flow order:
//! - [`config`]: figment loading and validation into [`config::Settings`].
//! - [`aws`]: the one list of AWS read actions, SDK clients, the metered call wrapper.
//! - [`alarms`]: `DescribeAlarms` polling and the transition decision.
//! - [`investigate`]: runs the evidence sources ([`collect`]) under a deadline.
//! - [`reduce`]: summaries of raw data (metric baselines, onsets, downsampling).
//! - [`spool`]: the sled outbox and alarm memory.
//! - [`uplink`]: the websocket to the control plane.
//! - [`tls`]: rustls client configuration (TLS 1.3 only).

pub mod alarms;
pub mod aws;
pub mod check;
pub mod collect;
pub mod config;
pub mod ecs_metadata;
pub mod investigate;
pub mod reduce;
pub mod spool;
pub mod telemetry;
pub mod tls;
pub mod uplink;

use std::time::Duration;

use anyhow::Context;
use convops_shared::protocol::{AgentFrame, Command, Trigger};
use convops_shared::redact::Redactor;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::alarms::Decision;
use crate::aws::Clients;
use crate::config::Settings;
use crate::investigate::Limits;
use crate::spool::{AlarmMemo, Spool};

/// Run the agent until `cancel` fires or a critical task fails.
pub async fn run(mut settings: Settings, cancel: CancellationToken) -> anyhow::Result<()> {
    let spool = Spool::open_with(&settings.spool_dir, settings.spool_max_bytes)?;
    // Without configured clusters, an agent running on ECS watches its own.
    if settings.ecs_clusters.is_empty() {
        if let Ok(uri) = std::env::var(ecs_metadata::METADATA_ENV) {
            match ecs_metadata::own_cluster(&uri).await {
                Ok(cluster) => {
                    tracing::info!(%cluster, "watching the agent's own ECS cluster (ecs.clusters not set)");
                    settings.ecs_clusters = vec![cluster];
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "could not read the agent's own ECS cluster; set ecs.clusters")
                }
            }
        }
    }
    let redactor = redactor(&settings.redaction_rules)?.rekeyed(&spool.pseudonym_key()?);
    let tls = tls::client_config(settings.control_plane.ca_file.as_deref())?;
    let clients =
        Clients::from_env(settings.region.as_deref(), settings.assume_role.as_ref()).await;
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let (reply_tx, reply_rx) = mpsc::channel(64);
    tracing::info!(
        agent_id = %spool.agent_id()?,
        control_plane = %settings.control_plane.url.host_str().unwrap_or_default(),
        pending = spool.pending_count(),
        "agent starting"
    );

    let uplink = uplink::Uplink {
        connector: uplink::Websocket {
            settings: settings.control_plane.clone(),
            tls,
        },
        spool: spool.clone(),
        commands: cmd_tx,
        replies: tokio::sync::Mutex::new(reply_rx),
    };
    let watcher = Watcher {
        clients,
        spool,
        settings,
        redactor,
        replies: reply_tx,
    };
    let health = telemetry::Health::new(
        watcher.spool.clone(),
        watcher.settings.poll_interval,
        watcher.settings.deadline,
    );
    let addr = convops_shared::telemetry::serve_local(
        "metrics.listen",
        watcher.settings.metrics_listen,
        telemetry::router(health),
        cancel.clone(),
    )
    .await
    .map_err(anyhow::Error::msg)?;
    tracing::info!(%addr, "health and metrics listening");
    let mut uplink_task = tokio::spawn(uplink.run(cancel.clone()));
    let mut watch_task = tokio::spawn(watcher.run(cmd_rx, cancel.clone()));
    // A critical task that ends ends the agent (and the other task with it).
    // The task that ended has been awaited; only the other is waited for (a finished
    // `JoinHandle` polled again panics, which made every SIGTERM exit with a panic).
    let (result, other) = tokio::select! {
        r = &mut uplink_task => (
            r.context("uplink task panicked").and_then(|r| r.context("uplink")),
            watch_task,
        ),
        r = &mut watch_task => (
            r.context("alarm watcher panicked").and_then(|r| r.context("alarm watcher")),
            uplink_task,
        ),
    };
    cancel.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), other).await;
    result
}

/// The built-in redaction rules plus the configured ones.
pub fn redactor(rules: &[(String, String)]) -> anyhow::Result<Redactor> {
    let mut r = Redactor::new(&rand::random::<[u8; 32]>());
    for (name, pattern) in rules {
        r = r.with_rule(name, pattern)?;
    }
    Ok(r)
}

struct Watcher {
    clients: Clients,
    spool: Spool,
    settings: Settings,
    redactor: Redactor,
    /// Frames for the uplink to send (a command that could not be carried out).
    replies: mpsc::Sender<AgentFrame>,
}

impl Watcher {
    fn limits(&self) -> Limits {
        Limits {
            lookback: self.settings.lookback,
            deadline: self.settings.deadline,
            clusters: self.settings.ecs_clusters.clone(),
            logs: self.settings.logs.clone(),
            raw_byte_budget: self.settings.raw_byte_budget,
            evidence_budget: self.settings.evidence_budget,
        }
    }

    async fn run(
        self,
        mut commands: mpsc::Receiver<uplink::Incoming>,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(self.settings.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                // Each poll marks the watcher as turning (`alarm_poll`, whatever its outcome).
                _ = tick.tick() => self.poll().await?,
                Some(cmd) = commands.recv() => self.command(cmd).await?,
            }
        }
    }

    /// One poll of every alarm. AWS failures are logged and retried next poll; spool failures are
    /// fatal (the agent cannot keep its promises without its disk).
    async fn poll(&self) -> anyhow::Result<()> {
        let alarms =
            match alarms::describe_all(&self.clients, &self.settings.alarm_name_prefix).await {
                Ok(a) => {
                    crate::telemetry::metrics().alarm_poll(true);
                    a
                }
                Err(e) => {
                    crate::telemetry::metrics().alarm_poll(false);
                    tracing::warn!(error = %e, "cannot list alarms; retrying next poll");
                    return Ok(());
                }
            };
        let now = investigate::now_ms();
        for alarm in alarms {
            let memo = self.spool.alarm_memo(&alarm.name)?;
            match alarms::decide(
                memo.as_ref(),
                &alarm.state,
                alarm.transitioned_at,
                now,
                self.settings.max_age_on_start.as_millis() as i64,
            ) {
                Decision::Investigate => {
                    tracing::info!(alarm = %alarm.name, reason = %alarm.state_reason, "alarm fired; investigating");
                    let frame = Box::pin(investigate::gather(
                        &self.clients,
                        &alarm,
                        Trigger::Alarm,
                        &self.limits(),
                    ))
                    .await;
                    let memo = AlarmMemo {
                        state: alarm.state.clone(),
                        handled_transition: Some(alarm.transitioned_at),
                    };
                    // A push that fails (the volume filled in spite of the spool's free-space
                    // floor) is logged and the watcher carries on: a crash would only restart
                    // into a spool sled cannot open on a full disk.
                    match self
                        .spool
                        .push(
                            Some((&alarm.name, &memo)),
                            investigate::encoder(frame, &self.redactor),
                        )
                        .await
                    {
                        Ok(seq) => tracing::info!(alarm = %alarm.name, seq, "evidence spooled"),
                        Err(e) => {
                            tracing::error!(alarm = %alarm.name, error = %e, "could not spool the evidence")
                        }
                    }
                }
                Decision::Skip => alarms::track(&self.spool, &alarm, memo.as_ref(), true).await?,
                Decision::Track => alarms::track(&self.spool, &alarm, memo.as_ref(), false).await?,
            }
        }
        Ok(())
    }

    async fn command(&self, cmd: uplink::Incoming) -> anyhow::Result<()> {
        let Command::Investigate { target, .. } = &cmd.command;
        let failed = |reason: String| {
            // Best effort: the command came in on the live session and the answer goes back on
            // it; if that session is gone, the person asking sees no answer and can ask again.
            let frame = AgentFrame::CommandFailed {
                command_id: cmd.id.clone(),
                reason: self.redactor.redact(&reason).into_owned(),
            };
            if self.replies.try_send(frame).is_err() {
                tracing::warn!(command_id = %cmd.id, "could not queue the command's failure for the control plane");
            }
        };
        let alarms = match alarms::describe_all(&self.clients, "").await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(command_id = %cmd.id, error = %e, "cannot list alarms for command");
                failed(format!(
                    "the agent could not list the account's alarms ({e})"
                ));
                return Ok(());
            }
        };
        let Some(alarm) = alarms::for_target(alarms, target) else {
            tracing::warn!(command_id = %cmd.id, %target, "investigate: no alarm of that name or about that resource");
            failed(format!(
                "no alarm is named `{target}` or is about a resource of that name"
            ));
            return Ok(());
        };
        let trigger = Trigger::Command {
            command_id: cmd.id.clone(),
        };
        let frame = Box::pin(investigate::gather(
            &self.clients,
            &alarm,
            trigger,
            &self.limits(),
        ))
        .await;
        self.spool
            .push(None, investigate::encoder(frame, &self.redactor))
            .await?;
        Ok(())
    }
}
