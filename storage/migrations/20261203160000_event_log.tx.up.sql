CREATE TABLE log_events (
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  seq BIGINT NOT NULL,
  type TEXT NOT NULL,
  number_id TEXT NOT NULL,
  message_id TEXT,
  status TEXT,
  error TEXT,
  detail TEXT,
  at {{.TS}} NOT NULL,
  PRIMARY KEY (account_id, seq)
);
--bun:split
INSERT INTO log_events (account_id, seq, type, number_id, message_id, status, error, at)
  SELECT account_id, seq, CASE WHEN status = 'RECEIVED' THEN 'MESSAGE_RECEIVED' ELSE 'MESSAGE_STATUS' END,
    number_id, message_id, status, error, at
  FROM message_events;
--bun:split
DROP TABLE message_events;
--bun:split
CREATE INDEX log_events_message ON log_events (message_id, seq);
--bun:split
CREATE INDEX log_events_at ON log_events (at);
--bun:split
CREATE TABLE inbound_transit (
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  seq BIGINT NOT NULL,
  content {{.Bytes}},
  media {{.Bytes}},
  expires_at {{.TS}} NOT NULL,
  PRIMARY KEY (account_id, seq)
);
--bun:split
CREATE INDEX inbound_transit_expires ON inbound_transit (expires_at);
