-- Every message and every event is written once and read by its keys; an
-- index entry is written with each, so an index that serves few rows
-- covers only those:
--
-- the log's times serve the retention of events about no message (a
-- message's events go with it);
DROP INDEX log_events_at;
--bun:split
CREATE INDEX log_events_unrelated_at ON log_events (at) WHERE message_id IS NULL;
--bun:split
-- an idempotency key is looked up, and unique, only where there is one;
DROP INDEX messages_idempotency;
--bun:split
CREATE UNIQUE INDEX messages_idempotency ON messages (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
--bun:split
-- a message's age is when it came in, queued or received: what the
-- retention, the time filters and the queue's expiry compare, and one
-- index instead of two.
DROP INDEX messages_queued_at;
--bun:split
DROP INDEX messages_received_at;
--bun:split
CREATE INDEX messages_entered_at ON messages ((COALESCE(queued_at, received_at)));
