package messaging

import (
	"context"
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

// receive logs an inbound message: its metadata, and its content in
// transit for subscribers and webhook endpoints.
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
	ev, err := s.db.InsertInbound(ctx, m, in.Content())
	if errors.Is(err, storage.ErrDuplicate) {
		return // delivered again by WhatsApp: logged the first time
	}
	if err != nil {
		s.log.Error("record inbound message", "err", err, "number", n.ID)
		return
	}
	s.publish(ev)
}
