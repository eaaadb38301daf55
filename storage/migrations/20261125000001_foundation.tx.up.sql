CREATE TABLE policy_versions (
  version TEXT PRIMARY KEY,
  effective_at {{.TS}} NOT NULL,
  published_at {{.TS}} NOT NULL,
  summary TEXT NOT NULL,
  material BOOLEAN NOT NULL
);
--bun:split
INSERT INTO policy_versions (version, effective_at, published_at, summary, material)
VALUES ('1.0', '2025-07-08 00:00:00+00:00', '2025-07-08 00:00:00+00:00',
  'The first apiws privacy policy: message content is not stored beyond transmission; account data is kept until deletion plus 30 days; usage logs 12 months; financial records 7 years.', TRUE);
--bun:split
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  phone TEXT,
  business TEXT,
  status TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at {{.TS}} NOT NULL,
  age_checked_at {{.TS}} NOT NULL,
  deletion_scheduled_at {{.TS}},
  processing_restricted BOOLEAN NOT NULL DEFAULT FALSE,
  analytics_objected BOOLEAN NOT NULL DEFAULT FALSE,
  legal_hold BOOLEAN NOT NULL DEFAULT FALSE
);
--bun:split
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));
--bun:split
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  token_hash {{.Bytes}} NOT NULL UNIQUE,
  created_at {{.TS}} NOT NULL,
  expires_at {{.TS}} NOT NULL,
  revoked_at {{.TS}},
  ip TEXT,
  user_agent TEXT
);
--bun:split
CREATE INDEX sessions_account ON sessions (account_id);
--bun:split
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  secret_hash {{.Bytes}} NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  created_at {{.TS}} NOT NULL,
  last_used_at {{.TS}},
  expires_at {{.TS}},
  revoked_at {{.TS}}
);
--bun:split
CREATE INDEX api_keys_account ON api_keys (account_id);
--bun:split
CREATE TABLE operator_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  secret_hash {{.Bytes}} NOT NULL UNIQUE,
  created_at {{.TS}} NOT NULL,
  revoked_at {{.TS}}
);
--bun:split
CREATE TABLE consents (
  id {{.Serial}},
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  policy_version TEXT NOT NULL REFERENCES policy_versions (version),
  accepted_at {{.TS}} NOT NULL,
  ip TEXT
);
--bun:split
CREATE INDEX consents_account ON consents (account_id);
--bun:split
CREATE TABLE audit_entries (
  id {{.Serial}},
  account_id TEXT,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  details TEXT,
  ip TEXT,
  at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX audit_entries_account ON audit_entries (account_id, id);
