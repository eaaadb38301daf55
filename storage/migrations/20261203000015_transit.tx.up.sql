CREATE TABLE transit (
  message_id TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
  number_id TEXT NOT NULL,
  wa_message_id TEXT NOT NULL,
  content {{.Bytes}} NOT NULL,
  expires_at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX transit_wa ON transit (number_id, wa_message_id);
--bun:split
CREATE INDEX transit_expires ON transit (expires_at);
