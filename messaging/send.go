package messaging

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math"
	"strconv"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/phones"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/whatsapp"
)

// Input limits.
const (
	MaxTextLength      = 4096
	maxKeyLength       = 255
	maxReferenceLength = 255
)

func field(p ...string) []string { return append([]string{"input"}, p...) }

// Send validates and queues a message: one transaction (shared with other
// writes, see journal) writes its metadata (QUEUED), its sealed content in
// the outbox and its first event. With an
// idempotency key used in the last 24 hours it returns the first message
// (same input) or CONFLICT (different input), and queues nothing.
func (s *Service) Send(ctx context.Context, in apiws.SendMessage) (*apiws.Message, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeSend)
	if err != nil {
		return nil, err
	}
	p, err := s.check(ctx, c.AccountID, in, nil)
	if p.first != nil || err != nil {
		return p.first, err
	}
	if s.usage != nil {
		if err := s.usage.CheckQuota(ctx, c.AccountID); err != nil {
			if p.out.guard {
				// The number's check comes first, as when it is not
				// left to the write.
				if cerr := s.checkSend(ctx, c.AccountID, in.NumberID, field("numberId")); cerr != nil {
					return nil, cerr
				}
			}
			return nil, err
		}
	}
	if err := s.attach(ctx, &p); err != nil {
		return nil, err
	}
	rs, err := s.queue(ctx, p.out)
	if err != nil {
		return nil, err
	}
	return rs[0].Message, rs[0].Err
}

// SendMany implements apiws.MessageService: each input goes through Send's
// steps in order, as if sent alone after the ones before it (an idempotency
// key taken by an earlier input of the request replays it; the quota left
// is spent by the inputs accepted before), and the accepted ones are queued
// in one transaction.
func (s *Service) SendMany(ctx context.Context, ins []apiws.SendMessage) ([]apiws.SendResult, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeSend)
	if err != nil {
		return nil, err
	}
	if len(ins) == 0 || len(ins) > apiws.MaxSendMany {
		return nil, apiws.FieldError(apiws.EINVALID, []string{"inputs"}, "give 1 to %d messages, not %d", apiws.MaxSendMany, len(ins))
	}
	b := &sendBatch{numbers: map[string]error{}, keys: map[string]batchKey{}}
	results := make([]apiws.SendResult, len(ins))
	var outs []outgoing
	var queued []int      // the input of each of outs
	dups := map[int]int{} // an input replaying an earlier one of the request
	left, spent := math.MaxInt, 0
	var refusal *apiws.Error
	if s.usage != nil {
		if left, refusal, err = s.usage.QuotaLeft(ctx, c.AccountID); err != nil {
			return nil, err
		}
	}
	for i, in := range ins {
		p, err := s.check(ctx, c.AccountID, in, b)
		if err == nil && p.first == nil && p.dupOf < 0 {
			if spent >= left {
				err = refusal
			} else {
				err = s.attach(ctx, &p)
			}
		}
		switch {
		case err != nil:
			if results[i].Err, err = inputError(err, i); err != nil {
				return nil, err
			}
		case p.first != nil:
			results[i].Message = p.first
		case p.dupOf >= 0:
			dups[i] = p.dupOf
		default:
			spent++
			if in.IdempotencyKey != nil {
				b.keys[*in.IdempotencyKey] = batchKey{hash: p.out.hash, input: i}
			}
			outs = append(outs, p.out)
			queued = append(queued, i)
		}
	}
	if len(outs) > 0 {
		rs, err := s.queue(ctx, outs...)
		if err != nil {
			return nil, err
		}
		for k, r := range rs {
			results[queued[k]] = r
			if r.Err != nil {
				if results[queued[k]].Err, err = inputError(r.Err, queued[k]); err != nil {
					return nil, err
				}
			}
		}
	}
	for i, first := range dups {
		results[i] = apiws.SendResult{Message: results[first].Message}
		if results[first].Err != nil {
			results[i].Err = reindex(results[first].Err, first, i)
		}
	}
	return results, nil
}

// sendBatch is what the inputs of one SendMany share: checkSend's answer
// per number, and the idempotency keys of the inputs accepted so far.
type sendBatch struct {
	numbers map[string]error
	keys    map[string]batchKey
}

// batchKey is an idempotency key taken by an input of the request.
type batchKey struct {
	hash  []byte
	input int
}

// checked is a send past Send's checks but the quota: the message first
// queued under its idempotency key (first), the earlier input of the
// request it replays (dupOf, else -1), or the message to queue once its
// media is attached.
type checked struct {
	first *apiws.Message
	dupOf int
	out   outgoing
	media *apiws.MediaInput
}

// check runs Send's checks of in, but the quota, in Send's order. b is the
// request in's is part of, nil for Send.
func (s *Service) check(ctx context.Context, accountID string, in apiws.SendMessage, b *sendBatch) (checked, error) {
	p := checked{dupOf: -1}
	d, errs := validate(in)
	if len(errs) > 0 {
		return p, errs
	}
	// The request hash identifies "the same parameters" for idempotency; it
	// is taken before media is fetched so a retry does not fetch again.
	hash := requestHash(in, d.to)
	if b != nil && in.IdempotencyKey != nil {
		if k, ok := b.keys[*in.IdempotencyKey]; ok {
			if !bytes.Equal(k.hash, hash) {
				return p, conflict()
			}
			p.dupOf = k.input
			return p, nil
		}
	}
	first, err := s.replayed(ctx, accountID, in.IdempotencyKey, hash)
	if first != nil || err != nil {
		p.first = first
		return p, err
	}
	// A lone send that reads nothing more of its number leaves the
	// number's check to its write (QueueWrite.Guard): one round trip less.
	guard := b == nil && in.GroupID == nil && in.ReplyTo == nil && in.Media == nil
	if !guard {
		if err := s.checkNumber(ctx, accountID, in.NumberID, b); err != nil {
			return p, err
		}
	}
	var group *apiws.Group
	if in.GroupID != nil {
		if group, err = s.sendGroup(ctx, accountID, in.NumberID, *in.GroupID, field("groupId")); err != nil {
			return p, err
		}
	}
	var quote *whatsapp.Quote
	if in.ReplyTo != nil {
		if quote, group, err = s.quote(ctx, accountID, in.NumberID, *in.ReplyTo, d, group); err != nil {
			return p, err
		}
	}
	body := &content{Kind: d.kind, Text: d.text, Location: d.location, Contacts: d.contacts, Poll: d.poll,
		ReplyTo: quote, Mentions: d.mentions}
	p.out = outgoing{accountID: accountID, numberID: in.NumberID, to: d.to, toLID: d.toLID, replyTo: in.ReplyTo,
		clientReference: in.ClientReference, idempotencyKey: in.IdempotencyKey, hash: hash, body: body, guard: guard}
	p.out.toGroup(group)
	p.media = in.Media
	return p, nil
}

// checkNumber is checkSend at input.numberId, once per number of a request.
func (s *Service) checkNumber(ctx context.Context, accountID, numberID string, b *sendBatch) error {
	if b == nil {
		return s.checkSend(ctx, accountID, numberID, field("numberId"))
	}
	if err, ok := b.numbers[numberID]; ok {
		return err
	}
	err := s.checkSend(ctx, accountID, numberID, field("numberId"))
	if err == nil || apiws.ErrorCodeOf(err).IsUserError() {
		b.numbers[numberID] = err
	}
	return err
}

// attach loads the media of a checked send into its content, the text its
// caption.
func (s *Service) attach(ctx context.Context, p *checked) error {
	if p.media == nil {
		return nil
	}
	media, err := s.loadMedia(ctx, p.media)
	if err != nil {
		return err
	}
	if media.Caption == "" {
		media.Caption = p.out.body.Text
	}
	p.out.body.Media = media
	return nil
}

// inputError is err, an answer of Send, as the answer to input i of
// SendMany: its user errors at inputs.i instead of input. Any other error
// is returned as the second result.
func inputError(err error, i int) (error, error) {
	var es apiws.Errors
	if errors.As(err, &es) {
		out := make(apiws.Errors, len(es))
		for k, e := range es {
			out[k] = atInput(e, i)
		}
		return out, nil
	}
	var e *apiws.Error
	if errors.As(err, &e) && e.Code.IsUserError() {
		return atInput(e, i), nil
	}
	return nil, err
}

// atInput is a copy of e with its field under inputs.i instead of input.
func atInput(e *apiws.Error, i int) *apiws.Error {
	c := *e
	if len(e.Field) > 0 && e.Field[0] == "input" {
		c.Field = append([]string{"inputs", strconv.Itoa(i)}, e.Field[1:]...)
	}
	return &c
}

// reindex moves the user errors of input from (already under inputs.from)
// to input to.
func reindex(err error, from, to int) error {
	move := func(e *apiws.Error) *apiws.Error {
		c := *e
		if len(e.Field) > 1 && e.Field[0] == "inputs" && e.Field[1] == strconv.Itoa(from) {
			c.Field = append([]string{"inputs", strconv.Itoa(to)}, e.Field[2:]...)
		}
		return &c
	}
	var es apiws.Errors
	if errors.As(err, &es) {
		out := make(apiws.Errors, len(es))
		for k, e := range es {
			out[k] = move(e)
		}
		return out
	}
	var e *apiws.Error
	if errors.As(err, &e) {
		return move(e)
	}
	return err
}

// replayed returns the message first queued under the idempotency key, if
// it was used (CONFLICT when for other parameters than hash); nil, nil
// when there is no key or it is new.
func (s *Service) replayed(ctx context.Context, accountID string, key *string, hash []byte) (*apiws.Message, error) {
	if key == nil {
		return nil, nil
	}
	m, err := s.db.MessageByIdempotencyKey(ctx, accountID, *key)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return s.replay(m, hash)
}

// checkSend reads the account and its number in one query: the account
// must be active and unrestricted, the number its own (else NOT_FOUND at
// the field at) and connected.
func (s *Service) checkSend(ctx context.Context, accountID, numberID string, at []string) error {
	check, err := s.db.CheckSend(ctx, accountID, numberID)
	if err != nil {
		return err
	}
	if check.AccountStatus != apiws.AccountActive {
		return apiws.Errorf(apiws.EFORBIDDEN, "the account is pending deletion; restore it to send")
	}
	if check.Restricted {
		return apiws.FieldError(apiws.ERESTRICTED, field(), "processing is restricted on this account; sending is stopped")
	}
	if check.NumberStatus == nil {
		return apiws.FieldError(apiws.ENOTFOUND, at, "no such number")
	}
	return apiws.RequireStatusConnected(*check.NumberStatus, at)
}

// outgoing is a message checked and ready to queue.
type outgoing struct {
	accountID, numberID string
	// to and toLID are the recipient (toLID when only it is known).
	to, toLID                       string
	replyTo                         *string
	clientReference, idempotencyKey *string
	hash                            []byte
	body                            *content
	// groupID is the group it goes to (body.Group its JID).
	groupID *string
	// guard leaves checkSend to the write (see check).
	guard bool
}

// queue writes outs as new QUEUED messages with their sealed content in the
// outbox, all in one transaction (shared with other writes, see journal),
// and nudges their numbers' dispatchers. It answers each as Send would: a
// message whose idempotency key a concurrent send took first is answered
// as replayed. Only a failure of the whole write is returned as an error.
func (s *Service) queue(ctx context.Context, outs ...outgoing) ([]apiws.SendResult, error) {
	now := s.now()
	qs := make([]*storage.QueueWrite, len(outs))
	for i, o := range outs {
		waID := whatsapp.NewMessageID()
		m := &apiws.Message{
			ID: apiws.NewID(apiws.PrefixMessage), AccountID: o.accountID, NumberID: o.numberID, Direction: apiws.Outbound,
			Peer: o.to, PeerLID: apiws.NilIfEmpty(o.toLID), Kind: o.body.Kind, Status: apiws.StatusQueued, WAMessageID: &waID,
			ClientReference: o.clientReference, ReplyTo: o.replyTo, GroupID: o.groupID, QueuedAt: &now, IdempotencyKey: o.idempotencyKey, RequestHash: o.hash,
		}
		qs[i] = &storage.QueueWrite{Message: m, Sealed: s.seal.seal(m.ID, o.body.marshal()), Guard: o.guard}
	}
	if err := s.journal.write(&journalReq{account: outs[0].accountID, queue: qs}); err != nil {
		return nil, err
	}
	rs := make([]apiws.SendResult, len(outs))
	nudged := map[string]bool{}
	for i, q := range qs {
		o := outs[i]
		switch {
		case errors.Is(q.Err, storage.ErrRefused):
			// A key taken meanwhile (or by this very write, committed but
			// its answer lost, then retried) is answered as taken.
			if first, err := s.replayed(ctx, o.accountID, o.idempotencyKey, o.hash); first != nil || err != nil {
				rs[i].Message, rs[i].Err = first, err
				continue
			}
			// checkSend says why; should the account and number let it
			// send by now, it is queued as it would have been then.
			if rs[i].Err = s.checkSend(ctx, o.accountID, o.numberID, field("numberId")); rs[i].Err == nil {
				o.guard = false
				again, err := s.queue(ctx, o)
				if err != nil {
					return nil, err
				}
				rs[i] = again[0]
			}
		case errors.Is(q.Err, storage.ErrDuplicate) && o.idempotencyKey != nil:
			// A concurrent send with the same key won the race.
			first, err := s.db.MessageByIdempotencyKey(ctx, o.accountID, *o.idempotencyKey)
			if err != nil {
				return nil, err
			}
			rs[i].Message, rs[i].Err = s.replay(first, o.hash)
		case q.Err != nil:
			return nil, q.Err
		default:
			rs[i].Message = q.Message
			if !nudged[o.numberID] {
				nudged[o.numberID] = true
				s.Nudge(o.numberID)
			}
		}
	}
	return rs, nil
}

// quote finds the message a reply quotes: one of the number's messages, of
// the chat of d.to or of group when the send names one; without one the
// reply goes to the quoted message's chat: d.to becomes its peer, or the
// group returned its group. Another account's, another number's or
// another chat's message is NOT_FOUND.
func (s *Service) quote(ctx context.Context, accountID, numberID, id string, d *draft, group *apiws.Group) (*whatsapp.Quote, *apiws.Group, error) {
	q, err := s.db.Message(ctx, accountID, id)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND || (err == nil && (q.NumberID != numberID || !sameChat(q, d.to, group))) {
		return nil, nil, apiws.FieldError(apiws.ENOTFOUND, field("replyTo"), "no such message in this chat")
	} else if err != nil {
		return nil, nil, err
	}
	if q.Status == apiws.StatusFailed || q.WAMessageID == nil {
		return nil, nil, apiws.FieldError(apiws.EINVALID, field("replyTo"), "the message was never sent, so it cannot be quoted")
	}
	if d.to == "" && group == nil && q.GroupID != nil {
		// A reply in the quoted message's group.
		if group, err = s.sendGroup(ctx, accountID, numberID, *q.GroupID, field("replyTo")); err != nil {
			return nil, nil, err
		}
		return quoteOf(q), group, nil
	}
	if d.to == "" && group == nil {
		// A sender WhatsApp hid is answered at its LID.
		d.to = q.Peer
		if q.Peer == "" && q.PeerLID != nil {
			d.toLID = *q.PeerLID
		}
		if d.to == "" && d.toLID == "" {
			return nil, nil, apiws.FieldError(apiws.EINVALID, field("replyTo"), "WhatsApp told nothing of this message's sender; give to")
		}
	}
	return quoteOf(q), group, nil
}

// quoteOf names a sent or received message for WhatsApp: its id and its
// sender.
func quoteOf(q *apiws.Message) *whatsapp.Quote {
	quote := &whatsapp.Quote{ID: *q.WAMessageID, FromMe: q.Direction == apiws.Outbound}
	if !quote.FromMe {
		quote.Sender = q.Peer
		if q.PeerLID != nil {
			quote.SenderLID = *q.PeerLID
		}
	}
	return quote
}

// replay answers a send whose idempotency key was used before.
func (s *Service) replay(first *apiws.Message, hash []byte) (*apiws.Message, error) {
	if !bytes.Equal(first.RequestHash, hash) {
		return nil, conflict()
	}
	return first, nil
}

// conflict refuses an idempotency key used before for other parameters.
func conflict() error {
	return apiws.FieldError(apiws.ECONFLICT, field("idempotencyKey"), "this key was used for a different message")
}

// requestHash is a digest of everything that makes two sends the same.
func requestHash(in apiws.SendMessage, to string) []byte {
	// The fields added since keys were first hashed are left out when
	// unset, so a text or media send keeps the digest it had.
	norm := struct {
		NumberID, To string
		Text         *string
		Media        *apiws.MediaInput
		Ref          *string
		GroupID      *string                   `json:",omitempty"`
		Location     *apiws.Location           `json:",omitempty"`
		Contacts     []*apiws.ContactCardInput `json:",omitempty"`
		Poll         *apiws.PollInput          `json:",omitempty"`
		ReplyTo      *string                   `json:",omitempty"`
		Mentions     []string                  `json:",omitempty"`
	}{in.NumberID, to, in.Text, in.Media, in.ClientReference, in.GroupID, in.Location, in.Contacts, in.Poll, in.ReplyTo, in.Mentions}
	b, _ := json.Marshal(norm)
	h := sha256.Sum256(b)
	return h[:]
}

// Message returns one of the caller's messages, or ENOTFOUND.
func (s *Service) Message(ctx context.Context, id string) (*apiws.Message, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeRead)
	if err != nil {
		return nil, err
	}
	return s.db.Message(ctx, c.AccountID, id)
}

// Messages pages an account's messages, newest first.
func (s *Service) Messages(ctx context.Context, accountID string, f apiws.MessageFilter, page apiws.Page) (apiws.List[*apiws.Message], error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return apiws.List[*apiws.Message]{}, err
	}
	if f.Peer != nil {
		p, ok := phones.Normalize(*f.Peer)
		if !ok {
			return apiws.List[*apiws.Message]{}, apiws.FieldError(apiws.EINVALID, []string{"filter", "peer"}, "is not a valid phone number")
		}
		f.Peer = &p
	}
	more := page.OneMore()
	ms, total, err := s.db.ListMessages(ctx, accountID, f, more.First, more.After, !page.NoTotal)
	return apiws.ListOf(ms, page, total), err
}
