CREATE TABLE numbers (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  label TEXT,
  sandbox BOOLEAN NOT NULL,
  phone TEXT,
  jid TEXT,
  push_name TEXT,
  status TEXT NOT NULL,
  connected_at {{.TS}},
  last_seen_at {{.TS}},
  created_at {{.TS}} NOT NULL,
  pairing TEXT,
  pairing_expires_at {{.TS}}
);
--bun:split
CREATE INDEX numbers_account ON numbers (account_id, id);
--bun:split
-- An account pairs one number at a time; the database enforces it, so two
-- instances cannot both start a pairing for one account.
CREATE UNIQUE INDEX numbers_one_pairing ON numbers (account_id) WHERE status = 'PAIRING';
--bun:split
-- For the reconnect at start, which looks numbers up by status.
CREATE INDEX numbers_status ON numbers (status);
