package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// The export's identity: a reader checks both before reading the rest.
// The layout is documented in README.md ("Privacy" section); a change that
// breaks a reader raises ExportVersion.
const (
	ExportFormat  = "apiws.privacy-export"
	ExportVersion = 1
)

// Export is the JSON document an ACCESS or PORTABILITY request produces:
// everything apiws holds on the account, with field names that say what
// they are. Secrets (password, token and key hashes) and message content
// are never in it: apiws holds no content beyond transmission, and keeps
// only hashes of secrets.
type Export struct {
	Format          string            `json:"format"`
	Version         int               `json:"version"`
	RequestID       string            `json:"requestId"`
	RequestType     string            `json:"requestType"`
	GeneratedAt     time.Time         `json:"generatedAt"`
	Account         exportAccount     `json:"account"`
	Consents        []exportConsent   `json:"consents"`
	Sessions        []exportSession   `json:"sessions"`
	APIKeys         []exportAPIKey    `json:"apiKeys"`
	Numbers         []exportNumber    `json:"numbers"`
	Groups          []exportGroup     `json:"groups"`
	Messages        []exportMessage   `json:"messages"`
	MessageEvents   []exportEvent     `json:"messageEvents"`
	APICalls        []exportAPICall   `json:"apiCalls"`
	PrivacyRequests []exportRequest   `json:"privacyRequests"`
	Notices         []exportNotice    `json:"notices"`
	DebugCaptures   []exportCapture   `json:"debugCaptures"`
	AuditLog        []exportAudit     `json:"auditLog"`
	Invoices        []exportInvoice   `json:"invoices"`
	Plans           []exportPlan      `json:"plans"`
	PaymentMethod   *exportPayment    `json:"paymentMethod"`
	SupportTickets  []exportTicket    `json:"supportTickets"`
	Processing      *ProcessingNotice `json:"processing,omitempty"`
}

type exportAccount struct {
	ID                   string                 `json:"id"`
	Name                 string                 `json:"name"`
	Email                string                 `json:"email"`
	Phone                *string                `json:"phone"`
	Business             *apiws.BusinessDetails `json:"business"`
	Status               string                 `json:"status"`
	CreatedAt            time.Time              `json:"createdAt"`
	AgeCheckedAt         time.Time              `json:"ageCheckedAt"`
	DeletionScheduledAt  *time.Time             `json:"deletionScheduledAt"`
	ProcessingRestricted bool                   `json:"processingRestricted"`
	AnalyticsObjected    bool                   `json:"analyticsObjected"`
	LegalHold            bool                   `json:"legalHold"`
}

type exportConsent struct {
	PolicyVersion string    `json:"policyVersion"`
	AcceptedAt    time.Time `json:"acceptedAt"`
	IP            *string   `json:"ip"`
}

type exportSession struct {
	ID        string     `json:"id"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt time.Time  `json:"expiresAt"`
	RevokedAt *time.Time `json:"revokedAt"`
	IP        *string    `json:"ip"`
	UserAgent *string    `json:"userAgent"`
}

type exportAPIKey struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Prefix     string        `json:"prefix"`
	Scopes     []apiws.Scope `json:"scopes"`
	CreatedAt  time.Time     `json:"createdAt"`
	LastUsedAt *time.Time    `json:"lastUsedAt"`
	ExpiresAt  *time.Time    `json:"expiresAt"`
	RevokedAt  *time.Time    `json:"revokedAt"`
}

type exportNumber struct {
	ID          string     `json:"id"`
	Label       *string    `json:"label"`
	Sandbox     bool       `json:"sandbox"`
	Phone       *string    `json:"phone"`
	PushName    *string    `json:"pushName"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"createdAt"`
	ConnectedAt *time.Time `json:"connectedAt"`
	LastSeenAt  *time.Time `json:"lastSeenAt"`
}

// exportGroup is a group one of the numbers is in, as WhatsApp last
// described it.
type exportGroup struct {
	ID           string                    `json:"id"`
	NumberID     string                    `json:"numberId"`
	JID          string                    `json:"jid"`
	Name         string                    `json:"name"`
	Topic        *string                   `json:"topic"`
	Participants []*apiws.GroupParticipant `json:"participants"`
	Role         *apiws.GroupRole          `json:"role"`
	CreatedAt    *time.Time                `json:"createdAt"`
	UpdatedAt    time.Time                 `json:"updatedAt"`
}

type exportMessage struct {
	ID              string              `json:"id"`
	NumberID        string              `json:"numberId"`
	Direction       string              `json:"direction"`
	Peer            *string             `json:"peer"`
	PeerLID         *string             `json:"peerLid"`
	Kind            string              `json:"kind"`
	Status          string              `json:"status"`
	WAMessageID     *string             `json:"waMessageId"`
	ClientReference *string             `json:"clientReference"`
	Error           *apiws.MessageError `json:"error"`
	QueuedAt        *time.Time          `json:"queuedAt"`
	SentAt          *time.Time          `json:"sentAt"`
	DeliveredAt     *time.Time          `json:"deliveredAt"`
	ReadAt          *time.Time          `json:"readAt"`
	PlayedAt        *time.Time          `json:"playedAt"`
	FailedAt        *time.Time          `json:"failedAt"`
	ReceivedAt      *time.Time          `json:"receivedAt"`
}

type exportEvent struct {
	Cursor    int64               `json:"cursor"`
	MessageID string              `json:"messageId"`
	Status    string              `json:"status"`
	Error     *apiws.MessageError `json:"error"`
	At        time.Time           `json:"at"`
}

type exportAPICall struct {
	ID            string    `json:"id"`
	APIKeyID      *string   `json:"apiKeyId"`
	OperationName *string   `json:"operationName"`
	OperationType string    `json:"operationType"`
	DurationMs    float64   `json:"durationMs"`
	OK            bool      `json:"ok"`
	ErrorCode     *string   `json:"errorCode"`
	IP            *string   `json:"ip"`
	UserAgent     *string   `json:"userAgent"`
	At            time.Time `json:"at"`
}

type exportRequest struct {
	ID          string     `json:"id"`
	Type        string     `json:"type"`
	Status      string     `json:"status"`
	Details     *string    `json:"details"`
	Withdraw    bool       `json:"withdraw"`
	SubmittedAt time.Time  `json:"submittedAt"`
	VerifiedAt  *time.Time `json:"verifiedAt"`
	CompletedAt *time.Time `json:"completedAt"`
	DueAt       time.Time  `json:"dueAt"`
	Resolution  *string    `json:"resolution"`
}

type exportNotice struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	CreatedAt time.Time  `json:"createdAt"`
	ReadAt    *time.Time `json:"readAt"`
}

type exportCapture struct {
	ID        string     `json:"id"`
	NumberID  string     `json:"numberId"`
	Reason    string     `json:"reason"`
	CreatedAt time.Time  `json:"createdAt"`
	Until     time.Time  `json:"until"`
	RevokedAt *time.Time `json:"revokedAt"`
}

type exportAudit struct {
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Details *string   `json:"details"`
	IP      *string   `json:"ip"`
}

type exportInvoice struct {
	ID            string               `json:"id"`
	Number        string               `json:"number,omitempty"`
	PeriodStart   *time.Time           `json:"periodStart,omitempty"`
	PeriodEnd     *time.Time           `json:"periodEnd,omitempty"`
	IssuedAt      time.Time            `json:"issuedAt"`
	DueAt         *time.Time           `json:"dueAt,omitempty"`
	Status        apiws.InvoiceStatus  `json:"status"`
	Currency      string               `json:"currency"`
	Lines         []*apiws.InvoiceLine `json:"lines"`
	SubtotalMinor int                  `json:"subtotalMinor"`
	TaxRate       string               `json:"taxRatePercent"`
	TaxMinor      int                  `json:"taxMinor"`
	Amount        int                  `json:"totalMinor"`
	PaidAt        *time.Time           `json:"paidAt"`
}

// exportPlan is one assignment of a plan to the account.
type exportPlan struct {
	PlanID     string    `json:"planId"`
	AssignedAt time.Time `json:"assignedAt"`
}

// exportPayment is what apiws holds of the account's payment method: the
// payment processor's customer id and the card's public details.
type exportPayment struct {
	CustomerID string  `json:"customerId"`
	Brand      *string `json:"brand"`
	Last4      *string `json:"last4"`
	ExpMonth   *int    `json:"expMonth"`
	ExpYear    *int    `json:"expYear"`
}

type exportTicket struct {
	ID        string                `json:"id"`
	Subject   string                `json:"subject"`
	Status    string                `json:"status"`
	CreatedAt time.Time             `json:"createdAt"`
	UpdatedAt time.Time             `json:"updatedAt"`
	ClosedAt  *time.Time            `json:"closedAt"`
	Messages  []exportTicketMessage `json:"messages"`
}

type exportTicketMessage struct {
	FromStaff bool      `json:"fromStaff"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"createdAt"`
}

// export completes an ACCESS or PORTABILITY request: the document is made
// and stored, downloadable for ExportLifetime.
func (s *Service) export(ctx context.Context, r *apiws.PrivacyRequest) error {
	d, err := s.db.AccountData(ctx, r.AccountID)
	if err != nil {
		return err
	}
	now := s.now()
	doc := buildExport(d, r, now)
	content, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode export: %w", err)
	}
	expires := now.Add(apiws.ExportLifetime)
	r.DownloadExpiresAt = &expires
	done := s.complete(r, fmt.Sprintf("Your export is ready at /exports/%s until %s (JSON, format %s version %d).",
		r.ID, expires.Format(time.RFC3339), ExportFormat, ExportVersion))
	return s.db.CompleteExport(ctx, r, content, done)
}

// buildExport lays out the account's data as an Export.
func buildExport(d *storage.AccountData, r *apiws.PrivacyRequest, now time.Time) *Export {
	a := d.Account
	e := &Export{
		Format: ExportFormat, Version: ExportVersion, RequestID: r.ID, RequestType: string(r.Type), GeneratedAt: now,
		Account: exportAccount{
			ID: a.ID, Name: a.Name, Email: a.Email, Phone: a.Phone, Business: a.Business, Status: string(a.Status),
			CreatedAt: a.CreatedAt, AgeCheckedAt: a.AgeCheckedAt, DeletionScheduledAt: a.DeletionScheduledAt,
			ProcessingRestricted: a.ProcessingRestricted, AnalyticsObjected: a.AnalyticsObjected, LegalHold: a.LegalHold,
		},
		Consents: []exportConsent{}, Sessions: []exportSession{}, APIKeys: []exportAPIKey{}, Numbers: []exportNumber{}, Groups: []exportGroup{},
		Messages: []exportMessage{}, MessageEvents: []exportEvent{}, APICalls: []exportAPICall{},
		PrivacyRequests: []exportRequest{}, Notices: []exportNotice{}, DebugCaptures: []exportCapture{},
		AuditLog: []exportAudit{}, Invoices: []exportInvoice{}, Plans: []exportPlan{}, SupportTickets: []exportTicket{},
	}
	for _, c := range d.Consents {
		e.Consents = append(e.Consents, exportConsent{c.PolicyVersion, c.AcceptedAt, c.IP})
	}
	for _, s := range d.Sessions {
		e.Sessions = append(e.Sessions, exportSession{s.ID, s.CreatedAt, s.ExpiresAt, s.RevokedAt, s.IP, s.UserAgent})
	}
	for _, k := range d.APIKeys {
		e.APIKeys = append(e.APIKeys, exportAPIKey{k.ID, k.Name, k.Prefix, k.Scopes, k.CreatedAt, k.LastUsedAt, k.ExpiresAt, k.RevokedAt})
	}
	for _, n := range d.Numbers {
		e.Numbers = append(e.Numbers, exportNumber{n.ID, n.Label, n.Sandbox, n.Phone, n.PushName, string(n.Status), n.CreatedAt, n.ConnectedAt, n.LastSeenAt})
	}
	for _, g := range d.Groups {
		e.Groups = append(e.Groups, exportGroup{ID: g.ID, NumberID: g.NumberID, JID: g.JID, Name: g.Name, Topic: g.Topic,
			Participants: g.Participants, Role: g.Role, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt})
	}
	for _, m := range d.Messages {
		e.Messages = append(e.Messages, exportMessage{m.ID, m.NumberID, string(m.Direction), apiws.NilIfEmpty(m.Peer), m.PeerLID, string(m.Kind), string(m.Status),
			m.WAMessageID, m.ClientReference, m.Error, m.QueuedAt, m.SentAt, m.DeliveredAt, m.ReadAt, m.PlayedAt, m.FailedAt, m.ReceivedAt})
	}
	for _, ev := range d.MessageEvents {
		e.MessageEvents = append(e.MessageEvents, exportEvent{ev.Seq, ev.MessageID, string(ev.Status), ev.Error, ev.At})
	}
	for _, c := range d.APICalls {
		e.APICalls = append(e.APICalls, exportAPICall{c.ID, c.APIKeyID, c.OperationName, c.OperationType, c.DurationMs(), c.OK, c.ErrorCode, c.IP, c.UserAgent, c.At})
	}
	for _, p := range d.PrivacyRequests {
		e.PrivacyRequests = append(e.PrivacyRequests, exportRequest{p.ID, string(p.Type), string(p.Status), p.Details, p.Withdraw,
			p.SubmittedAt, p.VerifiedAt, p.CompletedAt, p.DueAt, p.Resolution})
	}
	for _, n := range d.Notices {
		e.Notices = append(e.Notices, exportNotice{n.ID, n.Title, n.Body, n.CreatedAt, n.ReadAt})
	}
	for _, c := range d.DebugCaptures {
		e.DebugCaptures = append(e.DebugCaptures, exportCapture{c.ID, c.NumberID, c.Reason, c.CreatedAt, c.Until, c.RevokedAt})
	}
	for _, a := range d.Audit {
		e.AuditLog = append(e.AuditLog, exportAudit{a.At, a.Actor, a.Action, a.Details, a.IP})
	}
	for _, p := range d.Plans {
		e.Plans = append(e.Plans, exportPlan{p.PlanID, p.AssignedAt})
	}
	for _, p := range d.Payment {
		e.PaymentMethod = &exportPayment{p.CustomerID, p.Brand, p.Last4, p.ExpMonth, p.ExpYear}
	}
	for _, i := range d.Invoices {
		e.Invoices = append(e.Invoices, exportInvoice{ID: i.ID, Number: i.Number, PeriodStart: nonZero(i.PeriodStart),
			PeriodEnd: nonZero(i.PeriodEnd), IssuedAt: i.IssuedAt, DueAt: nonZero(i.DueAt), Status: i.Status, Currency: i.Currency,
			Lines: i.Lines, SubtotalMinor: i.SubtotalMinor, TaxRate: i.TaxRate, TaxMinor: i.TaxMinor, Amount: i.Amount, PaidAt: i.PaidAt})
	}
	for _, t := range d.SupportTickets {
		et := exportTicket{ID: t.ID, Subject: t.Subject, Status: string(t.Status), CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
			ClosedAt: t.ClosedAt, Messages: []exportTicketMessage{}}
		for _, m := range t.Messages {
			et.Messages = append(et.Messages, exportTicketMessage{m.FromStaff, m.Body, m.CreatedAt})
		}
		e.SupportTickets = append(e.SupportTickets, et)
	}
	if r.Type == apiws.RequestAccess {
		e.Processing = processingNotice()
	}
	return e
}

// Export implements apiws.PrivacyService: only the dashboard sessions of
// the request's own account may download it.
func (s *Service) Export(ctx context.Context, requestID string) ([]byte, error) {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return nil, err
	}
	if !apiws.ValidID(requestID, apiws.PrefixPrivacyRequest) {
		return nil, apiws.Errorf(apiws.ENOTFOUND, "export not found")
	}
	return s.db.Export(ctx, c.AccountID, requestID, s.now())
}

// nonZero is &t, or nil for the zero time (a field an old record lacks).
func nonZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
