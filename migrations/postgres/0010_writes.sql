-- Fast at any size (issue 12): the same index as migrations/sqlite/0010_writes.sql.
-- Every write to a set looks for versions old enough to prune; by time it reads only
-- those, not every version the set has had.
CREATE INDEX secret_versions_at ON secret_versions (set_id, at);
