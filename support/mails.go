package support

import (
	"fmt"
	"strings"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// staffMail is the mail to APIWS_SUPPORT_EMAIL about a new ticket (first)
// or a customer's answer; nil when no support address is set.
func (s *Service) staffMail(acc *apiws.Account, t *apiws.SupportTicket, m *apiws.SupportMessage, first bool) *storage.OutgoingMail {
	if s.opts.SupportEmail == "" {
		return nil
	}
	what := "answered their support ticket"
	if first {
		what = "opened a support ticket"
	}
	body := fmt.Sprintf(`%s <%s> (account %s) %s.

Ticket: %s
Subject: %s

%s

Answer it in the operator console: %s
`, acc.Name, acc.Email, acc.ID, what, t.ID, t.Subject, m.Body, s.link("/operator"))
	return s.mail(acc, s.opts.SupportEmail, fmt.Sprintf("[%s] %s", t.ID, t.Subject), body, m)
}

// customerMail is the mail to the account's email with staff's answer.
func (s *Service) customerMail(acc *apiws.Account, t *apiws.SupportTicket, m *apiws.SupportMessage) *storage.OutgoingMail {
	body := fmt.Sprintf(`Hello %s,

apiws support answered your ticket "%s" (%s):

%s

Read it and answer in the dashboard: %s

apiws
`, acc.Name, t.Subject, t.ID, m.Body, s.link("/#/support"))
	return s.mail(acc, acc.Email, fmt.Sprintf("Re: %s [%s]", t.Subject, t.ID), body, m)
}

// mail makes an outbox mail about the account, due at once.
func (s *Service) mail(acc *apiws.Account, to, subject, body string, m *apiws.SupportMessage) *storage.OutgoingMail {
	return &storage.OutgoingMail{
		ID: apiws.NewID("mail"), AccountID: &acc.ID, To: to,
		Subject: subject, Body: body, CreatedAt: m.CreatedAt, NextAttemptAt: m.CreatedAt,
	}
}

// link is the address of path on this deployment (just the path without
// APIWS_PUBLIC_URL).
func (s *Service) link(path string) string {
	return strings.TrimSuffix(s.opts.PublicURL, "/") + path
}
