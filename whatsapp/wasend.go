package whatsapp

import (
	"context"
	"sync"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// recipientTTL bounds how long a lookup is trusted: people join and leave.
const recipientTTL = 24 * time.Hour

// lookupInterval spaces a number's lookups of recipients it has not looked
// up lately: WhatsApp flags accounts that probe many numbers quickly.
const lookupInterval = 2 * time.Second

// recipient is what WhatsApp said about a phone, cached per number.
type recipient struct {
	jid  types.JID
	isIn bool
	at   time.Time
	// lid is the phone's LID, when lidAsked and WhatsApp gave one.
	lid      types.JID
	lidAsked bool
}

// pacer spaces events at least interval apart.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

// reserve books the next free turn at or after now and returns how long
// to wait for it.
func (p *pacer) reserve(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	return at.Sub(now)
}

// IsOnWhatsApp asks WhatsApp through n whether phone has an account.
func (w *Whatsmeow) IsOnWhatsApp(ctx context.Context, n *apiws.Number, phone string) (bool, error) {
	p, err := normalizePhone(phone)
	if err != nil {
		return false, err
	}
	num := w.number(n.ID)
	if num == nil || !num.client.IsConnected() || !num.client.IsLoggedIn() {
		return false, ErrNotConnected
	}
	r, err := w.lookup(ctx, num, p)
	if err != nil {
		return false, err
	}
	return r.isIn, nil
}

// lookup resolves phone to its WhatsApp address, through the cache; new
// recipients are looked up at most one request per lookupInterval.
func (w *Whatsmeow) lookup(ctx context.Context, num *waNumber, phone string) (recipient, error) {
	rs, err := w.resolve(ctx, num, []string{phone}, nil)
	if err != nil {
		return recipient{}, err
	}
	return rs[phone], nil
}

// recipientJID is the address of a recipient: its LID when only that is
// known (WhatsApp gave nothing else, so there is nothing to look up),
// else what WhatsApp answers for the phone.
func (w *Whatsmeow) recipientJID(ctx context.Context, num *waNumber, phone, lid string) (types.JID, error) {
	if phone == "" {
		return types.NewJID(lid, types.HiddenUserServer), nil
	}
	r, err := w.lookup(ctx, num, phone)
	if err != nil {
		return types.EmptyJID, err
	}
	if !r.isIn || r.jid.IsEmpty() {
		return types.EmptyJID, sendErr(CodeNotOnWhatsApp, phone+" is not on whatsapp", false, nil)
	}
	return r.jid, nil
}

// ownJID is n's device address, or the empty JID if it has none yet.
func ownJID(n *apiws.Number) types.JID {
	if n.JID == nil {
		return types.EmptyJID
	}
	jid, err := types.ParseJID(*n.JID)
	if err != nil {
		return types.EmptyJID
	}
	return jid
}

// Send resolves the recipient, uploads media and sends msg under msg.ID.
func (w *Whatsmeow) Send(ctx context.Context, n *apiws.Number, msg OutgoingMessage) (SendResult, error) {
	to, serr := checkOutgoing(msg)
	if serr != nil {
		return SendResult{}, serr
	}
	num := w.number(n.ID)
	// Connected is not enough: between the socket and the login (and after
	// a logout) whatsmeow cannot send.
	if num == nil || !num.client.IsConnected() || !num.client.IsLoggedIn() {
		return SendResult{}, sendErr(CodeNotConnected, "number is not connected", true, ErrNotConnected)
	}
	var jid types.JID
	var err error
	if msg.Group != "" {
		jid, err = w.groupChat(ctx, num, msg)
	} else {
		jid, err = w.recipientJID(ctx, num, to, msg.ToLID)
	}
	if err != nil {
		return SendResult{}, mapSendError(err)
	}
	var m *waE2E.Message
	if msg.Kind == apiws.KindReaction {
		m = reactionMessage(msg, jid, ownJID(n), num.client.BuildReaction)
	} else if m, err = buildMessage(ctx, msg, ownJID(n), num.client.Upload, num.client.BuildPollCreation); err != nil {
		return SendResult{}, mapSendError(err)
	}
	resp, err := num.client.SendMessage(ctx, jid, m, whatsmeow.SendRequestExtra{ID: types.MessageID(msg.ID)})
	if err != nil {
		return SendResult{}, mapSendError(err)
	}
	res := SendResult{WAMessageID: string(resp.ID), At: resp.Timestamp}
	if res.WAMessageID == "" {
		res.WAMessageID = msg.ID
	}
	if res.At.IsZero() {
		res.At = w.now()
	}
	// What was sent, to answer the recipient's retry receipts with.
	res.Content, _ = proto.Marshal(m)
	return res, nil
}
