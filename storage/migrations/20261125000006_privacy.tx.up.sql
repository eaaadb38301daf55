CREATE TABLE privacy_requests (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  status TEXT NOT NULL,
  details TEXT,
  withdraw BOOLEAN NOT NULL DEFAULT FALSE,
  submitted_at {{.TS}} NOT NULL,
  verified_at {{.TS}},
  completed_at {{.TS}},
  due_at {{.TS}} NOT NULL,
  resolution TEXT,
  code_hash {{.Bytes}},
  code_expires_at {{.TS}},
  code_attempts INTEGER NOT NULL DEFAULT 0,
  download_expires_at {{.TS}}
);
--bun:split
CREATE INDEX privacy_requests_account ON privacy_requests (account_id, id);
--bun:split
CREATE INDEX privacy_requests_due ON privacy_requests (status, due_at);
--bun:split
-- An export holds a copy of everything on the account; it is deleted with
-- the account and 7 days after it was made.
CREATE TABLE exports (
  request_id TEXT PRIMARY KEY REFERENCES privacy_requests (id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  content {{.Bytes}} NOT NULL,
  created_at {{.TS}} NOT NULL,
  expires_at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX exports_expires ON exports (expires_at);
--bun:split
CREATE TABLE notices (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  policy_version TEXT,
  created_at {{.TS}} NOT NULL,
  read_at {{.TS}}
);
--bun:split
CREATE INDEX notices_account ON notices (account_id, id);
--bun:split
-- Mail waits here until it is handed to the mail server, so none is lost
-- when the server is down or apiws restarts; a sent mail is deleted.
CREATE TABLE mail_outbox (
  id TEXT PRIMARY KEY,
  account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
  to_address TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at {{.TS}} NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at {{.TS}} NOT NULL,
  last_error TEXT
);
--bun:split
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at);
--bun:split
-- Financial records outlive the account by law (7 years). They hold no
-- name, email or phone; account_ref is a pseudonym that stays when the
-- account is purged and account_id becomes NULL.
CREATE TABLE invoices (
  id TEXT PRIMARY KEY,
  account_id TEXT REFERENCES accounts (id) ON DELETE SET NULL,
  account_ref TEXT NOT NULL,
  amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  issued_at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX invoices_account ON invoices (account_id);
--bun:split
CREATE INDEX invoices_issued ON invoices (issued_at);
--bun:split
-- SQLite has no advisory locks: a row with a lease stands in for one.
CREATE TABLE job_locks (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  until {{.TS}} NOT NULL
);
--bun:split
-- For the 12-month retention of message metadata.
CREATE INDEX messages_queued_at ON messages (queued_at);
--bun:split
CREATE INDEX messages_received_at ON messages (received_at);
--bun:split
CREATE INDEX usage_rollups_start ON usage_rollups (start);
