-- Months that `billing close` (or serve) has closed, so that serve does
-- not look at them again.
CREATE TABLE billing_periods (
  period_start {{.TS}} PRIMARY KEY,
  closed_at {{.TS}} NOT NULL,
  invoices INTEGER NOT NULL
);
