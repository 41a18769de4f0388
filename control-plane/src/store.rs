//! The control plane's store: SQLite through sqlx, with embedded migrations.
//!
//! **Architecture invariant: tenant scoping.** Every method that reads or writes tenant data takes
//! the workspace id and filters on it; there is no query path that can return another
//! workspace's rows. Secrets (API keys, agent tokens) are stored only as SHA-256 hashes; route
//! targets only encrypted ([`crate::secrets`]).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use convops_shared::protocol::LossFrame;

use crate::auth;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::random::<u64>())
}

/// Route kinds (`routes.kind`).
pub const SLACK_WEBHOOK: &str = "slack_webhook";
pub const SLACK_BOT: &str = "slack_bot";
pub const WEBHOOK: &str = "webhook";
pub const WHATSAPP: &str = "whatsapp";
/// A Slack slash command's `response_url` (the target), for the diagnosis a command asked for.
pub const SLACK_RESPONSE: &str = "slack_response";

#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: String,
    pub workspace_id: String,
    pub alarm_name: String,
    pub transitioned_at: i64,
    pub opened_at: i64,
    pub status: String,
    pub title: String,
    pub diagnosis: serde_json::Value,
}

/// A new incident, with the deliveries to make for it.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub dedupe_key: String,
    pub alarm_name: String,
    pub transitioned_at: i64,
    pub title: String,
    pub diagnosis: serde_json::Value,
    /// The resources the alarm is about (its dimension values): alarms that share one within
    /// [`STORM_WINDOW_MS`] join one incident.
    pub resources: Vec<String>,
}

/// The outcome of storing an evidence frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// First time seen; `opened` when this frame opened a new incident, `joined` when its alarm
    /// joined an open incident of related alarms (an update is queued).
    New {
        incident_id: String,
        opened: bool,
        joined: bool,
    },
    /// Already stored (a re-send after a reconnect): nothing changed.
    Duplicate,
}

/// An evidence frame as received: who sent it, its sequence number, and its text.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    pub workspace_id: &'a str,
    pub agent_id: &'a str,
    pub seq: u64,
    pub investigation_id: &'a str,
    pub body: &'a str,
    /// What the frame took on the wire (compressed, or the text's length).
    pub wire_bytes: usize,
    /// The command the investigation answers, when a person asked for it: its diagnosis goes to
    /// that command's reply route only.
    pub command_id: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub id: String,
    pub kind: String,
    pub target_enc: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct PendingDelivery {
    pub id: String,
    pub workspace_id: String,
    /// `None` for a reply to a chat command.
    pub incident_id: Option<String>,
    pub route: Route,
    pub attempts: i64,
    pub body: String,
    /// `open` (the incident's first message on this route), `update`, or `reply` (to a chat
    /// command).
    pub kind: String,
    /// For an update: where the opening message landed (Slack's `ts`), to reply in its thread.
    pub thread_ref: Option<String>,
}

/// A WhatsApp number linked to a workspace.
#[derive(Debug, Clone)]
pub struct WhatsAppContact {
    pub workspace_id: String,
    /// The workspace's route to the number: where replies to its commands go.
    pub route_id: String,
    /// Its latest message to ConvOps (ms), which opens the 24-hour window.
    pub last_inbound_at: Option<i64>,
}

/// What a delivery body is for.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyFor {
    /// The message that opens the incident.
    Opened,
    /// An update: alarms that joined the incident, oldest first.
    Update { joined: Vec<String> },
}

/// How long after an incident's latest alarm a related alarm still joins it.
pub const STORM_WINDOW_MS: i64 = 10 * 60_000;
/// Updates wait this long for more alarms to join before they are sent, so a storm makes a few
/// updates, not one per alarm.
pub const UPDATE_COALESCE_MS: i64 = 5_000;

/// Pending deliveries that may go now: openings, and updates whose opening is no longer pending
/// (so an update can reply in the opening's thread).
const SENDABLE: &str = "d.status = 'pending' AND (d.kind = 'open' OR NOT EXISTS (SELECT 1 FROM deliveries p \
     WHERE p.incident_id = d.incident_id AND p.route_id = d.route_id AND p.kind = 'open' AND p.status = 'pending'))";

impl Store {
    /// Open (creating when missing) the SQLite database at `path` and apply migrations.
    pub async fn open_sqlite(path: &Path) -> anyhow::Result<Self> {
        let opts = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // REPLACE deletes rows to resolve a conflict; only with recursive triggers do those
            // deletes fire DELETE triggers (https://sqlite.org/lang_createtrigger.html), so the
            // audit log's triggers hold against `INSERT OR REPLACE` too.
            .pragma("recursive_triggers", "ON")
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .map_err(|e| anyhow::anyhow!("opening database {}: {e}", path.display()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("migrating database {}: {e}", path.display()))?;
        Ok(Store { pool })
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes SQLite's write lock up front (waiting up to
    /// the busy timeout), so a transaction that reads and then writes cannot fail with
    /// `SQLITE_BUSY` because another connection wrote in between (which a deferred `BEGIN` does
    /// in WAL mode, without waiting).
    async fn write_tx(&self) -> anyhow::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn audit(
        &self,
        workspace_id: Option<&str>,
        actor: &str,
        action: &str,
        detail: serde_json::Value,
    ) -> anyhow::Result<()> {
        let mut conn = self.pool.acquire().await?;
        audit_in(&mut conn, workspace_id, now_ms(), actor, action, detail).await
    }

    /// Create a workspace and its first API key; returns the workspace and the key (shown once).
    pub async fn create_workspace(
        &self,
        name: &str,
        actor: &str,
    ) -> anyhow::Result<(Workspace, String)> {
        let ws = Workspace {
            id: new_id("ws"),
            name: name.to_owned(),
            created_at: now_ms(),
        };
        let key = auth::generate_secret("cvo_key");
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)")
            .bind(&ws.id)
            .bind(&ws.name)
            .bind(ws.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    anyhow::anyhow!("a workspace named {name:?} already exists")
                }
                _ => e.into(),
            })?;
        sqlx::query(
            "INSERT INTO api_keys (id, workspace_id, key_hash, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(new_id("key"))
        .bind(&ws.id)
        .bind(auth::hash_secret(&key))
        .bind(ws.created_at)
        .execute(&mut *tx)
        .await?;
        audit_in(
            &mut tx,
            Some(&ws.id),
            ws.created_at,
            actor,
            "workspace.create",
            serde_json::json!({ "name": name }),
        )
        .await?;
        tx.commit().await?;
        Ok((ws, key))
    }

    pub async fn workspace_by_ref(&self, id_or_name: &str) -> anyhow::Result<Option<Workspace>> {
        let row =
            sqlx::query("SELECT id, name, created_at FROM workspaces WHERE id = ? OR name = ?")
                .bind(id_or_name)
                .bind(id_or_name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| Workspace {
            id: r.get(0),
            name: r.get(1),
            created_at: r.get(2),
        }))
    }

    /// Create an agent token for a workspace; returns the token (shown once).
    pub async fn create_agent_token(
        &self,
        workspace_id: &str,
        name: &str,
        actor: &str,
    ) -> anyhow::Result<String> {
        let token = auth::generate_secret("cvo_agt");
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO agent_tokens (id, workspace_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(new_id("tok"))
            .bind(workspace_id)
            .bind(name)
            .bind(auth::hash_secret(&token))
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        audit_in(
            &mut tx,
            Some(workspace_id),
            now_ms(),
            actor,
            "agent_token.create",
            serde_json::json!({ "name": name }),
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The workspace an agent token belongs to, if the token is valid and not revoked.
    pub async fn workspace_for_agent_token(&self, token: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query(
            "SELECT workspace_id FROM agent_tokens WHERE token_hash = ? AND revoked_at IS NULL",
        )
        .bind(auth::hash_secret(token))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// The workspace an API key belongs to, if the key is valid and not revoked.
    pub async fn workspace_for_api_key(&self, key: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query(
            "SELECT workspace_id FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
        )
        .bind(auth::hash_secret(key))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Seals again, bound to their place, the route targets sealed in the old format (with the
    /// master key itself and no associated data); run at start-up, idempotent. Returns how many.
    pub async fn reseal_legacy_routes(
        &self,
        sealer: &crate::secrets::Sealer,
    ) -> anyhow::Result<usize> {
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query("SELECT id, workspace_id, kind, target_enc FROM routes")
            .fetch_all(&mut *tx)
            .await?;
        let mut n = 0;
        for r in rows {
            let sealed: Vec<u8> = r.get(3);
            if crate::secrets::Sealer::is_current(&sealed) {
                continue;
            }
            let (id, ws, kind): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            let plain = sealer
                .open_legacy(&sealed)
                .map_err(|e| anyhow::anyhow!("route {id}: re-sealing its target: {e}"))?;
            let aad = crate::secrets::route_target_aad(&ws, &kind);
            sqlx::query("UPDATE routes SET target_enc = ? WHERE id = ?")
                .bind(sealer.seal(&plain, &aad))
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            n += 1;
        }
        tx.commit().await?;
        if n > 0 {
            tracing::info!(
                routes = n,
                "route targets sealed again in the current format"
            );
        }
        Ok(n)
    }

    pub async fn add_route(
        &self,
        workspace_id: &str,
        kind: &str,
        target_enc: &[u8],
        actor: &str,
    ) -> anyhow::Result<String> {
        let mut tx = self.write_tx().await?;
        let id = insert_route(&mut tx, workspace_id, kind, target_enc, None).await?;
        audit_in(
            &mut tx,
            Some(workspace_id),
            now_ms(),
            actor,
            "route.add",
            serde_json::json!({ "id": id, "kind": kind }),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn agent_seen(
        &self,
        workspace_id: &str,
        agent_id: &str,
        version: &str,
    ) -> anyhow::Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO agents (workspace_id, agent_id, agent_version, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (workspace_id, agent_id) DO UPDATE SET agent_version = excluded.agent_version, last_seen = excluded.last_seen",
        )
        .bind(workspace_id)
        .bind(agent_id)
        .bind(version)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The agents a workspace has seen, by id.
    pub async fn agent_ids(&self, workspace_id: &str) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT agent_id FROM agents WHERE workspace_id = ? ORDER BY agent_id",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Store an evidence frame exactly once, opening its incident and queueing its deliveries in
    /// the same transaction. `make_incident` runs only for a frame seen for the first time, and
    /// `make_body` once per route of a newly opened incident.
    pub async fn store_evidence(
        &self,
        frame: Received<'_>,
        make_incident: impl FnOnce(&str) -> NewIncident,
        make_body: impl Fn(&str, &Route, &BodyFor) -> String,
    ) -> anyhow::Result<Stored> {
        let Received {
            workspace_id,
            agent_id,
            seq,
            command_id,
            ..
        } = frame;
        let seq = i64::try_from(seq)
            .map_err(|_| anyhow::anyhow!("sequence number {seq} out of range"))?;
        let mut tx = self.write_tx().await?;
        if evidence_stored(&mut tx, workspace_id, agent_id, seq).await? {
            return Ok(Stored::Duplicate);
        }
        // The agent may have replaced this frame by a loss record and sent that on a newer
        // session while this one was still storing the frame: the evidence arrived, so nothing
        // was lost.
        sqlx::query("DELETE FROM data_loss WHERE workspace_id = ? AND agent_id = ? AND seq = ?")
            .bind(workspace_id)
            .bind(agent_id)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        let candidate_id = new_id("inc");
        let new = make_incident(&candidate_id);
        let now = now_ms();
        // The same alarm transition again (another agent, a re-investigation): its incident.
        let known: Option<String> = sqlx::query(
            "SELECT incident_id FROM incident_alarms WHERE workspace_id = ? AND dedupe_key = ?",
        )
        .bind(workspace_id)
        .bind(&new.dedupe_key)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.get(0));
        // A related alarm within the storm window: it joins that incident.
        let parent = match (&known, command_id) {
            (None, None) => storm_parent(&mut tx, workspace_id, &new.resources, now).await?,
            _ => None,
        };
        if let Some(parent) = known.clone().or(parent.clone()) {
            insert_evidence(&mut tx, frame, &parent, now).await?;
            let joined = known.is_none();
            if joined {
                record_alarm(&mut tx, workspace_id, &parent, &new, now).await?;
                queue_updates(&mut tx, workspace_id, &parent, now, &make_body).await?;
            }
            tx.commit().await?;
            return Ok(Stored::New {
                incident_id: parent,
                opened: false,
                joined,
            });
        }
        let inserted = sqlx::query(
            "INSERT INTO incidents (id, workspace_id, dedupe_key, alarm_name, transitioned_at, opened_at, status, title, diagnosis) \
             VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?) ON CONFLICT (workspace_id, dedupe_key) DO NOTHING",
        )
        .bind(&candidate_id)
        .bind(workspace_id)
        .bind(&new.dedupe_key)
        .bind(&new.alarm_name)
        .bind(new.transitioned_at)
        .bind(now)
        .bind(&new.title)
        .bind(new.diagnosis.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let incident_id: String = if inserted {
            candidate_id
        } else {
            sqlx::query("SELECT id FROM incidents WHERE workspace_id = ? AND dedupe_key = ?")
                .bind(workspace_id)
                .bind(&new.dedupe_key)
                .fetch_one(&mut *tx)
                .await?
                .get(0)
        };
        insert_evidence(&mut tx, frame, &incident_id, now).await?;
        if inserted {
            record_alarm(&mut tx, workspace_id, &incident_id, &new, now).await?;
            // An alarm's incident goes to the workspace's routes; a command's to the route made
            // for that command (falling back to the workspace's when it has none, as from the API).
            let mut routes = sqlx::query(
                "SELECT id, kind, target_enc FROM routes WHERE workspace_id = ? AND command_id = ?",
            )
            .bind(workspace_id)
            .bind(command_id)
            .fetch_all(&mut *tx)
            .await?;
            if routes.is_empty() {
                routes = sqlx::query(
                    "SELECT id, kind, target_enc FROM routes WHERE workspace_id = ? AND command_id IS NULL",
                )
                .bind(workspace_id)
                .fetch_all(&mut *tx)
                .await?;
            }
            for r in routes {
                let route = Route {
                    id: r.get(0),
                    kind: r.get(1),
                    target_enc: r.get(2),
                };
                sqlx::query(
                    "INSERT INTO deliveries (id, workspace_id, incident_id, route_id, status, attempts, next_attempt_at, body) \
                     VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
                )
                .bind(new_id("dlv"))
                .bind(workspace_id)
                .bind(&incident_id)
                .bind(&route.id)
                .bind(now)
                .bind(make_body(&incident_id, &route, &BodyFor::Opened))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Stored::New {
            incident_id,
            opened: inserted,
            joined: false,
        })
    }

    /// The alarms of an incident, in the order they came.
    pub async fn incident_alarms(
        &self,
        workspace_id: &str,
        incident_id: &str,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let rows = sqlx::query(
            "SELECT alarm_name, transitioned_at, joined_at FROM incident_alarms \
             WHERE workspace_id = ? AND incident_id = ? ORDER BY joined_at, rowid",
        )
        .bind(workspace_id)
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                serde_json::json!({
                    "alarm_name": r.get::<String, _>(0),
                    "transitioned_at": r.get::<i64, _>(1),
                    "joined_at": r.get::<i64, _>(2),
                })
            })
            .collect())
    }

    pub async fn incidents(&self, workspace_id: &str, limit: i64) -> anyhow::Result<Vec<Incident>> {
        let rows = sqlx::query(
            "SELECT id, workspace_id, alarm_name, transitioned_at, opened_at, status, title, diagnosis \
             FROM incidents WHERE workspace_id = ? ORDER BY opened_at DESC, id LIMIT ?",
        )
        .bind(workspace_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(incident_from_row).collect())
    }

    pub async fn incident(&self, workspace_id: &str, id: &str) -> anyhow::Result<Option<Incident>> {
        let row = sqlx::query(
            "SELECT id, workspace_id, alarm_name, transitioned_at, opened_at, status, title, diagnosis \
             FROM incidents WHERE workspace_id = ? AND id = ?",
        )
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(incident_from_row))
    }

    /// The evidence frames of an incident, as the agents sent them, oldest first.
    pub async fn evidence(
        &self,
        workspace_id: &str,
        incident_id: &str,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let rows = sqlx::query(
            "SELECT agent_id, seq, investigation_id, received_at, body, wire_bytes FROM evidence \
             WHERE workspace_id = ? AND incident_id = ? ORDER BY received_at, agent_id, seq",
        )
        .bind(workspace_id)
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let body: String = r.get(4);
                serde_json::json!({
                    "agent_id": r.get::<String, _>(0),
                    "seq": r.get::<i64, _>(1),
                    "investigation_id": r.get::<String, _>(2),
                    "received_at": r.get::<i64, _>(3),
                    "bytes": body.len(),
                    "wire_bytes": r.get::<Option<i64>, _>(5),
                    "frame": serde_json::from_str::<serde_json::Value>(&body).unwrap_or(serde_json::Value::String(body)),
                })
            })
            .collect())
    }

    /// Deliveries due now, oldest first.
    pub async fn due_deliveries(&self, limit: i64) -> anyhow::Result<Vec<PendingDelivery>> {
        let sql = format!(
            "SELECT d.id, d.workspace_id, d.incident_id, d.attempts, d.body, r.id, r.kind, r.target_enc, d.kind, \
             (SELECT p.remote_ref FROM deliveries p WHERE p.incident_id = d.incident_id AND p.route_id = d.route_id AND p.kind = 'open') \
             FROM deliveries d JOIN routes r ON r.id = d.route_id AND r.workspace_id = d.workspace_id \
             WHERE {SENDABLE} AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(now_ms())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| PendingDelivery {
                id: r.get(0),
                workspace_id: r.get(1),
                incident_id: r.get(2),
                attempts: r.get(3),
                body: r.get(4),
                route: Route {
                    id: r.get(5),
                    kind: r.get(6),
                    target_enc: r.get(7),
                },
                kind: r.get(8),
                thread_ref: r.get(9),
            })
            .collect())
    }

    /// The soonest time a pending delivery is due, if any.
    pub async fn next_delivery_due(&self) -> anyhow::Result<Option<i64>> {
        let row = sqlx::query(&format!(
            "SELECT MIN(d.next_attempt_at) FROM deliveries d WHERE {SENDABLE}"
        ))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get::<Option<i64>, _>(0))
    }

    /// Marks a delivery done, keeping where it landed (`remote_ref`, Slack's `ts`). `sent` is the
    /// body that was sent: when an update's body changed meanwhile (more alarms joined), the
    /// delivery stays pending so the newer body goes out too.
    pub async fn delivery_done(
        &self,
        workspace_id: &str,
        id: &str,
        sent: &str,
        remote_ref: Option<&str>,
    ) -> anyhow::Result<()> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL, remote_ref = ? \
             WHERE workspace_id = ? AND id = ? AND body = ?",
        )
        .bind(now_ms())
        .bind(remote_ref)
        .bind(workspace_id)
        .bind(id)
        .bind(sent)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            sqlx::query(
                "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ? WHERE workspace_id = ? AND id = ?",
            )
            .bind(now_ms())
            .bind(workspace_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Puts a delivery off until `at` without counting an attempt (pacing: the service would
    /// refuse it now).
    pub async fn delivery_deferred(
        &self,
        workspace_id: &str,
        id: &str,
        at: i64,
    ) -> anyhow::Result<()> {
        sqlx::query("UPDATE deliveries SET next_attempt_at = ? WHERE workspace_id = ? AND id = ?")
            .bind(at)
            .bind(workspace_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A message the service accepted and later reported undeliverable (WhatsApp's `failed`
    /// status), found by where it landed: marked failed with the reason. Returns whether the
    /// workspace had such a delivery.
    pub async fn delivery_failed_remotely(
        &self,
        workspace_id: &str,
        remote_ref: &str,
        error: &str,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'failed', last_error = ? WHERE workspace_id = ? AND remote_ref = ?",
        )
        .bind(error)
        .bind(workspace_id)
        .bind(remote_ref)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn delivery_failed(
        &self,
        workspace_id: &str,
        id: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> anyhow::Result<()> {
        let (status, next) = match retry_at {
            Some(t) => ("pending", t),
            None => ("failed", now_ms()),
        };
        sqlx::query(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ? \
             WHERE workspace_id = ? AND id = ?",
        )
        .bind(status)
        .bind(next)
        .bind(error)
        .bind(workspace_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a command sent to `agent_id` and the route its diagnosis goes to (the
    /// conversation that asked), in one transaction with its action-log row.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_command(
        &self,
        workspace_id: &str,
        id: &str,
        target: &str,
        actor: &str,
        channel: &str,
        agent_id: &str,
        reply: Option<(&str, &[u8])>,
    ) -> anyhow::Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO commands (id, workspace_id, target, actor, channel, agent_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(workspace_id)
        .bind(target)
        .bind(actor)
        .bind(channel)
        .bind(agent_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if let Some((kind, target_enc)) = reply {
            insert_route(&mut tx, workspace_id, kind, target_enc, Some(id)).await?;
        }
        audit_in(
            &mut tx,
            Some(workspace_id),
            now_ms(),
            actor,
            "command.investigate",
            serde_json::json!({ "id": id, "target": target, "agent": agent_id, "channel": channel }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that `agent_id` could not carry out command `command_id` of `workspace_id`, and
    /// queues the reply `make_body(route, target)` on the command's reply route, in one
    /// transaction. False when the workspace sent that agent no such command.
    pub async fn command_failed(
        &self,
        workspace_id: &str,
        agent_id: &str,
        command_id: &str,
        reason: &str,
        make_body: impl FnOnce(&Route, &str) -> String,
    ) -> anyhow::Result<bool> {
        let mut tx = self.write_tx().await?;
        let now = now_ms();
        // Marked failed in the same statement that finds it: a repeated report finds nothing.
        let Some(target) = sqlx::query(
            "UPDATE commands SET failed_at = ? \
             WHERE workspace_id = ? AND id = ? AND agent_id = ? AND failed_at IS NULL \
             RETURNING target",
        )
        .bind(now)
        .bind(workspace_id)
        .bind(command_id)
        .bind(agent_id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.get::<String, _>(0)) else {
            return Ok(false);
        };
        let route = sqlx::query(
            "SELECT id, kind, target_enc FROM routes WHERE workspace_id = ? AND command_id = ?",
        )
        .bind(workspace_id)
        .bind(command_id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| Route {
            id: r.get(0),
            kind: r.get(1),
            target_enc: r.get(2),
        });
        if let Some(route) = route {
            queue_reply(
                &mut tx,
                workspace_id,
                &route.id,
                &make_body(&route, &target),
            )
            .await?;
        }
        audit_in(
            &mut tx,
            Some(workspace_id),
            now,
            &format!("agent:{agent_id}"),
            "command.failed",
            serde_json::json!({ "id": command_id, "target": target, "reason": reason }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Links a Slack team to a workspace (replacing an earlier link of the team).
    pub async fn link_slack_team(
        &self,
        workspace_id: &str,
        team_id: &str,
        actor: &str,
    ) -> anyhow::Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO slack_teams (team_id, workspace_id, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (team_id) DO UPDATE SET workspace_id = excluded.workspace_id",
        )
        .bind(team_id)
        .bind(workspace_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        audit_in(
            &mut tx,
            Some(workspace_id),
            now_ms(),
            actor,
            "slack.link",
            serde_json::json!({ "team": team_id }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The workspace a Slack team is linked to.
    pub async fn workspace_for_slack_team(&self, team_id: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT workspace_id FROM slack_teams WHERE team_id = ?")
            .bind(team_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// The reply already given to chat request `key`, if it was handled before.
    pub async fn chat_reply(&self, key: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT reply FROM chat_requests WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Claims chat request `key` for this handler; false when it was seen before (a retry or a
    /// replay), which must then run nothing.
    pub async fn claim_chat_request(&self, key: &str, workspace_id: &str) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO chat_requests (key, workspace_id, received_at, reply) VALUES (?, ?, ?, '') \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(workspace_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Finishes chat request `key` whose reply is sent rather than returned (WhatsApp): the reply
    /// is queued on `route_id` as a delivery in the same transaction that records it, so it is
    /// sent exactly when the request counts as handled.
    pub async fn finish_chat_request_with_delivery(
        &self,
        key: &str,
        workspace_id: &str,
        route_id: &str,
        reply: &str,
        body: &str,
    ) -> anyhow::Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE chat_requests SET reply = ? WHERE key = ?")
            .bind(reply)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        queue_reply(&mut tx, workspace_id, route_id, body).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds a WhatsApp route to `workspace_id` for the number whose keyed hash is `phone_hash`
    /// (the number itself is in the sealed target): the route id, or `Err` with the name of the
    /// workspace the number is already linked to. A number receives one workspace's diagnoses
    /// and runs commands in that one only.
    pub async fn add_whatsapp_route(
        &self,
        workspace_id: &str,
        phone_hash: &str,
        target_enc: &[u8],
        actor: &str,
    ) -> anyhow::Result<Result<String, String>> {
        let mut tx = self.write_tx().await?;
        if let Some(r) =
            sqlx::query("SELECT w.name FROM whatsapp_contacts c JOIN workspaces w ON w.id = c.workspace_id WHERE c.phone_hash = ?")
                .bind(phone_hash)
                .fetch_optional(&mut *tx)
                .await?
        {
            return Ok(Err(r.get::<String, _>(0)));
        }
        let now = now_ms();
        let id = insert_route(&mut tx, workspace_id, WHATSAPP, target_enc, None).await?;
        sqlx::query(
            "INSERT INTO whatsapp_contacts (phone_hash, workspace_id, route_id, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(phone_hash)
        .bind(workspace_id)
        .bind(&id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit_in(
            &mut tx,
            Some(workspace_id),
            now,
            actor,
            "route.add",
            serde_json::json!({ "id": id, "kind": WHATSAPP }),
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(id))
    }

    /// The workspace and reply route of a WhatsApp number (by its keyed hash).
    pub async fn whatsapp_contact(
        &self,
        phone_hash: &str,
    ) -> anyhow::Result<Option<WhatsAppContact>> {
        let row = sqlx::query(
            "SELECT workspace_id, route_id, last_inbound_at FROM whatsapp_contacts WHERE phone_hash = ?",
        )
        .bind(phone_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| WhatsAppContact {
            workspace_id: r.get(0),
            route_id: r.get(1),
            last_inbound_at: r.get(2),
        }))
    }

    /// Records a message from a WhatsApp number at `at` (ms): it opens, or extends, the 24-hour
    /// window in which free-form text may be sent to it. Older messages (a late retry) never
    /// move the window back.
    pub async fn whatsapp_inbound(&self, phone_hash: &str, at: i64) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE whatsapp_contacts SET last_inbound_at = MAX(COALESCE(last_inbound_at, 0), ?) WHERE phone_hash = ?",
        )
        .bind(at)
        .bind(phone_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Meta says the window is closed (error 131047) though our record says open: forget it, so
    /// the next message is a template.
    pub async fn whatsapp_window_closed(&self, phone_hash: &str) -> anyhow::Result<()> {
        sqlx::query("UPDATE whatsapp_contacts SET last_inbound_at = NULL WHERE phone_hash = ?")
            .bind(phone_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores the reply given to chat request `key`, for repeats of it.
    pub async fn finish_chat_request(&self, key: &str, reply: &str) -> anyhow::Result<()> {
        sqlx::query("UPDATE chat_requests SET reply = ? WHERE key = ?")
            .bind(reply)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets an incident's status (`acknowledged`, `resolved`) and records who did it, in one
    /// transaction. Returns false when the workspace has no such incident.
    pub async fn set_incident_status(
        &self,
        workspace_id: &str,
        id: &str,
        status: &str,
        actor: &str,
        channel: &str,
    ) -> anyhow::Result<bool> {
        let mut tx = self.write_tx().await?;
        let changed =
            sqlx::query("UPDATE incidents SET status = ? WHERE workspace_id = ? AND id = ?")
                .bind(status)
                .bind(workspace_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if changed.rows_affected() == 0 {
            return Ok(false);
        }
        audit_in(
            &mut tx,
            Some(workspace_id),
            now_ms(),
            actor,
            &format!("incident.{status}"),
            serde_json::json!({ "id": id, "channel": channel }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A workspace's action log, newest first: who did what, when.
    pub async fn audit_log(
        &self,
        workspace_id: &str,
        limit: i64,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let rows = sqlx::query(
            "SELECT at, actor, action, detail FROM audit_log WHERE workspace_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(workspace_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                // Structured; rows written before details were JSON read as their text.
                let text = r.get::<String, _>(3);
                let detail = serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or(serde_json::Value::String(text));
                serde_json::json!({
                    "at": r.get::<i64, _>(0),
                    "actor": r.get::<String, _>(1),
                    "action": r.get::<String, _>(2),
                    "detail": detail,
                })
            })
            .collect())
    }

    /// Delivery log of one incident: `(route kind, status, attempts, last error)`.
    pub async fn deliveries(
        &self,
        workspace_id: &str,
        incident_id: &str,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let rows = sqlx::query(
            "SELECT r.kind, d.status, d.attempts, d.last_error, d.delivered_at, d.kind FROM deliveries d \
             JOIN routes r ON r.id = d.route_id WHERE d.workspace_id = ? AND d.incident_id = ? ORDER BY d.rowid",
        )
        .bind(workspace_id)
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                serde_json::json!({
                    "route": r.get::<String, _>(0),
                    "status": r.get::<String, _>(1),
                    "attempts": r.get::<i64, _>(2),
                    "last_error": r.get::<Option<String>, _>(3),
                    "delivered_at": r.get::<Option<i64>, _>(4),
                    "kind": r.get::<String, _>(5),
                })
            })
            .collect())
    }
}

/// Evidence an agent reported lost ([`LossFrame`]), as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DataLoss {
    pub agent_id: String,
    pub seq: i64,
    /// `spool_full`, `disk_full` or `spool_corrupt`.
    pub reason: String,
    /// When the agent noticed (agent clock).
    pub lost_at: i64,
    pub received_at: i64,
    pub frames: Option<i64>,
    pub bytes: Option<i64>,
    pub investigation_id: Option<String>,
    pub alarm_name: Option<String>,
    pub alarm_at: Option<i64>,
    /// A merged record's alarms.
    pub alarms: Vec<String>,
    pub detail: String,
}

/// How far back a loss about an alarm is shown on an incident of that alarm (an earlier
/// transition's evidence that never arrived), and how far back a loss that names no alarm (a
/// corrupt spool: any alarm) is shown on an incident opened after it was reported.
const LOSS_LOOKBACK_MS: i64 = 24 * 3_600_000;
/// A loss that names no alarm is also shown on incidents opened up to this long after it.
const LOSS_LOOKAHEAD_MS: i64 = 3_600_000;

const DATA_LOSS_COLUMNS: &str = "l.agent_id, l.seq, l.reason, l.lost_at, l.received_at, l.frames, \
     l.bytes, l.investigation_id, l.alarm_name, l.alarm_at, l.detail, l.alarms";

fn data_loss_row(r: &sqlx::sqlite::SqliteRow) -> DataLoss {
    DataLoss {
        agent_id: r.get(0),
        seq: r.get(1),
        reason: r.get(2),
        lost_at: r.get(3),
        received_at: r.get(4),
        frames: r.get(5),
        bytes: r.get(6),
        investigation_id: r.get(7),
        alarm_name: r.get(8),
        alarm_at: r.get(9),
        detail: r.get(10),
        alarms: serde_json::from_str(&r.get::<String, _>(11)).unwrap_or_default(),
    }
}

impl Store {
    /// Record a loss an agent reported. `false` when it is a duplicate, or when the evidence of
    /// that `seq` was stored (sent before the agent replaced it: nothing was lost).
    pub async fn record_loss(
        &self,
        workspace_id: &str,
        agent_id: &str,
        loss: &LossFrame,
    ) -> anyhow::Result<bool> {
        let seq = i64::try_from(loss.seq)
            .map_err(|_| anyhow::anyhow!("sequence number {} out of range", loss.seq))?;
        let as_i64 = |v: Option<u64>| v.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        let mut tx = self.write_tx().await?;
        if evidence_stored(&mut tx, workspace_id, agent_id, seq).await? {
            return Ok(false);
        }
        let inserted = sqlx::query(
            "INSERT OR IGNORE INTO data_loss (workspace_id, agent_id, seq, reason, lost_at, received_at, \
             frames, bytes, investigation_id, alarm_name, alarm_at, detail, alarms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(workspace_id)
        .bind(agent_id)
        .bind(seq)
        .bind(loss.reason.as_str())
        .bind(loss.at)
        .bind(now_ms())
        .bind(as_i64(loss.frames))
        .bind(as_i64(loss.bytes))
        .bind(&loss.investigation_id)
        .bind(&loss.alarm_name)
        .bind(loss.alarm_at)
        .bind(&loss.detail)
        .bind(serde_json::to_string(&loss.alarms)?)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(inserted)
    }

    /// The losses that concern an incident: those about one of its alarms whose transition came
    /// up to a day before that alarm's (for a merged record, which has no time per alarm, or one
    /// without a time: reported from a day before the incident opened to an hour after), and
    /// those that name no alarm, reported in that same span.
    pub async fn incident_losses(
        &self,
        workspace_id: &str,
        incident_id: &str,
    ) -> anyhow::Result<Vec<DataLoss>> {
        let rows = sqlx::query(&format!(
            "SELECT {DATA_LOSS_COLUMNS} FROM data_loss l JOIN incidents i \
             ON i.workspace_id = l.workspace_id AND i.id = ?2 \
             WHERE l.workspace_id = ?1 AND ( \
               EXISTS (SELECT 1 FROM incident_alarms a \
                  WHERE a.workspace_id = ?1 AND a.incident_id = ?2 \
                  AND (a.alarm_name = l.alarm_name \
                       OR EXISTS (SELECT 1 FROM json_each(l.alarms) j WHERE j.value = a.alarm_name)) \
                  AND (l.alarm_at BETWEEN a.transitioned_at - ?3 AND a.transitioned_at \
                       OR ((l.alarm_at IS NULL OR l.alarms != '[]') \
                           AND l.received_at BETWEEN i.opened_at - ?3 AND i.opened_at + ?4))) \
               OR (l.alarm_name IS NULL AND l.alarms = '[]' \
                   AND l.received_at BETWEEN i.opened_at - ?3 AND i.opened_at + ?4)) \
             ORDER BY l.received_at, l.agent_id, l.seq"
        ))
        .bind(workspace_id)
        .bind(incident_id)
        .bind(LOSS_LOOKBACK_MS)
        .bind(LOSS_LOOKAHEAD_MS)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(data_loss_row).collect())
    }

    /// Every loss of a workspace, newest first.
    pub async fn losses(&self, workspace_id: &str, limit: i64) -> anyhow::Result<Vec<DataLoss>> {
        let rows = sqlx::query(&format!(
            "SELECT {DATA_LOSS_COLUMNS} FROM data_loss l WHERE l.workspace_id = ? \
             ORDER BY l.received_at DESC, l.agent_id, l.seq DESC LIMIT ?"
        ))
        .bind(workspace_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(data_loss_row).collect())
    }
}

/// Inserts a route (for one command's conversation when `command_id` is given); its id.
async fn insert_route(
    tx: &mut sqlx::SqliteConnection,
    workspace_id: &str,
    kind: &str,
    target_enc: &[u8],
    command_id: Option<&str>,
) -> anyhow::Result<String> {
    let id = new_id("route");
    sqlx::query(
        "INSERT INTO routes (id, workspace_id, kind, target_enc, created_at, command_id) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(kind)
    .bind(target_enc)
    .bind(now_ms())
    .bind(command_id)
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

/// Queues `body` on the workspace's route `route_id` as a reply (a delivery of no incident).
async fn queue_reply(
    tx: &mut sqlx::SqliteConnection,
    workspace_id: &str,
    route_id: &str,
    body: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO deliveries (id, workspace_id, incident_id, route_id, kind, status, attempts, next_attempt_at, body) \
         SELECT ?, workspace_id, NULL, id, 'reply', 'pending', 0, ?, ? FROM routes WHERE workspace_id = ? AND id = ?",
    )
    .bind(new_id("dlv"))
    .bind(now_ms())
    .bind(body)
    .bind(workspace_id)
    .bind(route_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Whether the evidence frame `seq` of `agent_id` is stored: frames are unique on
/// `(workspace, agent, seq)`.
async fn evidence_stored(
    tx: &mut sqlx::SqliteConnection,
    workspace_id: &str,
    agent_id: &str,
    seq: i64,
) -> anyhow::Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM evidence WHERE workspace_id = ? AND agent_id = ? AND seq = ?")
            .bind(workspace_id)
            .bind(agent_id)
            .bind(seq)
            .fetch_optional(&mut *tx)
            .await?
            .is_some(),
    )
}

async fn insert_evidence(
    tx: &mut sqlx::SqliteConnection,
    frame: Received<'_>,
    incident_id: &str,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO evidence (workspace_id, agent_id, seq, investigation_id, incident_id, received_at, body, wire_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(frame.workspace_id)
    .bind(frame.agent_id)
    .bind(i64::try_from(frame.seq)?)
    .bind(frame.investigation_id)
    .bind(incident_id)
    .bind(now)
    .bind(frame.body)
    .bind(i64::try_from(frame.wire_bytes)?)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn record_alarm(
    tx: &mut sqlx::SqliteConnection,
    workspace_id: &str,
    incident_id: &str,
    new: &NewIncident,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO incident_alarms (workspace_id, incident_id, dedupe_key, alarm_name, transitioned_at, resources, joined_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id, dedupe_key) DO NOTHING",
    )
    .bind(workspace_id)
    .bind(incident_id)
    .bind(&new.dedupe_key)
    .bind(&new.alarm_name)
    .bind(new.transitioned_at)
    .bind(serde_json::to_string(&new.resources)?)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The open incident, most recent first, that an alarm about `resources` belongs to: one with an
/// alarm within the storm window that shares a resource.
async fn storm_parent(
    tx: &mut sqlx::SqliteConnection,
    workspace_id: &str,
    resources: &[String],
    now: i64,
) -> anyhow::Result<Option<String>> {
    if resources.is_empty() {
        return Ok(None);
    }
    let rows = sqlx::query(
        "SELECT a.incident_id, a.resources FROM incident_alarms a JOIN incidents i ON i.id = a.incident_id \
         WHERE a.workspace_id = ? AND i.workspace_id = a.workspace_id AND i.status != 'resolved' AND a.joined_at >= ? \
         ORDER BY a.joined_at DESC",
    )
    .bind(workspace_id)
    .bind(now - STORM_WINDOW_MS)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().find_map(|r| {
        let theirs: Vec<String> = serde_json::from_str(&r.get::<String, _>(1)).unwrap_or_default();
        theirs
            .iter()
            .any(|t| resources.contains(t))
            .then(|| r.get::<String, _>(0))
    }))
}

/// Queues (or refreshes) one pending update per route the incident went to: the alarms that
/// joined after the opening one, sent after [`UPDATE_COALESCE_MS`].
async fn queue_updates(
    tx: &mut sqlx::SqliteConnection,
    workspace_id: &str,
    incident_id: &str,
    now: i64,
    make_body: &impl Fn(&str, &Route, &BodyFor) -> String,
) -> anyhow::Result<()> {
    let joined: Vec<String> = sqlx::query(
        "SELECT alarm_name FROM incident_alarms WHERE workspace_id = ? AND incident_id = ? ORDER BY joined_at, rowid",
    )
    .bind(workspace_id)
    .bind(incident_id)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .skip(1)
    .map(|r| r.get(0))
    .collect();
    let routes = sqlx::query(
        "SELECT r.id, r.kind, r.target_enc FROM deliveries d JOIN routes r ON r.id = d.route_id \
         WHERE d.workspace_id = ? AND d.incident_id = ? AND d.kind = 'open'",
    )
    .bind(workspace_id)
    .bind(incident_id)
    .fetch_all(&mut *tx)
    .await?;
    let what = BodyFor::Update { joined };
    for r in routes {
        let route = Route {
            id: r.get(0),
            kind: r.get(1),
            target_enc: r.get(2),
        };
        let body = make_body(incident_id, &route, &what);
        let refreshed = sqlx::query(
            "UPDATE deliveries SET body = ? WHERE workspace_id = ? AND incident_id = ? AND route_id = ? \
             AND kind = 'update' AND status = 'pending'",
        )
        .bind(&body)
        .bind(workspace_id)
        .bind(incident_id)
        .bind(&route.id)
        .execute(&mut *tx)
        .await?;
        if refreshed.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO deliveries (id, workspace_id, incident_id, route_id, kind, status, attempts, next_attempt_at, body) \
                 VALUES (?, ?, ?, ?, 'update', 'pending', 0, ?, ?)",
            )
            .bind(new_id("dlv"))
            .bind(workspace_id)
            .bind(incident_id)
            .bind(&route.id)
            .bind(now + UPDATE_COALESCE_MS)
            .bind(&body)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// Append one audit row on `conn`, which may be inside the caller's transaction so the record
/// commits (or rolls back) with the change it describes.
async fn audit_in(
    conn: &mut sqlx::SqliteConnection,
    workspace_id: Option<&str>,
    at: i64,
    actor: &str,
    action: &str,
    detail: serde_json::Value,
) -> anyhow::Result<()> {
    // `detail` is structured: values that agents and chat users control stay inside their JSON
    // strings and cannot forge another field.
    sqlx::query(
        "INSERT INTO audit_log (workspace_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(workspace_id)
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(detail.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

fn incident_from_row(r: sqlx::sqlite::SqliteRow) -> Incident {
    let diagnosis: String = r.get(7);
    Incident {
        id: r.get(0),
        workspace_id: r.get(1),
        alarm_name: r.get(2),
        transitioned_at: r.get(3),
        opened_at: r.get(4),
        status: r.get(5),
        title: r.get(6),
        diagnosis: serde_json::from_str(&diagnosis).unwrap_or(serde_json::Value::String(diagnosis)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open_sqlite(&dir.path().join("t.db"))
            .await
            .expect("open");
        (dir, s)
    }

    fn received(ws: &str, seq: u64) -> Received<'_> {
        Received {
            workspace_id: ws,
            agent_id: "agt",
            seq,
            investigation_id: "inv",
            body: "{}",
            wire_bytes: 2,
            command_id: None,
        }
    }

    fn incident(key: &str) -> impl FnOnce(&str) -> NewIncident + '_ {
        move |_| NewIncident {
            dedupe_key: key.to_owned(),
            alarm_name: "a".into(),
            transitioned_at: 1,
            title: "t".into(),
            diagnosis: serde_json::json!({"text": "d"}),
            resources: Vec::new(),
        }
    }

    fn alarm(key: &str, resources: &[&str]) -> impl FnOnce(&str) -> NewIncident + use<> {
        let resources: Vec<String> = resources.iter().map(|r| r.to_string()).collect();
        let key = key.to_owned();
        move |_| NewIncident {
            dedupe_key: format!("alarm:{key}:1"),
            alarm_name: key.clone(),
            transitioned_at: 1,
            title: key,
            diagnosis: serde_json::json!({}),
            resources,
        }
    }

    #[tokio::test]
    async fn related_alarms_join_one_incident_with_one_pending_update() {
        let (_d, s) = store().await;
        let (a, _) = s.create_workspace("a", "test").await.expect("ws");
        s.add_route(&a.id, "slack_webhook", b"x", "test")
            .await
            .expect("route");
        let body = |_: &str, _: &Route, what: &BodyFor| match what {
            BodyFor::Opened => "opened".to_owned(),
            BodyFor::Update { joined } => format!("joined {}", joined.join(",")),
        };
        let names: Vec<String> = (0..30).map(|i| format!("svc-{i}-5xx")).collect();
        let mut incidents = std::collections::HashSet::new();
        for (i, n) in names.iter().enumerate() {
            // Every alarm shares the load balancer with the others; each has its own service.
            let svc = format!("svc-{i}");
            let stored = s
                .store_evidence(
                    received(&a.id, i as u64 + 1),
                    alarm(n, &["app/prod-alb/1", &svc]),
                    body,
                )
                .await
                .expect("store");
            let Stored::New {
                incident_id,
                opened,
                joined,
            } = stored
            else {
                panic!("stored");
            };
            assert_eq!((opened, joined), (i == 0, i > 0), "alarm {i}");
            incidents.insert(incident_id);
        }
        assert_eq!(incidents.len(), 1, "one incident for the storm");
        let id = incidents.into_iter().next().expect("incident");
        assert_eq!(
            s.incident_alarms(&a.id, &id).await.expect("alarms").len(),
            30
        );
        let log = s.deliveries(&a.id, &id).await.expect("log");
        assert_eq!(
            log.len(),
            2,
            "one opening and one coalesced update: {log:#?}"
        );
        assert_eq!(log[1]["kind"], "update");
        // The update waits for its opening and for more alarms; then says who joined.
        assert!(s
            .due_deliveries(10)
            .await
            .expect("due")
            .iter()
            .all(|d| d.kind == "open"));
        let pending: String = sqlx::query("SELECT body FROM deliveries WHERE kind = 'update'")
            .fetch_one(&s.pool)
            .await
            .expect("update")
            .get(0);
        assert_eq!(pending, format!("joined {}", names[1..].join(",")));
        // An unrelated alarm opens its own incident.
        let other = s
            .store_evidence(received(&a.id, 31), alarm("db-cpu", &["orders-db"]), body)
            .await
            .expect("store");
        assert!(matches!(other, Stored::New { opened: true, .. }));
        // A resolved incident takes no more alarms.
        s.set_incident_status(&a.id, &id, "resolved", "test", "test")
            .await
            .expect("resolve");
        let late = s
            .store_evidence(
                received(&a.id, 32),
                alarm("svc-99-5xx", &["app/prod-alb/1"]),
                body,
            )
            .await
            .expect("store");
        assert!(matches!(late, Stored::New { opened: true, .. }));
    }

    /// Read-then-write transactions from several connections at once: each waits for the write
    /// lock instead of failing because another committed after it read.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writers_wait_for_each_other_instead_of_failing() {
        let (_dir, s) = store().await;
        let (ws, _) = s.create_workspace("acme", "t").await.expect("ws");
        let mut tasks = Vec::new();
        for agent in 0..4 {
            let (s, ws) = (s.clone(), ws.id.clone());
            tasks.push(tokio::spawn(async move {
                let agent_id = format!("agent-{agent}");
                let mut failures = Vec::new();
                for seq in 1..=50u64 {
                    let key = format!("alarm:{agent}:{seq}");
                    let r = s
                        .store_evidence(
                            Received {
                                agent_id: &agent_id,
                                ..received(&ws, seq)
                            },
                            incident(&key),
                            |_, _, _| "body".into(),
                        )
                        .await;
                    if let Err(e) = r {
                        failures.push(format!("{e:#}"));
                    }
                }
                failures
            }));
        }
        for t in tasks {
            let failures = t.await.expect("task");
            assert!(failures.is_empty(), "{failures:?}");
        }
        assert_eq!(s.incidents(&ws.id, 500).await.expect("list").len(), 200);
    }

    #[tokio::test]
    async fn evidence_is_stored_once_and_scoped() {
        let (_d, s) = store().await;
        let (a, _) = s.create_workspace("a", "test").await.expect("ws");
        let (b, _) = s.create_workspace("b", "test").await.expect("ws");
        s.add_route(&a.id, "slack_webhook", b"x", "test")
            .await
            .expect("route");
        let first = s
            .store_evidence(received(&a.id, 1), incident("k"), |_, _, _| "body".into())
            .await
            .expect("store");
        assert!(matches!(first, Stored::New { opened: true, .. }));
        let again = s
            .store_evidence(received(&a.id, 1), incident("k"), |_, _, _| "body".into())
            .await
            .expect("store");
        assert_eq!(again, Stored::Duplicate);
        // A second frame of the same transition joins the incident without a second delivery.
        let second = s
            .store_evidence(received(&a.id, 2), incident("k"), |_, _, _| "body".into())
            .await
            .expect("store");
        assert!(matches!(second, Stored::New { opened: false, .. }));
        assert_eq!(s.due_deliveries(10).await.expect("due").len(), 1);
        assert_eq!(s.incidents(&a.id, 10).await.expect("list").len(), 1);
        assert!(
            s.incidents(&b.id, 10).await.expect("list").is_empty(),
            "tenant scoping"
        );
        let id = &s.incidents(&a.id, 10).await.expect("list")[0].id;
        assert!(
            s.incident(&b.id, id).await.expect("get").is_none(),
            "tenant scoping"
        );
    }

    #[tokio::test]
    async fn audit_log_is_append_only() {
        let (_d, s) = store().await;
        s.audit(None, "test", "x", serde_json::json!({"y": 1}))
            .await
            .expect("audit");
        let id: i64 = sqlx::query_scalar("SELECT id FROM audit_log")
            .fetch_one(&s.pool)
            .await
            .expect("id");
        let replace = sqlx::query(
            "INSERT OR REPLACE INTO audit_log (id, workspace_id, at, actor, action, detail) \
             VALUES (?, NULL, 0, 'evil', 'x', '{}')",
        )
        .bind(id)
        .execute(&s.pool)
        .await;
        assert!(replace.is_err(), "a replacing insert must be refused");
        let again = sqlx::query(
            "INSERT INTO audit_log (id, workspace_id, at, actor, action, detail) \
             VALUES (?, NULL, 0, 'evil', 'x', '{}') ON CONFLICT (id) DO UPDATE SET actor = 'evil'",
        )
        .bind(id)
        .execute(&s.pool)
        .await;
        assert!(again.is_err(), "an upsert must be refused");
        let actor: String = sqlx::query_scalar("SELECT actor FROM audit_log WHERE id = ?")
            .bind(id)
            .fetch_one(&s.pool)
            .await
            .expect("row");
        assert_eq!(actor, "test");
        let upd = sqlx::query("UPDATE audit_log SET actor = 'evil'")
            .execute(&s.pool)
            .await;
        assert!(upd.is_err(), "update must be refused");
        let del = sqlx::query("DELETE FROM audit_log").execute(&s.pool).await;
        assert!(del.is_err(), "delete of fresh rows must be refused");
    }

    #[tokio::test]
    async fn audit_details_keep_untrusted_text_inside_their_field() {
        let (_d, s) = store().await;
        let (ws, _) = s.create_workspace("a", "test").await.expect("ws");
        let text = "status channel=slack:forged id=inc_x\n\"}";
        s.audit(
            Some(&ws.id),
            "slack:T/U",
            "chat.command",
            serde_json::json!({ "channel": "slack:T/C", "text": text }),
        )
        .await
        .expect("audit");
        let log = s.audit_log(&ws.id, 10).await.expect("log");
        let row = log
            .iter()
            .find(|e| e["action"] == "chat.command")
            .expect("row");
        assert_eq!(row["detail"]["channel"], "slack:T/C");
        assert_eq!(row["detail"]["text"], text);
    }

    #[tokio::test]
    async fn tokens_resolve_only_to_their_workspace() {
        let (_d, s) = store().await;
        let (a, key) = s.create_workspace("a", "test").await.expect("ws");
        let tok = s
            .create_agent_token(&a.id, "agent-1", "test")
            .await
            .expect("tok");
        assert_eq!(
            s.workspace_for_agent_token(&tok).await.expect("q"),
            Some(a.id.clone())
        );
        assert_eq!(
            s.workspace_for_api_key(&key).await.expect("q"),
            Some(a.id.clone())
        );
        assert_eq!(
            s.workspace_for_agent_token(&key).await.expect("q"),
            None,
            "an API key is not an agent token"
        );
        assert_eq!(s.workspace_for_agent_token("nope").await.expect("q"), None);
        let dup = s
            .create_workspace("a", "test")
            .await
            .expect_err("duplicate");
        assert!(dup.to_string().contains("already exists"), "{dup}");
    }
}
