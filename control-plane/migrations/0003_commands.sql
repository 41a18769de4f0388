-- Commands sent to agents (schema version 3): `investigate` from chat.

CREATE TABLE commands (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    target        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    channel       TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

-- A route made for one command (the conversation that asked): it receives that command's
-- diagnosis only. Workspace routes have no command_id.
ALTER TABLE routes ADD COLUMN command_id TEXT REFERENCES commands(id);
