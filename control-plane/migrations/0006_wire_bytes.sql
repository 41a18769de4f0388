-- Evidence frames (schema version 6): what each frame took on the wire. Agents send evidence
-- compressed (zlib with the ConvOps dictionary) when the control plane offers it; `body` keeps
-- the JSON text. NULL for frames stored before this version.
ALTER TABLE evidence ADD COLUMN wire_bytes INTEGER;
