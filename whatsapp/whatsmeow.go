package whatsapp

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// waClient is the part of *whatsmeow.Client the connector uses. It exists so
// everything up to the network can be tested with a fake: WhatsApp's servers
// are out of reach in tests.
type waClient interface {
	Connect() error
	Disconnect()
	Logout(ctx context.Context) error
	IsConnected() bool
	GetQRChannel(ctx context.Context) (<-chan whatsmeow.QRChannelItem, error)
	PairPhone(ctx context.Context, phone string, showPushNotification bool, clientType whatsmeow.PairClientType, clientDisplayName string) (string, error)
	SendMessage(ctx context.Context, to types.JID, message *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error)
	Upload(ctx context.Context, plaintext []byte, appInfo whatsmeow.MediaType) (whatsmeow.UploadResponse, error)
	IsOnWhatsApp(ctx context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error)
	AddEventHandler(handler whatsmeow.EventHandler) uint32
	RemoveEventHandler(id uint32) bool
}

var _ waClient = (*whatsmeow.Client)(nil)

// pairDisplayName is how the linked device appears on the phone. WhatsApp
// accepts only "Browser (OS)" names of common browsers.
const pairDisplayName = "Chrome (Linux)"

// Whatsmeow is the Connector for real WhatsApp numbers, one whatsmeow client
// per number, with device keys in the apiws database.
type Whatsmeow struct {
	container *sqlstore.Container
	handler   EventHandler
	newClient func(*store.Device) waClient

	mu      sync.Mutex
	closed  bool
	numbers map[string]*waNumber
	done    chan struct{} // closed by Close
	wg      sync.WaitGroup
}

var _ Connector = (*Whatsmeow)(nil)

// waNumber is one number's live client.
type waNumber struct {
	client    waClient
	device    *store.Device
	handlerID uint32
	// cancelPairing is set while PairQR runs.
	cancelPairing context.CancelFunc
	// recipients caches IsOnWhatsApp answers, so a Send costs one lookup per
	// recipient rather than one per message.
	recipients sync.Map // E.164 -> recipient
}

type recipient struct {
	jid  types.JID
	isIn bool
	at   time.Time
}

// recipientTTL bounds how long a lookup is trusted: people join and leave.
const recipientTTL = 6 * time.Hour

// NewWhatsmeow returns a Whatsmeow connector keeping device keys in db, whose
// dialect is "postgres" (pgx stdlib) or "sqlite" (modernc.org/sqlite, opened
// with "?_pragma=foreign_keys(1)"). It creates or upgrades whatsmeow's
// tables. handler receives every event; log may be nil. Nothing connects
// until Connect or PairQR: on start, call Connect for every paired number.
func NewWhatsmeow(ctx context.Context, db *sql.DB, dialect string, handler EventHandler, log waLog.Logger) (*Whatsmeow, error) {
	if log == nil {
		log = waLog.Noop
	}
	c, err := openDeviceStore(ctx, db, dialect, log)
	if err != nil {
		return nil, err
	}
	return newWhatsmeow(c, handler, func(d *store.Device) waClient {
		return whatsmeow.NewClient(d, log.Sub("client"))
	}), nil
}

func newWhatsmeow(c *sqlstore.Container, handler EventHandler, newClient func(*store.Device) waClient) *Whatsmeow {
	return &Whatsmeow{container: c, handler: handler, newClient: newClient, numbers: make(map[string]*waNumber), done: make(chan struct{})}
}

// Close disconnects every number (keeping their keys), aborts pairings and
// waits for the connector's goroutines. It does not close the database.
func (w *Whatsmeow) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.done)
	}
	nums := w.numbers
	w.numbers = make(map[string]*waNumber)
	w.mu.Unlock()
	for _, num := range nums {
		num.stop()
	}
	w.wg.Wait()
	return nil
}

func (num *waNumber) stop() {
	if num.cancelPairing != nil {
		num.cancelPairing()
	}
	num.client.RemoveEventHandler(num.handlerID)
	num.client.Disconnect()
}

// attachLocked makes a client for device and routes its events as numberID's.
// w.mu must be held.
func (w *Whatsmeow) attachLocked(numberID string, device *store.Device) *waNumber {
	if old := w.numbers[numberID]; old != nil {
		old.stop()
	}
	num := &waNumber{device: device, client: w.newClient(device)}
	num.handlerID = num.client.AddEventHandler(func(evt any) { w.dispatch(numberID, evt) })
	w.numbers[numberID] = num
	return num
}

// dispatch translates one whatsmeow event for numberID and hands it on.
func (w *Whatsmeow) dispatch(numberID string, evt any) {
	if w.handler == nil {
		return
	}
	switch e := evt.(type) {
	case *events.Receipt:
		if r, ok := mapReceipt(numberID, e); ok {
			w.handler(r)
		}
	case *events.Message:
		if in, ok := mapMessage(numberID, e, w.phoneOfLID); ok {
			w.handler(in)
		}
	default:
		if sc, ok := mapConnection(numberID, evt, time.Now()); ok {
			w.handler(sc)
		}
	}
}

// phoneOfLID looks a LID up in whatsmeow's LID map, shared by all devices.
func (w *Whatsmeow) phoneOfLID(lid types.JID) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pn, err := w.container.LIDMap.GetPNForLID(ctx, lid)
	if err != nil || pn.IsEmpty() {
		return ""
	}
	return "+" + pn.User
}

func (w *Whatsmeow) number(numberID string) *waNumber {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.numbers[numberID]
}

// PairQR links a new device for n and streams its QR codes and outcome.
func (w *Whatsmeow) PairQR(ctx context.Context, n *apiws.Number) (<-chan PairEvent, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	if old := w.numbers[n.ID]; old != nil && old.cancelPairing != nil {
		return nil, ErrPairing
	}
	num := w.attachLocked(n.ID, w.container.NewDevice())
	pairCtx, cancel := context.WithCancel(ctx)
	num.cancelPairing = cancel
	qr, err := num.client.GetQRChannel(pairCtx)
	if err == nil {
		err = num.client.Connect()
	}
	if err != nil {
		num.stop() // also cancels pairCtx
		delete(w.numbers, n.ID)
		return nil, fmt.Errorf("start pairing: %w", err)
	}
	out := make(chan PairEvent, 4)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(out)
		outcome := w.relayQR(pairCtx, num, qr, out)
		cancel()
		w.mu.Lock()
		if w.numbers[n.ID] == num {
			num.cancelPairing = nil
			if outcome.Success == nil {
				num.stop()
				delete(w.numbers, n.ID)
			}
		}
		w.mu.Unlock()
		// The outcome must not be lost behind unread QR codes, yet a reader
		// that cancelled or a closing connector must not hold us forever.
		select {
		case out <- outcome:
		case <-ctx.Done():
			select {
			case out <- outcome:
			default:
			}
		case <-w.done:
		}
	}()
	return out, nil
}

// relayQR forwards QR codes from whatsmeow until the pairing ends and
// returns the outcome.
func (w *Whatsmeow) relayQR(ctx context.Context, num *waNumber, qr <-chan whatsmeow.QRChannelItem, out chan<- PairEvent) PairEvent {
	fail := func(reason PairFailureReason, msg string) PairEvent {
		return PairEvent{Failure: &PairFailure{Reason: reason, Message: msg}}
	}
	for {
		var item whatsmeow.QRChannelItem
		var ok bool
		select {
		case item, ok = <-qr:
		case <-ctx.Done():
			return fail(PairCancelled, "pairing cancelled")
		}
		if !ok {
			if ctx.Err() != nil {
				return fail(PairCancelled, "pairing cancelled")
			}
			return fail(PairError, "pairing ended without an outcome")
		}
		if item.Event == whatsmeow.QRChannelEventCode {
			png, err := qrDataURL(item.Code)
			if err != nil {
				return fail(PairError, err.Error())
			}
			ev := PairEvent{QR: &QRCode{Code: item.Code, PNG: png, ExpiresAt: time.Now().Add(item.Timeout)}}
			select {
			case out <- ev:
			case <-ctx.Done():
				return fail(PairCancelled, "pairing cancelled")
			}
			continue
		}
		if ev, done := pairOutcome(item, num.device); done {
			return ev
		}
	}
}

// pairOutcome maps whatsmeow's final QR channel items; done is false for
// items after which pairing goes on.
func pairOutcome(item whatsmeow.QRChannelItem, device *store.Device) (ev PairEvent, done bool) {
	fail := func(reason PairFailureReason, msg string) (PairEvent, bool) {
		return PairEvent{Failure: &PairFailure{Reason: reason, Message: msg}}, true
	}
	switch item.Event {
	case whatsmeow.QRChannelSuccess.Event:
		if device.ID == nil {
			return fail(PairError, "paired, but the device has no id")
		}
		return PairEvent{Success: &PairSuccess{
			Phone:    "+" + device.ID.User,
			JID:      device.ID.String(),
			PushName: device.PushName,
		}}, true
	case whatsmeow.QRChannelTimeout.Event:
		return fail(PairTimeout, "no QR code was scanned in time")
	case whatsmeow.QRChannelEventError:
		msg := "the phone or whatsapp refused the link"
		if item.Error != nil {
			msg += ": " + item.Error.Error()
		}
		return fail(PairRejected, msg)
	case whatsmeow.QRChannelClientOutdated.Event:
		return fail(PairClientOutdated, "whatsapp rejected this client version")
	case whatsmeow.QRChannelScannedWithoutMultidevice.Event:
		// The same code can be scanned again once the phone enables it.
		return PairEvent{}, false
	}
	return fail(PairError, "pairing failed: "+item.Event)
}

// PairPhone asks for a code to link n by phone number instead of QR.
func (w *Whatsmeow) PairPhone(ctx context.Context, n *apiws.Number, phone string) (string, error) {
	p, err := normalizePhone(phone)
	if err != nil {
		return "", err
	}
	w.mu.Lock()
	num := w.numbers[n.ID]
	pairing := num != nil && num.cancelPairing != nil
	w.mu.Unlock()
	if !pairing {
		return "", ErrNoPairing
	}
	code, err := num.client.PairPhone(ctx, phoneDigits(p), true, whatsmeow.PairClientChrome, pairDisplayName)
	if err != nil {
		return "", fmt.Errorf("request pairing code: %w", err)
	}
	return code, nil
}

// Connect loads n's device keys by its JID and connects.
func (w *Whatsmeow) Connect(ctx context.Context, n *apiws.Number) error {
	if n.JID == nil {
		return ErrNotPaired
	}
	jid, err := types.ParseJID(*n.JID)
	if err != nil {
		return fmt.Errorf("number %s has a bad jid %q: %w", n.ID, *n.JID, err)
	}
	device, err := w.container.GetDevice(ctx, jid)
	if err != nil {
		return fmt.Errorf("load device keys: %w", err)
	}
	if device == nil {
		return ErrNotPaired
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if num := w.numbers[n.ID]; num != nil && num.client.IsConnected() {
		return nil
	}
	num := w.attachLocked(n.ID, device)
	if err := num.client.Connect(); err != nil {
		num.stop()
		delete(w.numbers, n.ID)
		return fmt.Errorf("connect: %w", err)
	}
	return nil
}

// Disconnect closes n's connection and keeps its keys.
func (w *Whatsmeow) Disconnect(ctx context.Context, n *apiws.Number) error {
	w.mu.Lock()
	num := w.numbers[n.ID]
	delete(w.numbers, n.ID)
	w.mu.Unlock()
	if num == nil {
		return nil
	}
	num.stop()
	// whatsmeow reports only disconnects it did not ask for.
	w.emit(&StateChange{NumberID: n.ID, Status: apiws.NumberDisconnected, Reason: "disconnected by request", At: time.Now()})
	return nil
}

// Logout unlinks n from WhatsApp and deletes its keys. If WhatsApp cannot be
// told (n is offline), the keys are deleted anyway and the phone may list the
// device until WhatsApp drops it.
func (w *Whatsmeow) Logout(ctx context.Context, n *apiws.Number) error {
	w.mu.Lock()
	num := w.numbers[n.ID]
	delete(w.numbers, n.ID)
	w.mu.Unlock()

	var device *store.Device
	if num != nil {
		device = num.device
		num.client.RemoveEventHandler(num.handlerID)
		if num.client.IsConnected() {
			if err := num.client.Logout(ctx); err == nil {
				device = nil // whatsmeow deleted the keys
			}
		}
		num.client.Disconnect()
	} else if n.JID != nil {
		jid, err := types.ParseJID(*n.JID)
		if err == nil {
			if device, err = w.container.GetDevice(ctx, jid); err != nil {
				return fmt.Errorf("load device keys: %w", err)
			}
		}
	}
	if device != nil && device.ID != nil {
		if err := w.container.DeleteDevice(ctx, device); err != nil {
			return fmt.Errorf("delete device keys: %w", err)
		}
	}
	w.emit(&StateChange{NumberID: n.ID, Status: apiws.NumberLoggedOut, Reason: "logged out by request", Permanent: true, At: time.Now()})
	return nil
}

// IsOnWhatsApp asks WhatsApp through n whether phone has an account.
func (w *Whatsmeow) IsOnWhatsApp(ctx context.Context, n *apiws.Number, phone string) (bool, error) {
	p, err := normalizePhone(phone)
	if err != nil {
		return false, err
	}
	num := w.number(n.ID)
	if num == nil || !num.client.IsConnected() {
		return false, ErrNotConnected
	}
	r, err := num.lookup(ctx, p)
	if err != nil {
		return false, err
	}
	return r.isIn, nil
}

// lookup resolves phone to its WhatsApp address, through the cache.
func (num *waNumber) lookup(ctx context.Context, phone string) (recipient, error) {
	if v, ok := num.recipients.Load(phone); ok {
		if r := v.(recipient); time.Since(r.at) < recipientTTL {
			return r, nil
		}
	}
	resp, err := num.client.IsOnWhatsApp(ctx, []string{phone})
	if err != nil {
		return recipient{}, fmt.Errorf("look up %s: %w", phone, err)
	}
	r := recipient{at: time.Now()}
	if len(resp) > 0 {
		r.jid, r.isIn = resp[0].JID, resp[0].IsIn
	}
	num.recipients.Store(phone, r)
	return r, nil
}

// Send resolves the recipient, uploads media and sends msg under msg.ID.
func (w *Whatsmeow) Send(ctx context.Context, n *apiws.Number, msg OutgoingMessage) (SendResult, error) {
	to, serr := checkOutgoing(msg)
	if serr != nil {
		return SendResult{}, serr
	}
	num := w.number(n.ID)
	if num == nil || !num.client.IsConnected() {
		return SendResult{}, sendErr(CodeNotConnected, "number is not connected", true, ErrNotConnected)
	}
	r, err := num.lookup(ctx, to)
	if err != nil {
		return SendResult{}, mapSendError(err)
	}
	if !r.isIn || r.jid.IsEmpty() {
		return SendResult{}, sendErr(CodeNotOnWhatsApp, to+" is not on whatsapp", false, nil)
	}
	m, err := buildMessage(ctx, msg, num.client.Upload)
	if err != nil {
		return SendResult{}, mapSendError(err)
	}
	resp, err := num.client.SendMessage(ctx, r.jid, m, whatsmeow.SendRequestExtra{ID: types.MessageID(msg.ID)})
	if err != nil {
		return SendResult{}, mapSendError(err)
	}
	res := SendResult{WAMessageID: string(resp.ID), At: resp.Timestamp}
	if res.WAMessageID == "" {
		res.WAMessageID = msg.ID
	}
	if res.At.IsZero() {
		res.At = time.Now()
	}
	return res, nil
}

func (w *Whatsmeow) emit(e Event) {
	if w.handler != nil {
		w.handler(e)
	}
}
