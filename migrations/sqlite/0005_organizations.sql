-- Several organizations per user, a personal workspace each, invitations, API tokens
-- with a role, and the audit log.

-- A token acts with at most this role (and never above its creator's current role).
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'owner';

-- Set for a user's personal workspace, which has no other members.
ALTER TABLE orgs ADD COLUMN personal_user_id INTEGER REFERENCES users(id) ON DELETE CASCADE;

CREATE TABLE invites (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email      TEXT NOT NULL COLLATE NOCASE,
    role       TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_by INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);

-- Who changed what, when and from where; never a value. The application only appends.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    org_id  INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    source  TEXT NOT NULL,
    action  TEXT NOT NULL,
    object  TEXT NOT NULL,
    keys    TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_org ON audit_log (org_id, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
