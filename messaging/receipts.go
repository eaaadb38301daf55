package messaging

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/whatsapp"
)

// HandleConnectorEvent applies receipts and inbound messages from a
// Connector; connection changes are the numbers service's.
func (s *Service) HandleConnectorEvent(ev whatsapp.Event) {
	ctx := context.WithoutCancel(s.ctx)
	switch e := ev.(type) {
	case *whatsapp.Receipt:
		account, err := s.accountOf(ctx, e.NumberID)
		if err != nil {
			s.log.Warn("receipt for an unknown number", "number", e.NumberID, "err", err)
			return
		}
		r := &storage.ReceiptWrite{NumberID: e.NumberID, WAIDs: e.MessageIDs, Status: e.Status, Error: e.Error, At: e.At.UTC()}
		if err := s.journal.write(&journalReq{account: account, receipt: r}); err != nil {
			s.log.Error("apply receipt", "err", err, "number", e.NumberID)
		}
	case *whatsapp.Inbound:
		s.receive(ctx, e)
	}
}

// receive records an inbound message's metadata (never its content) and
// streams the content to subscribers.
func (s *Service) receive(ctx context.Context, in *whatsapp.Inbound) {
	n, err := s.numbers.NumberByID(ctx, in.NumberID)
	if err != nil {
		s.log.Warn("inbound message for an unknown number", "number", in.NumberID, "err", err)
		return
	}
	at := in.At.UTC()
	waID := in.WAMessageID
	m := &apiws.Message{
		ID: apiws.NewID(apiws.PrefixMessage), AccountID: n.AccountID, NumberID: n.ID, Direction: apiws.Inbound,
		Peer: in.From, PeerLID: apiws.NilIfEmpty(in.FromLID), Kind: in.Kind, Status: apiws.StatusReceived, WAMessageID: &waID, ReceivedAt: &at,
	}
	ev, err := s.db.InsertInbound(ctx, m)
	if errors.Is(err, storage.ErrDuplicate) {
		return // delivered again by WhatsApp: streamed the first time
	}
	if err != nil {
		s.log.Error("record inbound message", "err", err, "number", n.ID)
		return
	}
	s.publish(ev)
	data, _ := json.Marshal(apiws.Incoming{Message: m, Text: in.Text, Media: in.Media})
	if err := s.bus.Publish(ctx, n.AccountID, apiws.Event{Kind: apiws.EventIncoming, AccountID: n.AccountID, NumberID: n.ID, Data: data}); err != nil {
		// Inbound content is never stored, so with the bus down it is lost
		// to live subscribers; the metadata above is kept.
		s.log.Warn("publish inbound message", "err", err, "number", n.ID)
	}
}
