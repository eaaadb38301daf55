package whatsapp

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	_ "modernc.org/sqlite"

	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// testDB is an empty database of one dialect for a test.
type testDB struct {
	db      *sql.DB
	dialect string
}

// openSQLite opens a fresh SQLite file with foreign keys on, as apiws does.
func openSQLite(t *testing.T) testDB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "wa.db")+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return testDB{db, "sqlite"}
}

// openPostgres creates a database of its own on the test server and drops
// it when the test ends. The server is required: it fails, never skips.
func openPostgres(t *testing.T) testDB {
	t.Helper()
	base := os.Getenv("APIWS_TEST_POSTGRES_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	if err := admin.Ping(); err != nil {
		admin.Close()
		t.Fatalf("postgres unreachable at %s (set APIWS_TEST_POSTGRES_URL): %v", base, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "apiws_test_wa_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatalf("create database: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		admin.Close()
	})
	return testDB{db, "postgres"}
}

// testAccount stands in for the signed identity WhatsApp sends on pairing.
func testAccount() *waAdv.ADVSignedDeviceIdentity {
	return &waAdv.ADVSignedDeviceIdentity{
		Details: []byte("details"), AccountSignature: make([]byte, 64),
		AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64),
	}
}

var databases = []struct {
	name string
	open func(*testing.T) testDB
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

func TestDeviceStore(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			tdb := d.open(t)
			c, err := openDeviceStore(ctx, tdb.db, tdb.dialect, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := openDeviceStore(ctx, tdb.db, tdb.dialect, nil, nil); err != nil {
				t.Fatalf("second upgrade: %v", err)
			}

			dev := c.NewDevice()
			jid := types.JID{User: "15550123456", Device: 7, Server: types.DefaultUserServer}
			dev.ID, dev.PushName = &jid, "Shop"
			dev.Account = testAccount()
			if err := dev.Save(ctx); err != nil {
				t.Fatalf("save: %v", err)
			}
			// A session-scoped row, which must go with the device.
			if err := dev.Identities.PutIdentity(ctx, "14155552671.0", [32]byte{1}); err != nil {
				t.Fatalf("put identity: %v", err)
			}
			lid := types.NewJID("123456789012345", types.HiddenUserServer)
			if err := c.LIDMap.PutLIDMapping(ctx, lid, types.NewJID("14155552671", types.DefaultUserServer)); err != nil {
				t.Fatalf("put lid: %v", err)
			}

			got, err := c.GetDevice(ctx, jid)
			if err != nil || got == nil {
				t.Fatalf("load: %v, %v", got, err)
			}
			if got.PushName != "Shop" || got.RegistrationID != dev.RegistrationID || *got.IdentityKey.Priv != *dev.IdentityKey.Priv || *got.NoiseKey.Priv != *dev.NoiseKey.Priv {
				t.Error("loaded device differs from the saved one")
			}
			w := newWhatsmeow(c, nil, nil, WhatsmeowOptions{})
			if p := w.phoneOfLID(lid); p != "+14155552671" {
				t.Errorf("lid resolved to %q", p)
			}

			if err := c.DeleteDevice(ctx, got); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if again, err := c.GetDevice(ctx, jid); err != nil || again != nil {
				t.Fatalf("after delete: %v, %v", again, err)
			}
			var identities int
			if err := tdb.db.QueryRow("SELECT count(*) FROM whatsmeow_identity_keys").Scan(&identities); err != nil {
				t.Fatal(err)
			}
			if identities != 0 {
				t.Errorf("%d identity keys survived their device: foreign keys are off", identities)
			}
		})
	}
}

func TestDeviceStoreRefuses(t *testing.T) {
	ctx := context.Background()
	t.Run("unknown dialect", func(t *testing.T) {
		if _, err := openDeviceStore(ctx, openSQLite(t).db, "mysql", nil, nil); err == nil {
			t.Fatal("want an error")
		}
	})
	t.Run("sqlite without foreign keys", func(t *testing.T) {
		db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "nofk.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := openDeviceStore(ctx, db, "sqlite", nil, nil); err == nil {
			t.Fatal("want an error")
		}
	})
}

// TestDeviceStoreRules: whatsmeow keeps no third party's names, chat
// settings or message secrets, and a device's deletion (however whatsmeow
// comes to it) takes the rows no foreign key ties to it.
func TestDeviceStoreRules(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		d, err := openDeviceStore(ctx, db.SQL(), string(db.Dialect), nil, db)
		if err != nil {
			t.Fatal(err)
		}
		dev := d.NewDevice()
		jid := types.JID{User: "15550123456", Device: 7, Server: types.DefaultUserServer}
		dev.ID, dev.Account = &jid, testAccount()
		// The first save is where whatsmeow sets up the device's stores.
		if err := dev.Save(ctx); err != nil {
			t.Fatal(err)
		}
		peer := types.NewJID("14155552671", types.DefaultUserServer)
		lid := types.NewJID("123456789012345", types.HiddenUserServer)
		if _, _, err := dev.Contacts.PutPushName(ctx, peer, "Ann"); err != nil {
			t.Fatal(err)
		}
		_ = dev.Contacts.PutContactName(ctx, peer, "Ann", "Ann Smith")
		_ = dev.ChatSettings.PutMutedUntil(ctx, peer, time.Now().Add(time.Hour))
		_ = dev.MsgSecrets.PutMessageSecret(ctx, peer, peer, "3EB0A", []byte("secret"))
		if err := dev.PrivacyTokens.PutPrivacyTokens(ctx, store.PrivacyToken{User: peer, Token: []byte("t"), Timestamp: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := dev.LIDs.PutLIDMapping(ctx, lid, peer); err != nil {
			t.Fatal(err)
		}
		count := func(table string) int {
			var k int
			if err := db.SQL().QueryRow("SELECT count(*) FROM " + table).Scan(&k); err != nil {
				t.Fatal(err)
			}
			return k
		}
		for _, table := range []string{"whatsmeow_contacts", "whatsmeow_chat_settings", "whatsmeow_message_secrets"} {
			if k := count(table); k != 0 {
				t.Errorf("%s: %d rows kept", table, k)
			}
		}
		if count("whatsmeow_privacy_tokens") != 1 || count("whatsmeow_lid_map") != 1 || count("wa_learned_lids") != 1 {
			t.Fatal("what apiws needs was not kept")
		}
		// A device loaded again follows the same rules.
		again, err := d.GetDevice(ctx, jid)
		if err != nil || again.Contacts != discarded {
			t.Fatalf("loaded device: %v", err)
		}
		// whatsmeow deletes through the device (as on a logout or a ban).
		if err := again.Delete(ctx); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"whatsmeow_device", "whatsmeow_privacy_tokens", "whatsmeow_lid_map", "wa_learned_lids"} {
			if k := count(table); k != 0 {
				t.Errorf("%s: %d rows left after the device's deletion", table, k)
			}
		}
	})
}

// TestConcurrentUpgrades: instances starting together on a fresh database
// upgrade whatsmeow's tables one after the other (whatsmeow takes no lock
// of its own; without the migration lock two starts often failed).
func TestConcurrentUpgrades(t *testing.T) {
	for _, dialect := range storagetest.Dialects {
		t.Run(string(dialect), func(t *testing.T) {
			for round := range 3 {
				ctx := context.Background()
				dbs := storagetest.Instances(t, dialect, 3)
				errs := make(chan error, len(dbs))
				for _, db := range dbs {
					go func() {
						_, err := openDeviceStore(ctx, db.SQL(), string(db.Dialect), nil, db)
						errs <- err
					}()
				}
				for range dbs {
					if err := <-errs; err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
				}
			}
		})
	}
}
