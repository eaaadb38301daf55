-- Every message and every event is written once and read by its keys; an
-- index entry is written with each, so an index that serves few rows
-- covers only those: the log's times serve the retention of events about
-- no message (a message's events go with it); an idempotency key is
-- looked up, and unique, only where there is one; and a message's age is
-- when it came in, queued or received, what the retention, the time
-- filters and the queue's expiry compare: one index instead of two.
--
-- Not in a transaction: on PostgreSQL each index is built and dropped
-- CONCURRENTLY, so the tables take reads and writes meanwhile (a build in
-- a transaction would hold their writes until its end). A step that failed
-- is run again with the migration; a new index is dropped first, as a
-- concurrent build that failed leaves an invalid one behind.
DROP INDEX {{if .Postgres}}CONCURRENTLY {{end}}IF EXISTS log_events_unrelated_at;
--bun:split
CREATE INDEX {{if .Postgres}}CONCURRENTLY {{end}}log_events_unrelated_at ON log_events (at) WHERE message_id IS NULL;
--bun:split
DROP INDEX {{if .Postgres}}CONCURRENTLY {{end}}IF EXISTS log_events_at;
--bun:split
DROP INDEX {{if .Postgres}}CONCURRENTLY {{end}}IF EXISTS messages_idempotency_key;
--bun:split
CREATE UNIQUE INDEX {{if .Postgres}}CONCURRENTLY {{end}}messages_idempotency_key ON messages (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
--bun:split
DROP INDEX {{if .Postgres}}CONCURRENTLY {{end}}IF EXISTS messages_idempotency;
--bun:split
DROP INDEX {{if .Postgres}}CONCURRENTLY {{end}}IF EXISTS messages_entered_at;
--bun:split
CREATE INDEX {{if .Postgres}}CONCURRENTLY {{end}}messages_entered_at ON messages ((COALESCE(queued_at, received_at)));
--bun:split
DROP INDEX {{if .Postgres}}CONCURRENTLY {{end}}IF EXISTS messages_queued_at;
--bun:split
DROP INDEX {{if .Postgres}}CONCURRENTLY {{end}}IF EXISTS messages_received_at;
