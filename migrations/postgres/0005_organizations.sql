-- Several organizations per user, a personal workspace each, invitations, API tokens
-- with a role, and the audit log.

-- A token acts with at most this role (and never above its creator's current role).
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'owner';

-- Set for a user's personal workspace, which has no other members.
ALTER TABLE orgs ADD COLUMN personal_user_id BIGINT REFERENCES users(id) ON DELETE CASCADE;

CREATE TABLE invites (
    id         BIGSERIAL PRIMARY KEY,
    org_id     BIGINT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    created_by BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- Who changed what, when and from where; never a value. The application only appends.
CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    org_id  BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    source  TEXT NOT NULL,
    action  TEXT NOT NULL,
    object  TEXT NOT NULL,
    keys    TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_org ON audit_log (org_id, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
