-- Audit retention deletes by time: an index so pruning never scans the log.
CREATE INDEX audit_by_time ON audit_records (time);
