package messaging

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/eventlog"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/internal/poll"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/whatsapp"
)

// actingConnector accepts every send, edit and revoke, and records them.
type actingConnector struct {
	whatsapp.Connector
	mu      sync.Mutex
	sends   []whatsapp.OutgoingMessage
	edits   []string // id=text
	revokes []whatsapp.MessageRef
}

func (c *actingConnector) Send(ctx context.Context, n *apiws.Number, msg whatsapp.OutgoingMessage) (whatsapp.SendResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sends = append(c.sends, msg)
	return whatsapp.SendResult{WAMessageID: msg.ID, At: time.Now()}, nil
}

func (c *actingConnector) Edit(ctx context.Context, n *apiws.Number, m whatsapp.MessageRef, text string) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.edits = append(c.edits, m.ID+"@"+m.Chat+"="+text)
	return time.Now(), nil
}

func (c *actingConnector) Revoke(ctx context.Context, n *apiws.Number, m whatsapp.MessageRef) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revokes = append(c.revokes, m)
	return time.Now(), nil
}

// acts counts what the connector was asked to do.
func (c *actingConnector) acts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sends) + len(c.edits) + len(c.revokes)
}

// actionTest is a service on one dialect with one connected number of one
// account, and another account.
type actionTest struct {
	t      *testing.T
	db     *storage.DB
	s      *Service
	conn   *actingConnector
	n      *apiws.Number
	caller context.Context
	other  string // another account
}

func newActionTest(t *testing.T, db *storage.DB) *actionTest {
	conn := &actingConnector{}
	s, n, caller := newSendingService(t, db, Config{SendsPerSecond: 1000}, conn)
	return &actionTest{t: t, db: db, s: s, conn: conn, n: n, caller: caller, other: storagetest.Account(t, db)}
}

// newSendingService starts a service of cfg (its secret key and transit
// TTL filled in) sending through conn, with one connected number of a new
// account, and returns it with the number and a context of the account's
// caller allowed to send.
func newSendingService(t *testing.T, db *storage.DB, cfg Config, conn whatsapp.Connector) (*Service, *apiws.Number, context.Context) {
	t.Helper()
	ctx := context.Background()
	acc := storagetest.Account(t, db)
	now := time.Now().UTC()
	phone := "+15550100123"
	n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: acc, Status: apiws.NumberConnected, Phone: &phone, CreatedAt: now}
	if err := db.CreateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	bus := events.NewMemory(events.Options{})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	evlog, err := eventlog.New(db, bus, make([]byte, 32), time.Hour, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(evlog.Close)
	cfg.SecretKey, cfg.TransitTTL = make([]byte, 32), time.Hour
	s, err := New(cfg, Deps{DB: db, Bus: bus, Events: evlog, Numbers: db,
		Connectors: func(*apiws.Number) whatsapp.Connector { return conn }, Log: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.close(); _ = bus.Close() })
	caller := apiws.WithCaller(ctx, &apiws.Caller{Kind: apiws.CredentialSession, AccountID: acc, Scopes: []apiws.Scope{apiws.ScopeSend}})
	return s, n, caller
}

// stored writes a message of the number (of account acc when given), as
// the send or receive flows would have left it.
func (a *actionTest) stored(dir apiws.Direction, kind apiws.MessageKind, status apiws.MessageStatus, sentAgo time.Duration, acc ...string) *apiws.Message {
	a.t.Helper()
	now := time.Now().UTC()
	waID := whatsapp.NewMessageID()
	lid := "100015550100002"
	m := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: a.n.AccountID, NumberID: a.n.ID, Direction: dir, Peer: "+15550100002", PeerLID: &lid,
		Kind: kind, Status: status, WAMessageID: &waID, QueuedAt: &now}
	if len(acc) > 0 {
		m.AccountID = acc[0]
	}
	at := now.Add(-sentAgo)
	switch {
	case dir == apiws.Inbound:
		m.QueuedAt, m.ReceivedAt = nil, &at
	case status == apiws.StatusFailed:
		m.FailedAt = &at
	case status != apiws.StatusQueued:
		m.SentAt = &at
	}
	if _, err := a.db.Bun.NewInsert().Model(m).Exec(context.Background()); err != nil {
		a.t.Fatal(err)
	}
	return m
}

// count counts rows of a table.
func (a *actionTest) count(table string) int {
	a.t.Helper()
	var k int
	if err := a.db.SQL().QueryRow("SELECT count(*) FROM " + table).Scan(&k); err != nil {
		a.t.Fatal(err)
	}
	return k
}

// logged returns the account's events of type t.
func (a *actionTest) logged(t apiws.EventType) []*apiws.LogEvent {
	a.t.Helper()
	evs, err := a.db.EventsAfter(context.Background(), a.n.AccountID, 0, "", 1000)
	if err != nil {
		a.t.Fatal(err)
	}
	var out []*apiws.LogEvent
	for _, ev := range evs {
		if ev.Type == t {
			out = append(out, ev)
		}
	}
	return out
}

// fieldErr renders err as code@field, "" for nil; any other error fails.
func fieldErr(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	e, ok := err.(*apiws.Error)
	if !ok {
		t.Fatalf("error %v is not an apiws.Error", err)
	}
	return string(e.Code) + "@" + strings.Join(e.Field, ".")
}

func TestValidEmoji(t *testing.T) {
	for _, e := range []string{"", "👍", "❤️", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "a"} {
		if err := validEmoji(e); err != nil {
			t.Errorf("validEmoji(%q) = %v; want accepted", e, err)
		}
	}
	for _, e := range []string{"👍👍", "ab", " ", "\n", "👍 ", "a" + strings.Repeat("\u0301", 40), "\xff"} {
		if got := fieldErr(t, validEmoji(e)); got != "INVALID@input.emoji" {
			t.Errorf("validEmoji(%q) = %s; want INVALID@input.emoji", e, got)
		}
	}
}

// TestReactRefusesBadInput: each bad reaction is a userError at its field,
// and nothing is queued or transmitted.
func TestReactRefusesBadInput(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		a := newActionTest(t, db)
		target := a.stored(apiws.Inbound, apiws.KindText, apiws.StatusReceived, 0)
		queued := a.stored(apiws.Outbound, apiws.KindText, apiws.StatusQueued, 0)
		failed := a.stored(apiws.Outbound, apiws.KindText, apiws.StatusFailed, 0)
		reaction := a.stored(apiws.Outbound, apiws.KindReaction, apiws.StatusSent, 0)
		others := a.stored(apiws.Inbound, apiws.KindText, apiws.StatusReceived, 0, a.other)
		outbox, messages := a.count("outbox"), a.count("messages")
		tests := []struct {
			name string
			in   apiws.React
			want string
		}{
			{"two emoji", apiws.React{MessageID: target.ID, Emoji: "👍👍"}, "INVALID@input.emoji"},
			{"a word", apiws.React{MessageID: target.ID, Emoji: "ok"}, "INVALID@input.emoji"},
			{"an empty key", apiws.React{MessageID: target.ID, Emoji: "👍", IdempotencyKey: ptr("")}, "INVALID@input.idempotencyKey"},
			{"another account's message", apiws.React{MessageID: others.ID, Emoji: "👍"}, "NOT_FOUND@input.messageId"},
			{"no such message", apiws.React{MessageID: "msg_nothing", Emoji: "👍"}, "NOT_FOUND@input.messageId"},
			{"a queued message", apiws.React{MessageID: queued.ID, Emoji: "👍"}, "INVALID@input.messageId"},
			{"a failed message", apiws.React{MessageID: failed.ID, Emoji: "👍"}, "INVALID@input.messageId"},
			{"a reaction", apiws.React{MessageID: reaction.ID, Emoji: "👍"}, "INVALID@input.messageId"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				m, err := a.s.React(a.caller, tt.in)
				if got := fieldErr(t, err); got != tt.want || m != nil {
					t.Errorf("React = %v, %s; want %s", m, got, tt.want)
				}
			})
		}
		if a.count("outbox") != outbox || a.count("messages") != messages || a.conn.acts() != 0 {
			t.Errorf("something was queued or sent: outbox %d→%d, messages %d→%d, %d transmissions",
				outbox, a.count("outbox"), messages, a.count("messages"), a.conn.acts())
		}
	})
}

// TestReactQueuesAReaction: a reaction is an outbound REACTION message to
// the target's chat quoting it, sent through the outbox; its REACTION
// event (from the number's own phone, the emoji in transit) is logged
// with its SENT. Its idempotency key works as a send's.
func TestReactQueuesAReaction(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		a := newActionTest(t, db)
		target := a.stored(apiws.Inbound, apiws.KindText, apiws.StatusReceived, time.Hour)
		m, err := a.s.React(a.caller, apiws.React{MessageID: target.ID, Emoji: "👍🏽", IdempotencyKey: ptr("r1")})
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind != apiws.KindReaction || m.Direction != apiws.Outbound || m.Status != apiws.StatusQueued || m.Peer != target.Peer ||
			m.ReplyTo == nil || *m.ReplyTo != target.ID || m.NumberID != a.n.ID {
			t.Fatalf("reaction message %+v", m)
		}
		if again, err := a.s.React(a.caller, apiws.React{MessageID: target.ID, Emoji: "👍🏽", IdempotencyKey: ptr("r1")}); err != nil || again.ID != m.ID {
			t.Errorf("the same key again = %v, %v; want the first reaction", again, err)
		}
		if _, err := a.s.React(a.caller, apiws.React{MessageID: target.ID, Emoji: "❤️", IdempotencyKey: ptr("r1")}); fieldErr(t, err) != "CONFLICT@input.idempotencyKey" {
			t.Errorf("the key with another emoji = %v; want CONFLICT", err)
		}
		poll.Until(t, 10*time.Second, "a REACTION event", func() bool { return len(a.logged(apiws.EventTypeReaction)) > 0 })
		got, err := db.Message(context.Background(), a.n.AccountID, m.ID)
		if err != nil || got.Status != apiws.StatusSent {
			t.Fatalf("the reaction is %v (%v); want SENT", got, err)
		}
		a.conn.mu.Lock()
		sent := a.conn.sends
		a.conn.mu.Unlock()
		if len(sent) != 1 || sent[0].Kind != apiws.KindReaction || sent[0].Text != "👍🏽" || sent[0].To != target.Peer ||
			sent[0].ReplyTo == nil || sent[0].ReplyTo.ID != *target.WAMessageID || sent[0].ReplyTo.FromMe {
			t.Errorf("transmitted %+v; want one reaction to the target", sent)
		}
		ev := a.logged(apiws.EventTypeReaction)[0]
		var sentEv *apiws.LogEvent
		for _, e := range a.logged(apiws.EventTypeMessageStatus) {
			if e.MessageID == m.ID && e.Status == apiws.StatusSent {
				sentEv = e
			}
		}
		if sentEv == nil || ev.Seq != sentEv.Seq+1 {
			t.Errorf("REACTION at cursor %d, SENT at %v: want right after, in its transaction", ev.Seq, sentEv)
		}
		if ev.MessageID != target.ID || ev.Detail == nil || ev.Detail.Peer == nil || ev.Detail.Peer.Phone == nil || *ev.Detail.Peer.Phone != *a.n.Phone {
			t.Errorf("REACTION event %+v; want about the target, from the number's phone", ev)
		}
		held, err := db.TransitContents(context.Background(), a.n.AccountID, []int64{ev.Seq}, time.Now())
		if err != nil || len(held[ev.Seq].Content) == 0 {
			t.Errorf("the emoji is not in transit: %v, %v", held, err)
		}
	})
}

// TestEditRules: only a sent outbound TEXT message of the account, within
// EditWindow, with 1 to 4096 characters; a refused edit changes nothing and
// reaches no connector. An edit sets editedAt and logs MESSAGE_EDITED with
// the text in transit.
func TestEditRules(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		a := newActionTest(t, db)
		sent := a.stored(apiws.Outbound, apiws.KindText, apiws.StatusRead, 14*time.Minute)
		tests := []struct {
			name string
			in   apiws.EditMessage
			want string
		}{
			{"empty text", apiws.EditMessage{MessageID: sent.ID, Text: ""}, "INVALID@input.text"},
			{"blank text", apiws.EditMessage{MessageID: sent.ID, Text: "  "}, "INVALID@input.text"},
			{"text too long", apiws.EditMessage{MessageID: sent.ID, Text: strings.Repeat("é", MaxTextLength+1)}, "INVALID@input.text"},
			{"an inbound message", apiws.EditMessage{MessageID: a.stored(apiws.Inbound, apiws.KindText, apiws.StatusReceived, 0).ID, Text: "x"}, "INVALID@input.messageId"},
			{"media", apiws.EditMessage{MessageID: a.stored(apiws.Outbound, apiws.KindImage, apiws.StatusSent, 0).ID, Text: "x"}, "INVALID@input.messageId"},
			{"a queued message", apiws.EditMessage{MessageID: a.stored(apiws.Outbound, apiws.KindText, apiws.StatusQueued, 0).ID, Text: "x"}, "INVALID@input.messageId"},
			{"a failed message", apiws.EditMessage{MessageID: a.stored(apiws.Outbound, apiws.KindText, apiws.StatusFailed, 0).ID, Text: "x"}, "INVALID@input.messageId"},
			{"another account's", apiws.EditMessage{MessageID: a.stored(apiws.Outbound, apiws.KindText, apiws.StatusSent, 0, a.other).ID, Text: "x"}, "NOT_FOUND@input.messageId"},
			{"sent 15 minutes and a second ago", apiws.EditMessage{MessageID: a.stored(apiws.Outbound, apiws.KindText, apiws.StatusSent, apiws.EditWindow+time.Second).ID, Text: "x"}, "EXPIRED@input.messageId"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				m, err := a.s.Edit(a.caller, tt.in)
				if got := fieldErr(t, err); got != tt.want || m != nil {
					t.Errorf("Edit = %v, %s; want %s", m, got, tt.want)
				}
			})
		}
		if a.conn.acts() != 0 || len(a.logged(apiws.EventTypeMessageEdited)) != 0 {
			t.Fatalf("a refused edit reached the connector (%d) or the log", a.conn.acts())
		}

		// The clock moves: 14 minutes ago is in time, until a minute and
		// a second later.
		real := a.s.now
		a.s.now = func() time.Time { return real().Add(time.Minute + time.Second) }
		if _, err := a.s.Edit(a.caller, apiws.EditMessage{MessageID: sent.ID, Text: "late"}); fieldErr(t, err) != "EXPIRED@input.messageId" {
			t.Errorf("edit after the window = %v; want EXPIRED", err)
		}
		a.s.now = real
		m, err := a.s.Edit(a.caller, apiws.EditMessage{MessageID: sent.ID, Text: "fixed"})
		if err != nil {
			t.Fatal(err)
		}
		if m.EditedAt == nil {
			t.Error("editedAt not set on the answer")
		}
		if got, _ := db.Message(context.Background(), a.n.AccountID, sent.ID); got.EditedAt == nil {
			t.Error("edited_at not stored")
		}
		if len(a.conn.edits) != 1 || a.conn.edits[0] != *sent.WAMessageID+"@"+sent.Peer+"=fixed" {
			t.Errorf("connector edits %v", a.conn.edits)
		}
		evs := a.logged(apiws.EventTypeMessageEdited)
		if len(evs) != 1 || evs[0].MessageID != sent.ID {
			t.Fatalf("MESSAGE_EDITED events %v", evs)
		}
		if held, _ := db.TransitContents(context.Background(), a.n.AccountID, []int64{evs[0].Seq}, time.Now()); len(held) != 1 {
			t.Error("the new text is not in transit")
		}
	})
}

// TestRevokeRules: only a sent outbound message of the account, within
// RevokeWindow; a second revoke answers the message as it is.
func TestRevokeRules(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		a := newActionTest(t, db)
		tests := []struct {
			name string
			m    *apiws.Message
			want string
		}{
			{"an inbound message", a.stored(apiws.Inbound, apiws.KindText, apiws.StatusReceived, 0), "INVALID@messageId"},
			{"a queued message", a.stored(apiws.Outbound, apiws.KindText, apiws.StatusQueued, 0), "INVALID@messageId"},
			{"a failed message", a.stored(apiws.Outbound, apiws.KindImage, apiws.StatusFailed, 0), "INVALID@messageId"},
			{"another account's", a.stored(apiws.Outbound, apiws.KindText, apiws.StatusSent, 0, a.other), "NOT_FOUND@messageId"},
			{"sent 48 hours and a second ago", a.stored(apiws.Outbound, apiws.KindText, apiws.StatusSent, apiws.RevokeWindow+time.Second), "EXPIRED@messageId"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				m, err := a.s.Revoke(a.caller, tt.m.ID)
				if got := fieldErr(t, err); got != tt.want || m != nil {
					t.Errorf("Revoke = %v, %s; want %s", m, got, tt.want)
				}
			})
		}
		if a.conn.acts() != 0 || len(a.logged(apiws.EventTypeMessageRevoked)) != 0 {
			t.Fatal("a refused revoke reached the connector or the log")
		}
		media := a.stored(apiws.Outbound, apiws.KindImage, apiws.StatusDelivered, apiws.RevokeWindow-time.Minute)
		m, err := a.s.Revoke(a.caller, media.ID)
		if err != nil || m.RevokedAt == nil {
			t.Fatalf("Revoke = %v, %v", m, err)
		}
		// Revoked already: as it is, not again; even past the window.
		a.s.now = func() time.Time { return time.Now().UTC().Add(time.Hour) }
		again, err := a.s.Revoke(a.caller, media.ID)
		if err != nil || again.RevokedAt == nil || !again.RevokedAt.Equal(*m.RevokedAt) {
			t.Errorf("second Revoke = %v, %v; want the message unchanged", again, err)
		}
		if len(a.conn.revokes) != 1 || a.conn.revokes[0].ID != *media.WAMessageID || len(a.logged(apiws.EventTypeMessageRevoked)) != 1 {
			t.Errorf("revokes %v; want one", a.conn.revokes)
		}
	})
}

// TestInboundReactionsEditsRevokesVotes: what others do to the messages
// of a number's chats is logged about those messages; about a message
// apiws does not know, nothing is.
func TestInboundReactionsEditsRevokesVotes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		a := newActionTest(t, db)
		ours := a.stored(apiws.Outbound, apiws.KindText, apiws.StatusRead, time.Minute)
		theirs := a.stored(apiws.Inbound, apiws.KindText, apiws.StatusReceived, time.Minute)
		poll := a.stored(apiws.Outbound, apiws.KindPoll, apiws.StatusRead, time.Minute)
		at := time.Now().UTC().Truncate(time.Millisecond)
		// WhatsApp may deliver each of them twice: the second is dropped.
		for range 2 {
			a.s.HandleConnectorEvent(&whatsapp.Reacted{NumberID: a.n.ID, WAMessageID: "R1", TargetID: *ours.WAMessageID, From: "+15550100002", Emoji: "🎉", At: at})
			a.s.HandleConnectorEvent(&whatsapp.Reacted{NumberID: a.n.ID, WAMessageID: "R2", TargetID: *theirs.WAMessageID, FromMe: true, Emoji: "", At: at})
			a.s.HandleConnectorEvent(&whatsapp.Edited{NumberID: a.n.ID, WAMessageID: "E1", TargetID: *theirs.WAMessageID, From: "+15550100002", Text: "hi (edited)", At: at})
			a.s.HandleConnectorEvent(&whatsapp.Revoked{NumberID: a.n.ID, WAMessageID: "V1", TargetID: *theirs.WAMessageID, FromLID: "100015550100002", At: at})
			a.s.HandleConnectorEvent(&whatsapp.PollVoted{NumberID: a.n.ID, WAMessageID: "P1", PollID: *poll.WAMessageID, FromLID: "100015550100002", Options: []string{"Yes"}, At: at})
			a.s.HandleConnectorEvent(&whatsapp.PollVoted{NumberID: a.n.ID, WAMessageID: "P2", PollID: *poll.WAMessageID, From: "+15550100002", At: at})
		}
		// Forgeries are dropped: an edit or a revoke of a message by
		// someone but its author, anything from another chat or a group.
		for _, forged := range []whatsapp.Event{
			&whatsapp.Edited{NumberID: a.n.ID, WAMessageID: "F1", TargetID: *ours.WAMessageID, From: "+15550100002", Text: "pay elsewhere", At: at},
			&whatsapp.Revoked{NumberID: a.n.ID, WAMessageID: "F2", TargetID: *ours.WAMessageID, From: "+15550100002", At: at},
			&whatsapp.Edited{NumberID: a.n.ID, WAMessageID: "F3", TargetID: *theirs.WAMessageID, FromMe: true, Text: "not mine", At: at},
			&whatsapp.Edited{NumberID: a.n.ID, WAMessageID: "F4", TargetID: *theirs.WAMessageID, From: "+15550100009", Text: "stranger", At: at},
			&whatsapp.Reacted{NumberID: a.n.ID, WAMessageID: "F5", TargetID: *ours.WAMessageID, From: "+15550100009", Emoji: "💩", At: at},
			&whatsapp.PollVoted{NumberID: a.n.ID, WAMessageID: "F6", PollID: *poll.WAMessageID, From: "+15550100009", Options: []string{"No"}, At: at},
			&whatsapp.Revoked{NumberID: a.n.ID, WAMessageID: "F7", TargetID: *theirs.WAMessageID, Group: "1203630@g.us", From: "+15550100002", At: at},
		} {
			a.s.HandleConnectorEvent(forged)
		}
		for _, unknown := range []whatsapp.Event{
			&whatsapp.Reacted{NumberID: a.n.ID, TargetID: "UNKNOWN", From: "+15550100002", Emoji: "👍", At: at},
			&whatsapp.Edited{NumberID: a.n.ID, TargetID: "UNKNOWN", Text: "x", At: at},
			&whatsapp.Revoked{NumberID: a.n.ID, TargetID: "UNKNOWN", At: at},
			&whatsapp.PollVoted{NumberID: a.n.ID, PollID: "UNKNOWN", Options: []string{}, At: at},
		} {
			a.s.HandleConnectorEvent(unknown)
		}

		ctx := context.Background()
		contentOf := func(ev *apiws.LogEvent) *apiws.MessageContent {
			t.Helper()
			evs, err := a.s.events.EventData(ctx, []*apiws.LogEvent{ev})
			if err != nil || len(evs) != 1 {
				t.Fatal(err)
			}
			return ev.Content
		}
		rs := a.logged(apiws.EventTypeReaction)
		if len(rs) != 2 {
			t.Fatalf("%d REACTION events; want 2", len(rs))
		}
		if rs[0].MessageID != ours.ID || *rs[0].Detail.Peer.Phone != "+15550100002" || *contentOf(rs[0]).Emoji != "🎉" {
			t.Errorf("first reaction %+v", rs[0])
		}
		if rs[1].MessageID != theirs.ID || *rs[1].Detail.Peer.Phone != *a.n.Phone || *contentOf(rs[1]).Emoji != "" {
			t.Errorf("the number's own removed reaction %+v", rs[1])
		}
		es := a.logged(apiws.EventTypeMessageEdited)
		if len(es) != 1 || es[0].MessageID != theirs.ID || *contentOf(es[0]).Text != "hi (edited)" {
			t.Errorf("MESSAGE_EDITED events %v", es)
		}
		vs := a.logged(apiws.EventTypeMessageRevoked)
		if len(vs) != 1 || vs[0].MessageID != theirs.ID {
			t.Errorf("MESSAGE_REVOKED events %v", vs)
		}
		got, err := db.Message(ctx, a.n.AccountID, theirs.ID)
		if err != nil || got.EditedAt == nil || !got.EditedAt.Equal(at) || got.RevokedAt == nil || !got.RevokedAt.Equal(at) {
			t.Errorf("the edited and revoked message %+v, %v", got, err)
		}
		ps := a.logged(apiws.EventTypePollVote)
		if len(ps) != 2 {
			t.Fatalf("%d POLL_VOTE events; want 2", len(ps))
		}
		first := apiws.PollVoteEvent{LogEvent: ps[0]}
		contentOf(ps[0])
		if ps[0].MessageID != poll.ID || *first.Voter().LID != "100015550100002" || first.Voter().Phone != nil ||
			strings.Join(first.Options(), ",") != "Yes" {
			t.Errorf("first vote %+v", ps[0])
		}
		second := apiws.PollVoteEvent{LogEvent: ps[1]}
		if contentOf(ps[1]) != nil || second.Options() != nil {
			t.Errorf("a vote whose options are unknown has options %v; want null", second.Options())
		}
	})
}

// TestEditAndRevokeReachTheSandbox: the sandbox records the edit and the
// revoke of the number's message, by its WhatsApp id and chat.
func TestEditAndRevokeReachTheSandbox(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		a := newActionTest(t, db)
		sandbox := whatsapp.NewSandbox(func(whatsapp.Event) {}, 0)
		t.Cleanup(func() { _ = sandbox.Close() })
		jid := "15550100123:1@s.whatsapp.net"
		a.n.JID = &jid
		if err := sandbox.Connect(context.Background(), a.n); err != nil {
			t.Fatal(err)
		}
		a.s.connectors = func(*apiws.Number) whatsapp.Connector { return sandbox }
		m := a.stored(apiws.Outbound, apiws.KindText, apiws.StatusDelivered, time.Minute)
		if _, err := a.s.Edit(a.caller, apiws.EditMessage{MessageID: m.ID, Text: "fixed"}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.s.Revoke(a.caller, m.ID); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, sig := range sandbox.Signals() {
			got = append(got, sig.Action+" "+sig.MessageID+" "+sig.Chat)
		}
		want := []string{"edit " + *m.WAMessageID + " " + m.Peer, "revoke " + *m.WAMessageID + " " + m.Peer}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("sandbox signals %q; want %q", got, want)
		}
	})
}
