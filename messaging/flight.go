package messaging

import (
	"slices"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/whatsapp"
)

// sendable is a queued message ready to go to the connector.
type sendable struct {
	item *storage.OutboxItem
	msg  whatsapp.OutgoingMessage
	// chats name the chat the message goes to (its group, or its peer by
	// phone, and by LID too when it has one, so that either spelling of one
	// person matches); none when that cannot be told (a peer known by its
	// LID alone), and then the message is sent alone.
	chats []string
}

// outcome is how one send ended, reported by its goroutine.
type outcome struct {
	q   *sendable
	res whatsapp.SendResult
	err error
}

// flight is the sends of one dispatcher pass: those under way, at most
// limit and never two of one chat, and those held back because an earlier
// message of their chat is under way or held itself. A message therefore
// never overtakes an earlier one of its chat, while messages of other
// chats go past it. Only the dispatcher's goroutine uses a flight; the
// sends report on done, which has room for all of them, so a send never
// waits for the dispatcher.
type flight struct {
	limit   int
	running int
	busy    map[string]bool // chats with a send under way (anyChat: one of unknown chat)
	held    []*sendable     // in queue order
	done    chan outcome
	// halted: a send failed and its message stays queued (or the service
	// is stopping); the pass starts nothing more.
	halted bool
	// retryWait is the longest backoff of a retry that could not be
	// recorded: the pass waits it out before the queue is read again.
	retryWait time.Duration
}

// anyChat stands for a message whose chat is not known: it conflicts with
// every other.
const anyChat = "*"

func newFlight(limit int) *flight {
	limit = max(limit, 1)
	return &flight{limit: limit, busy: map[string]bool{}, done: make(chan outcome, limit)}
}

func (f *flight) full() bool { return f.running >= f.limit }
func (f *flight) idle() bool { return f.running == 0 }

// admit reports whether q, the next message of the queue, may start now;
// if not, it is held until its chat is free.
func (f *flight) admit(q *sendable) bool {
	claimed := map[string]bool{}
	for _, h := range f.held {
		claim(claimed, h)
	}
	if f.blocked(q, claimed) {
		f.held = append(f.held, q)
		return false
	}
	return true
}

// startable takes the first held message that may start now, if any.
func (f *flight) startable() *sendable {
	claimed := map[string]bool{}
	for i, q := range f.held {
		if !f.blocked(q, claimed) {
			f.held = slices.Delete(f.held, i, i+1)
			return q
		}
		claim(claimed, q)
	}
	return nil
}

// blocked reports whether q must wait: a send of its chat is under way,
// or an earlier message of its chat (claimed) waits before it.
func (f *flight) blocked(q *sendable, claimed map[string]bool) bool {
	if f.busy[anyChat] || claimed[anyChat] {
		return true
	}
	if len(q.chats) == 0 {
		return f.running > 0 || len(claimed) > 0
	}
	for _, c := range q.chats {
		if f.busy[c] || claimed[c] {
			return true
		}
	}
	return false
}

func claim(claimed map[string]bool, q *sendable) {
	if len(q.chats) == 0 {
		claimed[anyChat] = true
	}
	for _, c := range q.chats {
		claimed[c] = true
	}
}

// take counts q as under way.
func (f *flight) take(q *sendable) {
	f.running++
	claim(f.busy, q)
}

// release counts q's send as ended.
func (f *flight) release(q *sendable) {
	f.running--
	if len(q.chats) == 0 {
		delete(f.busy, anyChat)
	}
	for _, c := range q.chats {
		delete(f.busy, c)
	}
}

// chatsOf names the chat of m, whose content is body (see sendable.chats).
func chatsOf(m *apiws.Message, body *content) []string {
	var chats []string
	if body.Group != "" {
		chats = append(chats, "group:"+body.Group)
	}
	if m.GroupID != nil {
		chats = append(chats, "group:"+*m.GroupID)
	}
	if len(chats) > 0 {
		return chats
	}
	if m.Peer == "" {
		// Known by its LID alone: the same person may be queued by phone
		// too, which cannot be told here; such a message goes alone.
		return nil
	}
	chats = append(chats, "phone:"+m.Peer)
	if lid := lidOf(m); lid != "" {
		chats = append(chats, "lid:"+lid)
	}
	return chats
}
