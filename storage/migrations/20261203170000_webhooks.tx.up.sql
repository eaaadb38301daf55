CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  url TEXT NOT NULL,
  description TEXT,
  types TEXT NOT NULL,
  number_ids TEXT NOT NULL,
  enabled BOOLEAN NOT NULL,
  disabled_reason TEXT,
  secret {{.Bytes}} NOT NULL,
  previous_secret {{.Bytes}},
  previous_until {{.TS}},
  created_at {{.TS}} NOT NULL,
  last_success_at {{.TS}},
  failing_since {{.TS}},
  lease_owner TEXT,
  lease_token BIGINT NOT NULL DEFAULT 0,
  lease_until {{.TS}}
);
--bun:split
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id, enabled);
--bun:split
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  account_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  event_seq BIGINT,
  event_at {{.TS}} NOT NULL,
  status TEXT NOT NULL,
  replay BOOLEAN NOT NULL DEFAULT FALSE,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_attempt_at {{.TS}},
  next_attempt_at {{.TS}},
  response_status INTEGER,
  error TEXT,
  created_at {{.TS}} NOT NULL
);
--bun:split
-- The deliverer's claim: the endpoints with a pending delivery due.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, endpoint_id) WHERE status = 'PENDING';
--bun:split
-- One endpoint's pending deliveries in cursor order, and its list newest first.
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, status, event_seq);
--bun:split
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (endpoint_id, id);
--bun:split
-- Whether every delivery of an event succeeded (its transit content then goes).
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (account_id, event_seq);
