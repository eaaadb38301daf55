// Package webhooks hands an account's events to its webhook endpoints,
// the Standard Webhooks way: the Service manages the endpoints, the
// Deliverer posts the signed deliveries the event log queues for them.
package webhooks

import (
	"context"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/publicnet"
	"github.com/apiws/apiws/storage"
)

// rotationOverlap is how long the previous secret signs beside a new one.
const rotationOverlap = 24 * time.Hour

// Limits of an endpoint's input.
const (
	maxURLLength         = 2048
	maxDescriptionLength = 500
)

// Options configure a Service.
type Options struct {
	// SecretKey is the deployment's secret key; the signing secrets are
	// sealed with a key derived from it.
	SecretKey []byte
	// AllowPrivate lets endpoints be http URLs and literal private
	// addresses (APIWS_ALLOW_PRIVATE_URLS: development and tests only).
	AllowPrivate bool
	// Queued is called after deliveries were queued (a ping, a replay), to
	// wake the deliverer.
	Queued func()
	// Now is the clock; time.Now by default.
	Now func() time.Time
}

// Service implements apiws.WebhookService over the database.
type Service struct {
	db     *storage.DB
	seal   *sealer
	policy publicnet.Policy
	queued func()
	now    func() time.Time
}

var _ apiws.WebhookService = (*Service)(nil)

// New returns the service.
func New(db *storage.DB, opts Options) (*Service, error) {
	s, err := newSealer(opts.SecretKey)
	if err != nil {
		return nil, err
	}
	svc := &Service{db: db, seal: s, policy: publicnet.Policy{AllowPrivate: opts.AllowPrivate}, queued: opts.Queued, now: opts.Now}
	if svc.queued == nil {
		svc.queued = func() {}
	}
	if svc.now == nil {
		svc.now = time.Now
	}
	return svc, nil
}

// CreateEndpoint implements apiws.WebhookService.
func (s *Service) CreateEndpoint(ctx context.Context, in apiws.NewWebhookEndpoint) (*apiws.WebhookEndpoint, string, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageWebhooks)
	if err != nil {
		return nil, "", err
	}
	var errs apiws.Errors
	errs = append(errs, s.checkURL(in.URL)...)
	errs = append(errs, checkDescription(in.Description)...)
	errs = append(errs, checkTypes(in.Types)...)
	if err := errs.Err(); err != nil {
		return nil, "", err
	}
	e := &storage.WebhookEndpoint{WebhookEndpoint: apiws.WebhookEndpoint{
		ID: apiws.NewID(apiws.PrefixWebhookEndpoint), AccountID: c.AccountID, URL: in.URL, Description: in.Description,
		Types: unique(in.Types), NumberIDs: unique(in.NumberIDs), Enabled: true, CreatedAt: s.now().UTC(),
	}}
	secret := newSecret()
	e.Secret = s.seal.seal(e.ID, secret)
	if err := s.db.CreateWebhookEndpoint(ctx, e, apiws.MaxWebhookEndpoints); err != nil {
		return nil, "", err
	}
	return &e.WebhookEndpoint, secret, nil
}

// UpdateEndpoint implements apiws.WebhookService.
func (s *Service) UpdateEndpoint(ctx context.Context, up apiws.WebhookEndpointUpdate) (*apiws.WebhookEndpoint, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageWebhooks)
	if err != nil {
		return nil, err
	}
	var errs apiws.Errors
	if up.URL != nil {
		errs = append(errs, s.checkURL(*up.URL)...)
	}
	errs = append(errs, checkDescription(up.Description)...)
	errs = append(errs, checkTypes(up.Types)...)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	e, err := s.db.UpdateWebhookEndpoint(ctx, c.AccountID, up.ID, func(e *storage.WebhookEndpoint) error {
		if up.URL != nil {
			e.URL = *up.URL
		}
		if up.Description != nil {
			e.Description = up.Description
		}
		if up.Types != nil {
			e.Types = unique(up.Types)
		}
		if up.NumberIDs != nil {
			e.NumberIDs = unique(up.NumberIDs)
		}
		if up.Enabled != nil {
			if *up.Enabled && !e.Enabled {
				// A fresh start: the failures that disabled it are behind.
				e.FailingSince = nil
			}
			e.Enabled = *up.Enabled
			e.DisabledReason = nil
		}
		return nil
	})
	if err != nil {
		return nil, idField(err)
	}
	return &e.WebhookEndpoint, nil
}

// DeleteEndpoint implements apiws.WebhookService.
func (s *Service) DeleteEndpoint(ctx context.Context, id string) (*apiws.WebhookEndpoint, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageWebhooks)
	if err != nil {
		return nil, err
	}
	e, err := s.db.DeleteWebhookEndpoint(ctx, c.AccountID, id)
	return e, withField(err, "id")
}

// RotateSecret implements apiws.WebhookService.
func (s *Service) RotateSecret(ctx context.Context, id string) (*apiws.WebhookEndpoint, string, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageWebhooks)
	if err != nil {
		return nil, "", err
	}
	secret := newSecret()
	until := s.now().UTC().Add(rotationOverlap)
	e, err := s.db.UpdateWebhookEndpoint(ctx, c.AccountID, id, func(e *storage.WebhookEndpoint) error {
		e.PreviousSecret, e.PreviousUntil = e.Secret, &until
		e.Secret = s.seal.seal(e.ID, secret)
		return nil
	})
	if err != nil {
		return nil, "", withField(err, "id")
	}
	return &e.WebhookEndpoint, secret, nil
}

// Ping implements apiws.WebhookService.
func (s *Service) Ping(ctx context.Context, id string) (*apiws.WebhookEndpoint, error) {
	e, err := s.enabledEndpoint(ctx, id, "id")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	d := &apiws.WebhookDelivery{
		ID: apiws.NewID(apiws.PrefixWebhookDelivery), EndpointID: e.ID, AccountID: e.AccountID, EventType: apiws.EventTypePing,
		EventAt: now, Status: apiws.DeliveryPending, NextAttemptAt: &now, CreatedAt: now,
	}
	if err := s.db.QueueDeliveries(ctx, d); err != nil {
		return nil, err
	}
	s.queued()
	return e, nil
}

// Replay implements apiws.WebhookService.
func (s *Service) Replay(ctx context.Context, endpointID string, after int64) (*apiws.WebhookEndpoint, error) {
	e, err := s.enabledEndpoint(ctx, endpointID, "endpointId")
	if err != nil {
		return nil, err
	}
	n, err := s.db.ReplayDeliveries(ctx, e, after, s.now().UTC())
	if err != nil {
		return nil, err
	}
	if n > 0 {
		s.queued()
	}
	return e, nil
}

// enabledEndpoint returns the caller's endpoint id for a mutation that
// queues deliveries, which only an enabled endpoint receives.
func (s *Service) enabledEndpoint(ctx context.Context, id, field string) (*apiws.WebhookEndpoint, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageWebhooks)
	if err != nil {
		return nil, err
	}
	e, err := s.db.WebhookEndpoint(ctx, c.AccountID, id)
	if err != nil {
		return nil, withField(err, field)
	}
	if !e.Enabled {
		return nil, apiws.FieldError(apiws.EINVALID, []string{field}, "the endpoint is disabled; enable it first")
	}
	return &e.WebhookEndpoint, nil
}

// Endpoint implements apiws.WebhookService.
func (s *Service) Endpoint(ctx context.Context, id string) (*apiws.WebhookEndpoint, error) {
	accountID, err := reader(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.db.WebhookEndpoint(ctx, accountID, id)
	if err != nil {
		return nil, err
	}
	return &e.WebhookEndpoint, nil
}

// Endpoints implements apiws.WebhookService.
func (s *Service) Endpoints(ctx context.Context, accountID string) ([]*apiws.WebhookEndpoint, error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return nil, err
	}
	return s.db.WebhookEndpoints(ctx, accountID)
}

// Deliveries implements apiws.WebhookService.
func (s *Service) Deliveries(ctx context.Context, endpointID string, statuses []apiws.WebhookDeliveryStatus, p apiws.Page) (apiws.List[*apiws.WebhookDelivery], error) {
	if _, err := s.Endpoint(ctx, endpointID); err != nil {
		return apiws.List[*apiws.WebhookDelivery]{}, err
	}
	return s.db.WebhookDeliveries(ctx, endpointID, statuses, p)
}

// Delivery implements apiws.WebhookService.
func (s *Service) Delivery(ctx context.Context, id string) (*apiws.WebhookDelivery, error) {
	accountID, err := reader(ctx)
	if err != nil {
		return nil, err
	}
	return s.db.WebhookDelivery(ctx, accountID, id)
}

// reader returns the account whose webhooks the caller may read: its
// own (ScopeRead), or "" (any) for an operator.
func reader(ctx context.Context) (string, error) {
	if apiws.CallerFrom(ctx).Kind == apiws.CredentialOperator {
		return "", nil
	}
	c, err := apiws.RequireAccount(ctx, apiws.ScopeRead)
	if err != nil {
		return "", err
	}
	return c.AccountID, nil
}

// checkURL judges an endpoint's URL as far as it can without DNS: https
// (http too when private addresses are allowed), at most 2,048
// characters, and no literal address that the policy refuses. Host names
// are judged at each connection.
func (s *Service) checkURL(raw string) apiws.Errors {
	field := []string{"input", "url"}
	invalid := func(format string, args ...any) apiws.Errors {
		return apiws.Errors{apiws.FieldError(apiws.EINVALID, field, format, args...)}
	}
	if len(raw) > maxURLLength {
		return invalid("a URL has at most %d characters", maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return invalid("not an absolute URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && s.policy.AllowPrivate:
	default:
		return invalid("the URL must be https")
	}
	if u.User != nil {
		return invalid("the URL must not hold credentials")
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !s.policy.Allows(ip.Unmap()) {
		return invalid("%s is not a public address", ip)
	}
	return nil
}

func checkDescription(d *string) apiws.Errors {
	if d != nil && len([]rune(*d)) > maxDescriptionLength {
		return apiws.Errors{apiws.FieldError(apiws.EINVALID, []string{"input", "description"}, "a description has at most %d characters", maxDescriptionLength)}
	}
	return nil
}

func checkTypes(ts []apiws.EventType) apiws.Errors {
	if slices.Contains(ts, apiws.EventTypePing) {
		return apiws.Errors{apiws.FieldError(apiws.EINVALID, []string{"input", "types"}, "PING reaches every endpoint; it is not a type to select")}
	}
	return nil
}

// unique returns vs without repeats, in their first order; never nil.
func unique[T comparable](vs []T) []T {
	out := make([]T, 0, len(vs))
	for _, v := range vs {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// idField gives an ENOTFOUND of the endpoint its input field.
func idField(err error) error { return withFieldPath(err, []string{"input", "id"}) }

// withField gives an ENOTFOUND of the endpoint the argument's field.
func withField(err error, field string) error { return withFieldPath(err, []string{field}) }

func withFieldPath(err error, path []string) error {
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return apiws.FieldError(apiws.ENOTFOUND, path, "no such webhook endpoint")
	}
	return err
}
