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
//
// A number given back stops being owned here at once (Owns reports false,
// so nothing new starts through it), but its lease stays this instance's,
// renewed, until the handler reports that the number's work under way here
// has ended: a send still under way when the next owner took the number
// would leave its message queued there, to be sent again.
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
// owning. Acquired connects the number (and starts sending its queue).
// Released lets it go here without touching its recorded state, since its
// new owner carries on: it must not block (it runs on the Manager's loop,
// which renews the other leases), and returns a channel closed once the
// number's work under way here has ended (sends finished and recorded, the
// connection closed), or nil when there is none. The number's lease goes
// to another instance only then, or after releaseAtMost (at shutdown, at
// most while the lease holds); and this instance does not take the number
// again before. A lost lease (not renewed in time) is not waited for: it
// is no longer this instance's to keep.
type Handler interface {
	Acquired(ctx context.Context, n *apiws.Number)
	Released(n *apiws.Number) <-chan struct{}
}

// releaseAtMost bounds how long a number given up waits for its handler's
// channel: above the longest send (60 s) and the record of its outcome, so
// reaching it means something is stuck, and the lease goes anyway.
const releaseAtMost = 2 * time.Minute

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
	// releasing are the numbers this instance stopped owning whose handler
	// has not yet let them go (see Handler): not owned, not taken again, and
	// their leases, unless lost, renewed and kept from other instances.
	releasing map[string]*lease
	stats     Stats

	// handedBack carries to Run's loop the releases whose handler is done;
	// watchers are the goroutines that wait for them.
	handedBack chan *lease
	watchers   sync.WaitGroup
}

type lease struct {
	number   *apiws.Number
	token    int64
	expires  time.Time
	acquired time.Time

	// Once released: since when, the handler's channel (closed when it is
	// done), whether the lease was lost meanwhile (not ours to renew or
	// give back), and ended, closed when the release ends.
	since time.Time
	over  <-chan struct{}
	lost  bool
	ended chan struct{}
}

// Stats are the Manager's counters, for metrics.
type Stats struct {
	Owned     int
	Acquired  uint64
	Takeovers uint64 // acquisitions of a lease that had another owner
	Released  uint64
	Lost      uint64 // leases that were not renewed in time
	// Releasing are the numbers given up whose handler is not done yet
	// (their leases still held, unless lost).
	Releasing int
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
		now: func() time.Time { return time.Now().UTC() }, owned: map[string]*lease{}, releasing: map[string]*lease{},
		handedBack: make(chan *lease)}
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
	s.Releasing = len(m.releasing)
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
			m.watchers.Wait()
			return nil
		case l := <-m.handedBack:
			m.handOver(ctx, l)
		case <-t.C:
			m.tick(ctx)
		}
	}
}

// tick renews, hands over the numbers let go of, then balances.
func (m *Manager) tick(ctx context.Context) {
	now := m.now()
	if err := m.db.Heartbeat(ctx, m.id, now, now.Add(-3*m.opts.TTL)); err != nil {
		m.log.Warn("ownership heartbeat", "err", err)
		m.expire()
		return
	}
	m.renew(ctx)
	m.handOverReady(ctx)
	m.balance(ctx)
}

// renew extends every held lease, those of the numbers being released
// too; one that can no longer be renewed is lost (another instance took it
// after it expired).
func (m *Manager) renew(ctx context.Context) {
	m.mu.Lock()
	tokens := make(map[string]int64, len(m.owned)+len(m.releasing))
	for id, l := range m.owned {
		tokens[id] = l.token
	}
	for id, l := range m.releasing {
		if !l.lost {
			tokens[id] = l.token
		}
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
	for id, token := range tokens {
		m.mu.Lock()
		l, releasing := m.owned[id], false
		if l == nil {
			l, releasing = m.releasing[id], true
		}
		if l != nil && l.token == token && renewed[id] {
			l.expires = expires
		}
		m.mu.Unlock()
		if renewed[id] {
			continue
		}
		if releasing {
			m.loseReleasing(id)
		} else {
			m.drop(id, true)
		}
	}
}

// expire drops the leases whose time ran out while the database could not
// be reached: their numbers may have a new owner by now.
func (m *Manager) expire() {
	now := m.now()
	m.mu.Lock()
	var gone, goneReleasing []string
	for id, l := range m.owned {
		if !now.Before(l.expires) {
			gone = append(gone, id)
		}
	}
	for id, l := range m.releasing {
		if !l.lost && !now.Before(l.expires) {
			goneReleasing = append(goneReleasing, id)
		}
	}
	m.mu.Unlock()
	for _, id := range gone {
		m.drop(id, true)
	}
	for _, id := range goneReleasing {
		m.loseReleasing(id)
	}
}

// loseReleasing marks the lease of a number being released as lost: it is
// no longer this instance's to renew or give back. The number still waits
// for its handler before it can be taken here again.
func (m *Manager) loseReleasing(id string) {
	m.mu.Lock()
	l := m.releasing[id]
	lose := l != nil && !l.lost
	if lose {
		l.lost = true
		m.stats.Lost++
	}
	m.mu.Unlock()
	if lose {
		m.log.Warn("lease lost while its number was being released", "number", id)
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
	// Those being released count neither as owned nor as free: their
	// leases are still this instance's.
	for _, id := range sh.unwanted {
		m.release(id)
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
			m.release(id)
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
	m.mu.Lock()
	_, releasing := m.releasing[n.ID]
	m.mu.Unlock()
	if releasing {
		return false // not before its handler has let it go
	}
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

// release gives one lease back: the number stops being owned here at
// once, and its lease goes once the handler is done with it (handOver).
func (m *Manager) release(id string) {
	if l := m.drop(id, false); l != nil {
		m.watch(l)
	}
}

// watch signals Run's loop once the handler is done with the number of l
// (sooner than the next tick would find it).
func (m *Manager) watch(l *lease) {
	m.watchers.Add(1)
	go func() {
		defer m.watchers.Done()
		select {
		case <-l.over:
		case <-l.ended:
			return
		}
		select {
		case m.handedBack <- l:
		case <-l.ended:
		}
	}()
}

// handOverReady hands over the numbers whose handler is done, and those
// that waited for it releaseAtMost.
func (m *Manager) handOverReady(ctx context.Context) {
	now := m.now()
	m.mu.Lock()
	var ready []*lease
	for _, l := range m.releasing {
		select {
		case <-l.over:
			ready = append(ready, l)
		default:
			if now.Sub(l.since) >= releaseAtMost {
				m.log.Error("a number given up is still in use here: no longer waited for",
					"number", l.number.ID, "lost", l.lost, "after", now.Sub(l.since))
				ready = append(ready, l)
			}
		}
	}
	m.mu.Unlock()
	for _, l := range ready {
		m.handOver(ctx, l)
	}
}

// handOver ends the release of l: its lease, unless lost meanwhile, is
// given back so another instance can take the number at once.
func (m *Manager) handOver(ctx context.Context, l *lease) {
	id := l.number.ID
	m.mu.Lock()
	if m.releasing[id] != l {
		m.mu.Unlock()
		return // ended already
	}
	delete(m.releasing, id)
	m.mu.Unlock()
	close(l.ended)
	if l.lost {
		return
	}
	if err := m.db.ReleaseLease(ctx, id, m.id, l.token); err != nil {
		m.log.Warn("release lease", "number", id, "err", err)
	}
}

// drop forgets a lease here and tells the handler, which lets the number
// go. The lease stays among the releasing until handOver: given back (not
// lost), it is returned, renewed meanwhile and then released; lost, it is
// not ours to keep, and stays only so that the number is not taken here
// again before the handler is done.
func (m *Manager) drop(id string, lost bool) *lease {
	m.mu.Lock()
	l := m.owned[id]
	delete(m.owned, id)
	if l != nil {
		if lost {
			m.stats.Lost++
		} else {
			m.stats.Released++
		}
		// In the same critical section, so the number is never free here
		// to be taken again meanwhile.
		l.since, l.lost, l.ended = m.now(), lost, make(chan struct{})
		m.releasing[id] = l
	}
	h := m.handler
	m.mu.Unlock()
	if l == nil {
		return nil
	}
	m.log.Info("number released", "number", id, "lost", lost)
	var over <-chan struct{}
	if h != nil {
		over = h.Released(l.number)
	}
	if over == nil {
		over = closed
	}
	m.mu.Lock()
	l.over = over
	m.mu.Unlock()
	if lost {
		// Nothing to give back, but the number is not taken again here
		// before the handler is done with it (a late disconnect would cut
		// the new connection).
		m.watch(l)
		return nil
	}
	return l
}

// closed is a channel that is closed: a handler done at once.
var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// releaseAll hands every number over at once (graceful shutdown). The
// handlers' work under way is waited for while the leases still hold (at
// most a TTL when none is held): by then the services that do it have
// stopped or are stopping, so it ends soon.
func (m *Manager) releaseAll() {
	for _, id := range m.Owned() {
		m.drop(id, false)
	}
	m.mu.Lock()
	var ls []*lease
	var until time.Time
	for _, l := range m.releasing {
		ls = append(ls, l)
		if !l.lost && (until.IsZero() || l.expires.Before(until)) {
			until = l.expires
		}
	}
	m.mu.Unlock()
	wait := m.opts.TTL
	if !until.IsZero() {
		// Past its lease, waiting protects nothing: any instance may take
		// the number.
		wait = min(wait, until.Sub(m.now()))
	}
	t := time.NewTimer(max(wait, 0))
	defer t.Stop()
waiting:
	for _, l := range ls {
		select {
		case <-l.over:
			continue // even when the time is up
		default:
		}
		select {
		case <-l.over:
		case <-t.C:
			m.log.Warn("numbers handed over at shutdown while still in use here", "after", wait)
			break waiting
		}
	}
	m.mu.Lock()
	for _, l := range ls {
		delete(m.releasing, l.number.ID)
		close(l.ended)
	}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.db.ReleaseAll(ctx, m.id); err != nil {
		m.log.Warn("release leases", "err", err)
	}
}
