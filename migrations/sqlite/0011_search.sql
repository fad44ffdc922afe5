-- Fast at any size (issue 12): search by name reads an index of the names' trigrams
-- instead of every name of the organization. The same table as
-- migrations/postgres/0011_search.sql; triggers keep it equal to the names, whichever
-- statement adds or removes a set or a deployment.
--
-- `list` is 'set' or 'deployment'; every distinct three-character piece `tri` of a name
-- has one row. A search walks the rows of one of its pieces in name order (the primary
-- key's order) and keeps the names that contain the whole text.
CREATE TABLE name_trigrams (
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    list   TEXT NOT NULL,
    tri    TEXT NOT NULL,
    name   TEXT NOT NULL,
    PRIMARY KEY (org_id, list, tri, name)
) WITHOUT ROWID;

-- The positions a piece can start at (names have at most 63 characters). Triggers
-- cannot use a recursive WITH, so they join this table instead.
CREATE TABLE name_positions (n INTEGER PRIMARY KEY);
WITH RECURSIVE p(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM p WHERE n < 61)
INSERT INTO name_positions (n) SELECT n FROM p;

INSERT OR IGNORE INTO name_trigrams (org_id, list, tri, name)
SELECT s.org_id, 'set', substr(s.name, p.n, 3), s.name
FROM secret_sets s JOIN name_positions p ON p.n <= length(s.name) - 2;

INSERT OR IGNORE INTO name_trigrams (org_id, list, tri, name)
SELECT d.org_id, 'deployment', substr(d.name, p.n, 3), d.name
FROM deployments d JOIN name_positions p ON p.n <= length(d.name) - 2;

CREATE TRIGGER secret_sets_trigrams_in AFTER INSERT ON secret_sets BEGIN
    INSERT OR IGNORE INTO name_trigrams (org_id, list, tri, name)
    SELECT NEW.org_id, 'set', substr(NEW.name, n, 3), NEW.name
    FROM name_positions WHERE n <= length(NEW.name) - 2;
END;

CREATE TRIGGER secret_sets_trigrams_out AFTER DELETE ON secret_sets BEGIN
    DELETE FROM name_trigrams
    WHERE org_id = OLD.org_id AND list = 'set' AND name = OLD.name
      AND tri IN (SELECT substr(OLD.name, n, 3) FROM name_positions WHERE n <= length(OLD.name) - 2);
END;

CREATE TRIGGER secret_sets_trigrams_rename AFTER UPDATE OF org_id, name ON secret_sets BEGIN
    DELETE FROM name_trigrams
    WHERE org_id = OLD.org_id AND list = 'set' AND name = OLD.name
      AND tri IN (SELECT substr(OLD.name, n, 3) FROM name_positions WHERE n <= length(OLD.name) - 2);
    INSERT OR IGNORE INTO name_trigrams (org_id, list, tri, name)
    SELECT NEW.org_id, 'set', substr(NEW.name, n, 3), NEW.name
    FROM name_positions WHERE n <= length(NEW.name) - 2;
END;

CREATE TRIGGER deployments_trigrams_in AFTER INSERT ON deployments BEGIN
    INSERT OR IGNORE INTO name_trigrams (org_id, list, tri, name)
    SELECT NEW.org_id, 'deployment', substr(NEW.name, n, 3), NEW.name
    FROM name_positions WHERE n <= length(NEW.name) - 2;
END;

CREATE TRIGGER deployments_trigrams_out AFTER DELETE ON deployments BEGIN
    DELETE FROM name_trigrams
    WHERE org_id = OLD.org_id AND list = 'deployment' AND name = OLD.name
      AND tri IN (SELECT substr(OLD.name, n, 3) FROM name_positions WHERE n <= length(OLD.name) - 2);
END;

CREATE TRIGGER deployments_trigrams_rename AFTER UPDATE OF org_id, name ON deployments BEGIN
    DELETE FROM name_trigrams
    WHERE org_id = OLD.org_id AND list = 'deployment' AND name = OLD.name
      AND tri IN (SELECT substr(OLD.name, n, 3) FROM name_positions WHERE n <= length(OLD.name) - 2);
    INSERT OR IGNORE INTO name_trigrams (org_id, list, tri, name)
    SELECT NEW.org_id, 'deployment', substr(NEW.name, n, 3), NEW.name
    FROM name_positions WHERE n <= length(NEW.name) - 2;
END;
