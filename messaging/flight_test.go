package messaging

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/internal/poll"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/whatsapp"
)

// gatedConnector holds each send (by its text) until the test releases
// it, and records what was under way at once.
type gatedConnector struct {
	whatsapp.Connector
	mu       sync.Mutex
	gates    map[string]chan struct{} // by text
	open     bool                     // every send goes through at once
	failOnce map[string]bool          // texts whose first send fails, retryably
	chats    map[string]int           // sends under way by chat
	running  int
	most     int      // the most sends under way at once
	started  []string // texts, in the order their sends began
	accepted []string // texts whose sends succeeded
	ended    int      // sends that returned
	overlaps []string // a chat's second send while one was under way
}

func newGatedConnector(failOnce ...string) *gatedConnector {
	c := &gatedConnector{gates: map[string]chan struct{}{}, failOnce: map[string]bool{}, chats: map[string]int{}}
	for _, text := range failOnce {
		c.failOnce[text] = true
	}
	return c
}

// gate returns the gate of text. c.mu must be held.
func (c *gatedConnector) gate(text string) chan struct{} {
	g, ok := c.gates[text]
	if !ok {
		g = make(chan struct{})
		if c.open {
			close(g)
		}
		c.gates[text] = g
	}
	return g
}

func (c *gatedConnector) Send(ctx context.Context, n *apiws.Number, msg whatsapp.OutgoingMessage) (whatsapp.SendResult, error) {
	chat := msg.To + msg.ToLID + msg.Group
	c.mu.Lock()
	c.chats[chat]++
	if c.chats[chat] > 1 {
		c.overlaps = append(c.overlaps, msg.Text)
	}
	c.running++
	c.most = max(c.most, c.running)
	c.started = append(c.started, msg.Text)
	g := c.gate(msg.Text)
	c.mu.Unlock()

	<-g

	c.mu.Lock()
	defer c.mu.Unlock()
	c.chats[chat]--
	c.running--
	c.ended++
	if c.failOnce[msg.Text] {
		delete(c.failOnce, msg.Text)
		return whatsapp.SendResult{}, &whatsapp.SendError{Code: whatsapp.CodeTimeout, Message: "timed out", Retryable: true}
	}
	c.accepted = append(c.accepted, msg.Text)
	return whatsapp.SendResult{WAMessageID: msg.ID, At: time.Now()}, nil
}

// release lets the sends of these texts go (now or when they come).
func (c *gatedConnector) release(texts ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, text := range texts {
		close(c.gate(text))
	}
}

// releaseAll lets every send go, now and from now on.
func (c *gatedConnector) releaseAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open = true
	for _, g := range c.gates {
		select {
		case <-g:
		default:
			close(g)
		}
	}
}

// state returns a copy of what the connector recorded.
func (c *gatedConnector) state() (started, accepted, overlaps []string, running, most, ended int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.started), slices.Clone(c.accepted), slices.Clone(c.overlaps), c.running, c.most, c.ended
}

// queue sends one message per text, to the phone paired with it, in one
// request, so the number's dispatcher finds them all queued in this order.
func queue(t *testing.T, s *Service, caller context.Context, numberID string, msgs [][2]string) {
	t.Helper()
	ins := make([]apiws.SendMessage, len(msgs))
	for i, m := range msgs {
		ins[i] = apiws.SendMessage{NumberID: numberID, To: ptr(m[0]), Text: ptr(m[1])}
	}
	rs, err := s.SendMany(caller, ins)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if r.Err != nil {
			t.Fatalf("input %d: %v", i, r.Err)
		}
	}
}

// statusCount counts the messages in status.
func statusCount(t *testing.T, db *storage.DB, status apiws.MessageStatus) int {
	t.Helper()
	k, err := db.Bun.NewSelect().Model((*apiws.Message)(nil)).Where("status = ?", status).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(k)
}

// Phones of distinct chats.
const (
	chatA = "+15550100701"
	chatB = "+15550100702"
	chatC = "+15550100703"
	chatD = "+15550100704"
	chatE = "+15550100705"
	chatF = "+15550100706"
)

// TestSendsOfOneNumberOverlap: messages of one number to different chats
// are sent at once, up to SendsInFlight, and each is sent and recorded
// once.
func TestSendsOfOneNumberOverlap(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		conn := newGatedConnector()
		s, n, caller := newSendingService(t, db, Config{SendsPerSecond: 1e6, SendsInFlight: 3}, conn)
		t.Cleanup(conn.releaseAll) // before the service stops: it waits for its sends
		queue(t, s, caller, n.ID, [][2]string{{chatA, "a"}, {chatB, "b"}, {chatC, "c"}, {chatD, "d"}, {chatE, "e"}})
		poll.Until(t, 10*time.Second, "3 sends under way", func() bool {
			_, _, _, running, _, _ := conn.state()
			return running == 3
		})
		conn.releaseAll()
		poll.Until(t, 10*time.Second, "5 messages SENT", func() bool { return statusCount(t, db, apiws.StatusSent) == 5 })
		started, accepted, overlaps, _, most, _ := conn.state()
		if most != 3 || len(overlaps) > 0 {
			t.Errorf("at most %d sends at once (overlapping in a chat: %v); want 3 and none", most, overlaps)
		}
		slices.Sort(started)
		slices.Sort(accepted)
		if want := []string{"a", "b", "c", "d", "e"}; !slices.Equal(started, want) || !slices.Equal(accepted, want) {
			t.Errorf("started %v, accepted %v; want each of %v once", started, accepted, want)
		}
	})
}

// TestOneChatOneSendAtATime: a message waits while an earlier one of its
// chat is being sent, and the messages of other chats go past it; a
// chat's messages are sent in the order they were queued.
func TestOneChatOneSendAtATime(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		conn := newGatedConnector()
		s, n, caller := newSendingService(t, db, Config{SendsPerSecond: 1e6}, conn)
		t.Cleanup(conn.releaseAll) // before the service stops: it waits for its sends
		queue(t, s, caller, n.ID, [][2]string{
			{chatA, "a1"}, {chatA, "a2"}, {chatB, "b1"}, {chatA, "a3"}, {chatC, "c1"}, {chatB, "b2"}, {chatD, "d1"},
		})
		// Each chat's first message is under way; a2, a3 and b2 wait.
		want := []string{"a1", "b1", "c1", "d1"}
		poll.Until(t, 10*time.Second, fmt.Sprintf("%v under way", want), func() bool {
			started, _, _, _, _, _ := conn.state()
			slices.Sort(started)
			return slices.Equal(started, want)
		})
		// Let the chats go one send at a time, out of their order across
		// chats.
		steps := []struct{ release, next string }{{"b1", "b2"}, {"a1", "a2"}, {"a2", "a3"}}
		for i, st := range steps {
			conn.release(st.release)
			poll.Until(t, 10*time.Second, st.next+" started after "+st.release, func() bool {
				started, _, _, _, _, ended := conn.state()
				return ended == i+1 && slices.Contains(started, st.next)
			})
			if started, _, _, running, _, _ := conn.state(); running != len(want) {
				t.Fatalf("after %s: %d sends under way (started %v); want %d", st.release, running, started, len(want))
			}
		}
		conn.releaseAll()
		poll.Until(t, 10*time.Second, "7 messages SENT", func() bool { return statusCount(t, db, apiws.StatusSent) == 7 })
		started, accepted, overlaps, _, _, _ := conn.state()
		if len(overlaps) > 0 {
			t.Errorf("sent while another of their chat was under way: %v", overlaps)
		}
		for _, chat := range [][]string{{"a1", "a2", "a3"}, {"b1", "b2"}} {
			var got []string
			for _, text := range started {
				if slices.Contains(chat, text) {
					got = append(got, text)
				}
			}
			if !slices.Equal(got, chat) {
				t.Errorf("a chat's sends began in the order %v; want %v", got, chat)
			}
		}
		if len(accepted) != 7 {
			t.Errorf("accepted %v; want 7 sends", accepted)
		}
	})
}

// TestRetryableFailureAmongParallelSends: when one of the sends under way
// fails retryably, the pass starts no more, records the others, and the
// failed message is retried after its backoff; nothing is lost or sent
// twice.
func TestRetryableFailureAmongParallelSends(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		conn := newGatedConnector("b")
		s, n, caller := newSendingService(t, db, Config{SendsPerSecond: 1e6, SendsInFlight: 3, RetryBase: 50 * time.Millisecond}, conn)
		t.Cleanup(conn.releaseAll) // before the service stops: it waits for its sends
		queue(t, s, caller, n.ID, [][2]string{{chatA, "a"}, {chatB, "b"}, {chatC, "c"}, {chatD, "d"}, {chatE, "e"}, {chatF, "f"}})
		poll.Until(t, 10*time.Second, "a, b and c under way", func() bool {
			_, _, _, running, _, _ := conn.state()
			return running == 3
		})
		conn.release("b")
		poll.Until(t, 10*time.Second, "b's retry recorded", func() bool {
			var attempts int
			err := db.Bun.NewSelect().Model((*storage.OutboxItem)(nil)).Column("attempts").
				Join("JOIN messages AS m ON m.id = outbox_item.message_id").Where("m.peer = ?", chatB).Scan(context.Background(), &attempts)
			if err != nil {
				t.Fatal(err)
			}
			return attempts == 1
		})
		// A slot is free, but a message is back in the queue ahead of d:
		// the pass starts nothing more.
		if started, _, _, _, _, _ := conn.state(); slices.Contains(started, "d") {
			t.Fatalf("started %v after b failed; want nothing more in that pass", started)
		}
		conn.releaseAll()
		poll.Until(t, 10*time.Second, "6 messages SENT", func() bool { return statusCount(t, db, apiws.StatusSent) == 6 })
		started, accepted, overlaps, _, _, _ := conn.state()
		slices.Sort(started)
		slices.Sort(accepted)
		if want := []string{"a", "b", "b", "c", "d", "e", "f"}; !slices.Equal(started, want) || len(overlaps) > 0 {
			t.Errorf("started %v (overlapping %v); want %v", started, overlaps, want)
		}
		if want := []string{"a", "b", "c", "d", "e", "f"}; !slices.Equal(accepted, want) {
			t.Errorf("accepted %v; want %v", accepted, want)
		}
		if k := statusCount(t, db, apiws.StatusFailed); k != 0 {
			t.Errorf("%d messages FAILED; want none", k)
		}
	})
}

// TestStopWaitsForSendsUnderWay: a service stopping while sends are under
// way waits for them and records them SENT, so none is sent again.
func TestStopWaitsForSendsUnderWay(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		conn := newGatedConnector()
		s, n, caller := newSendingService(t, db, Config{SendsPerSecond: 1e6}, conn)
		t.Cleanup(conn.releaseAll) // before the service stops: it waits for its sends
		queue(t, s, caller, n.ID, [][2]string{{chatA, "a"}, {chatB, "b"}, {chatC, "c"}})
		poll.Until(t, 10*time.Second, "3 sends under way", func() bool {
			_, _, _, running, _, _ := conn.state()
			return running == 3
		})
		closed := make(chan struct{})
		go func() { s.close(); close(closed) }()
		conn.releaseAll()
		<-closed
		if k := statusCount(t, db, apiws.StatusSent); k != 3 {
			t.Errorf("%d messages SENT once stopped; want 3", k)
		}
		if k, err := db.Bun.NewSelect().Model((*storage.OutboxItem)(nil)).Count(context.Background()); err != nil || k != 0 {
			t.Errorf("%d messages left queued (%v); want none", k, err)
		}
	})
}

// TestLongQueueSentOnce: a queue longer than a pass, its acceptances
// written while the sending goes on, is sent and recorded once each.
func TestLongQueueSentOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		conn := newGatedConnector()
		conn.releaseAll()
		s, n, caller := newSendingService(t, db, Config{SendsPerSecond: 1e6}, conn)
		const total = passSize + 3*flushAheadAt
		var want []string
		for i := 0; i < total; i += apiws.MaxSendMany {
			var msgs [][2]string
			for j := i; j < min(i+apiws.MaxSendMany, total); j++ {
				text := fmt.Sprintf("m%03d", j)
				msgs = append(msgs, [2]string{fmt.Sprintf("+1555011%04d", j), text})
				want = append(want, text)
			}
			queue(t, s, caller, n.ID, msgs)
		}
		poll.Until(t, 30*time.Second, fmt.Sprintf("%d messages SENT", total), func() bool { return statusCount(t, db, apiws.StatusSent) == total })
		_, accepted, _, _, _, _ := conn.state()
		slices.Sort(accepted)
		if !slices.Equal(accepted, want) {
			t.Errorf("%d sends accepted; want each of the %d messages once", len(accepted), total)
		}
		poll.Until(t, 10*time.Second, "no acceptance left unrecorded", func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return len(s.accepted) == 0
		})
	})
}

// TestReleaseWaitsForSendsUnderWay: Release returns at once, with a
// channel closed only once the number's send under way has ended and its
// acceptance is recorded, so the lease can go to another instance then
// without its message still queued there.
func TestReleaseWaitsForSendsUnderWay(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		conn := newGatedConnector()
		s, n, caller := newSendingService(t, db, Config{SendsPerSecond: 1e6, SendsInFlight: 2}, conn)
		t.Cleanup(conn.releaseAll)
		queue(t, s, caller, n.ID, [][2]string{{chatA, "a"}})
		poll.Until(t, 10*time.Second, "the send under way", func() bool {
			started, _, _, _, _, _ := conn.state()
			return len(started) == 1
		})
		released := s.Release(n.ID)
		select {
		case <-released:
			t.Fatal("released with a send under way")
		default:
		}
		conn.release("a")
		select {
		case <-released:
		case <-time.After(10 * time.Second):
			t.Fatal("not released within 10s of the send's end")
		}
		if got := statusCount(t, db, apiws.StatusSent); got != 1 {
			t.Fatalf("released with %d messages SENT; want 1", got)
		}
		select {
		case <-s.Release(n.ID):
		default:
			t.Fatal("a number without a dispatcher is not released at once")
		}
	})
}

// A message's chat is its group, or its peer by phone (and LID); a peer
// known by its LID alone cannot be told from one queued by phone, and its
// message goes alone.
func TestChatsOf(t *testing.T) {
	lid, group := "1234@lid", "grp_1"
	for _, c := range []struct {
		m    apiws.Message
		body content
		want []string
	}{
		{apiws.Message{Peer: chatA}, content{}, []string{"phone:" + chatA}},
		{apiws.Message{Peer: chatA, PeerLID: &lid}, content{}, []string{"phone:" + chatA, "lid:" + lid}},
		{apiws.Message{PeerLID: &lid}, content{}, nil},
		{apiws.Message{Peer: chatA, GroupID: &group}, content{}, []string{"group:" + group}},
	} {
		if got := chatsOf(&c.m, &c.body); !slices.Equal(got, c.want) {
			t.Errorf("%+v: chats %v, want %v", c.m, got, c.want)
		}
	}
}
