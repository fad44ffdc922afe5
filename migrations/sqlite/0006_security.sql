-- Security review (issue 10).

-- Ids that other rows or the audit log refer to are never handed out again. Without
-- AUTOINCREMENT SQLite reuses the id of the newest deleted row, so a new organization
-- could inherit a deleted one's audit log, and a new API token a revoked one's id.
-- The tables are rebuilt with AUTOINCREMENT (foreign keys are off while migrations run)
-- and each sequence starts past every id still named anywhere.
CREATE TABLE orgs_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL UNIQUE,
    created_at       INTEGER NOT NULL,
    personal_user_id INTEGER REFERENCES users(id) ON DELETE CASCADE
);
INSERT INTO orgs_new (id, name, created_at, personal_user_id)
    SELECT id, name, created_at, personal_user_id FROM orgs;
DROP TABLE orgs;
ALTER TABLE orgs_new RENAME TO orgs;

CREATE TABLE api_tokens_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id       INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    role         TEXT NOT NULL DEFAULT 'owner'
);
INSERT INTO api_tokens_new (id, org_id, user_id, name, token_hash, created_at, last_used_at, role)
    SELECT id, org_id, user_id, name, token_hash, created_at, last_used_at, role FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;

-- Invitations are withdrawn by id: a stale list must never withdraw a newer one.
CREATE TABLE invites_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email      TEXT NOT NULL COLLATE NOCASE,
    role       TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_by INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
INSERT INTO invites_new (id, org_id, email, role, token_hash, created_by, created_at, expires_at, used_at)
    SELECT id, org_id, email, role, token_hash, created_by, created_at, expires_at, used_at FROM invites;
DROP TABLE invites;
ALTER TABLE invites_new RENAME TO invites;

-- Revoked tokens are named in the audit log as token:ID (revocation) and "id ID"
-- (creation): start past those too.
DELETE FROM sqlite_sequence
    WHERE name IN ('orgs', 'orgs_new', 'api_tokens', 'api_tokens_new', 'invites', 'invites_new');
INSERT INTO sqlite_sequence (name, seq) VALUES
    ('orgs', (SELECT MAX(n) FROM (
        SELECT COALESCE(MAX(id), 0) AS n FROM orgs
        UNION ALL SELECT COALESCE(MAX(org_id), 0) FROM audit_log))),
    ('api_tokens', (SELECT MAX(n) FROM (
        SELECT COALESCE(MAX(id), 0) AS n FROM api_tokens
        UNION ALL SELECT COALESCE(MAX(CAST(substr(object, 7) AS INTEGER)), 0) FROM audit_log
            WHERE action = 'token.revoke' AND object GLOB 'token:[0-9]*'
        UNION ALL SELECT COALESCE(MAX(CAST(substr(detail, 4) AS INTEGER)), 0) FROM audit_log
            WHERE action = 'token.create' AND detail GLOB 'id [0-9]*'))),
    ('invites', (SELECT COALESCE(MAX(id), 0) FROM invites));

-- Protected sets: only admins may deploy them, redeploy or rotate the runtime token of
-- a deployment that uses them.
ALTER TABLE secret_sets ADD COLUMN protected INTEGER NOT NULL DEFAULT 0;

-- Who last saw a deployment's runtime token (it is shown once, to whoever created or
-- rotated it), and whether it must be rotated because that person lost access.
ALTER TABLE deployments ADD COLUMN token_seen_by INTEGER;
ALTER TABLE deployments ADD COLUMN rotate_token INTEGER NOT NULL DEFAULT 0;
