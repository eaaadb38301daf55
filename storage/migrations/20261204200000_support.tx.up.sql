-- Support tickets and their messages: the account's data, gone with it.
CREATE TABLE support_tickets (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  subject TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at {{.TS}} NOT NULL,
  updated_at {{.TS}} NOT NULL,
  closed_at {{.TS}}
);
--bun:split
CREATE INDEX support_tickets_account ON support_tickets (account_id, updated_at);
--bun:split
CREATE INDEX support_tickets_queue ON support_tickets (status, updated_at);
--bun:split
CREATE TABLE support_messages (
  id TEXT PRIMARY KEY,
  ticket_id TEXT NOT NULL REFERENCES support_tickets (id) ON DELETE CASCADE,
  from_staff BOOLEAN NOT NULL,
  author TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX support_messages_ticket ON support_messages (ticket_id, created_at);
