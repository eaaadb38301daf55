package billing

import (
	"context"
	"errors"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// PaymentTerms is how long after its issue an invoice is due.
const PaymentTerms = 14 * 24 * time.Hour

// accountsPerRead is how many accounts Close reads at a time.
const accountsPerRead = 500

// Close issues the invoices of the month starting at period, as of asOf
// (their issue time): one per account whose month costs more than 0, from
// the plan it was on when the month began and the messages it had
// accepted in it. An account already invoiced for the month is left alone,
// so running Close again issues nothing more, and closes running at once
// (on several instances) issue each invoice once. The month must have
// ended by asOf.
func (s *Service) Close(ctx context.Context, period, asOf time.Time) ([]*apiws.Invoice, error) {
	start := period.UTC()
	if !apiws.Month.Truncate(start).Equal(start) {
		return nil, apiws.Errorf(apiws.EINVALID, "a billing period starts on the first of a month at 00:00 UTC, not %s", start.Format(time.RFC3339))
	}
	end := apiws.Month.Next(start)
	if asOf.Before(end) {
		return nil, apiws.Errorf(apiws.EINVALID, "%s has not ended as of %s", start.Format("2006-01"), asOf.UTC().Format(time.RFC3339))
	}
	var issued []*apiws.Invoice
	after := ""
	for {
		ids, err := s.db.AccountIDs(ctx, after, accountsPerRead)
		if err != nil {
			return issued, err
		}
		for _, id := range ids {
			inv, err := s.issue(ctx, id, start, end, asOf.UTC())
			if err != nil {
				return issued, err
			}
			if inv != nil {
				issued = append(issued, inv)
			}
		}
		if len(ids) < accountsPerRead {
			break
		}
		after = ids[len(ids)-1]
	}
	return issued, s.db.MarkPeriodClosed(ctx, start, asOf, len(issued))
}

// issue issues the account's invoice for [start, end), or nothing (nil)
// when the month costs nothing or is invoiced already.
func (s *Service) issue(ctx context.Context, accountID string, start, end, asOf time.Time) (*apiws.Invoice, error) {
	terms, err := s.db.BilledTerms(ctx, accountID, start)
	if err != nil || terms == nil {
		return nil, err
	}
	if terms.MonthlyPriceMinor == 0 && terms.OveragePriceMinor == nil {
		return nil, nil
	}
	accepted, err := s.db.AcceptedMessages(ctx, accountID, start, end)
	if err != nil {
		return nil, err
	}
	b := compute(terms, int(accepted), start.Format("January 2006"), s.opt.TaxRate)
	if b.tot == 0 {
		return nil, nil
	}
	inv := &apiws.Invoice{ID: apiws.NewID(apiws.PrefixInvoice), AccountID: &accountID, PeriodStart: start, PeriodEnd: end,
		IssuedAt: asOf, DueAt: asOf.Add(PaymentTerms), Status: apiws.InvoiceOpen, Currency: terms.Currency, Lines: b.lines,
		SubtotalMinor: b.subtotal, TaxRate: s.opt.TaxRate.String(), TaxMinor: b.tax, Amount: b.tot}
	err = s.db.IssueInvoice(ctx, inv, s.opt.InvoicePrefix, start.Year())
	if errors.Is(err, storage.ErrAlreadyIssued) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// closeCheckEvery is how often Run looks whether last month is closed.
const closeCheckEvery = time.Hour

// Run closes each month shortly after it ends (after 00:00 UTC on the
// 1st), until ctx ends: on start, and every closeCheckEvery, it closes last
// month if no close has yet. One instance at a time does it, under a
// database lock; the others find it closed.
func (s *Service) Run(ctx context.Context) error {
	for {
		if err := s.closeDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("close last month's invoices", "err", err)
		}
		now := s.now()
		wait := min(closeCheckEvery, apiws.Month.Next(apiws.Month.Truncate(now)).Add(time.Minute).Sub(now))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// closeDue closes last month unless a close has already.
func (s *Service) closeDue(ctx context.Context) error {
	now := s.now()
	last := apiws.Month.Truncate(now).AddDate(0, -1, 0)
	if done, err := s.db.PeriodClosed(ctx, last); err != nil || done {
		return err
	}
	unlock, ok, err := s.db.TryLock(ctx, "billing-close", 30*time.Minute)
	if err != nil || !ok {
		return err
	}
	defer unlock()
	issued, err := s.Close(ctx, last, now)
	if err == nil {
		s.log.Info("closed a month", "period", last.Format("2006-01"), "invoices", len(issued))
	}
	return err
}
