-- Fast at any size (issue 12): search by name reads an index of the names' trigrams
-- instead of every name of the organization. The same table as
-- migrations/sqlite/0011_search.sql; triggers keep it equal to the names, whichever
-- statement adds or removes a set or a deployment.
--
-- `list` is 'set' or 'deployment'; every distinct three-character piece `tri` of a name
-- has one row. A search walks the rows of one of its pieces in name order (the primary
-- key's order, bytewise as the lists page) and keeps the names that contain the whole
-- text.
CREATE TABLE name_trigrams (
    org_id BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    list   TEXT COLLATE "C" NOT NULL,
    tri    TEXT COLLATE "C" NOT NULL,
    name   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (org_id, list, tri, name)
);

-- The distinct pieces of a name.
CREATE FUNCTION name_trigrams_of(name TEXT) RETURNS SETOF TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT DISTINCT substr(name, g, 3) FROM generate_series(1, length(name) - 2) AS g
$$;

INSERT INTO name_trigrams (org_id, list, tri, name)
SELECT s.org_id, 'set', t, s.name FROM secret_sets s, name_trigrams_of(s.name) AS t
ON CONFLICT DO NOTHING;

INSERT INTO name_trigrams (org_id, list, tri, name)
SELECT d.org_id, 'deployment', t, d.name FROM deployments d, name_trigrams_of(d.name) AS t
ON CONFLICT DO NOTHING;

-- One trigger function for both tables; its argument names the list.
CREATE FUNCTION name_trigrams_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        DELETE FROM name_trigrams
        WHERE org_id = OLD.org_id AND list = TG_ARGV[0] AND name = OLD.name
          AND tri IN (SELECT name_trigrams_of(OLD.name));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO name_trigrams (org_id, list, tri, name)
        SELECT NEW.org_id, TG_ARGV[0], t, NEW.name FROM name_trigrams_of(NEW.name) AS t
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER secret_sets_trigrams AFTER INSERT OR DELETE OR UPDATE OF org_id, name
ON secret_sets FOR EACH ROW EXECUTE FUNCTION name_trigrams_follow('set');

CREATE TRIGGER deployments_trigrams AFTER INSERT OR DELETE OR UPDATE OF org_id, name
ON deployments FOR EACH ROW EXECUTE FUNCTION name_trigrams_follow('deployment');
