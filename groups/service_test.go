package groups

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/eventlog"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/whatsapp"
)

// unreachable is a connector that cannot tell a group's details.
type unreachable struct{ whatsapp.Connector }

func (unreachable) Group(context.Context, *apiws.Number, string) (whatsapp.GroupInfo, error) {
	return whatsapp.GroupInfo{}, errors.New("timed out")
}

// TestGroupOfStoresTheJIDWhenWhatsAppCannotTell: the first message of a
// group WhatsApp cannot tell about right then still gets its group, stored
// by its JID with the number a member, so the message is not lost.
func TestGroupOfStoresTheJIDWhenWhatsAppCannotTell(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		phone := "+15550100123"
		n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: storagetest.Account(t, db), Phone: &phone,
			Status: apiws.NumberConnected, CreatedAt: time.Now().UTC()}
		if err := db.CreateNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		bus := events.NewMemory(events.Options{})
		t.Cleanup(func() { _ = bus.Close() })
		evlog, err := eventlog.New(db, bus, make([]byte, 32), time.Hour, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(evlog.Close)
		s := New(Deps{DB: db, Events: evlog, Log: log, Connectors: func(*apiws.Number) whatsapp.Connector { return unreachable{} }})
		t.Cleanup(s.Close)

		const jid = "120363025246125486@g.us"
		g, err := s.GroupOf(ctx, n, jid)
		if err != nil || g.JID != jid || g.Role == nil || *g.Role != apiws.RoleMember {
			t.Fatalf("GroupOf = %+v, %v; want the group by its JID, the number a member", g, err)
		}
		again, err := s.GroupOf(ctx, n, jid)
		if err != nil || again.ID != g.ID {
			t.Errorf("the second message's group %+v, %v; want the one stored", again, err)
		}
	})
}
