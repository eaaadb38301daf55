package support

import (
	"context"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// OpenTicket implements apiws.SupportService.
func (s *Service) OpenTicket(ctx context.Context, in apiws.NewSupportTicket) (*apiws.SupportTicket, error) {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return nil, err
	}
	var errs apiws.Errors
	subject, serr := checkSubject(in.Subject)
	if serr != nil {
		errs = append(errs, serr)
	}
	body, berr := checkBody(in.Body, []string{"input", "body"})
	if berr != nil {
		errs = append(errs, berr)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	acc, err := s.db.Account(ctx, c.AccountID)
	if err != nil {
		return nil, err
	}
	if err := s.limit(ctx, "open", acc.ID, openLimit); err != nil {
		return nil, err
	}
	now := s.now()
	t := &apiws.SupportTicket{
		ID: apiws.NewID(apiws.PrefixSupportTicket), AccountID: acc.ID, Subject: subject,
		Status: apiws.SupportOpen, CreatedAt: now, UpdatedAt: now,
	}
	t.Messages = []*apiws.SupportMessage{{
		ID: apiws.NewID(apiws.PrefixSupportMessage), TicketID: t.ID, Author: c.Actor(), Body: body, CreatedAt: now,
	}}
	m := s.staffMail(acc, t, t.Messages[0], true)
	if err := s.db.CreateSupportTicket(ctx, t, m, apiws.NewAuditEntry(acc.ID, c, "support_ticket.open", t.ID, now)); err != nil {
		return nil, err
	}
	if m != nil {
		s.mailQueued()
	}
	return t, nil
}

// ReplyToTicket implements apiws.SupportService.
func (s *Service) ReplyToTicket(ctx context.Context, id, body string) (*apiws.SupportTicket, error) {
	c, err := answerer(ctx)
	if err != nil {
		return nil, err
	}
	staff := c.Kind == apiws.CredentialOperator
	var errs apiws.Errors
	text, berr := checkBody(body, []string{"body"})
	if berr != nil {
		errs = append(errs, berr)
	}
	t, err := s.ticketFor(ctx, c, id)
	var ue *apiws.Error
	switch {
	case errors.As(err, &ue) && ue.Code.IsUserError():
		errs = append(errs, ue)
	case err != nil:
		return nil, err
	case t.Status == apiws.SupportClosed:
		errs = append(errs, apiws.FieldError(apiws.EINVALID, []string{"id"}, "the ticket is closed; open a new one"))
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	acc, err := s.db.Account(ctx, t.AccountID)
	if err != nil {
		return nil, err
	}
	if !staff {
		if err := s.limit(ctx, "reply", acc.ID, replyLimit); err != nil {
			return nil, err
		}
	}
	now := s.now()
	msg := &apiws.SupportMessage{
		ID: apiws.NewID(apiws.PrefixSupportMessage), TicketID: t.ID, FromStaff: staff, Author: c.Actor(), Body: text, CreatedAt: now,
	}
	change := &storage.SupportChange{TicketID: t.ID, Message: msg, Status: apiws.SupportOpen,
		Audit: apiws.NewAuditEntry(acc.ID, c, "support_ticket.reply", t.ID, now)}
	if staff {
		change.Status, change.Mail = apiws.SupportWaitingOnCustomer, s.customerMail(acc, t, msg)
	} else {
		change.Mail = s.staffMail(acc, t, msg, false)
	}
	if err := s.db.ChangeSupportTicket(ctx, change); err != nil {
		return nil, err
	}
	if change.Mail != nil {
		s.mailQueued()
	}
	return s.db.SupportTicket(ctx, "", t.ID)
}

// CloseTicket implements apiws.SupportService.
func (s *Service) CloseTicket(ctx context.Context, id string) (*apiws.SupportTicket, error) {
	c, err := answerer(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.ticketFor(ctx, c, id)
	if err != nil || t.Status == apiws.SupportClosed {
		return t, err
	}
	now := s.now()
	err = s.db.ChangeSupportTicket(ctx, &storage.SupportChange{TicketID: t.ID, Status: apiws.SupportClosed,
		Audit: apiws.NewAuditEntry(t.AccountID, c, "support_ticket.close", t.ID, now)})
	// Closed meanwhile by the other side: closed all the same.
	if err != nil && apiws.ErrorCodeOf(err) != apiws.EINVALID {
		return nil, err
	}
	return s.db.SupportTicket(ctx, "", t.ID)
}

// Ticket implements apiws.SupportService.
func (s *Service) Ticket(ctx context.Context, id string) (*apiws.SupportTicket, error) {
	c := apiws.CallerFrom(ctx)
	if c.Kind != apiws.CredentialOperator {
		var err error
		if c, err = apiws.RequireAccount(ctx, apiws.ScopeRead); err != nil {
			return nil, err
		}
	}
	if !apiws.ValidID(id, apiws.PrefixSupportTicket) {
		return nil, apiws.Errorf(apiws.ENOTFOUND, "support ticket not found")
	}
	return s.db.SupportTicket(ctx, c.AccountID, id)
}

// Tickets implements apiws.SupportService.
func (s *Service) Tickets(ctx context.Context, accountID string, statuses []apiws.SupportTicketStatus) ([]*apiws.SupportTicket, error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return nil, err
	}
	return s.db.SupportTickets(ctx, accountID, statuses)
}

// Queue implements apiws.SupportService.
func (s *Service) Queue(ctx context.Context, statuses []apiws.SupportTicketStatus) ([]*apiws.SupportTicket, error) {
	if _, err := apiws.RequireOperator(ctx); err != nil {
		return nil, err
	}
	return s.db.SupportTickets(ctx, "", statuses)
}

// answerer returns the caller if it may answer or close tickets: a
// dashboard session (the customer) or an operator (staff). API keys may
// not: support speaks with people.
func answerer(ctx context.Context) (*apiws.Caller, error) {
	c := apiws.CallerFrom(ctx)
	switch c.Kind {
	case apiws.CredentialSession, apiws.CredentialOperator:
		return c, nil
	case apiws.CredentialNone:
		return nil, apiws.Errorf(apiws.EUNAUTHENTICATED, "authentication required")
	}
	return nil, apiws.Errorf(apiws.EFORBIDDEN, "only a dashboard session or an operator may answer support tickets")
}

// ticketFor reads the ticket c may act on: any for an operator, its own
// account's for a session. Others are ENOTFOUND on ["id"].
func (s *Service) ticketFor(ctx context.Context, c *apiws.Caller, id string) (*apiws.SupportTicket, error) {
	notFound := apiws.FieldError(apiws.ENOTFOUND, []string{"id"}, "no such support ticket")
	if !apiws.ValidID(id, apiws.PrefixSupportTicket) {
		return nil, notFound
	}
	owner := c.AccountID
	if c.Kind == apiws.CredentialOperator {
		owner = ""
	}
	t, err := s.db.SupportTicket(ctx, owner, id)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, notFound
	}
	return t, err
}

// checkSubject returns a ticket's subject, trimmed: one line of 1 to
// MaxSupportSubject characters.
func checkSubject(subject string) (string, *apiws.Error) {
	subject = strings.TrimSpace(subject)
	if subject == "" || utf8.RuneCountInString(subject) > apiws.MaxSupportSubject || strings.ContainsFunc(subject, unicode.IsControl) {
		return "", apiws.FieldError(apiws.EINVALID, []string{"input", "subject"},
			"a subject is one line of 1 to %d characters", apiws.MaxSupportSubject)
	}
	return subject, nil
}

// checkBody returns a message's text, trimmed: 1 to MaxSupportBody
// characters.
func checkBody(body string, field []string) (string, *apiws.Error) {
	body = strings.TrimSpace(body)
	if body == "" || utf8.RuneCountInString(body) > apiws.MaxSupportBody || !utf8.ValidString(body) {
		return "", apiws.FieldError(apiws.EINVALID, field, "a message is 1 to %d characters", apiws.MaxSupportBody)
	}
	return body, nil
}
