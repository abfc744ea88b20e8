-- The change feed: every committed change to a resource or an occurrence is announced on the
-- `admit_changes` channel by triggers inside the writer's own transaction (PostgreSQL delivers
-- notifications at commit, in commit order), so every replica keeping state in memory hears
-- what any replica changed. Payloads: `r KIND NAME`, `o NOTE DIGEST` (names hold no spaces).
CREATE FUNCTION admit_resource_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('admit_changes', 'r ' || OLD.kind || ' ' || OLD.name);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('admit_changes', 'r ' || NEW.kind || ' ' || NEW.name);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER resources_changed AFTER INSERT OR UPDATE OR DELETE ON resources
    FOR EACH ROW EXECUTE FUNCTION admit_resource_changed();

CREATE FUNCTION admit_occurrence_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('admit_changes', 'o ' || OLD.note_name || ' ' || OLD.resource_digest);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('admit_changes', 'o ' || NEW.note_name || ' ' || NEW.resource_digest);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER occurrences_changed AFTER INSERT OR UPDATE OR DELETE ON occurrences
    FOR EACH ROW EXECUTE FUNCTION admit_occurrence_changed();
