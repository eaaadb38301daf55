package messaging

import (
	"context"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/whatsapp"
)

// TestInboundReplyQuotesOurMessage: an inbound message that quotes a
// message apiws knows has it as its replyTo; one that quotes a message
// apiws does not know is recorded with no replyTo (the quoted WhatsApp id
// is still in its content).
func TestInboundReplyQuotesOurMessage(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		a := newActionTest(t, db)
		ours := a.stored(apiws.Outbound, apiws.KindText, apiws.StatusRead, time.Minute)
		at := time.Now().UTC()
		a.s.HandleConnectorEvent(&whatsapp.Inbound{NumberID: a.n.ID, WAMessageID: "3EB0REPLY", From: "+15550100002", Kind: apiws.KindText, Text: "yes", QuotedID: *ours.WAMessageID, At: at})
		a.s.HandleConnectorEvent(&whatsapp.Inbound{NumberID: a.n.ID, WAMessageID: "3EB0ORPHAN", From: "+15550100002", Kind: apiws.KindText, Text: "and?", QuotedID: "3EB0UNKNOWN", At: at})

		byWA := map[string]*apiws.Message{}
		ms, _, err := db.ListMessages(context.Background(), a.n.AccountID, apiws.MessageFilter{}, 10, "", true)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			byWA[*m.WAMessageID] = m
		}
		if r := byWA["3EB0REPLY"]; r == nil || r.ReplyTo == nil || *r.ReplyTo != ours.ID {
			t.Errorf("reply %+v; want replyTo %s", r, ours.ID)
		}
		if o := byWA["3EB0ORPHAN"]; o == nil || o.ReplyTo != nil {
			t.Errorf("reply to an unknown message %+v; want it recorded with no replyTo", o)
		}
	})
}
