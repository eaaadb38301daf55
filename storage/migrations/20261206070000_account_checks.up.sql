-- Messages, events and outbox items named their account through a
-- foreign key, checked at each insert: PostgreSQL locks the account's row
-- (FOR KEY SHARE) for each row inserted, and with other transactions
-- holding the same lock (the API call log's, the next batch's) each check
-- reads the row's lockers again. In a batch of events the checks took
-- about as long as the inserts (auto_explain); a message's, a sixth of
-- its insert alone. On PostgreSQL the three keys go; what they kept true
-- stays true another way:
--
-- - An outbox item is its message's (outbox.message_id, ON DELETE
--   CASCADE): its own key to the account added nothing.
-- - A message or an event is inserted only in a transaction that bumps
--   its account's event counter (a message with its first event: QUEUED
--   or RECEIVED; see storage.appendEvents), and a counter keeps its key to
--   the account. When an account is deleted, the trigger below deletes
--   its counter, waiting for a transaction that bumped it to end (as the
--   counter's own ON DELETE CASCADE does; the trigger does not rely on
--   which of the two runs first), then its messages (their outbox items
--   and transit rows with them) and its events, read after that
--   transaction's commit. A transaction that comes to bump the counter
--   after the delete waits for it, then finds no account for a new
--   counter and fails whole: no message or event outlives its account, as
--   the keys' ON DELETE CASCADE ensured. apiws's purge takes the counter
--   itself before the account (storage.PurgeAccount): a writer may still
--   check another key to the account after its bump. The tests of
--   storage/purge_test.go hold it to all that.
--
-- SQLite writes one transaction at a time and keeps its keys.
--
-- Not in a transaction: each statement locks its tables alone and
-- briefly, not all of them until the end, which writers running meanwhile
-- (another version's) would wait on in another order. Each can run again:
-- a step that failed is retried with the migration, the trigger and the
-- keys' cascades meanwhile doing the same deletes twice.
{{if .Postgres}}CREATE OR REPLACE FUNCTION apiws_delete_account_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM event_counters WHERE account_id = OLD.id;
	DELETE FROM messages WHERE account_id = OLD.id;
	DELETE FROM log_events WHERE account_id = OLD.id;
	RETURN NULL;
END
$${{else}}SELECT 1{{end}};
--bun:split
{{if .Postgres}}DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'accounts'::regclass AND tgname = 'accounts_delete_rows') THEN
		CREATE TRIGGER accounts_delete_rows AFTER DELETE ON accounts
			FOR EACH ROW EXECUTE FUNCTION apiws_delete_account_rows();
	END IF;
END
$${{else}}SELECT 1{{end}};
--bun:split
{{if .Postgres}}ALTER TABLE log_events DROP CONSTRAINT IF EXISTS log_events_account_id_fkey{{else}}SELECT 1{{end}};
--bun:split
{{if .Postgres}}ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_account_id_fkey{{else}}SELECT 1{{end}};
--bun:split
{{if .Postgres}}ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_account_id_fkey{{else}}SELECT 1{{end}};
