package messaging

import (
	"context"

	"github.com/apiws/apiws/whatsapp"
)

// learnLID gives the phone WhatsApp revealed to the number's messages
// with a peer hidden behind that LID and no phone yet, so they can be
// answered by phone and found by it.
func (s *Service) learnLID(ctx context.Context, e *whatsapp.LIDLearned) {
	n, err := s.db.FillHiddenPeers(ctx, e.NumberID, e.LID, e.Phone)
	if err != nil {
		s.log.Error("fill in the phone of a hidden peer", "err", err, "number", e.NumberID)
		return
	}
	if n > 0 {
		s.log.Debug("hidden peer's phone filled in", "number", e.NumberID, "messages", n)
	}
}
