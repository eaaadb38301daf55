package whatsapp

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCompanionReg"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// waClient is the part of *whatsmeow.Client the connector uses. It exists so
// everything up to the network can be tested with a fake: WhatsApp's servers
// are out of reach in tests.
type waClient interface {
	Connect() error
	Disconnect()
	Logout(ctx context.Context) error
	IsConnected() bool
	IsLoggedIn() bool
	GetQRChannel(ctx context.Context) (<-chan whatsmeow.QRChannelItem, error)
	PairPhone(ctx context.Context, phone string, showPushNotification bool, clientType whatsmeow.PairClientType, clientDisplayName string) (string, error)
	SendMessage(ctx context.Context, to types.JID, message *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error)
	Upload(ctx context.Context, plaintext []byte, appInfo whatsmeow.MediaType) (whatsmeow.UploadResponse, error)
	BuildPollCreation(name string, optionNames []string, selectableOptionCount int) *waE2E.Message
	MarkRead(ctx context.Context, ids []types.MessageID, timestamp time.Time, chat, sender types.JID, receiptTypeExtra ...types.ReceiptType) error
	SendChatPresence(ctx context.Context, jid types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error
	sender
	DownloadAny(ctx context.Context, msg *waE2E.Message) ([]byte, error)
	DecryptPollVote(ctx context.Context, vote *events.Message) (*waE2E.PollVoteMessage, error)
	DecryptSecretEncryptedMessage(ctx context.Context, evt *events.Message) (*waE2E.Message, error)
	lookupClient
	groupClient
	AddEventHandler(handler whatsmeow.EventHandler) uint32
	RemoveEventHandler(id uint32) bool
}

var _ waClient = (*whatsmeow.Client)(nil)

// pairDisplayName is how the linked device appears on the phone while a
// pairing code is entered. WhatsApp accepts only "Browser (OS)" names of
// common browsers; once linked, the device shows as deviceOS.
const pairDisplayName = "Chrome (Linux)"

// deviceOS is the name the phone's list of linked devices shows.
const deviceOS = "apiws"

// WhatsmeowOptions tune the whatsmeow connector.
type WhatsmeowOptions struct {
	// Log receives whatsmeow's lines of level info and above; nil: none.
	Log *slog.Logger
	// Version overrides the WhatsApp web client version apiws presents
	// (APIWS_WA_VERSION, e.g. "2.3000.1023456789"). Empty: ask WhatsApp at
	// start, falling back to the version compiled into whatsmeow.
	Version string
	// Data is apiws's side of the device store (storage.DB): the migration
	// lock and the bookkeeping that lets a device's data be deleted whole.
	// Nil only in tests.
	Data DeviceData
	// Retained returns the content (SendResult.Content) of a message sent
	// through the number with the WhatsApp id, while apiws keeps it, so a
	// recipient's retry receipt can be answered; nil bytes: no longer kept.
	Retained func(ctx context.Context, numberID, waMessageID string) ([]byte, error)

	fetchVersion versionFetcher
}

// Whatsmeow is the Connector for real WhatsApp numbers, one whatsmeow client
// per number, with device keys in the apiws database.
//
// Each number has its own lock, which serialises its connection changes
// (pairing, connecting, logging out). No lock is shared between numbers
// while one of them talks to WhatsApp, and sends take none.
type Whatsmeow struct {
	devices   *devices
	handler   EventHandler
	newClient func(*store.Device) waClient
	opts      WhatsmeowOptions
	log       *slog.Logger
	now       func() time.Time
	after     func(time.Duration) <-chan time.Time

	mu     sync.Mutex // guards closed and slots, never held across I/O
	closed bool
	slots  map[string]*slot
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup

	version versionState
}

var _ Connector = (*Whatsmeow)(nil)

// slot is one number's place in the connector.
type slot struct {
	mu  sync.Mutex // serialises the number's connection changes
	num atomic.Pointer[waNumber]
}

// waNumber is one number's live client.
type waNumber struct {
	// id is the apiws number's.
	id        string
	client    waClient
	device    *store.Device
	handlerID uint32
	// dialing is set while Connect dials and shakes hands, without the
	// slot's lock: another Connect of the number then does nothing.
	dialing atomic.Bool
	// cancelPairing is set while PairQR runs (under the slot's lock).
	cancelPairing context.CancelFunc
	// firstQR is closed once the pairing's first QR code arrived: whatsmeow
	// refuses a pairing code before it.
	firstQR     chan struct{}
	firstQROnce sync.Once
	// connected is closed at the client's first Connected.
	connected     chan struct{}
	connectedOnce sync.Once
	// recipients caches IsOnWhatsApp answers, so a Send costs one lookup
	// per recipient a day rather than one per message.
	recipients sync.Map // E.164 -> recipient
	// lookups paces the lookups of new recipients.
	lookups pacer
	// lids are the phones of LIDs already reported (LIDLearned), by LID.
	lids sync.Map
	// undecryptable are the messages held back by holdUndecryptable, by
	// id: a channel closed when their decrypted copy arrives.
	undecryptable sync.Map
	// tallies count the receipts of messages sent to groups.
	tallies groupTallies
}

// NewWhatsmeow returns a Whatsmeow connector keeping device keys in db, whose
// dialect is "postgres" (pgx stdlib) or "sqlite" (modernc.org/sqlite, opened
// with "?_pragma=foreign_keys(1)"). It chooses the WhatsApp web version (see
// WhatsmeowOptions.Version) and creates or upgrades whatsmeow's tables.
// handler receives every event. Nothing connects until Connect or PairQR: on
// start, call Connect for every paired number.
func NewWhatsmeow(ctx context.Context, db *sql.DB, dialect string, handler EventHandler, opts WhatsmeowOptions) (*Whatsmeow, error) {
	if opts.fetchVersion == nil {
		opts.fetchVersion = fetchLatestVersion
	}
	v, source, err := chooseVersion(ctx, opts.Version, opts.fetchVersion, opts.Log)
	if err != nil {
		return nil, err
	}
	if opts.Log != nil {
		opts.Log.Info("whatsapp web version", "version", v.String(), "from", source)
	}
	setDeviceIdentity()
	log := newSlogLogger(opts.Log)
	d, err := openDeviceStore(ctx, db, dialect, log.Sub("store"), opts.Data)
	if err != nil {
		return nil, err
	}
	w := newWhatsmeow(d, handler, nil, opts)
	w.newClient = func(dev *store.Device) waClient {
		cli := whatsmeow.NewClient(dev, log.Sub("client"))
		w.configure(cli, dev)
		return cli
	}
	return w, nil
}

func newWhatsmeow(d *devices, handler EventHandler, newClient func(*store.Device) waClient, opts WhatsmeowOptions) *Whatsmeow {
	if opts.fetchVersion == nil {
		opts.fetchVersion = fetchLatestVersion
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Whatsmeow{devices: d, handler: handler, newClient: newClient, opts: opts, log: log,
		now: time.Now, after: time.After, slots: make(map[string]*slot), done: make(chan struct{})}
}

// setDeviceIdentity names apiws in the phone's list of linked devices
// (whatsmeow's default says "whatsmeow"). It is a process-wide setting of
// whatsmeow's.
func setDeviceIdentity() {
	store.SetOSInfo(deviceOS, [3]uint32{1, 0, 0})
	store.DeviceProps.PlatformType = waCompanionReg.DeviceProps_DESKTOP.Enum()
}

// configure sets up a whatsmeow client of device the way apiws uses it.
func (w *Whatsmeow) configure(cli *whatsmeow.Client, dev *store.Device) {
	// apiws keeps no history: with this off, whatsmeow would download and
	// parse every history blob the phone offers, and keep a goroutine (and
	// the client) alive for it after every reconnect.
	cli.ManualHistorySyncDownload = true
	// A message this device cannot decrypt is asked of the phone too, when
	// its sender does not send it again in time.
	cli.AutomaticMessageRerequestFromPhone = true
	cli.GetMessageForRetry = func(requester, to types.JID, id types.MessageID) *waE2E.Message {
		return w.messageForRetry(dev, id)
	}
}

// messageForRetry finds what a retry receipt asks for again: whatsmeow
// keeps recent sends in memory only, so after a restart or a lease move the
// content apiws retained answers it.
func (w *Whatsmeow) messageForRetry(dev *store.Device, id types.MessageID) *waE2E.Message {
	if w.opts.Retained == nil || dev.ID == nil {
		return nil
	}
	numberID := w.numberOfDevice(dev)
	if numberID == "" {
		return nil
	}
	return w.retainedMessage(numberID, string(id))
}

// retainedMessage is the message the number sent under the WhatsApp id,
// as apiws retained it (WhatsmeowOptions.Retained); nil when it is not
// kept.
func (w *Whatsmeow) retainedMessage(numberID, waID string) *waE2E.Message {
	if w.opts.Retained == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := w.opts.Retained(ctx, numberID, waID)
	if err != nil || len(b) == 0 {
		if err != nil {
			w.log.Warn("find a message the number sent", "number", numberID, "err", err)
		}
		return nil
	}
	var m waE2E.Message
	if err := proto.Unmarshal(b, &m); err != nil {
		w.log.Warn("retained message unreadable", "number", numberID, "err", err)
		return nil
	}
	return &m
}

// pollOptions returns the options of the poll the number sent under the
// WhatsApp id, while apiws retains it; nil otherwise.
func (w *Whatsmeow) pollOptions(numberID, pollID string) []string {
	m := w.retainedMessage(numberID, pollID)
	if m == nil {
		return nil
	}
	if p := pollCreation(m); p != nil {
		return poll(p).Options
	}
	return nil
}

// numberOfDevice returns the id of the number whose client uses dev.
func (w *Whatsmeow) numberOfDevice(dev *store.Device) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, s := range w.slots {
		if num := s.num.Load(); num != nil && num.device == dev {
			return id
		}
	}
	return ""
}

// Close disconnects every number (keeping their keys), aborts pairings and
// waits for the connector's goroutines. It does not close the database.
func (w *Whatsmeow) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.done)
	}
	slots := make([]*slot, 0, len(w.slots))
	for _, s := range w.slots {
		slots = append(slots, s)
	}
	w.mu.Unlock()
	for _, s := range slots {
		s.mu.Lock()
		if num := s.num.Swap(nil); num != nil {
			num.stop()
		}
		s.mu.Unlock()
	}
	w.wg.Wait()
	return nil
}

// slot returns the number's slot, made on first use.
func (w *Whatsmeow) slot(numberID string) (*slot, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	s := w.slots[numberID]
	if s == nil {
		s = &slot{}
		w.slots[numberID] = s
	}
	return s, nil
}

func (w *Whatsmeow) number(numberID string) *waNumber {
	w.mu.Lock()
	s := w.slots[numberID]
	w.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.num.Load()
}

func (num *waNumber) stop() {
	if num.cancelPairing != nil {
		num.cancelPairing()
	}
	num.client.RemoveEventHandler(num.handlerID)
	num.client.Disconnect()
}

// attach makes a client for device and routes its events as numberID's.
// The slot's lock must be held.
func (w *Whatsmeow) attach(s *slot, numberID string, device *store.Device) *waNumber {
	if old := s.num.Load(); old != nil {
		old.stop()
	}
	num := &waNumber{id: numberID, device: device, client: w.newClient(device),
		firstQR: make(chan struct{}), connected: make(chan struct{})}
	num.lookups.interval = lookupInterval
	num.handlerID = num.client.AddEventHandler(func(evt any) { w.dispatch(numberID, num, evt) })
	s.num.Store(num)
	return num
}

// detach removes num from its slot if it is still there. The slot's lock
// must be held.
func detach(s *slot, num *waNumber) {
	s.num.CompareAndSwap(num, nil)
}

// dispatch translates one whatsmeow event of num, numberID's client, and
// hands it on.
func (w *Whatsmeow) dispatch(numberID string, num *waNumber, evt any) {
	switch e := evt.(type) {
	case *events.Connected:
		num.connectedOnce.Do(func() { close(num.connected) })
	case *events.ClientOutdated:
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.outdated(numberID, num)
		}()
		return
	case *events.PushNameSetting:
		if name := e.Action.GetName(); name != "" {
			w.emit(&StateChange{NumberID: numberID, Status: apiws.NumberConnected, PushName: name, Notice: true, At: w.now()})
		}
		return
	}
	if w.handler == nil {
		return
	}
	switch e := evt.(type) {
	case *events.Receipt:
		if e.IsGroup {
			w.groupReceipt(numberID, num, e)
		} else if r, ok := mapReceipt(numberID, e); ok {
			w.handler(r)
		}
	case *events.JoinedGroup, *events.GroupInfo:
		w.groupEvent(numberID, num, evt)
	case *events.Message:
		if held, ok := num.undecryptable.LoadAndDelete(e.Info.ID); ok {
			close(held.(chan struct{}))
		}
		w.message(num, e)
	case *events.UndecryptableMessage:
		if in, ok := mapUndecryptable(numberID, e, w.phoneOfLID); ok {
			w.holdUndecryptable(num, in)
		}
	default:
		if sc, ok := mapConnection(numberID, evt, w.now()); ok {
			if sc.Status == apiws.NumberConnected && !sc.Notice {
				sc.PushName = num.device.PushName
			}
			w.handler(sc)
		}
	}
}

// message hands on what an incoming message of num is, and the phone
// behind its sender's LID when it tells one.
func (w *Whatsmeow) message(num *waNumber, evt *events.Message) {
	env := messageEnv{
		phoneOf: w.phoneOfLID,
		vote: func(evt *events.Message) (*waE2E.PollVoteMessage, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			v, err := num.client.DecryptPollVote(ctx, evt)
			if err != nil {
				w.log.Warn("decrypt a poll vote", "number", num.id, "err", err)
			}
			return v, err
		},
		secret: func(evt *events.Message) (*waE2E.Message, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m, err := num.client.DecryptSecretEncryptedMessage(ctx, evt)
			if err != nil {
				w.log.Warn("decrypt an edit", "number", num.id, "err", err)
			}
			return m, err
		},
		pollOptions: func(pollID string) []string { return w.pollOptions(num.id, pollID) },
	}
	ev, ok := mapMessage(num.id, evt, env)
	if !ok {
		return
	}
	w.handler(ev)
	if phone, lid, fromMe := senderOf(ev); !fromMe {
		w.learnLID(num, phone, lid)
	}
}

// undecryptableGrace is how long a message the number could not decrypt
// waits for whatsmeow to get it again (the sender's resend after a retry
// receipt, or the phone's copy) before it is reported undecryptable.
const undecryptableGrace = 30 * time.Second

// holdUndecryptable reports in, a message num could not decrypt, unless
// its decrypted copy arrives within undecryptableGrace: the copy has the
// same id, and apiws keeps only the first message of an id. whatsmeow
// may report the same failure again meanwhile: it is held once. A closing
// connector reports what it holds at once.
func (w *Whatsmeow) holdUndecryptable(num *waNumber, in *Inbound) {
	decrypted := make(chan struct{})
	if _, held := num.undecryptable.LoadOrStore(types.MessageID(in.WAMessageID), decrypted); held {
		return
	}
	timeout := w.after(undecryptableGrace)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		select {
		case <-decrypted:
			return
		case <-timeout:
		case <-w.done:
		}
		if num.undecryptable.CompareAndDelete(types.MessageID(in.WAMessageID), decrypted) {
			w.emit(in)
			w.learnLID(num, in.From, in.FromLID)
		}
	}()
}

// learnLID reports the phone behind a LID once per connector run and
// number (again when it changes): whatsmeow gave both.
func (w *Whatsmeow) learnLID(num *waNumber, phone, lid string) {
	if phone == "" || lid == "" {
		return
	}
	if old, loaded := num.lids.Swap(lid, phone); loaded && old == phone {
		return
	}
	w.emit(&LIDLearned{NumberID: num.id, LID: lid, Phone: phone})
}

// phoneOfLID looks a LID up in whatsmeow's LID map, shared by all devices.
func (w *Whatsmeow) phoneOfLID(lid types.JID) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pn, err := w.devices.LIDMap.GetPNForLID(ctx, lid)
	if err != nil || pn.IsEmpty() {
		return ""
	}
	return "+" + pn.User
}

func (w *Whatsmeow) emit(e Event) {
	if w.handler != nil {
		w.handler(e)
	}
}

// wait waits d (on the connector's clock) for ch; false if d passed, ctx
// ended or the connector closed first.
func (w *Whatsmeow) wait(ctx context.Context, ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-w.after(d):
	case <-ctx.Done():
	case <-w.done:
	}
	return false
}
