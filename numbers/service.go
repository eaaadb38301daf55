// Package numbers is the domain service for WhatsApp numbers: pairing them,
// following their connection state, connecting the numbers this instance
// comes to own (at start, or when it takes them over), and telling
// subscribers through the events Bus.
//
// A number's state lives in its database row; the Bus only carries news of
// it. So every instance can answer for every number, and a subscriber that
// missed events (an EventResync) reads the row again.
package numbers

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/eventlog"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/whatsapp"
)

// staleAfter is how long past its last promised step a PAIRING number is
// taken as abandoned (its instance died mid-pairing), so that it no longer
// blocks its account's next pairing.
const staleAfter = 2 * time.Minute

// writeTimeout bounds the database writes made for connector events, which
// have no caller's context to end with.
const writeTimeout = 10 * time.Second

// Service implements apiws.NumberService.
type Service struct {
	db  *storage.DB
	bus events.Bus
	// events publishes the logged status changes.
	events *eventlog.Log
	log    *slog.Logger
	now    func() time.Time
	after  func(time.Duration) <-chan time.Time
	// sandbox and real are the connectors of sandbox and real numbers; real
	// may be nil, and real numbers are then unavailable.
	sandbox, real whatsapp.Connector
	// plans tells how many numbers an account may hold; nil: no limit.
	plans Plans

	// ctx outlives requests: pairings run under it, not under the
	// connectNumber request that started them. Run cancels it on return.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	pairings map[string]*pairing // by number id, those this process runs
	retries  map[string]*retry   // by number id, reconnections under way

	// owner says which numbers this instance connects; nil: all of them.
	owner Owner
}

// Owner is the part of number ownership the service needs: only the owner
// of a number records its connection state, and a number paired here is
// claimed here, where its connection is.
type Owner interface {
	apiws.NumberOwner
	Claim(ctx context.Context, n *apiws.Number) bool
}

// pairing is one pairing this process runs.
type pairing struct {
	cancel context.CancelFunc
	done   chan struct{} // closed once its outcome is recorded
}

var _ apiws.NumberService = (*Service)(nil)

// Deps are what the service works with.
type Deps struct {
	DB  *storage.DB
	Bus events.Bus
	// Events publishes the status changes the service logs.
	Events *eventlog.Log
	Log    *slog.Logger
	// Router carries the connectors' StateChanges to the service.
	Router *whatsapp.Router
	// Owner says which numbers this instance connects; nil: all of them.
	Owner Owner
	// Sandbox serves numbers made with Sandbox set, Real the others (nil:
	// connecting a real number is EUNAVAILABLE).
	Sandbox, Real whatsapp.Connector
	// Plans tells each account's plan, whose numbers limit connectNumber
	// enforces; nil: no limit.
	Plans Plans
}

// Plans tells which plan's limits apply to an account now.
type Plans interface {
	AccountPlan(ctx context.Context, accountID string) (*apiws.Plan, error)
}

// New returns the service and makes it the handler of the connectors'
// StateChanges. Run must run for the service's background work.
func New(d Deps) *Service {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		db: d.DB, bus: d.Bus, events: d.Events, log: d.Log, now: func() time.Time { return time.Now().UTC() }, after: time.After,
		sandbox: d.Sandbox, real: d.Real, owner: d.Owner, plans: d.Plans,
		ctx: ctx, cancel: cancel, pairings: make(map[string]*pairing), retries: make(map[string]*retry),
	}
	if d.Router != nil {
		d.Router.HandleStates(s.HandleStateChange)
	}
	return s
}

// Run carries out the connect and disconnect requests that other instances
// send for the numbers this instance owns, until ctx ends. Then it cancels
// the pairings this process runs (they fail with CANCELLED) and returns once
// their outcome is recorded: stop it before the connectors and the database.
func (s *Service) Run(ctx context.Context) error {
	err := s.followCommands(ctx)
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return err
}

// Number implements apiws.NumberService.
func (s *Service) Number(ctx context.Context, id string) (*apiws.Number, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeRead)
	if err != nil {
		return nil, err
	}
	return s.db.Number(ctx, c.AccountID, id)
}

// Numbers implements apiws.NumberService.
func (s *Service) Numbers(ctx context.Context, accountID string, f apiws.NumberFilter, p apiws.Page) (apiws.List[*apiws.Number], error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return apiws.List[*apiws.Number]{}, err
	}
	more := p.OneMore()
	ns, total, err := s.db.ListNumbers(ctx, accountID, f.Statuses, more.First, more.After)
	return apiws.ListOf(ns, p, total), err
}

// connector returns the connector serving numbers of the kind.
func (s *Service) connector(sandbox bool) (whatsapp.Connector, error) {
	c := s.real
	if sandbox {
		c = s.sandbox
	}
	if c == nil {
		return nil, apiws.Errorf(apiws.EUNAVAILABLE, "this server cannot connect such numbers")
	}
	return c, nil
}

// callerNumber returns the caller's number with id, as a userError
// NOT_FOUND on field when it is missing or another account's.
func (s *Service) callerNumber(ctx context.Context, c *apiws.Caller, id string, field string) (*apiws.Number, error) {
	if !apiws.ValidID(id, apiws.PrefixNumber) {
		return nil, apiws.FieldError(apiws.ENOTFOUND, []string{field}, "no such number")
	}
	n, err := s.db.Number(ctx, c.AccountID, id)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, apiws.FieldError(apiws.ENOTFOUND, []string{field}, "no such number")
	}
	return n, err
}

// requireActive refuses what an account pending deletion may not do.
func (s *Service) requireActive(ctx context.Context, accountID, what string) error {
	acc, err := s.db.Account(ctx, accountID)
	if err != nil {
		return err
	}
	if acc.Status != apiws.AccountActive {
		return apiws.Errorf(apiws.EFORBIDDEN, "the account is pending deletion; restore it to %s", what)
	}
	return nil
}

// cleanLabel trims a label; an empty one is no label.
func cleanLabel(label *string) (*string, error) {
	if label == nil {
		return nil, nil
	}
	l := strings.TrimSpace(*label)
	if l == "" {
		return nil, nil
	}
	if utf8.RuneCountInString(l) > 100 {
		return nil, apiws.FieldError(apiws.EINVALID, []string{"input", "label"}, "must be at most 100 characters")
	}
	return &l, nil
}

// pairingData is the Data of an EventPairing: exactly one field is set.
type pairingData struct {
	QR      *apiws.PairingQRCode  `json:"qr,omitempty"`
	Success *apiws.Number         `json:"success,omitempty"`
	Failure *apiws.PairingFailure `json:"failure,omitempty"`
}

// publish sends an event about n. A failed publish is only logged: the row
// is the source of truth, and the Bus tells subscribers to resync.
func (s *Service) publish(n *apiws.Number, kind apiws.EventKind, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		s.log.Error("encode event", "kind", kind, "number", n.ID, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	ev := apiws.Event{Kind: kind, AccountID: n.AccountID, NumberID: n.ID, Data: b}
	if err := s.bus.Publish(ctx, n.AccountID, ev); err != nil {
		s.log.Warn("publish event", "kind", kind, "number", n.ID, "err", err)
	}
}

// publishStatus announces a logged NUMBER_STATUS event (nil: nothing was
// logged). A failed publish is only logged: the log is the source of
// truth, and followers read it again.
func (s *Service) publishStatus(ev *apiws.LogEvent) {
	if ev == nil || s.events == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	s.events.Publish(ctx, ev)
}

// setStatus moves n to status (unless change refuses) and publishes the
// change. It returns the number as it is afterwards.
func (s *Service) setStatus(ctx context.Context, id string, status apiws.NumberStatus, reason string, change func(n *apiws.Number) bool) (*apiws.Number, error) {
	at := s.now()
	n, _, ev, err := s.db.ChangeNumberLogged(ctx, id, func(n *apiws.Number) bool {
		if n.Status == status || (change != nil && !change(n)) {
			return false
		}
		if n.Status == apiws.NumberConnected || status == apiws.NumberConnected {
			n.LastSeenAt = &at
		}
		if status == apiws.NumberConnected {
			n.ConnectedAt = &at
		}
		if status != apiws.NumberPairing {
			n.Pairing, n.PairingExpiresAt = nil, nil
		}
		if status != apiws.NumberBanned {
			n.BanExpiresAt = nil
		}
		n.Status = status
		return true
	}, &storage.StatusNote{At: at, Reason: reason})
	if err != nil {
		return nil, err
	}
	s.publishStatus(ev)
	return n, nil
}
