-- Fast at any size (issue 12): the same indexes as migrations/postgres/0009_scale.sql.
-- The audit log filtered by object or by person reads only that object's or person's
-- entries, newest first, instead of walking the whole log backwards.
CREATE INDEX audit_log_object ON audit_log (org_id, object, id);
CREATE INDEX audit_log_actor ON audit_log (org_id, actor, id);
