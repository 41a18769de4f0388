-- An insert that names an existing row (INSERT OR REPLACE, an upsert) is refused: the audit log
-- only grows. (With recursive_triggers on, REPLACE's delete also meets audit_log_no_early_delete.)
CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
