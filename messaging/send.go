package messaging

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"

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
	d, errs := validate(in)
	if len(errs) > 0 {
		return nil, errs
	}

	// The request hash identifies "the same parameters" for idempotency; it
	// is taken before media is fetched so a retry does not fetch again.
	hash := requestHash(in, d.to)
	if first, err := s.replayed(ctx, c.AccountID, in.IdempotencyKey, hash); first != nil || err != nil {
		return first, err
	}
	if err := s.checkSend(ctx, c.AccountID, in.NumberID, field("numberId")); err != nil {
		return nil, err
	}
	var group *apiws.Group
	if in.GroupID != nil {
		if group, err = s.sendGroup(ctx, c.AccountID, in.NumberID, *in.GroupID, field("groupId")); err != nil {
			return nil, err
		}
	}
	var quote *whatsapp.Quote
	if in.ReplyTo != nil {
		if quote, group, err = s.quote(ctx, c.AccountID, in.NumberID, *in.ReplyTo, d, group); err != nil {
			return nil, err
		}
	}
	if s.usage != nil {
		if err := s.usage.CheckQuota(ctx, c.AccountID); err != nil {
			return nil, err
		}
	}

	body := &content{Kind: d.kind, Text: d.text, Location: d.location, Contacts: d.contacts, Poll: d.poll,
		ReplyTo: quote, Mentions: d.mentions}
	if in.Media != nil {
		media, err := s.loadMedia(ctx, in.Media)
		if err != nil {
			return nil, err
		}
		if media.Caption == "" {
			media.Caption = d.text
		}
		body.Media = media
	}
	o := outgoing{accountID: c.AccountID, numberID: in.NumberID, to: d.to, toLID: d.toLID, replyTo: in.ReplyTo,
		clientReference: in.ClientReference, idempotencyKey: in.IdempotencyKey, hash: hash, body: body}
	o.toGroup(group)
	return s.queue(ctx, o)
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
	if *check.NumberStatus != apiws.NumberConnected {
		return apiws.FieldError(apiws.ENOTCONNECTED, at, "the number is not connected (status %s)", *check.NumberStatus)
	}
	return nil
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
}

// queue writes o as a new QUEUED message with its sealed content in the
// outbox (one transaction, shared with other writes, see journal), and
// nudges its number's dispatcher. A concurrent send that took the same
// idempotency key first is answered as replayed.
func (s *Service) queue(ctx context.Context, o outgoing) (*apiws.Message, error) {
	now := s.now()
	waID := whatsapp.NewMessageID()
	m := &apiws.Message{
		ID: apiws.NewID(apiws.PrefixMessage), AccountID: o.accountID, NumberID: o.numberID, Direction: apiws.Outbound,
		Peer: o.to, PeerLID: apiws.NilIfEmpty(o.toLID), Kind: o.body.Kind, Status: apiws.StatusQueued, WAMessageID: &waID,
		ClientReference: o.clientReference, ReplyTo: o.replyTo, GroupID: o.groupID, QueuedAt: &now, IdempotencyKey: o.idempotencyKey, RequestHash: o.hash,
	}
	q := &storage.QueueWrite{Message: m, Sealed: s.seal.seal(m.ID, o.body.marshal())}
	err := s.journal.write(&journalReq{account: m.AccountID, queue: q})
	if err == nil {
		err = q.Err
	}
	if errors.Is(err, storage.ErrDuplicate) && o.idempotencyKey != nil {
		// A concurrent send with the same key won the race.
		first, err := s.db.MessageByIdempotencyKey(ctx, o.accountID, *o.idempotencyKey)
		if err != nil {
			return nil, err
		}
		return s.replay(first, o.hash)
	} else if err != nil {
		return nil, err
	}
	s.Nudge(o.numberID)
	return m, nil
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
		return nil, apiws.FieldError(apiws.ECONFLICT, field("idempotencyKey"), "this key was used for a different message")
	}
	return first, nil
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
	ms, total, err := s.db.ListMessages(ctx, accountID, f, more.First, more.After)
	return apiws.ListOf(ms, page, total), err
}
