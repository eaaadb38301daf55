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

// retainingConnector accepts every send and answers with the content a
// connector keeps for retry receipts, as the whatsmeow connector does.
type retainingConnector struct{ whatsapp.Connector }

func (retainingConnector) Send(ctx context.Context, n *apiws.Number, msg whatsapp.OutgoingMessage) (whatsapp.SendResult, error) {
	return whatsapp.SendResult{WAMessageID: msg.ID, At: time.Now(), Content: []byte("as sent: " + msg.Text)}, nil
}

// TestSentContentKeptUntilDelivered: a sent message's content is kept
// (sealed) for the recipient's retry receipts until its delivery receipt,
// and at most the transit TTL.
func TestSentContentKeptUntilDelivered(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := storagetest.Account(t, db)
		now := time.Now().UTC()
		n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: acc, Status: apiws.NumberConnected, CreatedAt: now}
		if err := db.CreateNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		bus := events.NewMemory(events.Options{})
		conn := retainingConnector{}
		evlog, err := eventlog.New(db, bus, make([]byte, 32), time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(evlog.Close)
		s, err := New(Config{SecretKey: make([]byte, 32), SendsPerSecond: 1000, TransitTTL: time.Hour}, Deps{DB: db, Bus: bus, Events: evlog, Numbers: db,
			Connectors: func(*apiws.Number) whatsapp.Connector { return conn }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.close(); _ = bus.Close() })
		caller := apiws.WithCaller(ctx, &apiws.Caller{Kind: apiws.CredentialSession, AccountID: acc, Scopes: []apiws.Scope{apiws.ScopeSend}})

		send := func(text string) *apiws.Message {
			t.Helper()
			m, err := s.Send(caller, apiws.SendMessage{NumberID: n.ID, To: ptr("+14155552671"), Text: &text})
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				got, err := db.MessagesByIDs(ctx, []string{m.ID})
				if err == nil && len(got) == 1 && got[0].Status == apiws.StatusSent {
					return got[0]
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s not SENT", m.ID)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		m := send("hello")
		got, err := s.Retained(ctx, n.ID, *m.WAMessageID)
		if err != nil || string(got) != "as sent: hello" {
			t.Fatalf("Retained = %q, %v", got, err)
		}
		var stored []byte
		if err := db.SQL().QueryRow(db.Bun.NewSelect().Model((*storage.Transit)(nil)).Column("content").String()).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if string(stored) == "as sent: hello" || len(stored) == 0 {
			t.Error("transit content stored in the clear")
		}
		if got, _ := s.Retained(ctx, "num_other", *m.WAMessageID); got != nil {
			t.Error("another number's message was answered")
		}

		// Read before delivered (receipts come out of order): gone too.
		s.HandleConnectorEvent(&whatsapp.Receipt{NumberID: n.ID, MessageIDs: []string{*m.WAMessageID}, Status: apiws.StatusDelivered, At: time.Now()})
		if got, err := s.Retained(ctx, n.ID, *m.WAMessageID); got != nil || err != nil {
			t.Fatalf("kept after DELIVERED: %q, %v", got, err)
		}

		// Undelivered content goes when its time is up.
		m2 := send("never delivered")
		if got, _ := s.Retained(ctx, n.ID, *m2.WAMessageID); got == nil {
			t.Fatal("not kept")
		}
		s.now = func() time.Time { return time.Now().UTC().Add(time.Hour + time.Minute) }
		if got, _ := s.Retained(ctx, n.ID, *m2.WAMessageID); got != nil {
			t.Error("answered after the transit TTL")
		}
		s.failUnsendable()
		var left int
		if err := db.SQL().QueryRow("SELECT count(*) FROM transit").Scan(&left); err != nil || left != 0 {
			t.Errorf("%d transit rows left after expiry (%v)", left, err)
		}
	})
}
