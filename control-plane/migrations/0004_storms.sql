-- Alarm storms (schema version 4): alarms on related resources within minutes join one incident,
-- which then gets updates in its thread instead of a message per alarm.

-- The alarms of an incident: the one that opened it and every one that joined it.
CREATE TABLE incident_alarms (
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    incident_id      TEXT NOT NULL REFERENCES incidents(id),
    -- The alarm transition ("alarm:<name>:<ms>"), unique per workspace like incidents' own.
    dedupe_key       TEXT NOT NULL,
    alarm_name       TEXT NOT NULL,
    transitioned_at  INTEGER NOT NULL,
    -- JSON array of the resources the alarm is about (its dimension values).
    resources        TEXT NOT NULL,
    joined_at        INTEGER NOT NULL,
    UNIQUE (workspace_id, dedupe_key)
);
CREATE INDEX incident_alarms_recent ON incident_alarms (workspace_id, joined_at);

-- Deliveries: an incident now has one opening message per route plus updates, and remembers
-- where the opening message landed (Slack's ts) so updates go to its thread.
CREATE TABLE deliveries_v4 (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    incident_id      TEXT NOT NULL REFERENCES incidents(id),
    route_id         TEXT NOT NULL REFERENCES routes(id),
    kind             TEXT NOT NULL DEFAULT 'open',   -- open | update
    status           TEXT NOT NULL,                  -- pending | delivered | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    delivered_at     INTEGER,
    remote_ref       TEXT,
    body             TEXT NOT NULL
);
INSERT INTO deliveries_v4 (id, workspace_id, incident_id, route_id, kind, status, attempts, next_attempt_at, last_error, delivered_at, body)
    SELECT id, workspace_id, incident_id, route_id, 'open', status, attempts, next_attempt_at, last_error, delivered_at, body FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v4 RENAME TO deliveries;
CREATE INDEX deliveries_pending ON deliveries (status, next_attempt_at);
CREATE UNIQUE INDEX deliveries_open_once ON deliveries (incident_id, route_id) WHERE kind = 'open';

-- Incidents opened before this version have their own alarm on record.
INSERT INTO incident_alarms (workspace_id, incident_id, dedupe_key, alarm_name, transitioned_at, resources, joined_at)
    SELECT workspace_id, id, dedupe_key, alarm_name, transitioned_at, '[]', opened_at FROM incidents;
