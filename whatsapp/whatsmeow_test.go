package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// fakeClient stands in for *whatsmeow.Client where the network would be:
// the test plays WhatsApp's side through it.
type fakeClient struct {
	// silent makes IsOnWhatsApp answer nothing, as WhatsApp may.
	silent bool
	device *store.Device
	qr     chan whatsmeow.QRChannelItem

	mu        sync.Mutex
	connected bool
	loggedIn  bool
	connects  int
	unlinked  bool // Logout told WhatsApp
	lookups   int
	// asked are the phones of each IsOnWhatsApp request; infoCalls the
	// JIDs of each GetUserInfo; lids the LIDs it answers, by phone digits.
	asked     [][]string
	infoCalls [][]types.JID
	lids      map[string]types.JID
	// gate, when set, holds Connect until closed; entered is closed when
	// Connect is called. connectErr fails Connect.
	gate, entered chan struct{}
	connectErr    error
	handlers      map[uint32]whatsmeow.EventHandler
	nextID        uint32
	onWA          map[string]bool
	sendErr       error
	sent          []fakeSent
	uploads       int
	pairPhone     string
	// files are what WhatsApp's media servers hold, by direct path;
	// downloads the messages DownloadAny was asked for.
	files     map[string][]byte
	downloads []*waE2E.Message
	// votes are the decrypted poll votes, by the vote's message id;
	// secrets the decrypted secret-encrypted messages, by id.
	votes   map[types.MessageID]*waE2E.PollVoteMessage
	secrets map[types.MessageID]*waE2E.Message
	// groups are the groups WhatsApp knows (see wagroups_test.go).
	groups fakeGroups
}

type fakeSent struct {
	to  types.JID
	msg *waE2E.Message
	id  types.MessageID
}

var _ waClient = (*fakeClient)(nil)

func newFakeClient(d *store.Device) *fakeClient {
	return &fakeClient{device: d, qr: make(chan whatsmeow.QRChannelItem, 8), handlers: map[uint32]whatsmeow.EventHandler{}, onWA: map[string]bool{}, lids: map[string]types.JID{},
		files: map[string][]byte{}, votes: map[types.MessageID]*waE2E.PollVoteMessage{}, secrets: map[types.MessageID]*waE2E.Message{}}
}

func (f *fakeClient) Connect() error {
	if f.entered != nil {
		close(f.entered)
	}
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connects++
	if f.connectErr != nil {
		return f.connectErr
	}
	f.connected = true
	return nil
}
func (f *fakeClient) Disconnect() { f.mu.Lock(); f.connected, f.loggedIn = false, false; f.mu.Unlock() }
func (f *fakeClient) Logout(ctx context.Context) error {
	f.mu.Lock()
	f.unlinked = true
	f.mu.Unlock()
	f.Disconnect()
	return f.device.Delete(ctx)
}
func (f *fakeClient) IsConnected() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.connected }
func (f *fakeClient) IsLoggedIn() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connected && f.loggedIn
}

// login plays WhatsApp accepting the connection: logged in, then Connected.
func (f *fakeClient) login() {
	f.mu.Lock()
	f.loggedIn = true
	f.mu.Unlock()
	f.emit(&events.Connected{})
}
func (f *fakeClient) GetQRChannel(ctx context.Context) (<-chan whatsmeow.QRChannelItem, error) {
	return f.qr, nil
}
func (f *fakeClient) PairPhone(ctx context.Context, phone string, show bool, ct whatsmeow.PairClientType, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pairPhone = phone
	return "ABCD-EFGH", nil
}
func (f *fakeClient) SendMessage(ctx context.Context, to types.JID, m *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return whatsmeow.SendResponse{}, f.sendErr
	}
	// Without an id, whatsmeow makes one.
	id := types.MessageID(fmt.Sprintf("3EB0FAKE%d", len(f.sent)))
	if len(extra) > 0 && extra[0].ID != "" {
		id = extra[0].ID
	}
	f.sent = append(f.sent, fakeSent{to: to, msg: m, id: id})
	return whatsmeow.SendResponse{ID: id, Timestamp: testTime}, nil
}
func (f *fakeClient) Upload(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	f.mu.Lock()
	f.uploads++
	f.mu.Unlock()
	return whatsmeow.UploadResponse{URL: "u", DirectPath: "/p", FileLength: uint64(len(data))}, nil
}
func (f *fakeClient) MarkRead(ctx context.Context, ids []types.MessageID, at time.Time, chat, sender types.JID, extra ...types.ReceiptType) error {
	return nil
}
func (f *fakeClient) SendChatPresence(ctx context.Context, jid types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error {
	return nil
}
func (f *fakeClient) BuildPollCreation(name string, options []string, selectable int) *waE2E.Message {
	// whatsmeow's own builder: it only draws the poll's secret.
	return new(whatsmeow.Client).BuildPollCreation(name, options, selectable)
}

// The builders are whatsmeow's own, of a client of the fake's device.
func (f *fakeClient) BuildEdit(chat types.JID, id types.MessageID, content *waE2E.Message) *waE2E.Message {
	return (&whatsmeow.Client{Store: f.device}).BuildEdit(chat, id, content)
}
func (f *fakeClient) BuildRevoke(chat, sender types.JID, id types.MessageID) *waE2E.Message {
	return (&whatsmeow.Client{Store: f.device}).BuildRevoke(chat, sender, id)
}
func (f *fakeClient) BuildReaction(chat, sender types.JID, id types.MessageID, reaction string) *waE2E.Message {
	return (&whatsmeow.Client{Store: f.device}).BuildReaction(chat, sender, id, reaction)
}

// DownloadAny answers as WhatsApp's media servers would: the file at the
// attachment's direct path, or whatsmeow's 404 error for a file they no
// longer have.
func (f *fakeClient) DownloadAny(ctx context.Context, msg *waE2E.Message) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.downloads = append(f.downloads, msg)
	var path string
	switch {
	case msg.GetImageMessage() != nil:
		path = msg.GetImageMessage().GetDirectPath()
	case msg.GetVideoMessage() != nil:
		path = msg.GetVideoMessage().GetDirectPath()
	case msg.GetAudioMessage() != nil:
		path = msg.GetAudioMessage().GetDirectPath()
	case msg.GetDocumentMessage() != nil:
		path = msg.GetDocumentMessage().GetDirectPath()
	case msg.GetStickerMessage() != nil:
		path = msg.GetStickerMessage().GetDirectPath()
	default:
		return nil, whatsmeow.ErrNothingDownloadableFound
	}
	if data, ok := f.files[path]; ok {
		return data, nil
	}
	return nil, whatsmeow.ErrMediaDownloadFailedWith404
}

// DecryptPollVote answers the votes the test set, as whatsmeow does when
// it holds the poll's secret, and whatsmeow's error otherwise.
func (f *fakeClient) DecryptPollVote(ctx context.Context, vote *events.Message) (*waE2E.PollVoteMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.votes[vote.Info.ID]; ok {
		return v, nil
	}
	return nil, whatsmeow.ErrOriginalMessageSecretNotFound
}

// DecryptSecretEncryptedMessage answers the contents the test set, as
// whatsmeow does when it holds the edited message's secret.
func (f *fakeClient) DecryptSecretEncryptedMessage(ctx context.Context, evt *events.Message) (*waE2E.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.secrets[evt.Info.ID]; ok {
		return m, nil
	}
	return nil, whatsmeow.ErrOriginalMessageSecretNotFound
}
func (f *fakeClient) IsOnWhatsApp(ctx context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	f.asked = append(f.asked, phones)
	if f.silent {
		return nil, nil
	}
	out := make([]types.IsOnWhatsAppResponse, len(phones))
	for i, p := range phones {
		out[i] = types.IsOnWhatsAppResponse{Query: p, IsIn: f.onWA[p], JID: types.NewJID(phoneDigits(p), types.DefaultUserServer)}
	}
	return out, nil
}
func (f *fakeClient) GetUserInfo(ctx context.Context, jids []types.JID) (map[types.JID]types.UserInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.infoCalls = append(f.infoCalls, jids)
	out := make(map[types.JID]types.UserInfo, len(jids))
	for _, j := range jids {
		out[j] = types.UserInfo{LID: f.lids[j.User]}
	}
	return out, nil
}
func (f *fakeClient) AddEventHandler(h whatsmeow.EventHandler) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.handlers[f.nextID] = h
	return f.nextID
}
func (f *fakeClient) RemoveEventHandler(id uint32) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.handlers[id]
	delete(f.handlers, id)
	return ok
}

// emit plays an event from WhatsApp.
func (f *fakeClient) emit(evt any) {
	f.mu.Lock()
	hs := make([]whatsmeow.EventHandler, 0, len(f.handlers))
	for _, h := range f.handlers {
		hs = append(hs, h)
	}
	f.mu.Unlock()
	for _, h := range hs {
		h(evt)
	}
}

// completePairing does what whatsmeow does when the phone scans the code:
// the device gets its id and identity and is saved, then success.
func (f *fakeClient) completePairing(t *testing.T, jid types.JID) {
	t.Helper()
	f.device.ID, f.device.PushName, f.device.Account = &jid, "Shop", testAccount()
	if err := f.device.Save(context.Background()); err != nil {
		t.Fatalf("save paired device: %v", err)
	}
	f.qr <- whatsmeow.QRChannelSuccess
	close(f.qr)
}

// harness is a Whatsmeow connector on a real SQLite device store whose
// clients are fakes.
type harness struct {
	w       *Whatsmeow
	rec     *recorder
	clients chan *fakeClient
	clock   *fakeClock
	// prepare, when set, sets up each new fake client before use.
	prepare func(*fakeClient)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, WhatsmeowOptions{})
}

func newHarnessWith(t *testing.T, opts WhatsmeowOptions) *harness {
	t.Helper()
	c, err := openDeviceStore(context.Background(), openSQLite(t).db, "sqlite", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{rec: &recorder{}, clients: make(chan *fakeClient, 8), clock: newFakeClock()}
	h.w = newWhatsmeow(c, h.rec.handle, func(d *store.Device) waClient {
		fc := newFakeClient(d)
		if h.prepare != nil {
			h.prepare(fc)
		}
		h.clients <- fc
		return fc
	}, opts)
	h.w.now, h.w.after = h.clock.Now, h.clock.After
	t.Cleanup(func() { h.w.Close() })
	return h
}

func (h *harness) client(t *testing.T) *fakeClient {
	t.Helper()
	select {
	case c := <-h.clients:
		return c
	case <-time.After(time.Second):
		t.Fatal("no client was created")
		return nil
	}
}

var pairedJID = types.JID{User: "15550123456", Device: 7, Server: types.DefaultUserServer}

// startPairing starts a pairing of a new number with the id and returns
// it, its pairing's events and the fake client made for it.
func (h *harness) startPairing(t *testing.T, id string) (*apiws.Number, <-chan PairEvent, *fakeClient) {
	t.Helper()
	n := &apiws.Number{ID: id}
	ch, err := h.w.PairQR(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return n, ch, h.client(t)
}

// pair runs a pairing to success through the fake and returns the number.
func (h *harness) pair(t *testing.T) (*apiws.Number, *fakeClient) {
	t.Helper()
	n, ch, fc := h.startPairing(t, "num_1")
	fc.qr <- whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: "2@abc,def", Timeout: 60 * time.Second}
	if ev := <-ch; ev.QR == nil || ev.QR.Code != "2@abc,def" || ev.QR.ExpiresAt.Sub(h.clock.Now()) != 60*time.Second {
		t.Fatalf("first event %+v, want the QR code", ev)
	} else {
		checkQRPNG(t, ev.QR.PNG)
	}
	code, err := h.w.PairPhone(context.Background(), n, "+15550123456")
	if err != nil || code != "ABCD-EFGH" || fc.pairPhone != "15550123456" {
		t.Fatalf("PairPhone = %q, %v (asked for %q)", code, err, fc.pairPhone)
	}
	fc.completePairing(t, pairedJID)
	want := PairSuccess{Phone: "+15550123456", JID: "15550123456:7@s.whatsapp.net", PushName: "Shop", Status: apiws.NumberConnecting}
	if ev := <-ch; ev.Linked == nil || *ev.Linked != want {
		t.Fatalf("event after the link %+v, want Linked %+v", ev, want)
	}
	// The outcome waits for the linked device's first connection.
	select {
	case ev := <-ch:
		t.Fatalf("outcome %+v before the connection", ev)
	default:
	}
	fc.login()
	ev, ok := <-ch
	if !ok || ev.Success == nil {
		t.Fatalf("outcome %+v", ev)
	}
	if _, open := <-ch; open {
		t.Fatal("channel not closed after the outcome")
	}
	want.Status = apiws.NumberConnected
	if *ev.Success != want {
		t.Fatalf("success %+v, want %+v", *ev.Success, want)
	}
	n.Phone, n.JID = &ev.Success.Phone, &ev.Success.JID
	return n, fc
}

func TestWhatsmeowPairAndSend(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, fc := h.pair(t)
	if dev, err := h.w.devices.GetDevice(ctx, pairedJID); err != nil || dev == nil {
		t.Fatalf("paired device not in the store: %v", err)
	}

	fc.onWA["+14155552671"] = true
	msg := OutgoingMessage{ID: NewMessageID(), To: "+14155552671", Kind: apiws.KindText, Text: "hello"}
	res, err := h.w.Send(ctx, n, msg)
	if err != nil || res.WAMessageID != msg.ID || !res.At.Equal(testTime) {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	if len(fc.sent) != 1 || fc.sent[0].id != types.MessageID(msg.ID) || fc.sent[0].to.User != "14155552671" || fc.sent[0].msg.GetConversation() != "hello" {
		t.Fatalf("sent %+v", fc.sent)
	}
	img := OutgoingMessage{ID: NewMessageID(), To: "+14155552671", Kind: apiws.KindImage, Media: &Media{Data: []byte("png"), MimeType: "image/png"}}
	if _, err := h.w.Send(ctx, n, img); err != nil || fc.uploads != 1 || fc.sent[1].msg.GetImageMessage().GetDirectPath() != "/p" {
		t.Fatalf("image send: %v, uploads %d", err, fc.uploads)
	}
	// A hidden recipient is sent to at its LID, with nothing to look up.
	lookups := fc.lookups
	hidden := OutgoingMessage{ID: NewMessageID(), ToLID: "100014155550123", Kind: apiws.KindText, Text: "hi"}
	if _, err := h.w.Send(ctx, n, hidden); err != nil || fc.lookups != lookups {
		t.Fatalf("send to a LID: %v (%d lookups)", err, fc.lookups-lookups)
	}
	if to := fc.sent[len(fc.sent)-1].to; to.User != "100014155550123" || to.Server != types.HiddenUserServer {
		t.Fatalf("sent to %v", to)
	}
	// A reply to our own message names this number, as paired, as the
	// quoted message's author; a poll goes with whatsmeow's secret.
	reply := OutgoingMessage{ID: NewMessageID(), To: "+14155552671", Kind: apiws.KindPoll, ReplyTo: &Quote{ID: msg.ID, FromMe: true},
		Poll: &apiws.Poll{Question: "Which?", Options: []string{"a", "b"}, SelectableCount: 1}}
	if _, err := h.w.Send(ctx, n, reply); err != nil {
		t.Fatal(err)
	}
	last := fc.sent[len(fc.sent)-1].msg
	if p := last.GetPollCreationMessage(); p.GetContextInfo().GetStanzaID() != msg.ID ||
		p.GetContextInfo().GetParticipant() != pairedJID.ToNonAD().String() || len(last.GetMessageContextInfo().GetMessageSecret()) != 32 {
		t.Fatalf("poll reply sent as %v", last)
	}

	var se *SendError
	h.clock.Advance(lookupInterval) // the next new recipient's turn
	if _, err := h.w.Send(ctx, n, OutgoingMessage{ID: "3EB0X", To: "+14155550000", Kind: apiws.KindText, Text: "x"}); !errors.As(err, &se) || se.Code != CodeNotOnWhatsApp || se.Retryable {
		t.Errorf("send to a non-user: %v", err)
	}
	fc.sendErr = whatsmeow.ErrMessageTimedOut
	if _, err := h.w.Send(ctx, n, msg); !errors.As(err, &se) || se.Code != CodeTimeout || !se.Retryable {
		t.Errorf("timed out send: %v", err)
	}
	fc.sendErr = fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 429)
	if _, err := h.w.Send(ctx, n, msg); !errors.As(err, &se) || se.Code != CodeRateLimited {
		t.Errorf("rate limited send: %v", err)
	}

	fc.emit(&events.Receipt{MessageSource: types.MessageSource{Chat: peerPN, Sender: peerPN}, MessageIDs: []types.MessageID{types.MessageID(msg.ID)}, Type: types.ReceiptTypeRead, Timestamp: testTime})
	fc.emit(&events.Message{Info: types.MessageInfo{MessageSource: direct, ID: "3EB0IN", Timestamp: testTime}, Message: &waE2E.Message{Conversation: strPtr("hi back")}})
	fc.emit(&events.TemporaryBan{Code: events.TempBanBlockedByUsers, Expire: time.Hour})
	evs := h.rec.all()
	if len(evs) != 4 {
		t.Fatalf("events %v", evs)
	}
	if sc, ok := evs[0].(*StateChange); !ok || sc.Status != apiws.NumberConnected || sc.NumberID != n.ID {
		t.Errorf("event 0 = %+v", evs[0])
	}
	if r, ok := evs[1].(*Receipt); !ok || r.Status != apiws.StatusRead || r.MessageIDs[0] != msg.ID {
		t.Errorf("event 1 = %+v", evs[1])
	}
	if in, ok := evs[2].(*Inbound); !ok || in.Text != "hi back" || in.From != "+14155552671" {
		t.Errorf("event 2 = %+v", evs[2])
	}
	if sc, ok := evs[3].(*StateChange); !ok || sc.Status != apiws.NumberBanned || sc.BanExpiresAt == nil {
		t.Errorf("event 3 = %+v", evs[3])
	}
}

func strPtr(s string) *string { return &s }

func TestWhatsmeowReconnectAndLogout(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, _ := h.pair(t)

	if err := h.w.Disconnect(ctx, n); err != nil {
		t.Fatal(err)
	}
	var se *SendError
	if _, err := h.w.Send(ctx, n, OutgoingMessage{ID: "3EB0X", To: "+14155552671", Kind: apiws.KindText, Text: "x"}); !errors.As(err, &se) || se.Code != CodeNotConnected || !se.Retryable {
		t.Fatalf("send while disconnected: %v", err)
	}
	if err := h.w.Connect(ctx, n); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	fc := h.client(t)
	if !fc.IsConnected() || fc.device.ID == nil || *fc.device.ID != pairedJID {
		t.Fatal("Connect did not load the paired device")
	}
	fc.login()

	if err := h.w.Logout(ctx, n); err != nil {
		t.Fatal(err)
	}
	if dev, err := h.w.devices.GetDevice(ctx, pairedJID); err != nil || dev != nil {
		t.Fatalf("device keys survived logout: %v", err)
	}
	if !fc.unlinked {
		t.Error("WhatsApp was not told to unlink the device")
	}
	if err := h.w.Connect(ctx, n); !errors.Is(err, ErrNotPaired) {
		t.Errorf("Connect after logout: %v, want ErrNotPaired", err)
	}
	evs := h.rec.all()
	if last, ok := evs[len(evs)-1].(*StateChange); !ok || last.Status != apiws.NumberLoggedOut {
		t.Errorf("last event %+v, want LOGGED_OUT", evs[len(evs)-1])
	}
}

func TestWhatsmeowPairingFailures(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		h := newHarness(t)
		ch, err := h.w.PairQR(context.Background(), &apiws.Number{ID: "num_1"})
		if err != nil {
			t.Fatal(err)
		}
		fc := h.client(t)
		fc.qr <- whatsmeow.QRChannelTimeout
		close(fc.qr)
		if ev := <-ch; ev.Failure == nil || ev.Failure.Reason != PairTimeout {
			t.Fatalf("outcome %+v", ev)
		}
		if _, err := h.w.PairPhone(context.Background(), &apiws.Number{ID: "num_1"}, "+15550123456"); !errors.Is(err, ErrNoPairing) {
			t.Errorf("PairPhone after failure: %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		h := newHarness(t)
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := h.w.PairQR(ctx, &apiws.Number{ID: "num_1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.w.PairQR(context.Background(), &apiws.Number{ID: "num_1"}); !errors.Is(err, ErrPairing) {
			t.Errorf("second PairQR: %v", err)
		}
		fc := h.client(t)
		cancel()
		if ev := <-ch; ev.Failure == nil || ev.Failure.Reason != PairCancelled {
			t.Fatalf("outcome %+v", ev)
		}
		if fc.IsConnected() {
			t.Error("client still connected after cancel")
		}
	})
	t.Run("rejected", func(t *testing.T) {
		h := newHarness(t)
		ch, _ := h.w.PairQR(context.Background(), &apiws.Number{ID: "num_1"})
		fc := h.client(t)
		fc.qr <- whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventError, Error: whatsmeow.ErrPairInvalidDeviceSignature}
		if ev := <-ch; ev.Failure == nil || ev.Failure.Reason != PairRejected {
			t.Fatalf("outcome %+v", ev)
		}
	})
}

// TestWhatsmeowPollVotes: a vote on a poll the number sent is told with
// the options' names, from the content apiws retained, as long as it does.
func TestWhatsmeowPollVotes(t *testing.T) {
	var mu sync.Mutex
	retained := map[string][]byte{}
	h := newHarnessWith(t, WhatsmeowOptions{Retained: func(ctx context.Context, numberID, waID string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		return retained[numberID+"/"+waID], nil
	}})
	ctx := context.Background()
	n, fc := h.pair(t)
	fc.onWA["+14155552671"] = true
	poll := OutgoingMessage{ID: NewMessageID(), To: "+14155552671", Kind: apiws.KindPoll,
		Poll: &apiws.Poll{Question: "Lunch?", Options: []string{"Pizza", "Sushi", "Salad"}, SelectableCount: 2}}
	res, err := h.w.Send(ctx, n, poll)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	retained[n.ID+"/"+res.WAMessageID] = res.Content
	mu.Unlock()

	vote := func(id types.MessageID, src types.MessageSource) *PollVoted {
		t.Helper()
		fc.emit(delivered(src, id, voteOn(res.WAMessageID)))
		evs := h.rec.all()
		v, ok := evs[len(evs)-1].(*PollVoted)
		if !ok {
			t.Fatalf("vote %s told as %+v", id, evs[len(evs)-1])
		}
		return v
	}
	fc.votes["V1"] = &waE2E.PollVoteMessage{SelectedOptions: whatsmeow.HashPollOptions([]string{"Salad", "Pizza"})}
	want := &PollVoted{NumberID: n.ID, WAMessageID: "V1", PollID: res.WAMessageID, From: "+14155552671", Options: []string{"Pizza", "Salad"}, At: testTime}
	if v := vote("V1", direct); !reflect.DeepEqual(v, want) {
		t.Errorf("vote %+v, want %+v", v, want)
	}
	// A vote whatsmeow cannot decrypt is told without options.
	if v := vote("V2", direct); v.Options != nil || v.PollID != res.WAMessageID {
		t.Errorf("undecryptable vote %+v", v)
	}
	// Once apiws no longer keeps the poll, neither are its options known.
	mu.Lock()
	clear(retained)
	mu.Unlock()
	fc.votes["V3"] = &waE2E.PollVoteMessage{SelectedOptions: whatsmeow.HashPollOptions([]string{"Sushi"})}
	if v := vote("V3", direct); v.Options != nil {
		t.Errorf("vote after the poll's transit %+v", v)
	}
}

// TestWhatsmeowLearnsLIDs: the phone behind a sender's LID is told once,
// whether a message or a lookup revealed it.
func TestWhatsmeowLearnsLIDs(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, fc := h.pair(t)
	learned := func() []LIDLearned {
		var out []LIDLearned
		for _, e := range h.rec.all() {
			if l, ok := e.(*LIDLearned); ok {
				out = append(out, *l)
			}
		}
		return out
	}
	hidden := types.MessageSource{Chat: peerLID, Sender: peerLID, AddressingMode: types.AddressingModeLID}
	fc.emit(&events.Message{Info: types.MessageInfo{MessageSource: hidden, ID: "3EB0A", Timestamp: testTime}, Message: &waE2E.Message{Conversation: strPtr("who am I")}})
	if got := learned(); len(got) != 0 {
		t.Fatalf("learned %+v from a LID alone", got)
	}
	revealed := hidden
	revealed.SenderAlt = peerPN
	for _, id := range []types.MessageID{"3EB0B", "3EB0C"} {
		fc.emit(&events.Message{Info: types.MessageInfo{MessageSource: revealed, ID: id, Timestamp: testTime}, Message: &waE2E.Message{Conversation: strPtr("me again")}})
	}
	fc.emit(delivered(revealed, "R1", new(whatsmeow.Client).BuildReaction(peerLID, ownPN, "3EB0OUT", "👍")))
	want := []LIDLearned{{NumberID: n.ID, LID: peerLID.User, Phone: "+14155552671"}}
	if got := learned(); !reflect.DeepEqual(got, want) {
		t.Fatalf("learned %+v, want %+v once", got, want)
	}
	// The number's own devices reveal nothing of a peer.
	fc.emit(delivered(types.MessageSource{Chat: unknownLD, Sender: ownPN, SenderAlt: unknownLD, IsFromMe: true}, "R2",
		new(whatsmeow.Client).BuildReaction(unknownLD, unknownLD, "3EB0IN", "👍")))
	if got := learned(); len(got) != 1 {
		t.Fatalf("learned %+v from the number's own message", got)
	}

	fc.onWA["+14155550100"] = true
	fc.lids["14155550100"] = types.NewJID("222222222222222", types.HiddenUserServer)
	if _, err := h.w.Lookup(ctx, n, []string{"+14155550100"}); err != nil {
		t.Fatal(err)
	}
	want = append(want, LIDLearned{NumberID: n.ID, LID: "222222222222222", Phone: "+14155550100"})
	if got := learned(); !reflect.DeepEqual(got, want) {
		t.Fatalf("learned %+v, want %+v", got, want)
	}
}

// TestWhatsmeowUndecryptable: a message the number could not decrypt is
// recorded as such once whatsmeow had time to get it again, its sender's
// LID learned like any other's; one that arrives decrypted in time is
// recorded as it is instead.
func TestWhatsmeowUndecryptable(t *testing.T) {
	h := newHarness(t)
	n, fc := h.pair(t)
	h.clock.mu.Lock()
	waits := len(h.clock.waiters)
	h.clock.mu.Unlock()
	hidden := types.MessageSource{Chat: peerLID, Sender: peerLID, SenderAlt: peerPN}
	failed := func(id types.MessageID) *events.UndecryptableMessage {
		return &events.UndecryptableMessage{Info: types.MessageInfo{MessageSource: hidden, ID: id, Timestamp: testTime}}
	}
	before := len(h.rec.all())
	fc.emit(failed("3EB0U"))
	fc.emit(failed("3EB0U")) // whatsmeow's retry failed too
	fc.emit(failed("3EB0R"))
	h.clock.awaitWaiters(t, waits+2)
	fc.emit(&events.Message{Info: types.MessageInfo{MessageSource: hidden, ID: "3EB0R", Timestamp: testTime}, Message: &waE2E.Message{Conversation: strPtr("resent")}})
	if evs := h.rec.all()[before:]; len(evs) != 2 || evs[0].(*Inbound).Text != "resent" || evs[0].(*Inbound).Error != nil {
		t.Fatalf("before the grace ends: %+v", evs)
	}
	h.clock.Advance(undecryptableGrace)
	eventually(t, "the undecryptable message", func() bool { return len(h.rec.all()) == before+3 })
	in, ok := h.rec.all()[before+2].(*Inbound)
	if !ok || in.WAMessageID != "3EB0U" || in.Kind != apiws.KindOther || in.Error == nil || in.Error.Code != apiws.MsgErrUndecryptable ||
		in.From != "+14155552671" || in.FromLID != peerLID.User {
		t.Errorf("undecryptable told as %+v", h.rec.all()[before+2])
	}
	if l, ok := h.rec.all()[before+1].(*LIDLearned); !ok || *l != (LIDLearned{NumberID: n.ID, LID: peerLID.User, Phone: "+14155552671"}) {
		t.Errorf("the resent message's sender: %+v", h.rec.all()[before+1])
	}

	// Held when the connector closes: told then.
	fc.emit(failed("3EB0C"))
	h.w.Close()
	evs := h.rec.all()
	if in, ok := evs[len(evs)-1].(*Inbound); !ok || in.WAMessageID != "3EB0C" || in.Error == nil {
		t.Errorf("held at close: %+v", evs[len(evs)-1])
	}
}
