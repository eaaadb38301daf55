package messaging

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/eventlog"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/whatsapp"
)

// downloadingConnector hands out one file, for the reference "ref-1", and
// counts the downloads asked of it.
type downloadingConnector struct {
	whatsapp.Connector
	downloads atomic.Int32
}

var inboundFile = []byte("\x89PNG the file")

func (c *downloadingConnector) Download(ctx context.Context, n *apiws.Number, ref []byte) ([]byte, error) {
	c.downloads.Add(1)
	if string(ref) != "ref-1" {
		return nil, whatsapp.ErrMediaGone
	}
	return bytes.Clone(inboundFile), nil
}

// fixedOwner owns every number or none.
type fixedOwner bool

func (o fixedOwner) Owns(string) (int64, bool)                          { return 1, bool(o) }
func (o fixedOwner) Fence(context.Context, string, int64) (bool, error) { return bool(o), nil }
func (o fixedOwner) Owned() []string                                    { return nil }

// TestMediaFile: a media link fetches its file through the connector of
// the instance that owns the number, passed over the bus to another; a
// tampered or expired link fetches nothing.
func TestMediaFile(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		acc := storagetest.Account(t, db)
		now := time.Now().UTC()
		n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: acc, Status: apiws.NumberConnected, CreatedAt: now}
		if err := db.CreateNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		secret := bytes.Repeat([]byte{3}, 32)
		bus := events.NewMemory(events.Options{})
		t.Cleanup(func() { _ = bus.Close() })
		evlog, err := eventlog.New(db, bus, secret, time.Hour, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(evlog.Close)
		links, err := apiws.NewMediaLinks(secret, "https://apiws.example")
		if err != nil {
			t.Fatal(err)
		}
		evlog.LinkMedia(links)
		instance := func(owns bool) (*Service, *downloadingConnector) {
			conn := &downloadingConnector{}
			s, err := New(Config{SecretKey: secret}, Deps{DB: db, Bus: bus, Events: evlog, Numbers: db, Owner: fixedOwner(owns), Links: links, Log: log,
				Connectors: func(*apiws.Number) whatsapp.Connector { return conn }})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.close)
			return s, conn
		}
		owner, ownerConn := instance(true)
		other, otherConn := instance(false)

		inbound := func(ref string) *apiws.LogEvent {
			t.Helper()
			waID := apiws.NewID("wa")
			m := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc, NumberID: n.ID, Direction: apiws.Inbound,
				Peer: "+14155550005", Kind: apiws.KindImage, Status: apiws.StatusReceived, WAMessageID: &waID, ReceivedAt: &now}
			ev, err := db.InsertInbound(ctx, m, apiws.ContentOf(apiws.KindImage, "", &apiws.InboundMedia{MimeType: "image/png", FileName: "a.png", Ref: []byte(ref)}))
			if err != nil {
				t.Fatal(err)
			}
			if ev.MediaUntil == nil || ev.MediaUntil.Before(now.Add(59*time.Minute)) {
				t.Fatalf("MediaUntil = %v, want the TTL from now", ev.MediaUntil)
			}
			return ev
		}
		ev := inbound("ref-1")
		token := links.Token(apiws.MediaLink{AccountID: acc, Seq: ev.Seq, Expires: *ev.MediaUntil})
		downloads := func() (int32, int32) { return ownerConn.downloads.Load(), otherConn.downloads.Load() }

		t.Run("the reference is sealed", func(t *testing.T) {
			var sealed []byte
			if err := db.SQL().QueryRow("SELECT media FROM inbound_transit").Scan(&sealed); err != nil || len(sealed) < 32 || bytes.Contains(sealed, []byte("ref-1")) {
				t.Fatalf("the media column: %q, %v", sealed, err)
			}
		})

		t.Run("the owner downloads the file", func(t *testing.T) {
			f, err := owner.MediaFile(ctx, token)
			if err != nil || !bytes.Equal(f.Data, inboundFile) || f.MimeType != "image/png" || f.FileName != "a.png" {
				t.Fatalf("MediaFile = %+v, %v", f, err)
			}
			if o, x := downloads(); o != 1 || x != 0 {
				t.Fatalf("downloads by the owner %d, by the other %d; want 1, 0", o, x)
			}
		})

		t.Run("another instance asks the owner", func(t *testing.T) {
			f, err := other.MediaFile(ctx, token)
			if err != nil || !bytes.Equal(f.Data, inboundFile) || f.MimeType != "image/png" {
				t.Fatalf("MediaFile = %+v, %v", f, err)
			}
			if o, x := downloads(); o != 2 || x != 0 {
				t.Fatalf("downloads by the owner %d, by the other %d; want 2, 0", o, x)
			}
		})

		t.Run("the owner's errors reach the other instance", func(t *testing.T) {
			gone := inbound("ref-gone")
			tok := links.Token(apiws.MediaLink{AccountID: acc, Seq: gone.Seq, Expires: *gone.MediaUntil})
			if _, err := other.MediaFile(ctx, tok); apiws.ErrorCodeOf(err) != apiws.EEXPIRED {
				t.Fatalf("a file WhatsApp no longer has: %v, want EXPIRED", err)
			}
			if o, x := downloads(); o != 3 || x != 0 {
				t.Fatalf("downloads by the owner %d, by the other %d; want 3, 0", o, x)
			}
		})

		t.Run("a tampered or expired link fetches nothing", func(t *testing.T) {
			flip := []byte(token)
			flip[len(flip)/2] ^= 'A' ^ 'B'
			cases := map[string]struct {
				token string
				code  apiws.ErrorCode
			}{
				"tampered":                  {string(flip), apiws.EFORBIDDEN},
				"garbled":                   {"not-a-token", apiws.EFORBIDDEN},
				"another account's":         {links.Token(apiws.MediaLink{AccountID: "acc_other", Seq: ev.Seq, Expires: *ev.MediaUntil}), apiws.EEXPIRED},
				"expired":                   {links.Token(apiws.MediaLink{AccountID: acc, Seq: ev.Seq, Expires: now.Add(-time.Second)}), apiws.EEXPIRED},
				"of an event with no media": {links.Token(apiws.MediaLink{AccountID: acc, Seq: ev.Seq + 100, Expires: *ev.MediaUntil}), apiws.EEXPIRED},
			}
			for name, c := range cases {
				for _, s := range []*Service{owner, other} {
					if _, err := s.MediaFile(ctx, c.token); apiws.ErrorCodeOf(err) != c.code {
						t.Errorf("%s: %v, want %s", name, err, c.code)
					}
				}
			}
			if o, x := downloads(); o != 3 || x != 0 {
				t.Fatalf("downloads by the owner %d, by the other %d; want no more than 3, 0", o, x)
			}
		})

		t.Run("after the TTL the link is gone", func(t *testing.T) {
			if _, err := db.DeleteExpiredTransit(ctx, now.Add(2*time.Hour)); err != nil {
				t.Fatal(err)
			}
			if _, err := owner.MediaFile(ctx, token); apiws.ErrorCodeOf(err) != apiws.EEXPIRED {
				t.Fatalf("after the TTL: %v, want EXPIRED", err)
			}
			if o, x := downloads(); o != 3 || x != 0 {
				t.Fatalf("downloads by the owner %d, by the other %d; want no more than 3, 0", o, x)
			}
		})
	})
}

// TestDownloadsAreBounded: with maxDownloads files being downloaded, one
// more waits for a turn, and gives up with its context without asking the
// connector; a freed turn lets it through.
func TestDownloadsAreBounded(t *testing.T) {
	conn := &downloadingConnector{}
	s := &Service{downloads: make(chan struct{}, maxDownloads), connectors: func(*apiws.Number) whatsapp.Connector { return conn },
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n := &apiws.Number{ID: "num_1"}
	for range maxDownloads {
		s.downloads <- struct{}{} // downloads under way
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.downloadHere(ctx, n, []byte("ref-1")); err == nil || conn.downloads.Load() != 0 {
		t.Fatalf("a download past the bound: err %v, %d asked of the connector", err, conn.downloads.Load())
	}
	<-s.downloads // one ends
	data, err := s.downloadHere(context.Background(), n, []byte("ref-1"))
	if err != nil || !bytes.Equal(data, inboundFile) || conn.downloads.Load() != 1 {
		t.Fatalf("a download with a free turn: %q, %v", data, err)
	}
	if len(s.downloads) != maxDownloads-1 {
		t.Errorf("%d turns taken after the download; want %d", len(s.downloads), maxDownloads-1)
	}
}
