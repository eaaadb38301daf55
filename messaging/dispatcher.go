package messaging

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

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
}

// notConnectedWait is how long a dispatcher waits for its number to
// reconnect before looking again.
const notConnectedWait = time.Second

// Nudge tells the number's dispatcher there is work, starting it if needed.
// When another instance owns the number, the nudge goes to it over the bus
// (and its outbox scan finds the work even if the nudge is lost).
func (s *Service) Nudge(numberID string) {
	if !s.owns(numberID) {
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
	d := &dispatcher{numberID: numberID, wake: make(chan struct{}, 1)}
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
	var lastSend time.Time
	for {
		items, err := s.db.NextOutbox(s.ctx, d.numberID, 64)
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
		if len(items) == 0 {
			s.mu.Lock()
			if d.woken {
				d.woken = false
				s.mu.Unlock()
				continue
			}
			delete(s.dispatchers, d.numberID)
			s.mu.Unlock()
			return
		}
		for _, item := range items {
			// The queue is taken in order: the head waits out its backoff.
			if wait := item.NextAttemptAt.Sub(s.now()); wait > 0 {
				if !s.sleep(d, wait) {
					return
				}
				break // re-read: a nudge may have changed the head
			}
			if wait := interval - time.Since(lastSend); wait > 0 {
				if !s.sleep(nil, wait) {
					return
				}
			}
			if !s.fenced(d.numberID) {
				s.stopDispatcher(d)
				return
			}
			n, err := s.numbers.NumberByID(s.ctx, d.numberID)
			if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
				s.fail(item, &apiws.MessageError{Code: apiws.MsgErrNotConnected, Message: "the number was removed"})
				continue
			} else if err != nil {
				if !s.sleep(d, time.Second) {
					return
				}
				break
			}
			if n.Status != apiws.NumberConnected {
				if !s.sleep(d, notConnectedWait) {
					return
				}
				break
			}
			lastSend = time.Now()
			if !s.transmit(n, item) {
				break // still queued (retry later): nothing behind it may overtake it
			}
		}
	}
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

// stopDispatcher ends a dispatcher whose number is no longer this
// instance's to send through.
func (s *Service) stopDispatcher(d *dispatcher) {
	s.mu.Lock()
	if s.dispatchers[d.numberID] == d {
		delete(s.dispatchers, d.numberID)
	}
	s.mu.Unlock()
}

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

// transmit sends one message and records the outcome; it reports whether
// the message left the queue.
func (s *Service) transmit(n *apiws.Number, item *storage.OutboxItem) bool {
	plain, err := s.seal.open(item.MessageID, item.Content)
	var body *content
	if err == nil {
		body, err = unmarshalContent(plain)
	}
	if err != nil {
		s.log.Error("outbox content unreadable", "message", item.MessageID, "err", err)
		s.fail(item, &apiws.MessageError{Code: apiws.MsgErrMediaInvalid, Message: "the queued content could not be read"})
		return true
	}
	m, err := s.db.MessagesByIDs(s.ctx, []string{item.MessageID})
	if err != nil || len(m) == 0 {
		return false
	}
	msg := whatsapp.OutgoingMessage{ID: *m[0].WAMessageID, To: m[0].Peer, Kind: body.Kind, Text: body.Text, Media: body.Media}
	// Not cancelled when the service stops: Close waits for this send, so
	// its outcome is recorded and a restart does not send it again.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 60*time.Second)
	_, err = s.connectors(n).Send(ctx, n, msg)
	cancel()
	if err == nil {
		capID, until := s.capture(n.ID)
		evs, err := s.db.MarkSent(context.WithoutCancel(s.ctx), item, s.now(), capID, until)
		if err != nil {
			s.log.Error("record sent", "message", item.MessageID, "err", err)
			return false
		}
		s.publish(evs...)
		return true
	}
	if s.ctx.Err() != nil {
		return false // stopping: the message stays queued for the next start
	}
	var se *whatsapp.SendError
	merr := &apiws.MessageError{Code: "SEND_FAILED", Message: "sending failed", Retryable: true}
	if errors.As(err, &se) {
		merr = se.MessageError()
	}
	attempts := item.Attempts + 1
	if !merr.Retryable || attempts >= s.cfg.MaxAttempts {
		merr.Retryable = false
		s.fail(item, merr)
		return true
	}
	backoff := min(s.cfg.RetryBase<<(attempts-1), s.cfg.RetryMax)
	backoff += time.Duration(rand.Int64N(int64(backoff)/2 + 1)) // jitter spreads retries of many numbers
	if err := s.db.MarkRetry(s.ctx, item.MessageID, attempts, s.now().Add(backoff), merr); err != nil {
		s.log.Error("record retry", "message", item.MessageID, "err", err)
	}
	return false
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
