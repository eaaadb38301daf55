package messaging

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/whatsapp"
)

// dispatcher sends one number's queue in order, at the number's pace.
type dispatcher struct {
	numberID string
	wake     chan struct{}
	// woken records a nudge that came while the dispatcher was busy, so it
	// looks at the outbox again before it stops.
	woken bool
	// records are the writes of acceptances under way (see flushAhead).
	records recorder
	// done is closed once the dispatcher has stopped: its sends and its
	// writes have ended, and it is out of Service.dispatchers.
	done chan struct{}
}

// notConnectedWait is how long a dispatcher waits for its number to
// reconnect before looking again.
const notConnectedWait = time.Second

// Nudge tells the number's dispatcher there is work, starting it if needed.
// When another instance owns the number, the nudge goes to it over the bus
// (and its outbox scan finds the work even if the nudge is lost).
func (s *Service) Nudge(numberID string) {
	if !apiws.Owns(s.owner, numberID) {
		err := s.bus.Publish(s.ctx, outboxTopic, apiws.Event{Kind: apiws.EventOutbox, NumberID: numberID})
		if err != nil && s.ctx.Err() == nil {
			s.log.Debug("nudge the owner of a number", "number", numberID, "err", err)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	if d, ok := s.dispatchers[numberID]; ok {
		d.woken = true
		select {
		case d.wake <- struct{}{}:
		default:
		}
		return
	}
	d := &dispatcher{numberID: numberID, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.dispatchers[numberID] = d
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.dispatch(d)
	}()
}

// dispatch runs until the number's outbox is empty (or the service stops).
func (s *Service) dispatch(d *dispatcher) {
	interval := time.Duration(float64(time.Second) / s.cfg.SendsPerSecond)
	// The pace holds across the dispatcher's runs: a message that comes
	// after the queue emptied waits its turn after the last send too.
	s.mu.Lock()
	lastSend := s.lastSends[d.numberID]
	s.mu.Unlock()
	// Every write of acceptances this dispatcher started has ended before
	// it leaves Service.dispatchers: Close waits for them, and no other
	// dispatcher of the number (one a nudge starts once this one is gone)
	// finds their messages still queued. A nudge that came while it was
	// stopping starts the next one.
	defer func() {
		d.records.wait()
		s.mu.Lock()
		if s.dispatchers[d.numberID] == d {
			delete(s.dispatchers, d.numberID)
		}
		if !lastSend.IsZero() {
			s.lastSends[d.numberID] = lastSend
		}
		woken := d.woken
		s.mu.Unlock()
		close(d.done)
		if woken && s.ctx.Err() == nil {
			s.Nudge(d.numberID)
		}
	}()
	for {
		// Messages whose acceptance is being written are still in the
		// outbox until that write commits: they are left out. Taken before
		// the read: a write that ends later committed after it began.
		recording := d.records.snapshot()
		items, err := s.db.NextOutbox(s.ctx, d.numberID, passSize+len(recording))
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.log.Warn("read outbox", "err", err, "number", d.numberID)
			if !s.sleep(d, time.Second) {
				return
			}
			continue
		}
		read := len(items)
		items = slices.DeleteFunc(items, func(it *storage.OutboxItem) bool { return recording[it.MessageID] })
		if len(items) == 0 && read > 0 {
			d.records.waitOne() // nothing but messages being recorded
			continue
		}
		if len(items) == 0 {
			d.records.wait()
			s.mu.Lock()
			woken := d.woken
			d.woken = false
			s.mu.Unlock()
			if woken {
				continue
			}
			return // the deferred cleanup hands a later nudge to the next dispatcher
		}
		if !s.pass(d, items, interval, &lastSend) {
			return
		}
	}
}

// passSize is how many queued messages a dispatcher pass takes at most.
const passSize = 256

// pass sends one batch of a number's outbox; it reports false when the
// dispatcher must stop. Up to Config.SendsInFlight sends run at once, never
// two of one chat, and within a chat in queue order (see flight).
// Acceptances are recorded together (group commit), in the background
// every flushAheadAt and when the pass ends, and at once before it waits
// long enough for that write to matter.
func (s *Service) pass(d *dispatcher, items []*storage.OutboxItem, interval time.Duration, lastSend *time.Time) bool {
	// What every item of the batch needs is read once for the batch: the
	// messages, the number, its debug capture.
	b := &batch{records: &d.records}
	f := newFlight(s.cfg.SendsInFlight)
	// Every send started is waited for, and its outcome taken, before the
	// pass returns: nothing of a pass is in flight once its dispatcher
	// reads the outbox again or stops. Its acceptances are written in the
	// background meanwhile and after (flushAhead).
	defer s.flushAhead(b, 1)
	defer s.land(f, b)
	// wait ends the pass's sending, then waits.
	wait := func(dd *dispatcher, dur time.Duration) bool {
		s.land(f, b)
		if dur >= flushBeforeWait {
			s.flushSent(b)
		}
		return s.sleep(dd, dur)
	}
	next := 0
	for {
		s.settleReady(f, b)
		if f.halted {
			break
		}
		if f.full() {
			s.settle(f, b, <-f.done)
			continue
		}
		q := f.startable()
		if q == nil {
			if next == len(items) {
				if f.idle() {
					break
				}
				s.settle(f, b, <-f.done)
				continue
			}
			item := items[next]
			next++
			// The queue is taken in order: the head waits out its backoff.
			if w := item.NextAttemptAt.Sub(s.now()); w > 0 {
				return wait(d, w) // then re-read: a nudge may have changed the head
			}
			if !b.fence(s, d.numberID) {
				return false // the number is no longer this instance's to send through (the deferred land settles what runs)
			}
			n, err := b.number(s, d.numberID)
			if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
				s.fail(item, &apiws.MessageError{Code: apiws.MsgErrNotConnected, Message: "the number was removed"})
				continue
			} else if err != nil {
				return wait(d, time.Second)
			}
			if n.Status != apiws.NumberConnected {
				return wait(d, notConnectedWait)
			}
			if err := b.load(s, items); err != nil {
				return wait(d, time.Second)
			}
			var ok bool
			if q, ok = s.prepare(n, item, b); !ok {
				break // still queued (retry later): nothing behind it may overtake it
			}
			if q == nil {
				continue // left the queue without a send
			}
			if !f.admit(q) {
				continue // its chat is busy: it waits its turn in this pass
			}
		}
		if w := jittered(s.interval(q.item.AccountID, interval), rand.Float64()) - time.Since(*lastSend); w > 0 {
			if w >= flushBeforeWait {
				s.settleReady(f, b)
				s.flushSent(b)
			}
			if !s.sleep(nil, w) {
				return false
			}
			// A failure that came meanwhile stops the pass before q
			// starts; q stays queued.
			s.settleReady(f, b)
			if f.halted {
				break
			}
		}
		if !b.fence(s, d.numberID) {
			return false
		}
		*lastSend = time.Now()
		s.launch(f, b.n, q)
	}
	s.land(f, b)
	if f.retryWait > 0 {
		// The retry could not be recorded: wait its backoff here instead,
		// so it does not come at once.
		return wait(nil, f.retryWait)
	}
	return true
}

// paceJitter spreads the gap between a number's sends by ±25 % around the
// plan's interval: sends spaced exactly alike look like a machine to
// WhatsApp, which flags such accounts.
const paceJitter = 0.25

// interval is the time between two sends of a number of the account, by
// its plan, read again before every send so that a new plan applies at
// once; def when there is no plan to read.
func (s *Service) interval(accountID string, def time.Duration) time.Duration {
	if s.pace == nil {
		return def
	}
	r, err := s.pace.SendsPerSecond(s.ctx, accountID)
	if err != nil || r <= 0 {
		return def
	}
	return time.Duration(float64(time.Second) / r)
}

// jittered is interval spread by paceJitter, with r in [0,1) drawing where.
func jittered(interval time.Duration, r float64) time.Duration {
	return time.Duration(float64(interval) * (1 - paceJitter + 2*paceJitter*r))
}

// flushBeforeWait: a dispatcher about to wait this long records the
// acceptances it holds first, so statuses do not lag behind sends.
const flushBeforeWait = 5 * time.Millisecond

// flushSent records the acceptances a pass holds, in one transaction.
func (s *Service) flushSent(b *batch) {
	if len(b.sent) == 0 {
		return
	}
	items, retain := b.sent, b.retain
	b.sent, b.retain = nil, nil
	err := retry(s.ctx, recordAttempts, recordRetry, func() error {
		return s.journal.write(&journalReq{account: items[0].AccountID,
			sent: &storage.SentWrite{Items: items, At: s.now(), CaptureID: b.capture, CaptureUntil: b.until, Retain: retain}})
	})
	if err != nil {
		// Left accepted: the next pass records them one by one and sends
		// none of them again.
		s.log.Error("record sent", "messages", len(items), "err", err)
		return
	}
	for _, it := range items {
		s.setAccepted(it.MessageID, false)
	}
}

// flushAheadAt is how many acceptances a pass holds before it has them
// written in the background while it goes on sending.
const flushAheadAt = 64

// flushAhead has the acceptances b holds written in the background once
// there are at least least of them. Written or not, they stay remembered
// as accepted until recorded (so none is sent again), and the dispatcher
// leaves them out of its reads of the outbox until the write ends.
func (s *Service) flushAhead(b *batch, least int) {
	if len(b.sent) == 0 || len(b.sent) < least {
		return
	}
	part := &batch{sent: b.sent, retain: b.retain, capture: b.capture, until: b.until}
	b.sent, b.retain = nil, nil
	b.records.start(part.sent, func() { s.flushSent(part) })
}

// recorder runs a dispatcher's writes of acceptances in the background, at
// most maxRecords at once, and knows the messages they hold.
type recorder struct {
	mu      sync.Mutex
	ended   sync.Cond       // signalled when a write ends
	running map[string]bool // message ids
	writes  int             // under way
	done    int             // writes ended so far
}

// maxRecords bounds the writes of one dispatcher under way: beyond it, the
// dispatcher waits for one to end before it goes on.
const maxRecords = 4

// init readies r; r.mu must be held.
func (r *recorder) init() {
	if r.running == nil {
		r.running = map[string]bool{}
		r.ended.L = &r.mu
	}
}

// start runs write for items in the background, once fewer than
// maxRecords writes are under way.
func (r *recorder) start(items []*storage.OutboxItem, write func()) {
	r.mu.Lock()
	r.init()
	for r.writes >= maxRecords {
		r.ended.Wait()
	}
	r.writes++
	for _, it := range items {
		r.running[it.MessageID] = true
	}
	r.mu.Unlock()
	go func() {
		write()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, it := range items {
			delete(r.running, it.MessageID)
		}
		r.writes--
		r.done++
		r.ended.Broadcast()
	}()
}

// snapshot returns the ids of the messages being recorded.
func (r *recorder) snapshot() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.running)
}

// waitOne waits until a write ends (at once if none runs).
func (r *recorder) waitOne() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	for done := r.done; r.writes > 0 && r.done == done; {
		r.ended.Wait()
	}
}

// wait waits for every write.
func (r *recorder) wait() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	for r.writes > 0 {
		r.ended.Wait()
	}
}

// A failed write of acceptances is tried recordAttempts times, the first
// retry after recordRetry, each next one after twice as long.
const (
	recordAttempts = 5
	recordRetry    = 100 * time.Millisecond
)

// batch holds what one pass over a number's outbox reads once.
type batch struct {
	n        *apiws.Number
	messages map[string]*apiws.Message
	capture  string
	until    time.Time
	// sent are accepted by WhatsApp, their acceptance not yet recorded;
	// retain is their content kept for retry receipts.
	sent   []*storage.OutboxItem
	retain []*storage.Transit
	// fencedAt is when the lease was last found held in the database.
	fencedAt time.Time
	// records writes acceptances in the background (flushAhead).
	records *recorder
}

// fenceFor is how long a lease found held in the database is trusted
// without asking again. Far shorter than the life a lease must have left
// for this instance to own it (a heartbeat), so a lease cannot pass to
// another instance within it; the clock is monotonic, so a process paused
// meanwhile asks again when it resumes.
const fenceFor = 250 * time.Millisecond

// fence reports whether this instance may send through the number now (see
// fenced), asking the database at most once per fenceFor.
func (b *batch) fence(s *Service, numberID string) bool {
	if !b.fencedAt.IsZero() && time.Since(b.fencedAt) < fenceFor {
		_, ok := s.owner.Owns(numberID)
		return ok
	}
	if !s.fenced(numberID) {
		return false
	}
	if s.owner != nil {
		b.fencedAt = time.Now()
	}
	return true
}

func (b *batch) number(s *Service, id string) (*apiws.Number, error) {
	if b.n != nil {
		return b.n, nil
	}
	n, err := s.numbers.NumberByID(s.ctx, id)
	if err == nil {
		b.n = n
	}
	return n, err
}

func (b *batch) load(s *Service, items []*storage.OutboxItem) error {
	if b.messages != nil {
		return nil
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.MessageID
	}
	ms, err := s.db.MessagesByIDs(s.ctx, ids)
	if err != nil {
		return err
	}
	b.messages = make(map[string]*apiws.Message, len(ms))
	for _, m := range ms {
		b.messages[m.ID] = m
	}
	b.capture, b.until = s.capture(items[0].NumberID)
	return nil
}

// fenced reports whether this instance may send through the number now:
// it owns it, and the database agrees that its lease (and token) hold.
func (s *Service) fenced(numberID string) bool {
	if s.owner == nil {
		return true
	}
	token, ok := s.owner.Owns(numberID)
	if !ok {
		return false
	}
	held, err := s.owner.Fence(s.ctx, numberID, token)
	if err != nil {
		s.log.Warn("check number lease", "number", numberID, "err", err)
		return false
	}
	return held
}

// Release wakes the number's dispatcher, if one runs, and returns a
// channel closed once it has stopped: its sends under way ended and their
// acceptances recorded (closed at once when none runs). Call it once this
// instance no longer owns the number (its dispatcher starts no send after
// its next lease check), and let the lease go to another instance only
// once the channel is closed: that instance would otherwise find those
// messages still queued and send them again. Release does not wait: the
// lease manager calls it from its loop, which must go on renewing the
// other leases while a slow send (up to 60 s) ends.
func (s *Service) Release(numberID string) <-chan struct{} {
	s.mu.Lock()
	d := s.dispatchers[numberID]
	s.mu.Unlock()
	if d == nil {
		return stopped
	}
	select {
	case d.wake <- struct{}{}: // out of a wait, to find the lease gone
	default:
	}
	return d.done
}

// stopped is a closed channel: no dispatcher to wait for.
var stopped = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// sleep waits for d, or for a nudge of d when d is set; it reports false
// when the service is stopping.
func (s *Service) sleep(d *dispatcher, dur time.Duration) bool {
	t := time.NewTimer(dur)
	defer t.Stop()
	var wake chan struct{}
	if d != nil {
		wake = d.wake
	}
	select {
	case <-s.ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// prepare readies one item for sending. It reports false when the item
// stays queued and nothing behind it may be sent in this pass; a nil
// sendable when the item left the queue without a send (it failed, or an
// acceptance found unrecorded was recorded now).
func (s *Service) prepare(n *apiws.Number, item *storage.OutboxItem, b *batch) (*sendable, bool) {
	plain, err := s.seal.open(item.MessageID, item.Content)
	var body *content
	if err == nil {
		body, err = unmarshalContent(plain)
	}
	if err != nil {
		s.log.Error("outbox content unreadable", "message", item.MessageID, "err", err)
		s.fail(item, &apiws.MessageError{Code: apiws.MsgErrMediaInvalid, Message: "the queued content could not be read"})
		return nil, true
	}
	m := b.messages[item.MessageID]
	if m != nil {
		item.Then = ownReaction(n, m, body, s.now())
	}
	if s.wasAccepted(item.MessageID) {
		// Sent before, but the acceptance could not be recorded: record it
		// now, and never send the message again.
		return nil, s.recordSent(item, b.capture, b.until)
	}
	if m == nil {
		return nil, false
	}
	msg := whatsapp.OutgoingMessage{ID: *m.WAMessageID, To: m.Peer, ToLID: lidOf(m), Kind: body.Kind, Text: body.Text, Media: body.Media,
		Location: body.Location, Contacts: body.Contacts, Poll: body.Poll, ReplyTo: body.ReplyTo, Mentions: body.Mentions, Group: body.Group}
	return &sendable{item: item, msg: msg, chats: chatsOf(m, body)}, true
}

// launch starts sending q in a goroutine of its own, whose outcome comes
// back on f.done for the dispatcher to settle.
func (s *Service) launch(f *flight, n *apiws.Number, q *sendable) {
	f.take(q)
	conn := s.connectors(n)
	go func() {
		// Not cancelled when the service stops: Close waits for this send
		// (its dispatcher waits for every send it started), so its outcome
		// is recorded and a restart does not send it again.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 60*time.Second)
		defer cancel()
		ctx, span := s.tracer.Start(ctx, "whatsapp.send", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.String("apiws.message.id", q.item.MessageID), attribute.String("apiws.number.id", n.ID),
			attribute.String("apiws.message.kind", string(q.msg.Kind)), attribute.Bool("apiws.number.sandbox", n.Sandbox),
			attribute.Int("apiws.send.attempt", q.item.Attempts+1)))
		res, err := conn.Send(ctx, n, q.msg)
		endSpan(span, err)
		if err == nil {
			// Remembered at once: from here on the message is never sent
			// again by this process, recorded or not.
			s.setAccepted(q.item.MessageID, true)
		}
		f.done <- outcome{q: q, res: res, err: err}
	}()
}

// settleReady settles the sends that have ended, without waiting.
func (s *Service) settleReady(f *flight, b *batch) {
	for {
		select {
		case o := <-f.done:
			s.settle(f, b, o)
		default:
			return
		}
	}
}

// land waits for every send of f and settles it.
func (s *Service) land(f *flight, b *batch) {
	for !f.idle() {
		s.settle(f, b, <-f.done)
	}
}

// settle records the outcome of one send, on the dispatcher's goroutine
// (which alone touches b): an acceptance joins the batch's, a retryable
// failure is marked for retry and halts the pass, a permanent one ends the
// message FAILED.
func (s *Service) settle(f *flight, b *batch, o outcome) {
	f.release(o.q)
	item := o.q.item
	if o.err == nil {
		b.sent = append(b.sent, item)
		if len(o.res.Content) > 0 {
			b.retain = append(b.retain, &storage.Transit{MessageID: item.MessageID, NumberID: item.NumberID,
				WAMessageID: o.res.WAMessageID, Content: s.seal.seal(item.MessageID, o.res.Content), ExpiresAt: s.now().Add(s.cfg.TransitTTL)})
		}
		s.flushAhead(b, flushAheadAt)
		return
	}
	if s.ctx.Err() != nil {
		f.halted = true // stopping: the message stays queued for the next start
		return
	}
	var se *whatsapp.SendError
	merr := &apiws.MessageError{Code: "SEND_FAILED", Message: "sending failed", Retryable: true}
	if errors.As(o.err, &se) {
		merr = se.MessageError()
	}
	attempts := item.Attempts + 1
	if !merr.Retryable || attempts >= s.cfg.MaxAttempts {
		merr.Retryable = false
		s.fail(item, merr)
		return
	}
	// Still queued: nothing behind it may overtake it, so the pass starts
	// no more sends; the next one finds it at the head with its backoff.
	f.halted = true
	backoff := min(s.cfg.RetryBase<<(attempts-1), s.cfg.RetryMax)
	backoff += time.Duration(rand.Int64N(int64(backoff)/2 + 1)) // jitter spreads retries of many numbers
	if err := s.db.MarkRetry(s.ctx, item.MessageID, attempts, s.now().Add(backoff), merr); err != nil {
		s.log.Error("record retry", "message", item.MessageID, "err", err)
		f.retryWait = max(f.retryWait, backoff)
	}
}

// lidOf is the recipient's LID, for a message to a sender WhatsApp hid.
func lidOf(m *apiws.Message) string {
	if m.PeerLID == nil {
		return ""
	}
	return *m.PeerLID
}

// recordSent records an accepted message, retrying a failed write a few
// times; while it stays unrecorded the message is remembered as accepted,
// so it is recorded later and never sent twice.
func (s *Service) recordSent(item *storage.OutboxItem, capID string, until time.Time) bool {
	err := retry(s.ctx, recordAttempts, recordRetry, func() error {
		return s.journal.write(&journalReq{account: item.AccountID,
			sent: &storage.SentWrite{Items: []*storage.OutboxItem{item}, At: s.now(), CaptureID: capID, CaptureUntil: until}})
	})
	if err != nil {
		s.log.Error("record sent", "message", item.MessageID, "err", err)
		return false
	}
	s.setAccepted(item.MessageID, false)
	return true
}

// setAccepted remembers, in this process, messages WhatsApp accepted whose
// acceptance is not recorded yet.
func (s *Service) setAccepted(messageID string, accepted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if accepted {
		s.accepted[messageID] = true
	} else {
		delete(s.accepted, messageID)
	}
}

func (s *Service) wasAccepted(messageID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted[messageID]
}

// fail ends a message as FAILED.
func (s *Service) fail(item *storage.OutboxItem, merr *apiws.MessageError) {
	capID, until := s.capture(item.NumberID)
	evs, err := s.db.MarkFailed(context.WithoutCancel(s.ctx), item, merr, s.now(), capID, until)
	if err != nil {
		s.log.Error("record failure", "message", item.MessageID, "err", err)
		return
	}
	s.publish(evs...)
}

// capture returns the debug capture in force for the number, if any.
func (s *Service) capture(numberID string) (string, time.Time) {
	c, err := s.db.ActiveDebugCapture(s.ctx, numberID, s.now())
	if err != nil || c == nil {
		return "", time.Time{}
	}
	return c.ID, c.Until
}
