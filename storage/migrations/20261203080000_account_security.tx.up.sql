ALTER TABLE messages ADD COLUMN peer_lid TEXT;
--bun:split
CREATE TABLE email_changes (
  account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  new_email TEXT NOT NULL,
  code_hash {{.Bytes}} NOT NULL,
  code_attempts INTEGER NOT NULL DEFAULT 0,
  created_at {{.TS}} NOT NULL,
  expires_at {{.TS}} NOT NULL
);
