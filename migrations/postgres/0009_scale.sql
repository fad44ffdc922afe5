-- Fast at any size (issue 12): the same indexes as migrations/sqlite/0009_scale.sql.
-- The audit log filtered by object or by person reads only that object's or person's
-- entries, newest first, instead of walking the whole log backwards.
CREATE INDEX audit_log_object ON audit_log (org_id, object, id);
CREATE INDEX audit_log_actor ON audit_log (org_id, actor, id);

-- The sets and deployments lists page in byte order (`COLLATE "C"`, the order SQLite
-- uses): an index in that order lets a page start at its cursor instead of sorting
-- every name of the organization (the unique indexes use the database's collation).
CREATE INDEX secret_sets_org_name_c ON secret_sets (org_id, name COLLATE "C");
CREATE INDEX deployments_org_name_c ON deployments (org_id, name COLLATE "C");
