package whatsapp

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"go.uber.org/goleak"
)

// recorder collects a connector's events for assertions.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) handle(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// statuses returns the receipt statuses reported for msgID, in order.
func (r *recorder) statuses(msgID string) []apiws.MessageStatus {
	var out []apiws.MessageStatus
	for _, e := range r.all() {
		if rc, ok := e.(*Receipt); ok && len(rc.MessageIDs) == 1 && rc.MessageIDs[0] == msgID {
			out = append(out, rc.Status)
		}
	}
	return out
}

// pairSandbox pairs a new sandbox number and returns it as the caller would
// store it.
func pairSandbox(t *testing.T, s *Sandbox, id string) *apiws.Number {
	t.Helper()
	n := &apiws.Number{ID: id, Sandbox: true, Status: apiws.NumberPairing}
	ch, err := s.PairQR(context.Background(), n)
	if err != nil {
		t.Fatalf("PairQR: %v", err)
	}
	for ev := range ch {
		if ev.Success != nil {
			n.Phone, n.JID, n.Status = &ev.Success.Phone, &ev.Success.JID, apiws.NumberConnected
		}
		if ev.Failure != nil {
			t.Fatalf("pairing failed: %+v", ev.Failure)
		}
	}
	if n.JID == nil {
		t.Fatal("pairing ended without success")
	}
	return n
}

func TestSandboxPairing(t *testing.T) {
	defer goleak.VerifyNone(t)
	var rec recorder
	s := NewSandbox(rec.handle, 1)
	defer s.Close()

	n := &apiws.Number{ID: "num_1", Sandbox: true}
	start := time.Now()
	ch, err := s.PairQR(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PairQR(context.Background(), n); !errors.Is(err, ErrPairing) {
		t.Errorf("second PairQR: got %v, want ErrPairing", err)
	}
	code, err := s.PairPhone(context.Background(), n, "+14155552671")
	if err != nil || !regexp.MustCompile(`^[0-9A-Z]{4}-[0-9A-Z]{4}$`).MatchString(code) {
		t.Errorf("PairPhone = %q, %v; want an XXXX-XXXX code", code, err)
	}

	var qrs int
	var linked, success *PairSuccess
	for ev := range ch {
		switch {
		case ev.Linked != nil:
			if qrs == 0 || success != nil || linked != nil {
				t.Errorf("Linked after %d QR codes, success %v, linked %v", qrs, success, linked)
			}
			linked = ev.Linked
		case ev.QR != nil:
			if success != nil {
				t.Error("QR code after the outcome")
			}
			qrs++
			checkQRPNG(t, ev.QR.PNG)
			if ev.QR.Code == "" || !ev.QR.ExpiresAt.After(start) {
				t.Errorf("bad QR event %+v", ev.QR)
			}
		case ev.Success != nil:
			success = ev.Success
		case ev.Failure != nil:
			t.Fatalf("failure: %+v", ev.Failure)
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("pairing took %v, want under 3s", took)
	}
	if qrs < 1 || linked == nil || success == nil {
		t.Fatalf("got %d QR codes, linked %v and success %v", qrs, linked, success)
	}
	if linked.Status != apiws.NumberConnecting || linked.JID != success.JID {
		t.Errorf("linked %+v, want CONNECTING with the success's device %s", linked, success.JID)
	}
	if !regexp.MustCompile(`^\+155501\d{5}$`).MatchString(success.Phone) {
		t.Errorf("phone %q not in +1 555 01x xxxx", success.Phone)
	}
	if success.JID != strings.TrimPrefix(success.Phone, "+")+":1@s.whatsapp.net" {
		t.Errorf("jid %q does not match phone %q", success.JID, success.Phone)
	}
	if _, err := s.PairPhone(context.Background(), n, "+14155552671"); !errors.Is(err, ErrNoPairing) {
		t.Errorf("PairPhone after pairing: got %v, want ErrNoPairing", err)
	}
	s.Close()
	if evs := rec.all(); len(evs) != 1 || evs[0].(*StateChange).Status != apiws.NumberConnected {
		t.Errorf("events after pairing = %v, want one CONNECTED", evs)
	}
}

func checkQRPNG(t *testing.T, dataURL string) {
	t.Helper()
	b64, ok := strings.CutPrefix(dataURL, "data:image/png;base64,")
	if !ok {
		t.Fatalf("not a PNG data URL: %.40q", dataURL)
	}
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("data URL does not hold a PNG (err %v)", err)
	}
}

func TestSandboxPairingCancelled(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := NewSandbox(nil, 1)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := s.PairQR(ctx, &apiws.Number{ID: "num_1"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; ev.QR == nil {
		t.Fatalf("first event %+v, want a QR code", ev)
	}
	cancel()
	var last PairEvent
	for ev := range ch {
		last = ev
	}
	if last.Failure == nil || last.Failure.Reason != PairCancelled {
		t.Fatalf("outcome %+v, want CANCELLED", last)
	}
	// The number can pair again once the first pairing ended.
	if _, err := s.PairQR(context.Background(), &apiws.Number{ID: "num_1"}); err != nil {
		t.Fatalf("PairQR after cancel: %v", err)
	}
}

var sandboxSendTests = []struct {
	name      string
	to        string
	kind      apiws.MessageKind
	wantCode  string // first Send's error code, "" for success
	retryable bool
	statuses  []apiws.MessageStatus // after a successful (re)send
	echo      bool
}{
	{"text is delivered then read", "+14155552671", apiws.KindText, "", false, []apiws.MessageStatus{apiws.StatusDelivered, apiws.StatusRead}, false},
	{"audio is also played", "+14155552671", apiws.KindAudio, "", false, []apiws.MessageStatus{apiws.StatusDelivered, apiws.StatusRead, apiws.StatusPlayed}, false},
	{"0000 is not on whatsapp", "+14155550000", apiws.KindText, CodeNotOnWhatsApp, false, nil, false},
	{"0001 is delivered never read", "+14155550001", apiws.KindImage, "", false, []apiws.MessageStatus{apiws.StatusDelivered}, false},
	{"0002 times out once then succeeds", "+14155550002", apiws.KindText, CodeTimeout, true, []apiws.MessageStatus{apiws.StatusDelivered, apiws.StatusRead}, false},
	{"0003 echoes the text", "+14155550003", apiws.KindText, "", false, []apiws.MessageStatus{apiws.StatusDelivered, apiws.StatusRead}, true},
	{"fictional sandbox numbers are reachable", "+15550123456", apiws.KindDocument, "", false, []apiws.MessageStatus{apiws.StatusDelivered, apiws.StatusRead}, false},
}

func TestSandboxSend(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, tt := range sandboxSendTests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			s := NewSandbox(rec.handle, 0)
			defer s.Close()
			n := pairSandbox(t, s, "num_1")
			msg := OutgoingMessage{ID: NewMessageID(), To: tt.to, Kind: tt.kind, Text: "hello"}
			if tt.kind != apiws.KindText {
				msg.Media = &Media{Data: []byte("bytes"), MimeType: "application/octet-stream", FileName: "f.bin", Caption: "cap"}
			}

			res, err := s.Send(context.Background(), n, msg)
			if tt.wantCode != "" {
				var se *SendError
				if !errors.As(err, &se) || se.Code != tt.wantCode || se.Retryable != tt.retryable {
					t.Fatalf("Send error = %v, want %s retryable=%v", err, tt.wantCode, tt.retryable)
				}
				if !tt.retryable {
					s.Close()
					if c := s.TransmissionCount(msg.ID); c != 0 || len(rec.statuses(msg.ID)) != 0 {
						t.Fatalf("refused message: %d transmissions, receipts %v", c, rec.statuses(msg.ID))
					}
					return
				}
				res, err = s.Send(context.Background(), n, msg)
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.WAMessageID != msg.ID || res.At.IsZero() {
				t.Errorf("result %+v, want id %s", res, msg.ID)
			}
			s.Close() // waits for every receipt
			if got := rec.statuses(msg.ID); !equalStatuses(got, tt.statuses) {
				t.Errorf("receipts %v, want %v", got, tt.statuses)
			}
			if c := s.TransmissionCount(msg.ID); c != 1 {
				t.Errorf("transmitted %d times, want 1", c)
			}
			tr := s.Transmissions()
			if len(tr) != 1 || tr[0].NumberID != n.ID || tr[0].To != tt.to || tr[0].Kind != tt.kind {
				t.Errorf("transmissions %+v", tr)
			}
			var echoes []*Inbound
			for _, e := range rec.all() {
				if in, ok := e.(*Inbound); ok {
					echoes = append(echoes, in)
				}
			}
			if !tt.echo {
				if len(echoes) != 0 {
					t.Errorf("unexpected inbound %+v", echoes[0])
				}
				return
			}
			if len(echoes) != 1 || echoes[0].From != tt.to || echoes[0].Text != "hello" || echoes[0].NumberID != n.ID || echoes[0].Kind != apiws.KindText {
				t.Errorf("echo = %+v", echoes)
			}
		})
	}
}

func equalStatuses(a, b []apiws.MessageStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSandboxSendRefusesBadMessages(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := NewSandbox(nil, 0)
	defer s.Close()
	n := pairSandbox(t, s, "num_1")
	tests := []struct {
		name string
		msg  OutgoingMessage
		code string
	}{
		{"not a phone number", OutgoingMessage{ID: "3EB0A", To: "12", Kind: apiws.KindText, Text: "x"}, CodeNotOnWhatsApp},
		{"media without data", OutgoingMessage{ID: "3EB0A", To: "+14155552671", Kind: apiws.KindImage}, CodeMediaInvalid},
		{"empty text", OutgoingMessage{ID: "3EB0A", To: "+14155552671", Kind: apiws.KindText}, CodeSendFailed},
		{"unsendable kind", OutgoingMessage{ID: "3EB0A", To: "+14155552671", Kind: apiws.KindOther, Text: "x"}, CodeSendFailed},
		{"a reaction to no message", OutgoingMessage{ID: "3EB0A", To: "+14155552671", Kind: apiws.KindReaction, Text: "x"}, CodeSendFailed},
		{"a LID that is no sandbox LID", OutgoingMessage{ID: "3EB0A", ToLID: "987654321", Kind: apiws.KindText, Text: "x"}, CodeNotOnWhatsApp},
		{"a LID of letters", OutgoingMessage{ID: "3EB0A", ToLID: "abc", Kind: apiws.KindText, Text: "x"}, CodeNotOnWhatsApp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Send(context.Background(), n, tt.msg)
			var se *SendError
			if !errors.As(err, &se) || se.Code != tt.code || se.Retryable {
				t.Fatalf("got %v, want permanent %s", err, tt.code)
			}
		})
	}
	if len(s.Transmissions()) != 0 {
		t.Error("a refused message was transmitted")
	}
}

func TestSandboxLIDs(t *testing.T) {
	if got := SandboxLID("+15550100001"); got != "100015550100001" {
		t.Errorf("SandboxLID = %s", got)
	}
	if p, ok := sandboxPhone(SandboxLID("+442071838750")); !ok || p != "+442071838750" {
		t.Errorf("phone of a sandbox LID: %s, %v", p, ok)
	}
	defer goleak.VerifyNone(t)
	s := NewSandbox(nil, 0)
	defer s.Close()
	n := pairSandbox(t, s, "num_1")
	// A hidden recipient is reached at its LID, by the rules of its phone.
	msg := OutgoingMessage{ID: "3EB0LID", ToLID: SandboxLID("+14155550123"), Kind: apiws.KindText, Text: "hi"}
	if _, err := s.Send(context.Background(), n, msg); err != nil {
		t.Fatal(err)
	}
	if tr := s.Transmissions(); len(tr) != 1 || tr[0].To != "+14155550123" {
		t.Errorf("transmissions %+v", tr)
	}
	var se *SendError
	msg = OutgoingMessage{ID: "3EB0LID2", ToLID: SandboxLID("+14155550000"), Kind: apiws.KindText, Text: "hi"}
	if _, err := s.Send(context.Background(), n, msg); !errors.As(err, &se) || se.Code != CodeNotOnWhatsApp {
		t.Errorf("a hidden 0000 recipient: %v", err)
	}
}

func TestSandboxConnectionLifecycle(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx := context.Background()
	s := NewSandbox(nil, 0)
	defer s.Close()
	msg := OutgoingMessage{ID: NewMessageID(), To: "+14155552671", Kind: apiws.KindText, Text: "hi"}

	n := pairSandbox(t, s, "num_1")
	if err := s.Disconnect(ctx, n); err != nil {
		t.Fatal(err)
	}
	var se *SendError
	if _, err := s.Send(ctx, n, msg); !errors.As(err, &se) || se.Code != CodeNotConnected || !se.Retryable {
		t.Fatalf("Send while disconnected: %v, want retryable NOT_CONNECTED", err)
	}
	if err := s.Connect(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(ctx, n, msg); err != nil {
		t.Fatalf("Send after reconnect: %v", err)
	}
	if ok, err := s.IsOnWhatsApp(ctx, n, "+14155550000"); ok || err != nil {
		t.Errorf("IsOnWhatsApp(0000) = %v, %v; want false", ok, err)
	}
	if ok, err := s.IsOnWhatsApp(ctx, n, "+14155550001"); !ok || err != nil {
		t.Errorf("IsOnWhatsApp(0001) = %v, %v; want true", ok, err)
	}

	// A fresh sandbox (a restart) resumes a number paired before.
	s2 := NewSandbox(nil, 0)
	defer s2.Close()
	if err := s2.Connect(ctx, n); err != nil {
		t.Fatalf("Connect after restart: %v", err)
	}
	if err := s2.Logout(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := s2.Connect(ctx, n); !errors.Is(err, ErrNotPaired) {
		t.Errorf("Connect after logout: %v, want ErrNotPaired", err)
	}
	if err := s2.Connect(ctx, &apiws.Number{ID: "num_never"}); !errors.Is(err, ErrNotPaired) {
		t.Errorf("Connect unpaired: %v, want ErrNotPaired", err)
	}
}

// TestSandboxReportsInOrder: connection changes reach the handler in the
// order they happened, even when the handler is slow, and Disconnect and
// Logout return once theirs was handled, so an earlier CONNECTED can never
// land after them and leave a disconnected number shown as connected.
func TestSandboxReportsInOrder(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx := context.Background()
	var rec recorder
	slow := func(e Event) {
		if sc, ok := e.(*StateChange); ok && sc.Status == apiws.NumberConnected {
			time.Sleep(20 * time.Millisecond) // a busy database
		}
		rec.handle(e)
	}
	s := NewSandbox(slow, 0)
	defer s.Close()

	last := func() apiws.NumberStatus {
		var st apiws.NumberStatus
		for _, e := range rec.all() {
			if sc, ok := e.(*StateChange); ok {
				st = sc.Status
			}
		}
		return st
	}
	// Disconnected the moment the pairing succeeds: the pairing's CONNECTED
	// still comes first.
	n := &apiws.Number{ID: "num_1", Sandbox: true, Status: apiws.NumberPairing}
	ch, err := s.PairQR(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	for ev := range ch {
		if ev.Success != nil {
			n.Phone, n.JID = &ev.Success.Phone, &ev.Success.JID
			if err := s.Disconnect(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := last(); got != apiws.NumberDisconnected {
		t.Fatalf("last report once Disconnect returned: %s, want DISCONNECTED", got)
	}
	want := []apiws.NumberStatus{apiws.NumberConnected, apiws.NumberDisconnected}
	for range 3 {
		if err := s.Connect(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := s.Disconnect(ctx, n); err != nil {
			t.Fatal(err)
		}
		if got := last(); got != apiws.NumberDisconnected {
			t.Fatalf("last report once Disconnect returned: %s, want DISCONNECTED", got)
		}
		want = append(want, apiws.NumberConnected, apiws.NumberDisconnected)
	}
	if err := s.Logout(ctx, n); err != nil {
		t.Fatal(err)
	}
	if got := last(); got != apiws.NumberLoggedOut {
		t.Fatalf("last report once Logout returned: %s, want LOGGED_OUT", got)
	}
	want = append(want, apiws.NumberLoggedOut)
	var got []apiws.NumberStatus
	for _, e := range rec.all() {
		if sc, ok := e.(*StateChange); ok {
			got = append(got, sc.Status)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reports %v, want %v", got, want)
	}
}

func TestSandboxCloseStopsTimers(t *testing.T) {
	defer goleak.VerifyNone(t)
	var rec recorder
	s := NewSandbox(rec.handle, 1)
	n := &apiws.Number{ID: "num_1", Phone: ptr("+15550123456"), JID: ptr("15550123456:1@s.whatsapp.net")}
	if err := s.Connect(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	msg := OutgoingMessage{ID: NewMessageID(), To: "+14155552671", Kind: apiws.KindText, Text: "hi"}
	if _, err := s.Send(context.Background(), n, msg); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.Close()
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("Close took %v: it waited for the receipts instead of stopping them", took)
	}
	if got := rec.statuses(msg.ID); len(got) != 0 {
		t.Errorf("receipts after Close: %v", got)
	}
	var se *SendError
	if _, err := s.Send(context.Background(), n, msg); !errors.As(err, &se) || !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestNewMessageID(t *testing.T) {
	re := regexp.MustCompile(`^3EB0[0-9A-F]{18}$`)
	seen := map[string]bool{}
	for range 100 {
		id := NewMessageID()
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestSandboxEchoesLocationContactsAndPoll(t *testing.T) {
	defer goleak.VerifyNone(t)
	var rec recorder
	s := NewSandbox(rec.handle, 0)
	defer s.Close()
	n := pairSandbox(t, s, "num_1")
	cards := []apiws.ContactCard{{Name: "Bob", Phones: []string{"+14155552671"}, VCard: VCard("Bob", []string{"+14155552671"})}}
	sent := []OutgoingMessage{
		{Kind: apiws.KindLocation, Location: &apiws.Location{Latitude: 52.5, Longitude: 13.4, Name: ptr("Berlin"), Address: ptr("Mitte")}},
		{Kind: apiws.KindContact, Contacts: cards},
		{Kind: apiws.KindPoll, Poll: &apiws.Poll{Question: "Lunch?", Options: []string{"Pizza", "Sushi"}, SelectableCount: 1}},
	}
	for i := range sent {
		sent[i].ID, sent[i].To = NewMessageID(), "+14155550003"
		if _, err := s.Send(context.Background(), n, sent[i]); err != nil {
			t.Fatalf("Send %s: %v", sent[i].Kind, err)
		}
	}
	s.Close() // waits for the echoes
	echoes := map[apiws.MessageKind]*apiws.MessageContent{}
	for _, e := range rec.all() {
		if in, ok := e.(*Inbound); ok {
			echoes[in.Kind] = in.Content()
		}
	}
	for _, msg := range sent {
		want := &apiws.MessageContent{Location: msg.Location, Contacts: msg.Contacts, Poll: msg.Poll, Mentions: []apiws.Peer{}}
		if got := echoes[msg.Kind]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s echo content %+v, want %+v", msg.Kind, got, want)
		}
	}
}

// TestSandboxRecordsBeforeReceipts: a transmission is handed to the
// recorder before anything that follows it (its receipts), so whoever sees
// a receipt finds the transmission recorded. The recorder gives a receipt
// that would come too early the time to come: a correct Sandbox passes
// whatever that time, and one that plays the receipts first is caught.
func TestSandboxRecordsBeforeReceipts(t *testing.T) {
	defer goleak.VerifyNone(t)
	var mu sync.Mutex
	recorded := map[string]bool{}
	var early []string
	receipt := make(chan struct{}, 16)
	s := NewSandbox(func(e Event) {
		if r, ok := e.(*Receipt); ok {
			mu.Lock()
			for _, id := range r.MessageIDs {
				if !recorded[id] {
					early = append(early, id)
				}
			}
			mu.Unlock()
			receipt <- struct{}{}
		}
	}, 0)
	s.SetRecorder(func(tr Transmission) {
		select {
		case <-receipt:
		case <-time.After(100 * time.Millisecond):
		}
		mu.Lock()
		defer mu.Unlock()
		recorded[tr.MessageID] = true
	})
	n := pairSandbox(t, s, "num_1")
	for range 3 {
		if _, err := s.Send(context.Background(), n, OutgoingMessage{ID: NewMessageID(), To: "+14155550123", Kind: apiws.KindText, Text: "hi"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if len(early) > 0 {
		t.Errorf("receipts of %v came before their transmissions were recorded", early)
	}
}
