package storage

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// SupportChange is one change of a ticket, written in one transaction: a
// new message (or none), its status from then, and what goes with it.
type SupportChange struct {
	TicketID string
	Status   apiws.SupportTicketStatus
	// Message is the answer added, nil for none (a close).
	Message *apiws.SupportMessage
	// Mail is queued with the change; nil for none.
	Mail  *OutgoingMail
	Audit *apiws.AuditEntry
}

// CreateSupportTicket writes a new ticket with its first message, the
// mail that announces it (nil for none) and the audit entry.
func (db *DB) CreateSupportTicket(ctx context.Context, t *apiws.SupportTicket, mail *OutgoingMail, audit *apiws.AuditEntry) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(t).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(&t.Messages).Exec(ctx); err != nil {
			return err
		}
		if err := queueMail(ctx, tx, mail); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit)
	})
}

// ChangeSupportTicket applies c to a ticket that is not CLOSED, at the
// message's time (or closedAt for a close). A ticket closed meanwhile is
// EINVALID on ["id"] and nothing is written.
func (db *DB) ChangeSupportTicket(ctx context.Context, c *SupportChange) error {
	at := c.Audit.At
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Model((*apiws.SupportTicket)(nil)).
			Set("status = ?", c.Status).Set("updated_at = ?", at).
			Where("id = ? AND status <> ?", c.TicketID, apiws.SupportClosed)
		if c.Status == apiws.SupportClosed {
			q = q.Set("closed_at = ?", at)
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errTicketClosed()
		}
		if c.Message != nil {
			if _, err := tx.NewInsert().Model(c.Message).Exec(ctx); err != nil {
				return err
			}
		}
		if err := queueMail(ctx, tx, c.Mail); err != nil {
			return err
		}
		return appendAudit(ctx, tx, c.Audit)
	})
}

// errTicketClosed is the answer to changing a CLOSED ticket.
func errTicketClosed() error {
	return apiws.FieldError(apiws.EINVALID, []string{"id"}, "the ticket is closed; open a new one")
}

// queueMail adds m to the outbox in tx; nil queues nothing.
func queueMail(ctx context.Context, tx bun.Tx, m *OutgoingMail) error {
	if m == nil {
		return nil
	}
	_, err := tx.NewInsert().Model(m).Exec(ctx)
	return err
}

// SupportTicket returns a ticket with its messages: of the account, or of
// any account for accountID "". Others are ENOTFOUND.
func (db *DB) SupportTicket(ctx context.Context, accountID, id string) (*apiws.SupportTicket, error) {
	var (
		t   *apiws.SupportTicket
		err error
	)
	if accountID == "" {
		t, err = selectOne[apiws.SupportTicket](ctx, db.Bun, "support ticket", "id = ?", id)
	} else {
		t, err = selectOwned[apiws.SupportTicket](ctx, db.Bun, "support ticket", accountID, id)
	}
	if err != nil {
		return nil, err
	}
	return t, db.withSupportMessages(ctx, []*apiws.SupportTicket{t})
}

// SupportTickets lists tickets with their messages, of the statuses given
// (all when empty): the account's, latest update first, or for accountID
// "" every account's, oldest update first.
func (db *DB) SupportTickets(ctx context.Context, accountID string, statuses []apiws.SupportTicketStatus) ([]*apiws.SupportTicket, error) {
	ts := []*apiws.SupportTicket{}
	q := db.Bun.NewSelect().Model(&ts)
	if accountID == "" {
		q = q.OrderExpr("updated_at, id")
	} else {
		q = q.Where("account_id = ?", accountID).OrderExpr("updated_at DESC, id DESC")
	}
	if len(statuses) > 0 {
		q = q.Where("status IN (?)", bun.List(statuses))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, translate(err)
	}
	return ts, db.withSupportMessages(ctx, ts)
}

// withSupportMessages reads the messages of the tickets, oldest first,
// into them.
func (db *DB) withSupportMessages(ctx context.Context, ts []*apiws.SupportTicket) error {
	byID := make(map[string]*apiws.SupportTicket, len(ts))
	for _, t := range ts {
		t.Messages = []*apiws.SupportMessage{}
		byID[t.ID] = t
	}
	for start := 0; start < len(ts); start += 500 {
		ids := make([]string, 0, 500)
		for _, t := range ts[start:min(start+500, len(ts))] {
			ids = append(ids, t.ID)
		}
		var ms []*apiws.SupportMessage
		err := db.Bun.NewSelect().Model(&ms).Where("ticket_id IN (?)", bun.List(ids)).OrderExpr("created_at, id").Scan(ctx)
		if err != nil {
			return translate(err)
		}
		for _, m := range ms {
			t := byID[m.TicketID]
			t.Messages = append(t.Messages, m)
		}
	}
	return nil
}
