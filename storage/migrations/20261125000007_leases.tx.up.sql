CREATE TABLE instances (
  id TEXT PRIMARY KEY,
  started_at {{.TS}} NOT NULL,
  last_seen {{.TS}} NOT NULL
);
--bun:split
CREATE TABLE number_leases (
  number_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  token BIGINT NOT NULL,
  expires_at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX number_leases_owner ON number_leases (owner);
--bun:split
ALTER TABLE sandbox_transmissions ADD COLUMN instance TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE sandbox_transmissions ADD COLUMN duplicate BOOLEAN NOT NULL DEFAULT FALSE;
