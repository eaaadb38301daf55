CREATE TABLE api_calls (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  api_key_id TEXT,
  operation_name TEXT,
  operation_type TEXT NOT NULL,
  duration_ns BIGINT NOT NULL,
  ok BOOLEAN NOT NULL,
  error_code TEXT,
  ip TEXT,
  user_agent TEXT,
  at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX api_calls_account ON api_calls (account_id, id);
--bun:split
CREATE INDEX api_calls_at ON api_calls (at);
--bun:split
CREATE TABLE usage_rollups (
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  period TEXT NOT NULL,
  start {{.TS}} NOT NULL,
  api_calls BIGINT NOT NULL DEFAULT 0,
  errors BIGINT NOT NULL DEFAULT 0,
  accepted BIGINT NOT NULL DEFAULT 0,
  sent BIGINT NOT NULL DEFAULT 0,
  delivered BIGINT NOT NULL DEFAULT 0,
  "read" BIGINT NOT NULL DEFAULT 0,
  failed BIGINT NOT NULL DEFAULT 0,
  received BIGINT NOT NULL DEFAULT 0,
  lat_0 BIGINT NOT NULL DEFAULT 0,
  lat_1 BIGINT NOT NULL DEFAULT 0,
  lat_2 BIGINT NOT NULL DEFAULT 0,
  lat_3 BIGINT NOT NULL DEFAULT 0,
  lat_4 BIGINT NOT NULL DEFAULT 0,
  lat_5 BIGINT NOT NULL DEFAULT 0,
  lat_6 BIGINT NOT NULL DEFAULT 0,
  lat_7 BIGINT NOT NULL DEFAULT 0,
  lat_8 BIGINT NOT NULL DEFAULT 0,
  lat_9 BIGINT NOT NULL DEFAULT 0,
  lat_10 BIGINT NOT NULL DEFAULT 0,
  lat_11 BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, period, start)
);
