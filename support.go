package apiws

import (
	"context"
	"time"
)

// Id prefixes of support.
const (
	PrefixSupportTicket  = "tkt"
	PrefixSupportMessage = "tkm"
)

// SupportTicketStatus is where a support ticket stands: OPEN while apiws
// owes an answer, WAITING_ON_CUSTOMER after staff answered, CLOSED once
// either side closed it (for good: a closed ticket takes no answer).
type SupportTicketStatus string

// Support ticket statuses.
const (
	SupportOpen              SupportTicketStatus = "OPEN"
	SupportWaitingOnCustomer SupportTicketStatus = "WAITING_ON_CUSTOMER"
	SupportClosed            SupportTicketStatus = "CLOSED"
)

// Valid reports whether s is one of the statuses.
func (s SupportTicketStatus) Valid() bool {
	switch s {
	case SupportOpen, SupportWaitingOnCustomer, SupportClosed:
		return true
	}
	return false
}

// SupportTicket is a customer's request for help and its answers. It is
// the account's data: exported with it, erased with it.
type SupportTicket struct {
	ID        string              `bun:"id,pk"`
	AccountID string              `bun:"account_id,notnull"`
	Subject   string              `bun:"subject,notnull"`
	Status    SupportTicketStatus `bun:"status,notnull"`
	CreatedAt time.Time           `bun:"created_at,notnull"`
	// UpdatedAt is the time of the last answer or status change.
	UpdatedAt time.Time  `bun:"updated_at,notnull"`
	ClosedAt  *time.Time `bun:"closed_at"`
	// Messages are the ticket's messages, oldest first; read with the
	// ticket.
	Messages []*SupportMessage `bun:"-"`
}

// SupportMessage is one message of a ticket: the customer's request or an
// answer of either side.
type SupportMessage struct {
	ID        string `bun:"id,pk"`
	TicketID  string `bun:"ticket_id,notnull"`
	FromStaff bool   `bun:"from_staff,notnull"`
	// Author names who wrote it as the audit log does: "session:<id>" or
	// "operator:<id>".
	Author    string    `bun:"author,notnull"`
	Body      string    `bun:"body,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
}

// NewSupportTicket is the input of SupportService.OpenTicket.
type NewSupportTicket struct {
	Subject string
	Body    string
}

// Limits of support texts, in characters.
const (
	MaxSupportSubject = 200
	MaxSupportBody    = 10000
)

// SupportService keeps support tickets. Every answer mails the other
// side: the customer's go to APIWS_SUPPORT_EMAIL, staff's to the account's
// email. Bad input is reported as field errors and changes nothing;
// another account's ticket is ENOTFOUND, exactly like a missing one.
type SupportService interface {
	// OpenTicket opens a ticket for the calling dashboard session's
	// account (anyone else: EFORBIDDEN). Its status is OPEN.
	OpenTicket(ctx context.Context, in NewSupportTicket) (*SupportTicket, error)
	// ReplyToTicket adds an answer by the ticket's customer (a dashboard
	// session) or an operator: staff's makes it WAITING_ON_CUSTOMER, the
	// customer's OPEN. A CLOSED ticket is EINVALID on ["id"].
	ReplyToTicket(ctx context.Context, id, body string) (*SupportTicket, error)
	// CloseTicket closes a ticket (its customer's session or an operator).
	// Closing a closed ticket changes nothing.
	CloseTicket(ctx context.Context, id string) (*SupportTicket, error)
	// Ticket returns one ticket to its account (RequireRead) or an
	// operator.
	Ticket(ctx context.Context, id string) (*SupportTicket, error)
	// Tickets lists an account's tickets, latest update first, of the
	// statuses given (none: all) (RequireRead).
	Tickets(ctx context.Context, accountID string, statuses []SupportTicketStatus) ([]*SupportTicket, error)
	// Queue lists every account's tickets of the statuses given (none:
	// all), oldest update first (operator only).
	Queue(ctx context.Context, statuses []SupportTicketStatus) ([]*SupportTicket, error)
}
