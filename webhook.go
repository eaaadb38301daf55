package apiws

import (
	"context"
	"slices"
	"time"
)

// MaxWebhookEndpoints is how many endpoints an account may have.
const MaxWebhookEndpoints = 10

// WebhookEndpoint is a URL that receives the account's events, signed with
// a secret of its own (Standard Webhooks).
type WebhookEndpoint struct {
	ID          string  `bun:"id,pk"`
	AccountID   string  `bun:"account_id,notnull"`
	URL         string  `bun:"url,notnull"`
	Description *string `bun:"description"`
	// Types are the event types it receives; empty: every type.
	Types []EventType `bun:"types,type:text,notnull"`
	// NumberIDs are the numbers whose events it receives; empty: every
	// number.
	NumberIDs []string `bun:"number_ids,type:text,notnull"`
	Enabled   bool     `bun:"enabled,notnull"`
	// DisabledReason says why apiws disabled it; nil when enabled or
	// disabled by the account.
	DisabledReason *string   `bun:"disabled_reason"`
	CreatedAt      time.Time `bun:"created_at,notnull"`
}

// Selects reports whether the endpoint receives an event of type t about
// number numberID (whether or not it is enabled).
func (e *WebhookEndpoint) Selects(t EventType, numberID string) bool {
	return (len(e.Types) == 0 || slices.Contains(e.Types, t)) &&
		(len(e.NumberIDs) == 0 || slices.Contains(e.NumberIDs, numberID))
}

// CarriesContent reports whether events of type t come with content in
// transit (inbound texts, media keys, emoji, poll options).
func (t EventType) CarriesContent() bool {
	switch t {
	case EventTypeMessageReceived, EventTypeMessageEdited, EventTypeReaction, EventTypePollVote:
		return true
	}
	return false
}

// WebhookDeliveryStatus is where a delivery stands.
type WebhookDeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending   WebhookDeliveryStatus = "PENDING"
	DeliverySucceeded WebhookDeliveryStatus = "SUCCEEDED"
	DeliveryFailed    WebhookDeliveryStatus = "FAILED"
)

// WebhookDelivery is one event (or a PING) to hand to one endpoint. Its id
// is the webhook-id header, the same on every attempt.
type WebhookDelivery struct {
	ID         string    `bun:"id,pk"`
	EndpointID string    `bun:"endpoint_id,notnull"`
	AccountID  string    `bun:"account_id,notnull"`
	EventType  EventType `bun:"event_type,notnull"`
	// EventCursor is the event's cursor; nil for a PING.
	EventCursor *int64 `bun:"event_seq"`
	// EventAt is when the event happened (for a PING, when it was asked).
	EventAt time.Time             `bun:"event_at,notnull"`
	Status  WebhookDeliveryStatus `bun:"status,notnull"`
	// Replay is set on deliveries made by replayWebhookDeliveries.
	Replay         bool       `bun:"replay,notnull"`
	Attempts       int        `bun:"attempts,notnull"`
	LastAttemptAt  *time.Time `bun:"last_attempt_at"`
	NextAttemptAt  *time.Time `bun:"next_attempt_at"`
	ResponseStatus *int       `bun:"response_status"`
	Error          *string    `bun:"error"`
	CreatedAt      time.Time  `bun:"created_at,notnull"`
}

// NewWebhookEndpoint is the input of createWebhookEndpoint.
type NewWebhookEndpoint struct {
	URL         string
	Description *string
	Types       []EventType
	NumberIDs   []string
}

// WebhookEndpointUpdate is the input of updateWebhookEndpoint: nil fields
// stay as they are.
type WebhookEndpointUpdate struct {
	ID          string
	URL         *string
	Description *string
	Types       []EventType
	NumberIDs   []string
	Enabled     *bool
}

// WebhookService manages an account's webhook endpoints. Every mutation
// needs ScopeManageWebhooks (a dashboard session has it); input problems are
// userErrors with their field and change nothing; another account's endpoint
// is ENOTFOUND, like a missing one.
type WebhookService interface {
	// CreateEndpoint adds an endpoint and returns it with its secret, which
	// is never shown again.
	CreateEndpoint(ctx context.Context, in NewWebhookEndpoint) (*WebhookEndpoint, string, error)
	// UpdateEndpoint changes the fields set in up. Enabling an endpoint
	// clears its DisabledReason.
	UpdateEndpoint(ctx context.Context, up WebhookEndpointUpdate) (*WebhookEndpoint, error)
	// DeleteEndpoint deletes an endpoint and its deliveries, and returns it.
	DeleteEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error)
	// RotateSecret gives the endpoint a new secret; for 24 hours deliveries
	// are signed with both.
	RotateSecret(ctx context.Context, id string) (*WebhookEndpoint, string, error)
	// Ping queues a PING delivery to the endpoint, whatever its types.
	Ping(ctx context.Context, id string) (*WebhookEndpoint, error)
	// Replay queues new deliveries of every logged event after the cursor
	// that the endpoint selects; EINVALID on ["after"] beyond the log's end.
	Replay(ctx context.Context, endpointID string, after int64) (*WebhookEndpoint, error)
	// Endpoint returns one of the caller's endpoints (RequireRead).
	Endpoint(ctx context.Context, id string) (*WebhookEndpoint, error)
	// Endpoints lists an account's endpoints, oldest first (RequireRead).
	Endpoints(ctx context.Context, accountID string) ([]*WebhookEndpoint, error)
	// Deliveries pages an endpoint's deliveries, newest first, in the
	// statuses (any when empty).
	Deliveries(ctx context.Context, endpointID string, statuses []WebhookDeliveryStatus, p Page) (List[*WebhookDelivery], error)
	// Delivery returns one of the caller's deliveries (RequireRead).
	Delivery(ctx context.Context, id string) (*WebhookDelivery, error)
}
