-- Records copied from a server's on-disk audit log (admit-auditlog) carry the log's id and
-- their number in it, so copying again after a crash or a retry never stores one twice.
ALTER TABLE audit_records ADD COLUMN log_id TEXT;
ALTER TABLE audit_records ADD COLUMN log_seq BIGINT;
CREATE UNIQUE INDEX audit_by_log ON audit_records (log_id, log_seq);
