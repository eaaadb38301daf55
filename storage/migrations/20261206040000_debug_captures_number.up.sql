-- A number's active debug capture is read at every dispatcher pass
-- (ActiveDebugCapture): by its number, among the captures not revoked, the
-- one that ends last. Without this index each pass read every capture of
-- every account.
--
-- Not in a transaction: on PostgreSQL the index is built CONCURRENTLY (see
-- lighter_indexes), after dropping what a build that failed left behind.
DROP INDEX {{if .Postgres}}CONCURRENTLY {{end}}IF EXISTS debug_captures_number;
--bun:split
CREATE INDEX {{if .Postgres}}CONCURRENTLY {{end}}debug_captures_number ON debug_captures (number_id, until) WHERE revoked_at IS NULL;
