package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// AccountPlan is one assignment of a plan to an account; the latest
// applies.
type AccountPlan struct {
	bun.BaseModel `bun:"table:account_plans"`
	ID            int64     `bun:"id,pk,autoincrement"`
	AccountID     string    `bun:"account_id,notnull"`
	PlanID        string    `bun:"plan_id,notnull"`
	AssignedAt    time.Time `bun:"assigned_at,notnull"`
}

// termsSince is when the default plan's terms (price 0) start: before
// any account.
var termsSince = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// EnsureDefaultPlan writes pln_default with p's limits (its prices are 0
// in p.Currency), so that the settings in force are the ones stored.
func (db *DB) EnsureDefaultPlan(ctx context.Context, p *apiws.Plan) error {
	now := time.Now().UTC()
	d := *p
	d.ID, d.MonthlyPriceMinor, d.OveragePriceMinor, d.CreatedAt, d.UpdatedAt = apiws.DefaultPlanID, 0, nil, now, now
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(&d).
			On("CONFLICT (id) DO UPDATE").
			Set("name = EXCLUDED.name, monthly_messages = EXCLUDED.monthly_messages, sends_per_second = EXCLUDED.sends_per_second").
			Set("requests_per_second = EXCLUDED.requests_per_second, numbers_limit = EXCLUDED.numbers_limit, currency = EXCLUDED.currency").
			Set("public = EXCLUDED.public, updated_at = EXCLUDED.updated_at").
			Exec(ctx)
		if err != nil {
			return err
		}
		_, err = tx.NewInsert().Model(d.Terms(termsSince)).On("CONFLICT (plan_id, effective_from) DO UPDATE").
			Set("name = EXCLUDED.name, monthly_messages = EXCLUDED.monthly_messages, currency = EXCLUDED.currency").Exec(ctx)
		return err
	})
}

// Plans lists the plans by name; only the public ones unless all.
func (db *DB) Plans(ctx context.Context, all bool) ([]*apiws.Plan, error) {
	var ps []*apiws.Plan
	q := db.Bun.NewSelect().Model(&ps).OrderExpr("lower(name), id")
	if !all {
		q = q.Where("public")
	}
	return ps, translate(q.Scan(ctx))
}

// Plan returns one plan, or ENOTFOUND.
func (db *DB) Plan(ctx context.Context, id string) (*apiws.Plan, error) {
	return selectOne[apiws.Plan](ctx, db.Bun, "plan", "id = ?", id)
}

// errPlanNameTaken is the answer to a plan name already in use.
func errPlanNameTaken() error {
	return apiws.FieldError(apiws.ETAKEN, []string{"input", "name"}, "another plan has this name")
}

// CreatePlan writes a new plan, with its terms from the start of the
// current period, and the audit entry. A name already used (whatever its
// case) is ETAKEN.
func (db *DB) CreatePlan(ctx context.Context, p *apiws.Plan, periodStart time.Time, audit *apiws.AuditEntry) error {
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(p).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(p.Terms(periodStart)).Exec(ctx); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit)
	})
	if isUniqueViolation(err) {
		return errPlanNameTaken()
	}
	return err
}

// UpdatePlan writes p's new limits at once and its new terms from
// nextPeriod (replacing terms already set for then), with the audit entry.
func (db *DB) UpdatePlan(ctx context.Context, p *apiws.Plan, nextPeriod time.Time, audit *apiws.AuditEntry) error {
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model(p).WherePK().ExcludeColumn("id", "created_at").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apiws.FieldError(apiws.ENOTFOUND, []string{"id"}, "no such plan")
		}
		_, err = tx.NewInsert().Model(p.Terms(nextPeriod)).On("CONFLICT (plan_id, effective_from) DO UPDATE").
			Set("name = EXCLUDED.name, monthly_messages = EXCLUDED.monthly_messages, monthly_price_minor = EXCLUDED.monthly_price_minor").
			Set("currency = EXCLUDED.currency, overage_price_minor = EXCLUDED.overage_price_minor").Exec(ctx)
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit)
	})
	if isUniqueViolation(err) {
		return errPlanNameTaken()
	}
	return err
}

// SetAccountPlan puts the account on the plan from at, with the audit
// entry. An unknown account or plan is ENOTFOUND on its argument.
func (db *DB) SetAccountPlan(ctx context.Context, accountID, planID string, at time.Time, audit *apiws.AuditEntry) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		for _, c := range []struct{ table, id, field string }{{"accounts", accountID, "accountId"}, {"plans", planID, "planId"}} {
			n, err := tx.NewSelect().Table(c.table).Where("id = ?", c.id).Count(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				return apiws.FieldError(apiws.ENOTFOUND, []string{c.field}, "no such %s", map[string]string{"accounts": "account", "plans": "plan"}[c.table])
			}
		}
		if _, err := tx.NewInsert().Model(&AccountPlan{AccountID: accountID, PlanID: planID, AssignedAt: at.UTC()}).Exec(ctx); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit)
	})
}

// AccountPlan returns the plan the account was put on last before at
// (exclusive), or pln_default.
func (db *DB) AccountPlan(ctx context.Context, accountID string, at time.Time) (*apiws.Plan, error) {
	p := new(apiws.Plan)
	err := db.Bun.NewSelect().Model(p).
		Where("id = COALESCE((SELECT plan_id FROM account_plans WHERE account_id = ? AND assigned_at < ? ORDER BY assigned_at DESC, id DESC LIMIT 1), ?)",
			accountID, at.UTC(), apiws.DefaultPlanID).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apiws.Errorf(apiws.EINTERNAL, "the default plan is not in the database")
	}
	return p, translate(err)
}

// BilledTerms returns the terms the account is billed on for the period
// starting at start: those of the plan it was on when the period began,
// as they stood then.
func (db *DB) BilledTerms(ctx context.Context, accountID string, start time.Time) (*apiws.PlanTerms, error) {
	t := new(apiws.PlanTerms)
	err := db.Bun.NewSelect().Model(t).
		Where("plan_id = COALESCE((SELECT plan_id FROM account_plans WHERE account_id = ? AND assigned_at < ? ORDER BY assigned_at DESC, id DESC LIMIT 1), ?)",
			accountID, start.UTC(), apiws.DefaultPlanID).
		Where("effective_from <= ?", start.UTC()).
		OrderExpr("effective_from DESC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return t, translate(err)
}

// CountNumbers counts the account's numbers, whatever their status.
func (db *DB) CountNumbers(ctx context.Context, accountID string) (int, error) {
	n, err := db.Bun.NewSelect().Model((*apiws.Number)(nil)).Where("account_id = ?", accountID).Count(ctx)
	return int(n), translate(err)
}

// ErrAlreadyIssued reports an invoice for an account and period that
// already has one.
var ErrAlreadyIssued = errors.New("the period's invoice is already issued")

// IssueInvoice writes inv with the next number of year's counter, taken in
// the same transaction: a failed issue takes no number, and two issuers
// wait for each other on the counter's row, so numbers have no gaps. The
// number is prefix-YYYY-NNNNNN. An invoice of the account for the same
// period is ErrAlreadyIssued, and nothing is written.
func (db *DB) IssueInvoice(ctx context.Context, inv *apiws.Invoice, prefix string, year int) error {
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n, err := tx.NewSelect().Model((*apiws.Invoice)(nil)).
			Where("account_id = ? AND period_start = ?", inv.AccountID, inv.PeriodStart.UTC()).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrAlreadyIssued
		}
		var last int64
		err = tx.NewRaw(`INSERT INTO invoice_counters (year, last) VALUES (?, 1)
			ON CONFLICT (year) DO UPDATE SET last = invoice_counters.last + 1 RETURNING last`, year).Scan(ctx, &last)
		if err != nil {
			return err
		}
		inv.Number = fmt.Sprintf("%s-%04d-%06d", prefix, year, last)
		return insertInvoice(ctx, tx, inv)
	})
	if isUniqueViolation(err) {
		return ErrAlreadyIssued
	}
	return err
}

// AccountIDs lists every account's id after after, at most n of them.
func (db *DB) AccountIDs(ctx context.Context, after string, n int) ([]string, error) {
	var ids []string
	err := db.Bun.NewSelect().Model((*apiws.Account)(nil)).Column("id").Where("id > ?", after).OrderExpr("id").Limit(int64(n)).Scan(ctx, &ids)
	return ids, translate(err)
}

// billingPeriod records a month closed.
type billingPeriod struct {
	bun.BaseModel `bun:"table:billing_periods"`
	PeriodStart   time.Time `bun:"period_start,pk"`
	ClosedAt      time.Time `bun:"closed_at,notnull"`
	Invoices      int       `bun:"invoices,notnull"`
}

// PeriodClosed reports whether the month starting at start was closed.
func (db *DB) PeriodClosed(ctx context.Context, start time.Time) (bool, error) {
	n, err := db.Bun.NewSelect().Model((*billingPeriod)(nil)).Where("period_start = ?", start.UTC()).Count(ctx)
	return n > 0, translate(err)
}

// MarkPeriodClosed records that the month starting at start was closed
// at at, issuing n invoices (a later close adds its own).
func (db *DB) MarkPeriodClosed(ctx context.Context, start, at time.Time, n int) error {
	_, err := db.Bun.NewRaw(`INSERT INTO billing_periods (period_start, closed_at, invoices) VALUES (?, ?, ?)
		ON CONFLICT (period_start) DO UPDATE SET closed_at = EXCLUDED.closed_at, invoices = billing_periods.invoices + EXCLUDED.invoices`,
		start.UTC(), at.UTC(), n).Exec(ctx)
	return translate(err)
}

// AccountInvoices pages the account's invoices, newest first, after the
// invoice id page.After; Total counts them all.
func (db *DB) AccountInvoices(ctx context.Context, accountID string, page apiws.Page) (apiws.List[*apiws.Invoice], error) {
	var invs []*apiws.Invoice
	q := db.Bun.NewSelect().Model(&invs).Where("account_id = ? AND number IS NOT NULL", accountID)
	total, err := q.Count(ctx)
	if err != nil {
		return apiws.List[*apiws.Invoice]{}, translate(err)
	}
	if page.After != "" {
		q = q.Where("id < ?", page.After)
	}
	if err := q.OrderExpr("id DESC").Limit(int64(page.OneMore().First)).Scan(ctx); err != nil {
		return apiws.List[*apiws.Invoice]{}, translate(err)
	}
	return apiws.ListOf(invs, page, int(total)), nil
}

// Invoice returns one invoice, or ENOTFOUND.
func (db *DB) Invoice(ctx context.Context, id string) (*apiws.Invoice, error) {
	return selectOne[apiws.Invoice](ctx, db.Bun, "invoice", "id = ?", id)
}

// PaymentProfile is an account's customer at the payment processor and
// the public details of its saved card.
type PaymentProfile struct {
	bun.BaseModel `bun:"table:payment_methods"`
	AccountID     string    `bun:"account_id,pk"`
	CustomerID    string    `bun:"customer_id,notnull"`
	Brand         *string   `bun:"brand"`
	Last4         *string   `bun:"last4"`
	ExpMonth      *int      `bun:"exp_month"`
	ExpYear       *int      `bun:"exp_year"`
	UpdatedAt     time.Time `bun:"updated_at,notnull"`
}

// PaymentCustomer returns the account's customer id at the payment
// processor, "" when it has none yet.
func (db *DB) PaymentCustomer(ctx context.Context, accountID string) (string, error) {
	var ids []string
	err := db.Bun.NewSelect().Model((*PaymentProfile)(nil)).Column("customer_id").Where("account_id = ?", accountID).Scan(ctx, &ids)
	if err != nil || len(ids) == 0 {
		return "", translate(err)
	}
	return ids[0], nil
}

// SetPaymentCustomer records the account's customer id at the payment
// processor, unless it has one already; it returns the one in force.
func (db *DB) SetPaymentCustomer(ctx context.Context, accountID, customerID string, at time.Time) (string, error) {
	_, err := db.Bun.NewInsert().Model(&PaymentProfile{AccountID: accountID, CustomerID: customerID, UpdatedAt: at.UTC()}).
		On("CONFLICT (account_id) DO NOTHING").Exec(ctx)
	if err != nil {
		return "", translate(err)
	}
	return db.PaymentCustomer(ctx, accountID)
}

// PaymentMethod returns the account's saved card, nil without one.
func (db *DB) PaymentMethod(ctx context.Context, accountID string) (*apiws.PaymentMethod, error) {
	var pms []*PaymentProfile
	if err := db.Bun.NewSelect().Model(&pms).Where("account_id = ?", accountID).Scan(ctx); err != nil {
		return nil, translate(err)
	}
	if len(pms) == 0 || pms[0].Brand == nil || pms[0].Last4 == nil || pms[0].ExpMonth == nil || pms[0].ExpYear == nil {
		return nil, nil
	}
	pm := pms[0]
	return &apiws.PaymentMethod{Brand: *pm.Brand, Last4: *pm.Last4, ExpMonth: *pm.ExpMonth, ExpYear: *pm.ExpYear}, nil
}

// stripeEvent is a payment processor event already handled.
type stripeEvent struct {
	bun.BaseModel `bun:"table:stripe_events"`
	ID            string    `bun:"id,pk"`
	Type          string    `bun:"type,notnull"`
	ReceivedAt    time.Time `bun:"received_at,notnull"`
}

// recordEvent records the event in tx and reports whether it is new: an
// event seen before changes nothing again.
func recordEvent(ctx context.Context, tx bun.Tx, id, typ string, at time.Time) (bool, error) {
	res, err := tx.NewInsert().Model(&stripeEvent{ID: id, Type: typ, ReceivedAt: at.UTC()}).On("CONFLICT (id) DO NOTHING").Exec(ctx)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// InvoicePaid is the effect of a payment: the invoice, the audit entry and
// the receipt to mail (built from the invoice and its account's email,
// nil: none).
type InvoicePaid struct {
	EventID, EventType string
	InvoiceID          string
	At                 time.Time
	Audit              func(inv *apiws.Invoice) *apiws.AuditEntry
	Receipt            func(inv *apiws.Invoice, email string) *OutgoingMail
}

// MarkInvoicePaid records a payment event: an OPEN invoice becomes PAID at
// p.At, with its audit entry and receipt, in one transaction. It reports
// whether anything changed: an unknown invoice changes nothing (and the
// event is not recorded), an event seen before or an invoice no longer
// OPEN changes nothing more.
func (db *DB) MarkInvoicePaid(ctx context.Context, p InvoicePaid) (changed bool, err error) {
	err = db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		inv := new(apiws.Invoice)
		err := tx.NewSelect().Model(inv).Where("id = ? AND number IS NOT NULL", p.InvoiceID).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		fresh, err := recordEvent(ctx, tx, p.EventID, p.EventType, p.At)
		if err != nil || !fresh || inv.Status != apiws.InvoiceOpen {
			return err
		}
		at := p.At.UTC()
		inv.Status, inv.PaidAt = apiws.InvoicePaid, &at
		res, err := tx.NewUpdate().Model(inv).Column("status", "paid_at").WherePK().Where("status = ?", apiws.InvoiceOpen).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			// Another payment event marked it first, meanwhile: its
			// audit entry and receipt are the only ones.
			return err
		}
		changed = true
		if err := appendAudit(ctx, tx, p.Audit(inv)); err != nil {
			return err
		}
		if inv.AccountID == nil {
			return nil
		}
		var emails []string
		if err := tx.NewSelect().Model((*apiws.Account)(nil)).Column("email").Where("id = ?", *inv.AccountID).Scan(ctx, &emails); err != nil {
			return err
		}
		if len(emails) == 0 {
			return nil
		}
		_, err = tx.NewInsert().Model(p.Receipt(inv, emails[0])).Exec(ctx)
		return err
	})
	return changed, err
}

// CardSaved is the effect of a saved card: its public details on the
// account, with the event that reported it.
type CardSaved struct {
	EventID, EventType string
	AccountID          string
	CustomerID         string
	Card               apiws.PaymentMethod
	At                 time.Time
}

// SaveCard records a saved card's details on the account. An unknown
// account changes nothing (the event is not recorded); an event seen
// before changes nothing again. It reports whether anything changed.
func (db *DB) SaveCard(ctx context.Context, c CardSaved) (changed bool, err error) {
	err = db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n, err := tx.NewSelect().Model((*apiws.Account)(nil)).Where("id = ?", c.AccountID).Count(ctx)
		if err != nil || n == 0 {
			return err
		}
		fresh, err := recordEvent(ctx, tx, c.EventID, c.EventType, c.At)
		if err != nil || !fresh {
			return err
		}
		pm := &PaymentProfile{AccountID: c.AccountID, CustomerID: c.CustomerID, Brand: &c.Card.Brand, Last4: &c.Card.Last4,
			ExpMonth: &c.Card.ExpMonth, ExpYear: &c.Card.ExpYear, UpdatedAt: c.At.UTC()}
		_, err = tx.NewInsert().Model(pm).On("CONFLICT (account_id) DO UPDATE").
			Set("customer_id = EXCLUDED.customer_id, brand = EXCLUDED.brand, last4 = EXCLUDED.last4").
			Set("exp_month = EXCLUDED.exp_month, exp_year = EXCLUDED.exp_year, updated_at = EXCLUDED.updated_at").Exec(ctx)
		changed = err == nil
		return err
	})
	return changed, err
}
