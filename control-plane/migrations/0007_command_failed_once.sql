-- A command's failure is answered and audited once, however often an agent reports it.
ALTER TABLE commands ADD COLUMN failed_at INTEGER;
