// Package ownership decides which apiws instance connects each WhatsApp
// number. A number may be connected by one process at a time (a second
// connection with the same keys makes WhatsApp drop the first), so each is
// owned by one instance through a lease in the database, renewed by a
// heartbeat, and fenced by a token that grows with every change of owner.
//
// Every instance runs a Manager. It keeps its leases alive, takes free or
// expired ones until it holds its fair share (the numbers spread evenly over
// the live instances), gives extras back when others have fewer, and hands
// everything over at once on a graceful shutdown. When an instance dies its
// leases expire and the others take its numbers within a TTL.
package ownership

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// Handler is told of the numbers this instance comes to own or stops
// owning. Acquired connects the number (and starts sending its queue);
// Released disconnects it here without touching its recorded state, since
// its new owner carries on.
type Handler interface {
	Acquired(ctx context.Context, n *apiws.Number)
	Released(n *apiws.Number)
}

// Options tune a Manager.
type Options struct {
	// TTL is how long a lease lasts without renewal: the longest a dead
	// instance's numbers wait for a new owner. Default 6s.
	TTL time.Duration
	// Heartbeat is how often leases are renewed and taken. Default TTL/4.
	Heartbeat time.Duration
	// ID names this instance; default NewInstanceID().
	ID string
}

// NewInstanceID returns a new random instance id.
func NewInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "inst_" + hex.EncodeToString(b[:])
}

// Manager holds this instance's leases.
type Manager struct {
	db   *storage.DB
	log  *slog.Logger
	id   string
	opts Options
	now  func() time.Time

	mu      sync.Mutex
	handler Handler // set by Run
	owned   map[string]*lease
	stats   Stats
}

type lease struct {
	number   *apiws.Number
	token    int64
	expires  time.Time
	acquired time.Time
}

// Stats are the Manager's counters, for metrics.
type Stats struct {
	Owned     int
	Acquired  uint64
	Takeovers uint64 // acquisitions of a lease that had another owner
	Released  uint64
	Lost      uint64 // leases that were not renewed in time
}

// New returns the Manager of this instance. It owns nothing until Run.
func New(db *storage.DB, log *slog.Logger, opts Options) *Manager {
	if opts.TTL <= 0 {
		opts.TTL = 6 * time.Second
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = opts.TTL / 4
	}
	if opts.ID == "" {
		opts.ID = NewInstanceID()
	}
	return &Manager{db: db, log: log, id: opts.ID, opts: opts,
		now: func() time.Time { return time.Now().UTC() }, owned: map[string]*lease{}}
}

// ID is this instance's id.
func (m *Manager) ID() string { return m.id }

// Owns returns the fencing token of the number's lease if this instance
// holds it with at least one heartbeat of life left.
func (m *Manager) Owns(numberID string) (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.owned[numberID]
	if !ok || !m.now().Add(m.opts.Heartbeat).Before(l.expires) {
		return 0, false
	}
	return l.token, true
}

// Fence checks in the database, right before a send, that this instance
// still holds the number's lease with token. A paused or partitioned owner
// whose lease passed on fails here, whatever it believes.
func (m *Manager) Fence(ctx context.Context, numberID string, token int64) (bool, error) {
	return m.db.LeaseHeld(ctx, numberID, m.id, token, m.now())
}

// Owned lists the numbers this instance owns.
func (m *Manager) Owned() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.owned))
	for id := range m.owned {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Stats returns the counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Owned = len(m.owned)
	return s
}

// Claim takes the number's lease now if it is free or expired, for a number
// that just paired through this instance. Its connection is already here,
// so the handler is not asked to connect it.
func (m *Manager) Claim(ctx context.Context, n *apiws.Number) bool {
	return m.acquire(ctx, n, false, true)
}

// Run keeps the leases until ctx ends, telling h of each number this
// instance comes to own or stops owning, then releases them all. The
// services that ask Owns are made before Run, with the Manager, and h is
// made of them: so h is given here, not to New.
func (m *Manager) Run(ctx context.Context, h Handler) error {
	m.mu.Lock()
	m.handler = h
	m.mu.Unlock()
	t := time.NewTicker(m.opts.Heartbeat)
	defer t.Stop()
	m.tick(ctx)
	for {
		select {
		case <-ctx.Done():
			m.releaseAll()
			return nil
		case <-t.C:
			m.tick(ctx)
		}
	}
}

// tick renews, then balances.
func (m *Manager) tick(ctx context.Context) {
	now := m.now()
	if err := m.db.Heartbeat(ctx, m.id, now, now.Add(-3*m.opts.TTL)); err != nil {
		m.log.Warn("ownership heartbeat", "err", err)
		m.expire()
		return
	}
	m.renew(ctx)
	m.balance(ctx)
}

// renew extends every held lease; one that can no longer be renewed is
// lost (another instance took it after it expired).
func (m *Manager) renew(ctx context.Context) {
	m.mu.Lock()
	tokens := make(map[string]int64, len(m.owned))
	for id, l := range m.owned {
		tokens[id] = l.token
	}
	m.mu.Unlock()
	if len(tokens) == 0 {
		return
	}
	expires := m.now().Add(m.opts.TTL)
	renewed, err := m.db.RenewLeases(ctx, m.id, tokens, expires)
	if err != nil {
		m.log.Warn("renew leases", "err", err)
		m.expire()
		return
	}
	for id := range tokens {
		if renewed[id] {
			m.mu.Lock()
			if l := m.owned[id]; l != nil {
				l.expires = expires
			}
			m.mu.Unlock()
			continue
		}
		m.drop(id, true)
	}
}

// expire drops the leases whose time ran out while the database could not
// be reached: their numbers may have a new owner by now.
func (m *Manager) expire() {
	now := m.now()
	m.mu.Lock()
	var gone []string
	for id, l := range m.owned {
		if !now.Before(l.expires) {
			gone = append(gone, id)
		}
	}
	m.mu.Unlock()
	for _, id := range gone {
		m.drop(id, true)
	}
}

// balance takes free leases up to this instance's fair share and gives
// back what is above it.
func (m *Manager) balance(ctx context.Context) {
	now := m.now()
	numbers, err := m.db.PairedNumbers(ctx)
	if err != nil {
		m.log.Warn("list numbers to own", "err", err)
		return
	}
	leases, err := m.db.Leases(ctx)
	if err != nil {
		m.log.Warn("list leases", "err", err)
		return
	}
	live, err := m.db.LiveInstances(ctx, now.Add(-m.opts.TTL))
	if err != nil {
		live = 1
	}
	sh := divide(numbers, leases, m.Owned(), live, now)
	// Numbers no longer to be connected (logged out, removed) are let go.
	for _, id := range sh.unwanted {
		m.release(ctx, id)
	}
	mine := len(m.Owned())
	for _, c := range sh.free {
		if mine >= sh.fair {
			break
		}
		if m.acquire(ctx, c.number, c.takeover, false) {
			mine++
		}
	}
	// Above the fair share: hand one back per tick, so numbers move
	// gradually to instances that have joined. A number is left where it
	// is for a TTL after it arrived, so a newly paired or newly taken number
	// does not bounce.
	if mine > sh.fair {
		if id := m.settled(now); id != "" {
			m.release(ctx, id)
		}
	}
}

// share is what one look at the numbers and leases gives an instance to do.
type share struct {
	fair     int      // how many numbers each live instance should own
	free     []claim  // paired numbers without a live lease, to claim up to fair
	unwanted []string // owned numbers no longer paired, to let go
}

// claim is a free number; takeover when its lease expired on another owner.
type claim struct {
	number   *apiws.Number
	takeover bool
}

// divide shares the paired numbers among live instances (at least one):
// each should own its fair share, the number of numbers over the number of
// instances, rounded up. A number is free when nobody holds a lease of it
// that is live at now.
func divide(numbers []*apiws.Number, leases []*storage.Lease, owned []string, live int, now time.Time) share {
	if live < 1 {
		live = 1
	}
	held := map[string]*storage.Lease{}
	for _, l := range leases {
		held[l.NumberID] = l
	}
	sh := share{fair: (len(numbers) + live - 1) / live}
	wanted := map[string]bool{}
	for _, n := range numbers {
		wanted[n.ID] = true
		if l := held[n.ID]; l == nil || !now.Before(l.ExpiresAt) {
			sh.free = append(sh.free, claim{number: n, takeover: l != nil})
		}
	}
	for _, id := range owned {
		if !wanted[id] {
			sh.unwanted = append(sh.unwanted, id)
		}
	}
	return sh
}

// settled returns the number this instance has owned longest, if it has
// owned it for at least a TTL.
func (m *Manager) settled(now time.Time) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var oldest string
	var at time.Time
	for id, l := range m.owned {
		if oldest == "" || l.acquired.Before(at) {
			oldest, at = id, l.acquired
		}
	}
	if oldest == "" || now.Sub(at) < m.opts.TTL {
		return ""
	}
	return oldest
}

// acquire claims one lease and, unless the number is connected here
// already, tells the handler.
func (m *Manager) acquire(ctx context.Context, n *apiws.Number, takeover, connected bool) bool {
	now := m.now()
	expires := now.Add(m.opts.TTL)
	token, ok, err := m.db.ClaimLease(ctx, n.ID, m.id, now, expires)
	if err != nil {
		m.log.Warn("claim lease", "number", n.ID, "err", err)
		return false
	}
	if !ok {
		return false
	}
	m.mu.Lock()
	prev, had := m.owned[n.ID]
	l := &lease{number: n, token: token, expires: expires, acquired: now}
	if had {
		l.acquired = prev.acquired
	}
	m.owned[n.ID] = l
	if !had {
		m.stats.Acquired++
		if takeover {
			m.stats.Takeovers++
		}
	}
	h := m.handler
	m.mu.Unlock()
	if !had {
		m.log.Info("number acquired", "number", n.ID, "token", token, "takeover", takeover)
		if !connected && h != nil {
			h.Acquired(ctx, n)
		}
	}
	return true
}

// release gives one lease back at once.
func (m *Manager) release(ctx context.Context, id string) {
	m.mu.Lock()
	l := m.owned[id]
	m.mu.Unlock()
	if l == nil {
		return
	}
	m.drop(id, false) // stop using it before anyone else may take it
	if err := m.db.ReleaseLease(ctx, id, m.id, l.token); err != nil {
		m.log.Warn("release lease", "number", id, "err", err)
	}
}

// drop forgets a lease here and disconnects its number.
func (m *Manager) drop(id string, lost bool) {
	m.mu.Lock()
	l := m.owned[id]
	delete(m.owned, id)
	if l != nil {
		if lost {
			m.stats.Lost++
		} else {
			m.stats.Released++
		}
	}
	h := m.handler
	m.mu.Unlock()
	if l != nil {
		m.log.Info("number released", "number", id, "lost", lost)
		if h != nil {
			h.Released(l.number)
		}
	}
}

// releaseAll hands every number over at once (graceful shutdown).
func (m *Manager) releaseAll() {
	for _, id := range m.Owned() {
		m.drop(id, false)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.db.ReleaseAll(ctx, m.id); err != nil {
		m.log.Warn("release leases", "err", err)
	}
}
