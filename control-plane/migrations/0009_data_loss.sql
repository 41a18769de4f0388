-- Evidence an agent reports lost (its spool over its bound, its volume nearly full, or its store
-- unreadable at start), one row per (agent, seq) like
-- evidence: a redelivered record is a duplicate, and a record for a seq whose evidence was stored
-- is not kept (the evidence arrived after all).
CREATE TABLE data_loss (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    agent_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    reason TEXT NOT NULL,
    lost_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    frames INTEGER,
    bytes INTEGER,
    investigation_id TEXT,
    alarm_name TEXT,
    alarm_at INTEGER,
    -- A merged record's alarms, a JSON array of names.
    alarms TEXT NOT NULL DEFAULT '[]',
    detail TEXT NOT NULL,
    PRIMARY KEY (workspace_id, agent_id, seq)
);
CREATE INDEX data_loss_by_alarm ON data_loss (workspace_id, alarm_name, alarm_at);
CREATE INDEX data_loss_by_time ON data_loss (workspace_id, received_at);
