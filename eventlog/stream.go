package eventlog

import (
	"context"
	"sync"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
)

// An accountStream is this process's one view of an account's event log
// while anyone here follows it: one bus subscription, each event decoded
// once and put in cursor order, then handed to every local follower. Events
// that arrive ahead of a missing cursor (commits end out of order; other
// instances publish too) wait up to gapWait for it; then, or after a broker
// resync, one log read fills the gap for all followers.
type accountStream struct {
	l       *Log
	account string
	bus     *events.Follower
	stop    context.CancelFunc

	mu        sync.Mutex
	last      int64                     // newest cursor handed out, in order
	held      map[int64]*apiws.LogEvent // arrived ahead of last+1
	followers map[*follower]struct{}    // live ones
	spilling  map[*follower]struct{}    // live ones with a spill
	ended     bool

	// kick wakes run to arm its timers for what was held or spilled
	// outside it (events published here).
	kick chan struct{}
}

// A follower is one Follow subscription. While live, its stream hands
// it events; what its full channel cannot take waits in its spill (a
// commit's burst is larger than the channel), and only when that is full
// too does it fall behind, and a goroutine of its own reads the log until
// it has caught up with the stream.
type follower struct {
	ctx    context.Context
	filter Filter
	out    chan *apiws.LogEvent
	// Guarded by the stream's mu.
	last   int64             // newest cursor in out (or skipped)
	spill  []*apiws.LogEvent // selected events after last, waiting for room in out
	live   bool
	closed bool
}

// gapWait is how long an event ahead of a missing cursor waits for it
// before the log is read.
const gapWait = 50 * time.Millisecond

// followerBuffer is how many events a follower's channel holds. It is
// allocated with every subscription, idle ones included; bursts wait in
// the follower's spill, which takes memory only while it is used.
const followerBuffer = 64

// defaultSpillLimit is how many events may wait in a follower's spill
// before it falls behind and reads the log (Log.spillLimit): four commits
// of the journal's largest batch (1,024 writes, an event each at most),
// which `sendMessages` fills (apiws-bench's bulk scenario: 660 writes a
// commit; at 1,024 its subscriber fell behind 140 to 180 times in 10 s,
// at 2,048 ten times, at 4,096 none). 32 KiB of pointers at most, while
// the follower spills, the events shared with the other followers.
const defaultSpillLimit = 4096

// spillWait is how soon a stream tries again to move spilled events into
// their followers' channels when no new event comes to do it; after a try
// that moved none (a follower that stopped reading) it waits twice as
// long, up to maxSpillWait.
const (
	spillWait    = time.Millisecond
	maxSpillWait = 50 * time.Millisecond
)

// streams are this process's account streams, by account id, with how
// many followers use each.
type streams struct {
	mu sync.Mutex
	m  map[string]*streamRef
}

type streamRef struct {
	// Guarded by streams.mu.
	st   *accountStream
	err  error
	refs int
	// ready is closed once st or err is set.
	ready chan struct{}
}

// ended reports whether the stream was started and has ended; call it
// with streams.mu held.
func (ref *streamRef) ended() bool { return ref.st != nil && ref.st.isEnded() }

// stream returns the account's stream, starting it for the first follower;
// release must be called once the follower is gone.
func (l *Log) stream(ctx context.Context, account string) (*accountStream, func(), error) {
	l.streams.mu.Lock()
	if l.streams.m == nil {
		l.streams.m = map[string]*streamRef{}
	}
	ref := l.streams.m[account]
	if ref != nil && ref.ended() {
		ref = nil // its bus subscription ended: start again
	}
	starter := ref == nil
	if starter {
		ref = &streamRef{ready: make(chan struct{})}
		l.streams.m[account] = ref
	}
	ref.refs++
	l.streams.mu.Unlock()

	release := func() {
		l.streams.mu.Lock()
		ref.refs--
		var stop *accountStream
		if ref.refs == 0 {
			if l.streams.m[account] == ref {
				delete(l.streams.m, account)
			}
			stop = ref.st
		}
		l.streams.mu.Unlock()
		if stop != nil {
			stop.stop()
		}
	}
	if starter {
		st, err := l.startStream(account)
		l.streams.mu.Lock()
		ref.st, ref.err = st, err
		orphan := st != nil && ref.refs == 0 // every follower left meanwhile
		if err != nil && l.streams.m[account] == ref {
			delete(l.streams.m, account) // the next follower tries again
		}
		l.streams.mu.Unlock()
		close(ref.ready)
		if orphan {
			st.stop()
		}
	}
	select {
	case <-ref.ready:
	case <-ctx.Done():
		release()
		return nil, nil, ctx.Err()
	}
	if ref.err != nil {
		release()
		return nil, nil, ref.err
	}
	return ref.st, release, nil
}

func (l *Log) startStream(account string) (*accountStream, error) {
	ctx, stop := context.WithCancel(l.ctx)
	// Subscribe before reading the newest cursor, so nothing committed in
	// between is missed.
	f, err := events.NewFollower(ctx, l.bus, account, apiws.EventLogged)
	if err != nil {
		stop()
		return nil, err
	}
	last, err := l.db.LastEventSeq(ctx, account)
	if err != nil {
		f.Close()
		stop()
		return nil, err
	}
	st := &accountStream{l: l, account: account, bus: f, stop: stop, last: last,
		held: map[int64]*apiws.LogEvent{}, followers: map[*follower]struct{}{}, spilling: map[*follower]struct{}{},
		kick: make(chan struct{}, 1)}
	go st.run(ctx)
	return st, nil
}

// run follows the bus until the stream stops or the bus closes; then every
// follower's channel is closed.
func (st *accountStream) run(ctx context.Context) {
	defer st.end()
	gap := time.NewTimer(time.Hour)
	gap.Stop()
	defer gap.Stop()
	drain := time.NewTimer(time.Hour)
	drain.Stop()
	defer drain.Stop()
	armed := false    // the gap timer runs: something is held
	draining := false // the drain timer runs: something is spilled
	drainWait := spillWait
	arm := func() {
		held, spilled := st.waiting()
		if !armed && held {
			gap.Reset(gapWait)
			armed = true
		}
		if !draining && spilled {
			drain.Reset(drainWait)
			draining = true
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-gap.C:
			armed = false
			if held, _ := st.waiting(); held {
				st.fill(ctx)
			}
			arm()
		case <-drain.C:
			draining = false
			if st.drain() {
				drainWait = spillWait
			} else {
				drainWait = min(2*drainWait, maxSpillWait)
			}
			arm()
		case <-st.kick:
			arm()
		case ev, ok := <-st.bus.C():
			if !ok {
				// Fell behind the bus: follow again (an EventResync) and
				// fill from the log; or the bus closed.
				var err error
				if ev, err = st.bus.Resume(); err != nil {
					return
				}
			}
			switch ev.Kind {
			case apiws.EventResync:
				st.fill(ctx)
			case apiws.EventLogged:
				if st.had(ev.Cursor) {
					break // published here, and handed out then
				}
				for _, le := range st.l.decode(ev) {
					st.offer(le)
				}
			}
			arm()
		}
	}
}

// had reports whether the stream has handed out cursor and every one
// before it.
func (st *accountStream) had(cursor int64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return cursor <= st.last
}

// waiting reports whether events are held for a missing cursor, and
// whether some are spilled for a follower.
func (st *accountStream) waiting() (held, spilled bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.held) > 0, len(st.spilling) > 0
}

// drain moves spilled events into their followers' channels, as far as
// there is room, and reports whether it moved any.
func (st *accountStream) drain() (moved bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for f := range st.spilling {
		before := len(f.spill)
		st.drainLocked(f)
		moved = moved || len(f.spill) < before
	}
	return moved
}

// wake has run arm its timers.
func (st *accountStream) wake() {
	select {
	case st.kick <- struct{}{}:
	default:
	}
}

func (st *accountStream) isEnded() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.ended
}

// offer hands out me and whatever it unblocks, or holds it while an earlier
// cursor is missing.
func (st *accountStream) offer(me *apiws.LogEvent) {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case me.Seq <= st.last:
	case me.Seq == st.last+1:
		st.deliverLocked(me)
		for next, ok := st.held[st.last+1]; ok; next, ok = st.held[st.last+1] {
			delete(st.held, next.Seq)
			st.deliverLocked(next)
		}
	default:
		st.held[me.Seq] = me
	}
}

// fill reads the log after the stream's last cursor and hands out what it
// finds, then what was held behind it.
func (st *accountStream) fill(ctx context.Context) {
	for {
		st.mu.Lock()
		after := st.last
		st.mu.Unlock()
		evs, err := st.l.read(ctx, st.account, after, replayBatch)
		if err != nil {
			if ctx.Err() == nil {
				st.l.log.Warn("read events", "err", err, "account", st.account)
			}
			return
		}
		st.mu.Lock()
		for _, ev := range evs {
			if ev.Seq == st.last+1 {
				delete(st.held, ev.Seq)
				st.deliverLocked(ev)
			}
		}
		for seq := range st.held {
			if seq <= st.last {
				delete(st.held, seq)
			}
		}
		st.mu.Unlock()
		if len(evs) < replayBatch {
			// What is still held is ahead of the log: its commit ended
			// after this read, and its predecessors will arrive.
			return
		}
	}
}

// deliverLocked hands ev to the live followers, through the spill of one
// whose channel is full; one whose spill is full too falls behind and
// catches up from the log.
func (st *accountStream) deliverLocked(ev *apiws.LogEvent) {
	st.last = ev.Seq
	for f := range st.followers {
		if ev.Seq <= f.last {
			continue
		}
		if !f.filter.selects(ev) {
			if len(f.spill) == 0 {
				f.last = ev.Seq
			}
			continue
		}
		if st.drainLocked(f) {
			select {
			case f.out <- ev:
				f.last = ev.Seq
				continue
			default:
			}
		}
		if len(f.spill) < st.l.spillLimit {
			f.spill = append(f.spill, ev)
			st.spilling[f] = struct{}{}
			continue
		}
		st.unspillLocked(f)
		f.live = false
		delete(st.followers, f)
		st.l.behind.Inc()
		go st.catchUp(f)
	}
}

// drainLocked moves f's spilled events into its channel while there is
// room; it reports whether none is left.
func (st *accountStream) drainLocked(f *follower) bool {
	for len(f.spill) > 0 {
		select {
		case f.out <- f.spill[0]:
			f.last = f.spill[0].Seq
			f.spill[0] = nil
			f.spill = f.spill[1:]
		default:
			return false
		}
	}
	st.unspillLocked(f)
	return true
}

// unspillLocked forgets f's spill: delivered, or to be read from the log
// again (f.last is still before it).
func (st *accountStream) unspillLocked(f *follower) {
	f.spill = nil
	delete(st.spilling, f)
}

// end closes the channels of the live followers; followers catching up
// close theirs when they come back.
func (st *accountStream) end() {
	st.bus.Close()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.ended = true
	for f := range st.followers {
		f.closeLocked()
	}
	clear(st.followers)
	clear(st.spilling)
}

// closeLocked ends the follower's stream; unless its client left, with an
// error the client sees: the stream is not over.
func (f *follower) closeLocked() {
	if !f.closed {
		f.closed = true
		f.live = false
		if f.ctx.Err() == nil {
			apiws.EndStream(f.ctx, errInterrupted)
		}
		close(f.out)
	}
}

// follow adds a follower that has had the events up to last; it reads the
// log first when the stream is ahead of it.
func (st *accountStream) follow(ctx context.Context, filter Filter, after *int64) *follower {
	f := &follower{ctx: ctx, filter: filter, out: make(chan *apiws.LogEvent, followerBuffer)}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended {
		f.closeLocked()
		return f
	}
	f.last = st.last
	if after == nil || *after >= st.last {
		if after != nil {
			f.last = *after
		}
		f.live = true
		st.followers[f] = struct{}{}
	} else {
		f.last = *after
		go st.catchUp(f)
	}
	// Closing is the stream's (under its lock) while the follower is live,
	// and the catch-up's while it is not.
	context.AfterFunc(ctx, func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		if f.live {
			delete(st.followers, f)
			st.unspillLocked(f)
			f.closeLocked()
		}
	})
	return f
}

// catchUp reads the log for a follower that is behind the stream, sending
// with back-pressure, until it is level with the stream and live again.
func (st *accountStream) catchUp(f *follower) {
	for {
		st.mu.Lock()
		switch {
		case f.ctx.Err() != nil || st.ended:
			f.closeLocked()
			st.mu.Unlock()
			return
		case f.last >= st.last:
			f.live = true
			st.followers[f] = struct{}{}
			st.mu.Unlock()
			return
		}
		after, target := f.last, st.last
		st.mu.Unlock()
		evs, err := st.l.read(f.ctx, st.account, after, replayBatch)
		if err != nil {
			if f.ctx.Err() == nil {
				st.l.log.Warn("replay events", "err", err, "account", st.account)
			}
			st.mu.Lock()
			f.closeLocked()
			st.mu.Unlock()
			return
		}
		for _, ev := range evs {
			if f.filter.selects(ev) {
				select {
				case f.out <- ev:
				case <-f.ctx.Done():
				}
			}
			st.mu.Lock()
			f.last = ev.Seq
			st.mu.Unlock()
		}
		if len(evs) == 0 {
			// Everything up to target was committed before this read:
			// what the log no longer has (retention) is not coming.
			st.mu.Lock()
			f.last = max(f.last, target)
			st.mu.Unlock()
		}
	}
}
