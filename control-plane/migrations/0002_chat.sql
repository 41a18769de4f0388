-- Chat commands (schema version 2).

-- Slack workspaces ("teams") linked to ConvOps workspaces: a slash command is run in the
-- workspace its team is linked to, and nowhere else.
CREATE TABLE slack_teams (
    team_id       TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    created_at    INTEGER NOT NULL
);

-- Chat requests already handled, by their platform's event id (Slack trigger_id, WhatsApp
-- message id): a retried or replayed request gets the first reply and runs nothing again.
CREATE TABLE chat_requests (
    key           TEXT PRIMARY KEY,
    workspace_id  TEXT,
    received_at   INTEGER NOT NULL,
    reply         TEXT NOT NULL
);
CREATE INDEX chat_requests_age ON chat_requests (received_at);
