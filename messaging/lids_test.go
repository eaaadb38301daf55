package messaging

import (
	"context"
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

// TestHiddenSenderLearnedAndUndecryptable: a message from a sender known
// by LID alone has no peer until the connector learns the phone; a message
// the number could not decrypt is recorded with its error.
func TestHiddenSenderLearnedAndUndecryptable(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := storagetest.Account(t, db)
		n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: acc, Status: apiws.NumberConnected, CreatedAt: time.Now().UTC()}
		if err := db.CreateNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		bus := events.NewMemory(events.Options{})
		evlog, err := eventlog.New(db, bus, make([]byte, 32), time.Hour, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(evlog.Close)
		s, err := New(Config{SecretKey: make([]byte, 32), SendsPerSecond: 1000, TransitTTL: time.Hour}, Deps{DB: db, Bus: bus, Events: evlog, Numbers: db,
			Connectors: func(*apiws.Number) whatsapp.Connector { return nil }, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.close(); _ = bus.Close() })

		s.HandleConnectorEvent(&whatsapp.Inbound{NumberID: n.ID, WAMessageID: "3EB0H", FromLID: "100014155552671", Kind: apiws.KindText, Text: "hi", At: time.Now()})
		undecryptable := &apiws.MessageError{Code: apiws.MsgErrUndecryptable, Message: "the message could not be decrypted"}
		s.HandleConnectorEvent(&whatsapp.Inbound{NumberID: n.ID, WAMessageID: "3EB0U", FromLID: "100014155552671", Kind: apiws.KindOther, Error: undecryptable, At: time.Now()})
		byWA := func() map[string]*apiws.Message {
			t.Helper()
			ms, _, err := db.ListMessages(ctx, acc, apiws.MessageFilter{}, 10, "", true)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]*apiws.Message{}
			for _, m := range ms {
				out[*m.WAMessageID] = m
			}
			return out
		}
		ms := byWA()
		if len(ms) != 2 || ms["3EB0H"].Peer != "" || ms["3EB0H"].Error != nil {
			t.Fatalf("messages %+v", ms)
		}
		if u := ms["3EB0U"]; u.Kind != apiws.KindOther || u.Error == nil || *u.Error != *undecryptable {
			t.Errorf("undecryptable message recorded as %+v", u)
		}

		s.HandleConnectorEvent(&whatsapp.LIDLearned{NumberID: n.ID, LID: "100014155552671", Phone: "+14155552671"})
		for wa, m := range byWA() {
			if m.Peer != "+14155552671" || m.PeerLID == nil || *m.PeerLID != "100014155552671" {
				t.Errorf("%s after the phone was learned: peer %q, LID %v", wa, m.Peer, m.PeerLID)
			}
		}
	})
}
