-- The change feed: every committed change to a resource or an occurrence, numbered in commit
-- order, written by triggers inside the writer's own transaction, so that a process keeping
-- state in memory sees what any writer of this file changed. Trimmed to the newest rows.
CREATE TABLE changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    -- A resource kind, or `occurrence`.
    kind   TEXT NOT NULL,
    -- The resource's name, or the occurrence's note.
    name   TEXT NOT NULL,
    -- The digest an occurrence's resource is pinned to (empty otherwise).
    digest TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER resources_inserted AFTER INSERT ON resources BEGIN
    INSERT INTO changes (kind, name) VALUES (NEW.kind, NEW.name);
END;
CREATE TRIGGER resources_updated AFTER UPDATE ON resources BEGIN
    INSERT INTO changes (kind, name) VALUES (NEW.kind, NEW.name);
END;
CREATE TRIGGER resources_deleted AFTER DELETE ON resources BEGIN
    INSERT INTO changes (kind, name) VALUES (OLD.kind, OLD.name);
END;
CREATE TRIGGER occurrences_inserted AFTER INSERT ON occurrences BEGIN
    INSERT INTO changes (kind, name, digest) VALUES ('occurrence', NEW.note_name, NEW.resource_digest);
END;
CREATE TRIGGER occurrences_updated AFTER UPDATE ON occurrences BEGIN
    INSERT INTO changes (kind, name, digest) VALUES ('occurrence', OLD.note_name, OLD.resource_digest);
    INSERT INTO changes (kind, name, digest) VALUES ('occurrence', NEW.note_name, NEW.resource_digest);
END;
CREATE TRIGGER occurrences_deleted AFTER DELETE ON occurrences BEGIN
    INSERT INTO changes (kind, name, digest) VALUES ('occurrence', OLD.note_name, OLD.resource_digest);
END;
