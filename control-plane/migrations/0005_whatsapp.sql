-- WhatsApp (schema version 5).

-- Phone numbers that receive a workspace's diagnoses over WhatsApp, found by a keyed hash of the
-- number (the number itself is only in the route's encrypted target). A number belongs to one
-- workspace, so a message from it runs in exactly one. `last_inbound_at` is the time of the
-- number's latest message to ConvOps: within 24 hours of it, free-form text may be sent (Meta's
-- customer-service window); outside it, only an approved template.
CREATE TABLE whatsapp_contacts (
    phone_hash       TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    route_id         TEXT NOT NULL REFERENCES routes(id),
    last_inbound_at  INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE INDEX whatsapp_contacts_workspace ON whatsapp_contacts (workspace_id);

-- Deliveries: a reply to a chat command (WhatsApp answers are sent, not returned) belongs to no
-- incident, so incident_id may now be NULL for kind 'reply'.
CREATE TABLE deliveries_v5 (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    incident_id      TEXT REFERENCES incidents(id),
    route_id         TEXT NOT NULL REFERENCES routes(id),
    kind             TEXT NOT NULL DEFAULT 'open',   -- open | update | reply
    status           TEXT NOT NULL,                  -- pending | delivered | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    delivered_at     INTEGER,
    remote_ref       TEXT,
    body             TEXT NOT NULL,
    CHECK (incident_id IS NOT NULL OR kind = 'reply')
);
INSERT INTO deliveries_v5 (id, workspace_id, incident_id, route_id, kind, status, attempts, next_attempt_at, last_error, delivered_at, remote_ref, body)
    SELECT id, workspace_id, incident_id, route_id, kind, status, attempts, next_attempt_at, last_error, delivered_at, remote_ref, body FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v5 RENAME TO deliveries;
CREATE INDEX deliveries_pending ON deliveries (status, next_attempt_at);
CREATE UNIQUE INDEX deliveries_open_once ON deliveries (incident_id, route_id) WHERE kind = 'open';
-- Asynchronous failures (Meta's status webhooks) find their delivery by the message id.
CREATE INDEX deliveries_remote_ref ON deliveries (remote_ref) WHERE remote_ref IS NOT NULL;
