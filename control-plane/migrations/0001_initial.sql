-- ConvOps control plane schema, version 1 (SQLite).
-- Every table that holds tenant data carries workspace_id, and every query filters on it.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

-- API keys and agent tokens are stored as SHA-256 hashes of high-entropy random secrets.
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    key_hash      TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);

CREATE TABLE agent_tokens (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);

-- Where a workspace's diagnoses go. The target (a webhook URL, a secret) is AES-256-GCM encrypted.
CREATE TABLE routes (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    kind          TEXT NOT NULL,
    target_enc    BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE incidents (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id),
    -- One incident per alarm transition ("alarm:<name>:<ms>") or per command ("command:<id>").
    dedupe_key      TEXT NOT NULL,
    alarm_name      TEXT NOT NULL,
    transitioned_at INTEGER NOT NULL,
    opened_at       INTEGER NOT NULL,
    status          TEXT NOT NULL,
    title           TEXT NOT NULL,
    diagnosis       TEXT NOT NULL,
    UNIQUE (workspace_id, dedupe_key)
);

-- Evidence frames, stored exactly once per (workspace, agent, seq).
CREATE TABLE evidence (
    workspace_id      TEXT NOT NULL REFERENCES workspaces(id),
    agent_id          TEXT NOT NULL,
    seq               INTEGER NOT NULL,
    investigation_id  TEXT NOT NULL,
    incident_id       TEXT NOT NULL REFERENCES incidents(id),
    received_at       INTEGER NOT NULL,
    body              TEXT NOT NULL,
    PRIMARY KEY (workspace_id, agent_id, seq)
);

-- The delivery outbox: written in the same transaction as the incident, so a restart resumes it.
CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    incident_id      TEXT NOT NULL REFERENCES incidents(id),
    route_id         TEXT NOT NULL REFERENCES routes(id),
    status           TEXT NOT NULL,          -- pending | delivered | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    delivered_at     INTEGER,
    body             TEXT NOT NULL,
    UNIQUE (incident_id, route_id)
);
CREATE INDEX deliveries_pending ON deliveries (status, next_attempt_at);

CREATE TABLE agents (
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id),
    agent_id       TEXT NOT NULL,
    agent_version  TEXT NOT NULL,
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, agent_id)
);

-- Append-only audit log: rows can never be changed, and deleted only once older than 12 months.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  TEXT,
    at            INTEGER NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    detail        TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_early_delete BEFORE DELETE ON audit_log
WHEN OLD.at > (CAST(strftime('%s', 'now') AS INTEGER) - 365 * 86400) * 1000
BEGIN
    SELECT RAISE(ABORT, 'audit_log rows are kept for 12 months');
END;
