CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  number_id TEXT NOT NULL,
  direction TEXT NOT NULL,
  peer TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  wa_message_id TEXT,
  client_reference TEXT,
  idempotency_key TEXT,
  request_hash {{.Bytes}},
  error TEXT,
  queued_at {{.TS}},
  sent_at {{.TS}},
  delivered_at {{.TS}},
  read_at {{.TS}},
  played_at {{.TS}},
  failed_at {{.TS}},
  received_at {{.TS}}
);
--bun:split
CREATE INDEX messages_account ON messages (account_id, id);
--bun:split
CREATE INDEX messages_number ON messages (number_id, id);
--bun:split
CREATE INDEX messages_wa ON messages (number_id, wa_message_id);
--bun:split
CREATE UNIQUE INDEX messages_idempotency ON messages (account_id, idempotency_key);
--bun:split
CREATE TABLE outbox (
  message_id TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  number_id TEXT NOT NULL,
  content {{.Bytes}} NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX outbox_number ON outbox (number_id, message_id);
--bun:split
CREATE TABLE event_counters (
  account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  last_seq BIGINT NOT NULL
);
--bun:split
CREATE TABLE message_events (
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  seq BIGINT NOT NULL,
  message_id TEXT NOT NULL,
  number_id TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT,
  at {{.TS}} NOT NULL,
  PRIMARY KEY (account_id, seq)
);
--bun:split
CREATE INDEX message_events_message ON message_events (message_id, seq);
--bun:split
CREATE TABLE debug_captures (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  number_id TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_at {{.TS}} NOT NULL,
  until {{.TS}} NOT NULL,
  revoked_at {{.TS}}
);
--bun:split
CREATE INDEX debug_captures_account ON debug_captures (account_id, id);
--bun:split
CREATE TABLE captured_contents (
  message_id TEXT PRIMARY KEY,
  capture_id TEXT NOT NULL REFERENCES debug_captures (id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  content {{.Bytes}} NOT NULL,
  until {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX captured_contents_until ON captured_contents (until);
