package whatsapp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCompanionReg"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waSyncAction"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// keepVersion restores whatsmeow's process-wide web version after a test.
func keepVersion(t *testing.T) {
	orig := store.GetWAVersion()
	t.Cleanup(func() { store.SetWAVersion(orig) })
}

func TestParseVersion(t *testing.T) {
	if v, err := ParseVersion("2.3000.1023456789"); err != nil || v != (store.WAVersionContainer{2, 3000, 1023456789}) {
		t.Fatalf("ParseVersion = %v, %v", v, err)
	}
	for _, bad := range []string{"", "2.3000", "2.3000.1.4", "two.3000.1", "0.3000.1", "2.0.1", "2.3000.-1", "2.3000.+1", "2.3000.1 beta"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
}

func TestChooseVersion(t *testing.T) {
	newer := store.WAVersionContainer{2, 3000, 2000000001}
	fetched := func(context.Context) (store.WAVersionContainer, error) { return newer, nil }
	unreachable := func(context.Context) (store.WAVersionContainer, error) {
		return store.WAVersionContainer{}, errors.New("no such host")
	}
	t.Run("override wins and is not fetched", func(t *testing.T) {
		keepVersion(t)
		v, from, err := chooseVersion(context.Background(), "2.3000.1111", func(context.Context) (store.WAVersionContainer, error) {
			t.Fatal("fetched despite the override")
			return newer, nil
		}, nil)
		if err != nil || v != (store.WAVersionContainer{2, 3000, 1111}) || from != "APIWS_WA_VERSION" || store.GetWAVersion() != v {
			t.Fatalf("got %v from %q, %v; in use %v", v, from, err, store.GetWAVersion())
		}
	})
	t.Run("bad override is an error", func(t *testing.T) {
		keepVersion(t)
		before := store.GetWAVersion()
		if _, _, err := chooseVersion(context.Background(), "latest", fetched, nil); err == nil || !strings.Contains(err.Error(), "APIWS_WA_VERSION") {
			t.Fatalf("err = %v", err)
		}
		if store.GetWAVersion() != before {
			t.Error("a bad override changed the version")
		}
	})
	t.Run("whatsapp's current version", func(t *testing.T) {
		keepVersion(t)
		if v, from, err := chooseVersion(context.Background(), "", fetched, nil); err != nil || v != newer || from != "whatsapp" || store.GetWAVersion() != newer {
			t.Fatalf("got %v from %q, %v", v, from, err)
		}
	})
	t.Run("whatsapp out of reach: compiled in, logged", func(t *testing.T) {
		keepVersion(t)
		compiled := store.GetWAVersion()
		var buf bytes.Buffer
		v, from, err := chooseVersion(context.Background(), "", unreachable, slog.New(slog.NewTextHandler(&buf, nil)))
		if err != nil || v != compiled || from != "compiled in" {
			t.Fatalf("got %v from %q, %v", v, from, err)
		}
		if !strings.Contains(buf.String(), compiled.String()) {
			t.Errorf("fallback not logged: %q", buf.String())
		}
	})
	t.Run("the real fetch fails fast without network", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := fetchLatestVersion(ctx); err == nil {
			t.Skip("whatsapp is reachable from here")
		}
		if d := time.Since(start); d > versionTimeout+time.Second {
			t.Errorf("took %v", d)
		}
	})
}

func TestWhatsmeowClientOutdated(t *testing.T) {
	t.Run("newer version: reconnect", func(t *testing.T) {
		keepVersion(t)
		newer := store.GetWAVersion()
		newer[2]++
		h := newHarnessWith(t, WhatsmeowOptions{fetchVersion: func(context.Context) (store.WAVersionContainer, error) { return newer, nil }})
		_, fc := h.pair(t)
		fc.emit(&events.ClientOutdated{})
		eventually(t, "a reconnection", func() bool { fc.mu.Lock(); defer fc.mu.Unlock(); return fc.connects == 2 })
		if store.GetWAVersion() != newer {
			t.Errorf("version in use %v, want %v", store.GetWAVersion(), newer)
		}
		sc := lastState(t, h)
		if sc.Status != apiws.NumberDisconnected || sc.Code != 405 || sc.Permanent || !strings.Contains(sc.Reason, newer.String()) {
			t.Errorf("state %+v", sc)
		}
	})
	t.Run("a wave of failures asks once, and every number takes the new version", func(t *testing.T) {
		keepVersion(t)
		newer := store.GetWAVersion()
		newer[2]++
		asks := 0
		h := newHarnessWith(t, WhatsmeowOptions{fetchVersion: func(context.Context) (store.WAVersionContainer, error) {
			asks++
			return newer, nil
		}})
		// Every number's client fails at about the same moment.
		for i := range 3 {
			if !h.w.refreshVersion() {
				t.Fatalf("number %d: no reconnect with the new version", i+1)
			}
		}
		if asks != 1 {
			t.Errorf("WhatsApp asked %d times for its version, want once", asks)
		}
	})
	t.Run("no newer version: stays down", func(t *testing.T) {
		keepVersion(t)
		h := newHarnessWith(t, WhatsmeowOptions{fetchVersion: func(context.Context) (store.WAVersionContainer, error) { return store.GetWAVersion(), nil }})
		_, fc := h.pair(t)
		fc.emit(&events.ClientOutdated{})
		eventually(t, "the outdated report", func() bool { return lastState(t, h).Code == 405 })
		if sc := lastState(t, h); !sc.Permanent || sc.Status != apiws.NumberDisconnected || !strings.Contains(sc.Reason, "APIWS_WA_VERSION") {
			t.Errorf("state %+v", sc)
		}
		if fc.connects != 1 {
			t.Errorf("%d connects, want no reconnect", fc.connects)
		}
	})
	t.Run("override: never fetched", func(t *testing.T) {
		keepVersion(t)
		h := newHarnessWith(t, WhatsmeowOptions{Version: "2.3000.1", fetchVersion: func(context.Context) (store.WAVersionContainer, error) {
			t.Error("fetched despite the override")
			return store.WAVersionContainer{}, nil
		}})
		_, fc := h.pair(t)
		fc.emit(&events.ClientOutdated{})
		eventually(t, "the outdated report", func() bool { return lastState(t, h).Code == 405 })
	})
}

// lastState returns the last StateChange reported.
func lastState(t *testing.T, h *harness) StateChange {
	t.Helper()
	evs := h.rec.all()
	for i := len(evs) - 1; i >= 0; i-- {
		if sc, ok := evs[i].(*StateChange); ok {
			return *sc
		}
	}
	return StateChange{}
}

func TestSlogLogger(t *testing.T) {
	var buf bytes.Buffer
	l := newSlogLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))).Sub("client")
	l.Infof("connected as %s", "15550123456")
	l.Warnf("retrying")
	l.Debugf("<message to=%q>secret</message>", "14155552671")
	out := buf.String()
	if !strings.Contains(out, "connected as 15550123456") || !strings.Contains(out, "module=whatsmeow/client") || !strings.Contains(out, "retrying") {
		t.Errorf("log %q", out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("debug traffic logged: %q", out)
	}
	if newSlogLogger(nil) == nil {
		t.Error("nil slog gives no logger")
	}
}

func TestClientConfiguration(t *testing.T) {
	setDeviceIdentity()
	if store.DeviceProps.GetOs() != deviceOS || store.DeviceProps.GetPlatformType() != waCompanionReg.DeviceProps_DESKTOP {
		t.Errorf("device props %v / %v", store.DeviceProps.GetOs(), store.DeviceProps.GetPlatformType())
	}
	sent := &waE2E.Message{Conversation: proto.String("kept for retries")}
	h := newHarnessWith(t, WhatsmeowOptions{Retained: func(ctx context.Context, numberID, waID string) ([]byte, error) {
		if numberID != "num_1" || waID != "3EB0KEPT" {
			return nil, nil
		}
		return proto.Marshal(sent)
	}})
	_, fc := h.pair(t)

	// A real whatsmeow client, set up as NewWhatsmeow does.
	cli := whatsmeow.NewClient(fc.device, nil)
	h.w.configure(cli, fc.device)
	if !cli.ManualHistorySyncDownload {
		t.Error("history sync blobs are downloaded")
	}
	if !cli.AutomaticMessageRerequestFromPhone {
		t.Error("undecryptable messages are not asked of the phone")
	}
	if cli.GetMessageForRetry == nil {
		t.Fatal("no GetMessageForRetry")
	}
	got := cli.GetMessageForRetry(peerPN, peerPN, "3EB0KEPT")
	if got.GetConversation() != "kept for retries" {
		t.Errorf("retry answered with %v", got)
	}
	if cli.GetMessageForRetry(peerPN, peerPN, "3EB0GONE") != nil {
		t.Error("a message no longer kept was answered")
	}
}

func TestPushNameAndKeepAlive(t *testing.T) {
	h := newHarness(t)
	_, fc := h.pair(t)
	fc.emit(&events.PushNameSetting{Action: &waSyncAction.PushNameSetting{Name: proto.String("Shop & Co")}})
	if sc := lastState(t, h); sc.PushName != "Shop & Co" || !sc.Notice || sc.Status != apiws.NumberConnected {
		t.Errorf("push name change %+v", sc)
	}
	fc.emit(&events.KeepAliveTimeout{ErrorCount: 2})
	if sc := lastState(t, h); !sc.Notice || !strings.Contains(sc.Reason, "keep-alive") {
		t.Errorf("keep-alive timeout %+v", sc)
	}
}

func TestPairPhoneWaitsForFirstQR(t *testing.T) {
	h := newHarness(t)
	n, ch, fc := h.startPairing(t, "num_1")
	type result struct {
		code string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := h.w.PairPhone(context.Background(), n, "+15550123456")
		done <- result{code, err}
	}()
	h.clock.awaitWaiters(t, 1)
	fc.mu.Lock()
	asked := fc.pairPhone
	fc.mu.Unlock()
	if asked != "" {
		t.Fatal("a pairing code was asked for before the first QR code")
	}
	fc.qr <- whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: "2@a", Timeout: time.Minute}
	<-ch
	if r := <-done; r.err != nil || r.code != "ABCD-EFGH" {
		t.Fatalf("PairPhone = %+v", r)
	}

	t.Run("no QR code in time", func(t *testing.T) {
		h := newHarness(t)
		n, _, fc := h.startPairing(t, "num_2")
		go func() {
			_, err := h.w.PairPhone(context.Background(), n, "+15550123456")
			done <- result{"", err}
		}()
		h.clock.awaitWaiters(t, 1)
		h.clock.Advance(pairCodeWait)
		if r := <-done; r.err == nil || fc.pairPhone != "" {
			t.Fatalf("PairPhone = %+v, asked %q", r, fc.pairPhone)
		}
	})
}

func TestPairSuccessWaitsForConnection(t *testing.T) {
	h := newHarness(t)
	_, ch, fc := h.startPairing(t, "num_1")
	fc.completePairing(t, pairedJID)
	if ev := <-ch; ev.Linked == nil || ev.Linked.Status != apiws.NumberConnecting || ev.Linked.JID != pairedJID.String() {
		t.Fatalf("event after the link %+v, want Linked and CONNECTING", ev)
	}
	// No Connected after linking (the 515 reconnect failed): the outcome
	// says so once the wait is over.
	h.clock.awaitWaiters(t, 1)
	select {
	case ev := <-ch:
		t.Fatalf("outcome %+v before the connection or the timeout", ev)
	default:
	}
	h.clock.Advance(pairConnectWait)
	ev := <-ch
	if ev.Success == nil || ev.Success.Status != apiws.NumberDisconnected || ev.Success.Reason == "" {
		t.Fatalf("outcome %+v", ev.Success)
	}
}

func TestNumbersDoNotWaitForEachOther(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, fc := h.pair(t)
	fc.onWA["+14155552671"] = true

	// Another number whose dial hangs.
	other := h.w.devices.NewDevice()
	jid := types.JID{User: "15550199999", Device: 3, Server: types.DefaultUserServer}
	other.ID, other.Account = &jid, testAccount()
	if err := other.Save(ctx); err != nil {
		t.Fatal(err)
	}
	gate, entered := make(chan struct{}), make(chan struct{})
	h.prepare = func(f *fakeClient) { f.gate, f.entered = gate, entered }
	js := jid.String()
	slow := &apiws.Number{ID: "num_slow", JID: &js}
	dialed := make(chan error, 1)
	go func() { dialed <- h.w.Connect(ctx, slow) }()
	<-entered
	h.prepare = nil

	// Meanwhile the first number sends and reconnects.
	if _, err := h.w.Send(ctx, n, OutgoingMessage{ID: NewMessageID(), To: "+14155552671", Kind: apiws.KindText, Text: "hi"}); err != nil {
		t.Fatalf("send while another number dials: %v", err)
	}
	if err := h.w.Disconnect(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := h.w.Connect(ctx, n); err != nil {
		t.Fatalf("connect while another number dials: %v", err)
	}
	close(gate)
	if err := <-dialed; err != nil {
		t.Fatal(err)
	}
}

func TestSendNeedsLogin(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, fc := h.pair(t)
	fc.onWA["+14155552671"] = true
	fc.mu.Lock()
	fc.loggedIn = false // the socket is up, the login not yet
	fc.mu.Unlock()
	var se *SendError
	if _, err := h.w.Send(ctx, n, OutgoingMessage{ID: NewMessageID(), To: "+14155552671", Kind: apiws.KindText, Text: "x"}); !errors.As(err, &se) || se.Code != CodeNotConnected || !se.Retryable {
		t.Fatalf("send before login: %v", err)
	}
	if len(fc.sent) != 0 {
		t.Error("sent before login")
	}
}

// TestNoAnswerIsNotNotOnWhatsApp: a lookup WhatsApp answers with nothing
// fails the send for a retry and is not cached as "not on WhatsApp".
func TestNoAnswerIsNotNotOnWhatsApp(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, fc := h.pair(t)
	fc.mu.Lock()
	fc.onWA["+14155552671"], fc.silent = true, true
	fc.mu.Unlock()
	_, err := h.w.Send(ctx, n, OutgoingMessage{ID: NewMessageID(), To: "+14155552671", Kind: apiws.KindText, Text: "x"})
	var se *SendError
	if !errors.As(err, &se) || !se.Retryable || se.Code == CodeNotOnWhatsApp {
		t.Fatalf("send with no answer to the lookup: %v, want a retryable error", err)
	}
	fc.mu.Lock()
	fc.silent = false
	fc.mu.Unlock()
	h.clock.Advance(lookupInterval)
	if _, err := h.w.Send(ctx, n, OutgoingMessage{ID: NewMessageID(), To: "+14155552671", Kind: apiws.KindText, Text: "x"}); err != nil {
		t.Fatalf("the retry: %v", err)
	}
}

func TestRecipientLookups(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, fc := h.pair(t)
	fc.onWA["+14155552671"], fc.onWA["+14155552672"] = true, true
	send := func(to string) error {
		_, err := h.w.Send(ctx, n, OutgoingMessage{ID: NewMessageID(), To: to, Kind: apiws.KindText, Text: "x"})
		return err
	}
	if err := send("+14155552671"); err != nil {
		t.Fatal(err)
	}
	// A second new recipient waits its turn.
	done := make(chan error, 1)
	go func() { done <- send("+14155552672") }()
	h.clock.awaitWaiters(t, 1)
	if fc.lookups != 1 {
		t.Fatalf("%d lookups before the pause ended", fc.lookups)
	}
	h.clock.Advance(lookupInterval)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Known recipients are not looked up again for a day.
	h.clock.Advance(recipientTTL - time.Minute)
	if err := send("+14155552671"); err != nil || fc.lookups != 2 {
		t.Fatalf("send to a known recipient: %v, %d lookups", err, fc.lookups)
	}
	h.clock.Advance(2 * time.Minute)
	if err := send("+14155552671"); err != nil || fc.lookups != 3 {
		t.Fatalf("send after a day: %v, %d lookups", err, fc.lookups)
	}
}

func TestLogoutOfOfflineNumber(t *testing.T) {
	t.Run("connects briefly to unlink", func(t *testing.T) {
		h := newHarness(t)
		ctx := context.Background()
		n, _ := h.pair(t)
		if err := h.w.Disconnect(ctx, n); err != nil {
			t.Fatal(err)
		}
		h.prepare = func(f *fakeClient) { f.entered = make(chan struct{}) }
		done := make(chan error, 1)
		go func() { done <- h.w.Logout(ctx, n) }()
		fc := h.client(t)
		<-fc.entered
		h.clock.awaitWaiters(t, 1) // waiting for the connection
		fc.login()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !fc.unlinked {
			t.Error("WhatsApp was not told to unlink the device")
		}
		if dev, _ := h.w.devices.GetDevice(ctx, pairedJID); dev != nil {
			t.Error("device keys kept")
		}
	})
	t.Run("whatsapp out of reach: keys deleted anyway", func(t *testing.T) {
		h := newHarness(t)
		ctx := context.Background()
		n, _ := h.pair(t)
		if err := h.w.Disconnect(ctx, n); err != nil {
			t.Fatal(err)
		}
		h.prepare = func(f *fakeClient) { f.connectErr = errors.New("dial tcp: no route to host") }
		if err := h.w.Logout(ctx, n); err != nil {
			t.Fatal(err)
		}
		if dev, _ := h.w.devices.GetDevice(ctx, pairedJID); dev != nil {
			t.Error("device keys kept")
		}
		if sc := lastState(t, h); sc.Status != apiws.NumberLoggedOut {
			t.Errorf("last state %+v", sc)
		}
	})
}

// TestADialHoldsNoLockOfItsNumber: while a number's connection dials
// (which may take about 50 s), a second Connect of it returns at once
// without dialing again, and a Disconnect of it does not wait.
func TestADialHoldsNoLockOfItsNumber(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	device := h.w.devices.NewDevice()
	jid := types.JID{User: "15550199998", Device: 4, Server: types.DefaultUserServer}
	device.ID, device.Account = &jid, testAccount()
	if err := device.Save(ctx); err != nil {
		t.Fatal(err)
	}
	gate, entered := make(chan struct{}), make(chan struct{})
	defer func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	}()
	h.prepare = func(f *fakeClient) { f.gate, f.entered = gate, entered }
	js := jid.String()
	slow := &apiws.Number{ID: "num_slow", JID: &js}
	dialed := make(chan error, 1)
	go func() { dialed <- h.w.Connect(ctx, slow) }()
	<-entered
	h.prepare = nil

	during := make(chan error, 2)
	go func() {
		during <- h.w.Connect(ctx, slow)
		during <- h.w.Disconnect(ctx, slow)
	}()
	for _, op := range []string{"a second Connect", "Disconnect"} {
		select {
		case err := <-during:
			if err != nil {
				t.Fatalf("%s while the number dials: %v", op, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s waited for the number's dial", op)
		}
	}
	close(gate)
	if err := <-dialed; err != nil {
		t.Fatalf("the dial, disconnected meanwhile: %v", err)
	}
	if h.w.number(slow.ID) != nil {
		t.Fatal("the number kept a client after its Disconnect")
	}
}
