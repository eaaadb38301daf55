package storage

import (
	"context"
	"slices"

	"github.com/apiws/apiws"
)

// AccountData is everything apiws holds on one account, for its privacy
// export. It holds no message content: none is kept beyond transmission,
// and content kept for a debug capture is sealed and left out.
type AccountData struct {
	Account         *apiws.Account
	Consents        []*apiws.Consent
	Sessions        []*apiws.Session
	APIKeys         []*apiws.APIKey
	Numbers         []*apiws.Number
	Groups          []*apiws.Group
	Messages        []*apiws.Message
	MessageEvents   []*apiws.LogEvent
	APICalls        []*apiws.APICall
	PrivacyRequests []*apiws.PrivacyRequest
	Notices         []*apiws.Notice
	DebugCaptures   []*apiws.DebugCapture
	Audit           []*apiws.AuditEntry
	Invoices        []*apiws.Invoice
	Plans           []*AccountPlan
	Payment         []*PaymentProfile
	SupportTickets  []*apiws.SupportTicket
}

// AccountData reads everything held on the account.
func (db *DB) AccountData(ctx context.Context, accountID string) (*AccountData, error) {
	acc, err := db.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	d := &AccountData{Account: acc}
	lists := []struct {
		dest  any
		order string
	}{
		{&d.Consents, "id"},
		{&d.Sessions, "id"},
		{&d.APIKeys, "id"},
		{&d.Numbers, "id"},
		{&d.Groups, "id"},
		{&d.Messages, "id"},
		{&d.MessageEvents, "seq"},
		{&d.APICalls, "id"},
		{&d.PrivacyRequests, "id"},
		{&d.Notices, "id"},
		{&d.DebugCaptures, "id"},
		{&d.Audit, "id"},
		{&d.Invoices, "issued_at, id"},
		{&d.Plans, "assigned_at, id"},
		{&d.Payment, "account_id"},
	}
	for _, l := range lists {
		if err := db.Bun.NewSelect().Model(l.dest).Where("account_id = ?", accountID).OrderExpr(l.order).Scan(ctx); err != nil {
			return nil, translate(err)
		}
	}
	tickets, err := db.SupportTickets(ctx, accountID, nil)
	if err != nil {
		return nil, err
	}
	// Oldest first, like every other list of the export.
	slices.Reverse(tickets)
	d.SupportTickets = tickets
	return d, nil
}
