-- Plans: the limits apply at once; the billing terms (prices, currency,
-- included messages) are kept per period in plan_terms, so that a change
-- bills from the next period.
CREATE TABLE plans (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  monthly_messages BIGINT NOT NULL,
  sends_per_second DOUBLE PRECISION NOT NULL,
  requests_per_second DOUBLE PRECISION NOT NULL,
  numbers_limit BIGINT NOT NULL,
  monthly_price_minor BIGINT NOT NULL,
  currency TEXT NOT NULL,
  overage_price_minor BIGINT,
  public BOOLEAN NOT NULL,
  created_at {{.TS}} NOT NULL,
  updated_at {{.TS}} NOT NULL
);
--bun:split
CREATE UNIQUE INDEX plans_name ON plans (lower(name));
--bun:split
CREATE TABLE plan_terms (
  plan_id TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
  effective_from {{.TS}} NOT NULL,
  name TEXT NOT NULL,
  monthly_messages BIGINT NOT NULL,
  monthly_price_minor BIGINT NOT NULL,
  currency TEXT NOT NULL,
  overage_price_minor BIGINT,
  PRIMARY KEY (plan_id, effective_from)
);
--bun:split
-- An account's plans over time: the latest applies now, the latest before
-- a period starts is billed for it. None: pln_default.
CREATE TABLE account_plans (
  id {{.Serial}},
  account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  plan_id TEXT NOT NULL REFERENCES plans (id),
  assigned_at {{.TS}} NOT NULL
);
--bun:split
CREATE INDEX account_plans_account ON account_plans (account_id, assigned_at);
--bun:split
ALTER TABLE invoices ADD COLUMN number TEXT;
--bun:split
ALTER TABLE invoices ADD COLUMN period_start {{.TS}};
--bun:split
ALTER TABLE invoices ADD COLUMN period_end {{.TS}};
--bun:split
ALTER TABLE invoices ADD COLUMN due_at {{.TS}};
--bun:split
ALTER TABLE invoices ADD COLUMN status TEXT NOT NULL DEFAULT 'OPEN';
--bun:split
ALTER TABLE invoices ADD COLUMN lines TEXT NOT NULL DEFAULT '[]';
--bun:split
ALTER TABLE invoices ADD COLUMN subtotal_minor BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE invoices ADD COLUMN tax_minor BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE invoices ADD COLUMN tax_rate TEXT NOT NULL DEFAULT '0';
--bun:split
ALTER TABLE invoices ADD COLUMN paid_at {{.TS}};
--bun:split
CREATE UNIQUE INDEX invoices_number ON invoices (number);
--bun:split
-- One invoice per account and period, however many closes run at once.
CREATE UNIQUE INDEX invoices_period ON invoices (account_id, period_start);
--bun:split
-- The last invoice number of each year, taken in the issuing transaction:
-- numbers without gaps.
CREATE TABLE invoice_counters (
  year INTEGER PRIMARY KEY,
  last BIGINT NOT NULL
);
--bun:split
-- The payment processor's customer and the card's public details only.
CREATE TABLE payment_methods (
  account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  customer_id TEXT NOT NULL,
  brand TEXT,
  last4 TEXT,
  exp_month INTEGER,
  exp_year INTEGER,
  updated_at {{.TS}} NOT NULL
);
--bun:split
-- Payment processor events already handled, by id.
CREATE TABLE stripe_events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  received_at {{.TS}} NOT NULL
);
