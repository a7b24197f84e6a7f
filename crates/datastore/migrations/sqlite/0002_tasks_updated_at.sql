-- When a task was last changed (stored, or its expiration set), in seconds
-- since the epoch like every time column: what the management API and the
-- operator's task listing show. Existing tasks were last changed when
-- stored.
ALTER TABLE tasks ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET updated_at = created_at;
