package whatsapp

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/apiws/apiws"
)

// Sandbox is a Connector that simulates WhatsApp so integrators, the
// dashboard and tests can run with no phone. Its rules are part of the
// product (see DESIGN.md):
//
//   - pairing emits QR codes (real QR PNGs), then succeeds within 3 s, and
//     the number gets a random phone in +1 555 01x xxxx;
//   - a send to any possible number is SENT, then DELIVERED (500 ms), then
//     READ (1 s later; AUDIO also PLAYED 1 s after READ);
//   - recipients ending in 0000 are not on WhatsApp (permanent
//     NOT_ON_WHATSAPP); 0001 are delivered and never read; 0002 fail the
//     first Send of each message id with a retryable TIMEOUT and accept the
//     retry; 0003 also answer with an inbound echo of the message, 700 ms
//     after the send;
//   - 0004 react 👍 to each message 300 ms after READ (a *Reacted);
//   - 0005 answer 700 ms after READ with an *Inbound quoting the message:
//     a TEXT as the same text, then an *Edited of that echo to
//     "<text> (edited)" 300 ms later; a LOCATION as the same location; a
//     CONTACT as the same cards; a POLL with a *PollVoted for its first
//     option instead; a file of any kind as an IMAGE, SandboxPNG with the
//     caption "echo", which Download returns;
//   - 0006 hide their phone: 700 ms after READ they answer "hidden" from
//     their SandboxLID alone (From empty); a send to that LID reaches them;
//   - 0007 send "oops" 500 ms after READ and a *Revoked of it 500 ms later;
//   - a REACTION is accepted like any send (0000 and 0002 included) but
//     gets no receipts, as in WhatsApp, and no answer;
//   - Lookup and IsOnWhatsApp: phones ending in 0000 are not on WhatsApp,
//     every other is, with its SandboxLID;
//   - Edit, Revoke, MarkRead and SendChatPresence of a connected number
//     are recorded as Signals and answered by nothing.
//
// Every simulated delay is multiplied by the delay scale given to
// NewSandbox; 0 makes everything immediate, in the same order, and then
// Close returns once every event has been reported. Sandbox
// records every transmission so tests can prove a message went out once.
type Sandbox struct {
	handler EventHandler
	scale   float64

	mu            sync.Mutex
	closed        bool
	numbers       map[string]*sandboxNumber
	phones        map[string]bool // handed out, so no two numbers share one
	timedOut      map[string]bool // message ids whose first send failed (0002)
	transmissions []Transmission
	signals       []Signal // read receipts and presences
	recorder      func(Transmission)
	groups        map[string]*sandboxGroup // by JID; see sandbox_groups.go

	done chan struct{}
	wg   sync.WaitGroup
}

var _ Connector = (*Sandbox)(nil)

// Transmission is one message the Sandbox accepted for sending.
type Transmission struct {
	NumberID  string
	MessageID string
	To        string
	Kind      apiws.MessageKind
	At        time.Time
}

// report is a StateChange waiting for delivery; delivered is closed once
// the handler has returned from it.
type report struct {
	sc        *StateChange
	delivered chan struct{}
}

type sandboxNumber struct {
	phone, jid string
	paired     bool
	connected  bool
	// pairing is set while a PairQR runs: PairPhone needs one, a second
	// PairQR is refused.
	pairing bool
	// reports are the number's StateChanges not yet handed to the handler,
	// in the order they happened; one goroutine at a time delivers them
	// (reporting), so a late report never overtakes a newer one.
	reports   []report
	reporting bool
}

// The sandbox's simulated delays at scale 1.
const (
	sandboxQRRotate  = time.Second
	sandboxPairAfter = 2 * time.Second // after the first QR code, under 3 s
	sandboxSendAck   = 100 * time.Millisecond
	sandboxDelivered = 500 * time.Millisecond
	sandboxRead      = time.Second // after DELIVERED
	sandboxPlayed    = time.Second // after READ
	sandboxEcho      = 700 * time.Millisecond
)

// NewSandbox returns a Sandbox that reports events to handler and scales its
// simulated delays by delay (1 = realistic, 0 = immediate). Close it to stop
// its timers.
func NewSandbox(handler EventHandler, delay float64) *Sandbox {
	if delay < 0 {
		delay = 0
	}
	return &Sandbox{
		handler:  handler,
		scale:    delay,
		numbers:  make(map[string]*sandboxNumber),
		phones:   make(map[string]bool),
		timedOut: make(map[string]bool),
		done:     make(chan struct{}),
	}
}

// Close stops every simulated timer and waits for them; pairings under way
// fail with CANCELLED. Later calls fail with ErrClosed. Close is idempotent.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// SetRecorder makes the Sandbox also hand every transmission to record
// before Send returns, e.g. to keep them in the database, where every
// instance and every restart adds to one record.
func (s *Sandbox) SetRecorder(record func(Transmission)) {
	s.mu.Lock()
	s.recorder = record
	s.mu.Unlock()
}

// Transmissions returns every message accepted for sending, in order.
func (s *Sandbox) Transmissions() []Transmission {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Transmission, len(s.transmissions))
	copy(out, s.transmissions)
	return out
}

// TransmissionCount returns how many times the message with WhatsApp id
// msgID was accepted for sending; more than 1 means it went out twice.
func (s *Sandbox) TransmissionCount(msgID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.transmissions {
		if t.MessageID == msgID {
			n++
		}
	}
	return n
}

// PairQR simulates pairing: QR codes, then the link, then success.
func (s *Sandbox) PairQR(ctx context.Context, n *apiws.Number) (<-chan PairEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	num := s.number(n.ID)
	if num.pairing {
		return nil, ErrPairing
	}
	num.pairing = true
	// Room for every event, so the simulation never blocks on a reader.
	ch := make(chan PairEvent, 4)
	s.goLocked(func() { s.pair(ctx, n.ID, ch) })
	return ch, nil
}

func (s *Sandbox) pair(ctx context.Context, numberID string, ch chan<- PairEvent) {
	defer close(ch)
	fail := func(reason PairFailureReason, msg string) {
		s.mu.Lock()
		s.numbers[numberID].pairing = false
		s.mu.Unlock()
		ch <- PairEvent{Failure: &PairFailure{Reason: reason, Message: msg}}
	}
	for i := range 2 {
		code := fmt.Sprintf("2@sandbox-%s-%d,%s", numberID, i, NewMessageID())
		png, err := qrDataURL(code)
		if err != nil {
			fail(PairError, err.Error())
			return
		}
		ch <- PairEvent{QR: &QRCode{Code: code, PNG: png, ExpiresAt: time.Now().Add(s.scaled(sandboxQRRotate))}}
		if err := s.wait(ctx, sandboxPairAfter/2); err != nil {
			fail(PairCancelled, err.Error())
			return
		}
	}

	s.mu.Lock()
	num := s.numbers[numberID]
	phone := s.newPhoneLocked()
	num.phone, num.jid = phone, phoneDigits(phone)+":1@s.whatsapp.net"
	num.paired, num.connected, num.pairing = true, true, false
	success := PairSuccess{Phone: num.phone, JID: num.jid, PushName: "Sandbox " + phone[len(phone)-4:]}
	// Queued with the change, so that a Disconnect right after comes after
	// it. It may reach the handler before the outcome below: the number is
	// still PAIRING then, and the outcome speaks for it.
	s.reportLocked(num, &StateChange{NumberID: numberID, Status: apiws.NumberConnected, At: time.Now()})
	s.mu.Unlock()

	linked := success
	linked.Status = apiws.NumberConnecting
	ch <- PairEvent{Linked: &linked}
	ch <- PairEvent{Success: &success}
}

// PairPhone returns a pairing code for a pairing under way; the sandbox
// succeeds on its own schedule whether or not the code is used.
func (s *Sandbox) PairPhone(ctx context.Context, n *apiws.Number, phone string) (string, error) {
	if _, err := normalizePhone(phone); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", ErrClosed
	}
	if num := s.numbers[n.ID]; num == nil || !num.pairing {
		return "", ErrNoPairing
	}
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
	var code strings.Builder
	for i := range 8 {
		if i == 4 {
			code.WriteByte('-')
		}
		code.WriteByte(alphabet[randInt(len(alphabet))])
	}
	return code.String(), nil
}

// Connect resumes a paired number. A number paired by an earlier process
// (the sandbox keeps no keys) is recognised by its JID and phone.
func (s *Sandbox) Connect(ctx context.Context, n *apiws.Number) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	num := s.number(n.ID)
	if !num.paired {
		if num.phone != "" || n.JID == nil || n.Phone == nil {
			// Known here but logged out, or never paired anywhere.
			return ErrNotPaired
		}
		num.phone, num.jid, num.paired = *n.Phone, *n.JID, true
		s.phones[num.phone] = true
	}
	num.connected = true
	// CONNECTED follows, as WhatsApp's confirmation does.
	s.reportLocked(num, &StateChange{NumberID: n.ID, Status: apiws.NumberConnected, At: time.Now()})
	return nil
}

// Disconnect marks the number disconnected; it stays paired. As with
// whatsmeow, its DISCONNECTED has been reported when it returns (unless ctx
// ended first), after any report still pending, so no earlier CONNECTED can
// come after it.
func (s *Sandbox) Disconnect(ctx context.Context, n *apiws.Number) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	num := s.numbers[n.ID]
	if num == nil || !num.connected {
		s.mu.Unlock()
		return nil
	}
	num.connected = false
	delivered := s.reportLocked(num, &StateChange{NumberID: n.ID, Status: apiws.NumberDisconnected, Reason: "disconnected by request", At: time.Now()})
	s.mu.Unlock()
	waitDelivered(ctx, delivered)
	return nil
}

// Logout unpairs the number; Connect then fails with ErrNotPaired. Its
// LOGGED_OUT has been reported when it returns, as Disconnect's is.
func (s *Sandbox) Logout(ctx context.Context, n *apiws.Number) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	num := s.number(n.ID)
	if num.phone == "" && n.Phone != nil {
		num.phone = *n.Phone // remember it so Connect knows the number left
	}
	num.paired, num.connected = false, false
	delivered := s.reportLocked(num, &StateChange{NumberID: n.ID, Status: apiws.NumberLoggedOut, Reason: "logged out by request", Permanent: true, At: time.Now()})
	s.mu.Unlock()
	waitDelivered(ctx, delivered)
	return nil
}

// waitDelivered waits for a report to be handled, or for ctx to end: the
// change is made and its report goes out in order all the same.
func waitDelivered(ctx context.Context, delivered <-chan struct{}) {
	select {
	case <-delivered:
	case <-ctx.Done():
	}
}

// IsOnWhatsApp reports false for numbers ending in 0000, true for any other
// possible number.
func (s *Sandbox) IsOnWhatsApp(ctx context.Context, n *apiws.Number, phone string) (bool, error) {
	p, err := normalizePhone(phone)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrClosed
	}
	if num := s.numbers[n.ID]; num == nil || !num.connected {
		return false, ErrNotConnected
	}
	return !strings.HasSuffix(p, "0000"), nil
}

// Lookup answers by the sandbox rules: phones ending in 0000 are not on
// WhatsApp, every other phone is, with its SandboxLID.
func (s *Sandbox) Lookup(ctx context.Context, n *apiws.Number, phones []string) ([]LookupResult, error) {
	out := make([]LookupResult, len(phones))
	for i, phone := range phones {
		p, err := normalizePhone(phone)
		if err != nil {
			return nil, err
		}
		out[i] = LookupResult{Phone: p, OnWhatsApp: !strings.HasSuffix(p, "0000")}
		if out[i].OnWhatsApp {
			out[i].LID = SandboxLID(p)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if num := s.numbers[n.ID]; num == nil || !num.connected {
		return nil, ErrNotConnected
	}
	return out, nil
}

// Send simulates sending by the sandbox rules. Receipts follow as events;
// with a delay scale of 0 they may reach the handler before Send returns.
func (s *Sandbox) Send(ctx context.Context, n *apiws.Number, msg OutgoingMessage) (SendResult, error) {
	to, serr := checkOutgoing(msg)
	if serr != nil {
		return SendResult{}, serr
	}
	if msg.Group != "" {
		return s.sendToGroup(ctx, n, msg)
	}
	if to == "" {
		// A hidden recipient: the sandbox knows the phone behind its LID.
		var ok bool
		if to, ok = sandboxPhone(msg.ToLID); !ok {
			return SendResult{}, sendErr(CodeNotOnWhatsApp, fmt.Sprintf("%s is not a sandbox LID", msg.ToLID), false, nil)
		}
	}
	if err := s.wait(ctx, sandboxSendAck); err != nil {
		return SendResult{}, sendErr(CodeTimeout, "send interrupted", true, err)
	}

	t, steps, record, err := s.accept(n, msg, to)
	if err != nil {
		return SendResult{}, err
	}
	s.recordThenPlay(record, t, steps)
	return SendResult{WAMessageID: msg.ID, At: t.At}, nil
}

// recordThenPlay hands t to the recorder (outside the lock: it may write to
// a database), then plays what follows the send: no receipt or answer
// comes before the record of its transmission.
func (s *Sandbox) recordThenPlay(record func(Transmission), t Transmission, steps []sandboxStep) {
	if record != nil {
		record(t)
	}
	if len(steps) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.goLocked(func() { s.play(steps) })
	}
}

// accept applies the sandbox rules to one send, records the transmission
// and returns what follows it (receipts, answers) and the recorder.
func (s *Sandbox) accept(n *apiws.Number, msg OutgoingMessage, to string) (Transmission, []sandboxStep, func(Transmission), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Transmission{}, nil, nil, sendErr(CodeNotConnected, "connector is closed", true, ErrClosed)
	}
	if num := s.numbers[n.ID]; num == nil || !num.connected {
		return Transmission{}, nil, nil, sendErr(CodeNotConnected, "number is not connected", true, ErrNotConnected)
	}
	switch {
	case strings.HasSuffix(to, "0000"):
		return Transmission{}, nil, nil, sendErr(CodeNotOnWhatsApp, fmt.Sprintf("%s is not on WhatsApp", to), false, nil)
	case strings.HasSuffix(to, "0002") && !s.timedOut[msg.ID]:
		s.timedOut[msg.ID] = true
		return Transmission{}, nil, nil, sendErr(CodeTimeout, "timed out waiting for WhatsApp to accept the message", true, nil)
	}

	t := Transmission{NumberID: n.ID, MessageID: msg.ID, To: to, Kind: msg.Kind, At: time.Now()}
	s.transmissions = append(s.transmissions, t)
	return t, story(n.ID, to, msg), s.recorder, nil
}

// sandboxPhone is the phone behind a sandbox LID (SandboxLID), if lid is
// one.
func sandboxPhone(lid string) (string, bool) {
	if len(lid) != 15 || lid[0] != '1' || !isLID(lid) {
		return "", false
	}
	p, err := normalizePhone("+" + strings.TrimLeft(lid[1:], "0"))
	return p, err == nil
}

// number returns the state of numberID, creating it. s.mu must be held.
func (s *Sandbox) number(numberID string) *sandboxNumber {
	num := s.numbers[numberID]
	if num == nil {
		num = &sandboxNumber{}
		s.numbers[numberID] = num
	}
	return num
}

// newPhoneLocked picks an unused phone in +1 555 010 0000..+1 555 019 9999.
// Endings 0000..0007 are skipped: they are the sandbox's special
// recipients, and one sandbox number should be able to message another
// normally.
func (s *Sandbox) newPhoneLocked() string {
	for {
		last := randInt(10000)
		if last <= 7 {
			continue
		}
		p := fmt.Sprintf("+155501%d%04d", randInt(10), last)
		if !s.phones[p] {
			s.phones[p] = true
			return p
		}
	}
}

// goLocked runs f in a goroutine Close waits for. s.mu must be held, and s
// not closed or the caller itself a goroutine Close waits for, so that no
// goroutine starts once Close's wait can have ended.
func (s *Sandbox) goLocked(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// reportLocked queues sc for the handler behind every earlier report of
// num and returns a channel closed once the handler has taken it. s.mu must
// be held, and s either open or the caller a goroutine Close waits for (so
// that the delivering goroutine is one Close waits for too).
func (s *Sandbox) reportLocked(num *sandboxNumber, sc *StateChange) <-chan struct{} {
	r := report{sc: sc, delivered: make(chan struct{})}
	num.reports = append(num.reports, r)
	if !num.reporting {
		num.reporting = true
		s.goLocked(func() { s.deliverReports(num) })
	}
	return r.delivered
}

// deliverReports hands num's queued reports to the handler one at a time,
// in order, until none is left. Close does not stop it: a report is the
// record of something that happened.
func (s *Sandbox) deliverReports(num *sandboxNumber) {
	for {
		s.mu.Lock()
		if len(num.reports) == 0 {
			num.reporting = false
			num.reports = nil
			s.mu.Unlock()
			return
		}
		r := num.reports[0]
		num.reports = num.reports[1:]
		s.mu.Unlock()
		s.emit(r.sc)
		close(r.delivered)
	}
}

// wait sleeps for d scaled; it returns an error if ctx ends or s closes first.
func (s *Sandbox) wait(ctx context.Context, d time.Duration) error {
	d = s.scaled(d)
	if d <= 0 {
		// Immediate steps run to the end even during Close, so Close on an
		// unscaled sandbox means "after every event was reported".
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Sandbox) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.scale)
}

func (s *Sandbox) emit(e Event) {
	if s.handler != nil {
		s.handler(e)
	}
}

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return int(v.Int64())
}
