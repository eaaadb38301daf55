CREATE TABLE "groups" (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  number_id TEXT NOT NULL REFERENCES numbers (id) ON DELETE CASCADE,
  jid TEXT NOT NULL,
  name TEXT NOT NULL,
  topic TEXT,
  participants TEXT NOT NULL,
  role TEXT,
  created_at {{.TS}},
  updated_at {{.TS}} NOT NULL
);
--bun:split
CREATE UNIQUE INDEX groups_number_jid ON "groups" (number_id, jid);
--bun:split
CREATE INDEX groups_account ON "groups" (account_id, id);
--bun:split
ALTER TABLE messages ADD COLUMN group_id TEXT;
--bun:split
CREATE INDEX messages_group ON messages (group_id, id) WHERE group_id IS NOT NULL;
