package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"go.uber.org/goleak"
)

// named makes a story comparable: every WhatsApp id becomes a name, "sent"
// for the message sent and "#1", "#2"... for the others in the order they
// first appear, and every time is checked and zeroed.
type named struct {
	t     *testing.T
	names map[string]string
	last  time.Time
}

func newNamed(t *testing.T, sentID string) *named {
	return &named{t: t, names: map[string]string{sentID: "sent"}}
}

func (n *named) id(id string) string {
	n.t.Helper()
	if id == "" {
		n.t.Fatal("an event without a WhatsApp id")
	}
	if _, ok := n.names[id]; !ok {
		n.names[id] = fmt.Sprintf("#%d", len(n.names))
	}
	return n.names[id]
}

func (n *named) at(at time.Time) time.Time {
	n.t.Helper()
	if at.IsZero() || at.Before(n.last) {
		n.t.Errorf("event at %v, after one at %v", at, n.last)
	}
	n.last = at
	return time.Time{}
}

func (n *named) event(e Event) Event {
	n.t.Helper()
	switch e := e.(type) {
	case *Receipt:
		c := *e
		c.MessageIDs = []string{n.id(e.MessageIDs[0])}
		c.At = n.at(e.At)
		return &c
	case *Inbound:
		c := *e
		c.WAMessageID, c.At = n.id(e.WAMessageID), n.at(e.At)
		if e.QuotedID != "" {
			c.QuotedID = n.id(e.QuotedID)
		}
		return &c
	case *Reacted:
		c := *e
		c.WAMessageID, c.TargetID, c.At = n.id(e.WAMessageID), n.id(e.TargetID), n.at(e.At)
		return &c
	case *Edited:
		c := *e
		c.WAMessageID, c.TargetID, c.At = n.id(e.WAMessageID), n.id(e.TargetID), n.at(e.At)
		return &c
	case *Revoked:
		c := *e
		c.WAMessageID, c.TargetID, c.At = n.id(e.WAMessageID), n.id(e.TargetID), n.at(e.At)
		return &c
	case *PollVoted:
		c := *e
		c.WAMessageID, c.PollID, c.At = n.id(e.WAMessageID), n.id(e.PollID), n.at(e.At)
		return &c
	}
	return e
}

// storyOf sends msg through a fresh sandbox at delay 0 and returns every
// event that followed, named, in order.
func storyOf(t *testing.T, msg OutgoingMessage) []Event {
	t.Helper()
	var rec recorder
	s := NewSandbox(rec.handle, 0)
	defer s.Close()
	n := pairSandbox(t, s, "num_1")
	msg.ID = NewMessageID()
	if _, err := s.Send(context.Background(), n, msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	s.Close() // waits for every event
	nm := newNamed(t, msg.ID)
	var out []Event
	for _, e := range rec.all() {
		if _, ok := e.(*StateChange); ok {
			continue
		}
		if e.Number() != n.ID {
			t.Errorf("event %+v of number %s", e, e.Number())
		}
		out = append(out, nm.event(e))
	}
	return out
}

func TestSandboxRecipientRules(t *testing.T) {
	defer goleak.VerifyNone(t)
	const num = "num_1"
	receipt := func(st apiws.MessageStatus) *Receipt {
		return &Receipt{NumberID: num, MessageIDs: []string{"sent"}, Status: st}
	}
	delivered, read, played := receipt(apiws.StatusDelivered), receipt(apiws.StatusRead), receipt(apiws.StatusPlayed)
	loc := &apiws.Location{Latitude: 52.5, Longitude: 13.4, Name: ptr("Berlin"), Address: ptr("Mitte")}
	cards := []apiws.ContactCard{{Name: "Bob", Phones: []string{"+14155552671"}, VCard: VCard("Bob", []string{"+14155552671"})}}
	poll := &apiws.Poll{Question: "Lunch?", Options: []string{"Pizza", "Sushi"}, SelectableCount: 1}
	file := func(kind apiws.MessageKind) OutgoingMessage {
		return OutgoingMessage{Kind: kind, Media: &Media{Data: []byte("bytes"), MimeType: "application/pdf", FileName: "f.pdf", Caption: "cap"}}
	}
	imageEcho := func(from string) *Inbound {
		return &Inbound{NumberID: num, WAMessageID: "#1", From: from, PushName: "Sandbox 0005", Kind: apiws.KindImage, Text: "echo", QuotedID: "sent",
			Media: &InboundMedia{MimeType: "image/png", Caption: "echo", Size: int64(len(SandboxPNG)), Ref: sandboxMediaRef}}
	}
	const p4, p5, p6, p7 = "+15550100004", "+15550100005", "+15550100006", "+15550100007"
	tests := []struct {
		name string
		to   string
		msg  OutgoingMessage
		want []Event
	}{
		{"0004 reacts to a text", p4, OutgoingMessage{Kind: apiws.KindText, Text: "hello"}, []Event{
			delivered, read,
			&Reacted{NumberID: num, WAMessageID: "#1", TargetID: "sent", From: p4, Emoji: "👍"},
		}},
		{"0004 reacts to audio, before it is played", p4, file(apiws.KindAudio), []Event{
			delivered, read,
			&Reacted{NumberID: num, WAMessageID: "#1", TargetID: "sent", From: p4, Emoji: "👍"},
			played,
		}},
		{"0005 echoes a text then edits the echo", p5, OutgoingMessage{Kind: apiws.KindText, Text: "hello"}, []Event{
			delivered, read,
			&Inbound{NumberID: num, WAMessageID: "#1", From: p5, PushName: "Sandbox 0005", Kind: apiws.KindText, Text: "hello", QuotedID: "sent"},
			&Edited{NumberID: num, WAMessageID: "#2", TargetID: "#1", From: p5, Text: "hello (edited)"},
		}},
		{"0005 echoes a location", p5, OutgoingMessage{Kind: apiws.KindLocation, Location: loc}, []Event{
			delivered, read,
			&Inbound{NumberID: num, WAMessageID: "#1", From: p5, PushName: "Sandbox 0005", Kind: apiws.KindLocation, Location: loc, QuotedID: "sent"},
		}},
		{"0005 echoes contact cards", p5, OutgoingMessage{Kind: apiws.KindContact, Contacts: cards}, []Event{
			delivered, read,
			&Inbound{NumberID: num, WAMessageID: "#1", From: p5, PushName: "Sandbox 0005", Kind: apiws.KindContact, Contacts: cards, QuotedID: "sent"},
		}},
		{"0005 votes for a poll's first option", p5, OutgoingMessage{Kind: apiws.KindPoll, Poll: poll}, []Event{
			delivered, read,
			&PollVoted{NumberID: num, WAMessageID: "#1", PollID: "sent", From: p5, Options: []string{"Pizza"}},
		}},
		{"0005 answers an image with the sandbox PNG", p5, file(apiws.KindImage), []Event{delivered, read, imageEcho(p5)}},
		{"0005 answers a document with the sandbox PNG", p5, file(apiws.KindDocument), []Event{delivered, read, imageEcho(p5)}},
		{"0005 answers a video with the sandbox PNG", p5, file(apiws.KindVideo), []Event{delivered, read, imageEcho(p5)}},
		{"0005 answers a sticker with the sandbox PNG", p5, file(apiws.KindSticker), []Event{delivered, read, imageEcho(p5)}},
		{"0005 answers audio with the sandbox PNG, before it is played", p5, file(apiws.KindAudio), []Event{delivered, read, imageEcho(p5), played}},
		{"0006 answers hidden behind its LID", p6, OutgoingMessage{Kind: apiws.KindText, Text: "hello"}, []Event{
			delivered, read,
			&Inbound{NumberID: num, WAMessageID: "#1", FromLID: "100015550100006", PushName: "Sandbox 0006", Kind: apiws.KindText, Text: "hidden"},
		}},
		{"0007 says oops then revokes it", p7, OutgoingMessage{Kind: apiws.KindLocation, Location: loc}, []Event{
			delivered, read,
			&Inbound{NumberID: num, WAMessageID: "#1", From: p7, PushName: "Sandbox 0007", Kind: apiws.KindText, Text: "oops"},
			&Revoked{NumberID: num, WAMessageID: "#2", TargetID: "#1", From: p7},
		}},
		{"0003 still echoes, before READ", "+15550100003", OutgoingMessage{Kind: apiws.KindText, Text: "hello"}, []Event{
			delivered,
			&Inbound{NumberID: num, WAMessageID: "#1", From: "+15550100003", PushName: "Sandbox echo", Kind: apiws.KindText, Text: "hello"},
			read,
		}},
		{"0001 never reads, so no rule follows", "+15550100001", OutgoingMessage{Kind: apiws.KindText, Text: "hello"}, []Event{delivered}},
		{"any other recipient only reads", "+15550100008", OutgoingMessage{Kind: apiws.KindText, Text: "hello"}, []Event{delivered, read}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.msg.To = tt.to
			got := storyOf(t, tt.msg)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events:\n%s\nwant:\n%s", describe(got), describe(tt.want))
			}
		})
	}
}

func describe(evs []Event) string {
	var s string
	for _, e := range evs {
		s += fmt.Sprintf("  %T %+v\n", e, e)
	}
	return s
}

// TestSandboxEchoDownloads: the file of a 0005 image echo downloads as the
// sandbox PNG.
func TestSandboxEchoDownloads(t *testing.T) {
	defer goleak.VerifyNone(t)
	var rec recorder
	s := NewSandbox(rec.handle, 0)
	defer s.Close()
	n := pairSandbox(t, s, "num_1")
	msg := OutgoingMessage{ID: NewMessageID(), To: "+15550100005", Kind: apiws.KindImage, Media: &Media{Data: []byte("x"), MimeType: "image/jpeg"}}
	if _, err := s.Send(context.Background(), n, msg); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var ref []byte
	for _, e := range rec.all() {
		if in, ok := e.(*Inbound); ok {
			ref = in.Media.Ref
		}
	}
	data, err := s.Download(context.Background(), n, ref)
	if err != nil || !slices.Equal(data, SandboxPNG) {
		t.Fatalf("Download = %d bytes, %v; want the sandbox PNG", len(data), err)
	}
	if _, err := s.Download(context.Background(), n, []byte("other")); !errors.Is(err, ErrMediaGone) {
		t.Errorf("Download of another ref: %v, want ErrMediaGone", err)
	}
}

// TestSandboxRuleTimes: at scale 1 the answers come at their times after
// READ (checked at a smaller scale, as lower bounds, so a busy machine
// cannot fail it).
func TestSandboxRuleTimes(t *testing.T) {
	defer goleak.VerifyNone(t)
	const scale = 0.05
	var rec recorder
	s := NewSandbox(rec.handle, scale)
	defer s.Close()
	n := pairSandbox(t, s, "num_1")
	for _, to := range []string{"+15550100004", "+15550100005", "+15550100007"} {
		if _, err := s.Send(context.Background(), n, OutgoingMessage{ID: NewMessageID(), To: to, Kind: apiws.KindText, Text: "hi"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every answer", func() bool { return len(rec.all()) >= 1+3*2+1+2+2 })
	s.Close()
	readAt := map[string]time.Time{}
	var echoAt, oopsAt time.Time
	atLeast := func(what string, from, to time.Time, d time.Duration) {
		t.Helper()
		if from.IsZero() || to.Sub(from) < time.Duration(float64(d)*scale) {
			t.Errorf("%s %v after, want at least %v (scaled)", what, to.Sub(from), d)
		}
	}
	for _, e := range rec.all() {
		switch e := e.(type) {
		case *Receipt:
			if e.Status == apiws.StatusRead {
				readAt[e.MessageIDs[0]] = e.At
			}
		case *Reacted:
			atLeast("reaction", readAt[e.TargetID], e.At, 300*time.Millisecond)
		case *Inbound:
			if e.QuotedID != "" {
				echoAt = e.At
				atLeast("echo", readAt[e.QuotedID], e.At, 700*time.Millisecond)
			} else {
				oopsAt = e.At
			}
		case *Edited:
			atLeast("edit", echoAt, e.At, 300*time.Millisecond)
		case *Revoked:
			atLeast("revoke", oopsAt, e.At, 500*time.Millisecond)
		}
	}
	if len(readAt) != 3 || echoAt.IsZero() || oopsAt.IsZero() {
		t.Fatalf("got reads %v, echo at %v, oops at %v; events %s", readAt, echoAt, oopsAt, describe(rec.all()))
	}
}

// TestSandboxHiddenSenderIsReachable: a 0006 answer's LID is an address:
// a send to it reaches the same recipient, who answers hidden again.
func TestSandboxHiddenSenderIsReachable(t *testing.T) {
	defer goleak.VerifyNone(t)
	var rec recorder
	s := NewSandbox(rec.handle, 0)
	defer s.Close()
	n := pairSandbox(t, s, "num_1")
	ctx := context.Background()
	hidden := func() []*Inbound {
		var out []*Inbound
		for _, e := range rec.all() {
			if in, ok := e.(*Inbound); ok {
				out = append(out, in)
			}
		}
		return out
	}
	if _, err := s.Send(ctx, n, OutgoingMessage{ID: NewMessageID(), To: "+15550100006", Kind: apiws.KindText, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the hidden answer", func() bool { return len(hidden()) > 0 })
	first := hidden()
	if len(first) != 1 || first[0].From != "" || first[0].FromLID != "100015550100006" {
		t.Fatalf("answers %+v, want one from the LID alone", first)
	}
	reply := OutgoingMessage{ID: NewMessageID(), ToLID: first[0].FromLID, Kind: apiws.KindText, Text: "who are you?",
		ReplyTo: &Quote{ID: first[0].WAMessageID, SenderLID: first[0].FromLID}}
	if _, err := s.Send(ctx, n, reply); err != nil {
		t.Fatalf("Send to the LID: %v", err)
	}
	s.Close()
	if tr := s.Transmissions(); len(tr) != 2 || tr[1].To != "+15550100006" || tr[1].MessageID != reply.ID {
		t.Errorf("transmissions %+v, want the reply to +15550100006", tr)
	}
	if got := rec.statuses(reply.ID); !equalStatuses(got, []apiws.MessageStatus{apiws.StatusDelivered, apiws.StatusRead}) {
		t.Errorf("reply receipts %v", got)
	}
	if all := hidden(); len(all) != 2 || all[1].Text != "hidden" || all[1].FromLID != "100015550100006" {
		t.Errorf("answers %+v, want a second hidden one", all)
	}
}

// TestSandboxReactionSends: a reaction is accepted and recorded; it gets
// no receipts (WhatsApp sends none for reactions, so it stays SENT) and
// no recipient answers it.
func TestSandboxReactionSends(t *testing.T) {
	defer goleak.VerifyNone(t)
	var rec recorder
	s := NewSandbox(rec.handle, 0)
	defer s.Close()
	n := pairSandbox(t, s, "num_1")
	ctx := context.Background()
	var sent []string
	for _, to := range []string{"+14155552671", "+15550100003", "+15550100004", "+15550100005", "+15550100006", "+15550100007"} {
		msg := OutgoingMessage{ID: NewMessageID(), To: to, Kind: apiws.KindReaction, Text: "❤️", ReplyTo: &Quote{ID: "3EB0THEIRS", Sender: to}}
		if _, err := s.Send(ctx, n, msg); err != nil {
			t.Fatalf("reaction to %s: %v", to, err)
		}
		sent = append(sent, msg.ID)
	}
	var se *SendError
	if _, err := s.Send(ctx, n, OutgoingMessage{ID: NewMessageID(), To: "+14155552671", Kind: apiws.KindReaction, Text: "❤️"}); !errors.As(err, &se) || se.Code != CodeSendFailed || se.Retryable {
		t.Errorf("a reaction to no message: %v, want permanent SEND_FAILED", err)
	}
	if _, err := s.Send(ctx, n, OutgoingMessage{ID: NewMessageID(), To: "+15550100000", Kind: apiws.KindReaction, Text: "❤️", ReplyTo: &Quote{ID: "3EB0X"}}); !errors.As(err, &se) || se.Code != CodeNotOnWhatsApp {
		t.Errorf("a reaction to 0000: %v, want NOT_ON_WHATSAPP", err)
	}
	s.Close()
	tr := s.Transmissions()
	if len(tr) != len(sent) {
		t.Fatalf("transmissions %+v, want %d", tr, len(sent))
	}
	for i, tx := range tr {
		if tx.MessageID != sent[i] || tx.Kind != apiws.KindReaction {
			t.Errorf("transmission %+v, want reaction %s", tx, sent[i])
		}
	}
	if evs := rec.all(); len(evs) != 1 { // the pairing's CONNECTED
		t.Errorf("events after reactions: %s", describe(evs))
	}
}

// TestSandboxEditsAndRevokes: edits and revokes of a connected number are
// recorded; a number not connected is refused with a retryable
// NOT_CONNECTED and nothing recorded.
func TestSandboxEditsAndRevokes(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := NewSandbox(nil, 0)
	defer s.Close()
	ctx := context.Background()
	n := pairSandbox(t, s, "num_1")
	ref := MessageRef{ID: "3EB0OURS", Chat: "+14155552671"}
	if at, err := s.Edit(ctx, n, ref, "fixed"); err != nil || at.IsZero() {
		t.Fatalf("Edit = %v, %v", at, err)
	}
	if at, err := s.Revoke(ctx, n, MessageRef{ID: "3EB0HID", ChatLID: "100015550100006"}); err != nil || at.IsZero() {
		t.Fatalf("Revoke = %v, %v", at, err)
	}
	want := []Signal{
		{NumberID: n.ID, Chat: "+14155552671", Action: "edit", MessageID: "3EB0OURS"},
		{NumberID: n.ID, Chat: "100015550100006", Action: "revoke", MessageID: "3EB0HID"},
	}
	if got := s.Signals(); !reflect.DeepEqual(got, want) {
		t.Errorf("signals %+v, want %+v", got, want)
	}

	for _, idle := range []*apiws.Number{{ID: "num_never"}, n} {
		if idle == n {
			if err := s.Disconnect(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		var se *SendError
		if _, err := s.Edit(ctx, idle, ref, "x"); !errors.As(err, &se) || se.Code != CodeNotConnected || !se.Retryable {
			t.Errorf("Edit through %s: %v, want retryable NOT_CONNECTED", idle.ID, err)
		}
		if _, err := s.Revoke(ctx, idle, ref); !errors.As(err, &se) || se.Code != CodeNotConnected || !se.Retryable {
			t.Errorf("Revoke through %s: %v, want retryable NOT_CONNECTED", idle.ID, err)
		}
	}
	if got := s.Signals(); len(got) != 2 {
		t.Errorf("signals after refusals: %+v", got)
	}
}

// TestSandboxPhonesAreNoSpecialRecipients: no sandbox number gets an ending
// with a rule, so sandbox numbers message each other plainly.
func TestSandboxPhonesAreNoSpecialRecipients(t *testing.T) {
	s := NewSandbox(nil, 0)
	defer s.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for range 3000 {
		p := s.newPhoneLocked()
		if last := p[len(p)-4:]; last <= "0007" {
			t.Fatalf("sandbox phone %s ends in a special recipient's %s", p, last)
		}
	}
}
