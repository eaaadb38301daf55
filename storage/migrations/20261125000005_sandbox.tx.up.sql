CREATE TABLE sandbox_transmissions (
  id {{.Serial}},
  number_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  recipient TEXT NOT NULL,
  kind TEXT NOT NULL,
  at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX sandbox_transmissions_message ON sandbox_transmissions (message_id);
