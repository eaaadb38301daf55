package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

var (
	peerA   = types.NewJID("14155552671", types.DefaultUserServer)
	lidA    = types.NewJID("123456789012345", types.HiddenUserServer)
	peerB   = types.NewJID("14155552672", types.DefaultUserServer)
	lidB    = types.NewJID("223456789012345", types.HiddenUserServer)
	ownLIDA = types.NewJID("323456789012345", types.HiddenUserServer)
)

// whatsmeowDevice pairs a device of phone in whatsmeow's tables and fills
// every table whatsmeow keeps for it; its peers are peerA (known to this
// device only) and peerB (also known to others).
func whatsmeowDevice(t *testing.T, db *storage.DB, c *sqlstore.Container, phone string) *store.Device {
	t.Helper()
	ctx := context.Background()
	dev := c.NewDevice()
	jid := types.JID{User: phone, Device: 7, Server: types.DefaultUserServer}
	dev.ID, dev.PushName = &jid, "Shop"
	dev.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte("d"), AccountSignature: make([]byte, 64),
		AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64)}
	if err := dev.Save(ctx); err != nil {
		t.Fatal(err)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("identity", dev.Identities.PutIdentity(ctx, peerA.SignalAddress().String(), [32]byte{1}))
	must("session", dev.Sessions.PutSession(ctx, peerA.SignalAddress().String(), []byte("session")))
	_, err := dev.PreKeys.GetOrGenPreKeys(ctx, 2)
	must("pre keys", err)
	must("sender key", dev.SenderKeys.PutSenderKey(ctx, "1203630@g.us", peerA.String(), []byte("sk")))
	must("app state key", dev.AppStateKeys.PutAppStateSyncKey(ctx, []byte("kid"), store.AppStateSyncKey{Data: []byte("k"), Fingerprint: []byte("f"), Timestamp: 1}))
	must("app state version", dev.AppState.PutAppStateVersion(ctx, "regular", 1, [128]byte{}))
	must("app state macs", dev.AppState.PutAppStateMutationMACs(ctx, "regular", 1, []store.AppStateMutationMAC{{IndexMAC: make([]byte, 32), ValueMAC: make([]byte, 32)}}))
	_, _, err = dev.Contacts.PutPushName(ctx, peerA, "Ann")
	must("push name", err)
	must("chat settings", dev.ChatSettings.PutMutedUntil(ctx, peerA, time.Now().Add(time.Hour)))
	must("message secret", dev.MsgSecrets.PutMessageSecret(ctx, peerA, peerA, "3EB0A", []byte("secret")))
	must("privacy token", dev.PrivacyTokens.PutPrivacyTokens(ctx, store.PrivacyToken{User: peerA, Token: []byte("tok"), Timestamp: time.Now()}))
	must("nct salt", dev.NCTSalt.PutNCTSalt(ctx, []byte("salt")))
	must("buffered event", dev.EventBuffer.PutBufferedEvent(ctx, [32]byte{1}, []byte("plain"), time.Now()))
	must("outgoing event", dev.EventBuffer.AddOutgoingEvent(ctx, peerA, "3EB0OUT", "proto", []byte("sent")))
	must("lid a", c.LIDMap.PutLIDMapping(ctx, lidA, peerA))
	must("lid b", c.LIDMap.PutLIDMapping(ctx, lidB, peerB))
	must("learn", db.LearnLIDs(ctx, jid.String(), []string{lidA.User, lidB.User}))
	return dev
}

// whatsmeowRowsOf returns, per whatsmeow table (found in the database's
// catalogue, so a table whatsmeow adds is scanned too), the rows in which
// any column mentions one of words.
func whatsmeowRowsOf(t *testing.T, db *storage.DB, words ...string) map[string]int {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'whatsmeow%' ORDER BY name"
	if db.Dialect == storage.Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE 'whatsmeow%' ORDER BY 1"
	}
	var tables []string
	rows, err := db.SQL().Query(q)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		_ = rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 15 {
		t.Fatalf("only %d whatsmeow tables: %v", len(tables), tables)
	}
	found := map[string]int{}
	for _, table := range tables {
		if table == "whatsmeow_version" {
			continue
		}
		found[table] += countMentions(t, db.SQL(), table, words)
	}
	return found
}

func countMentions(t *testing.T, db *sql.DB, table string, words []string) int {
	t.Helper()
	rows, err := db.Query("SELECT * FROM " + table)
	if err != nil {
		t.Fatalf("scan %s: %v", table, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			var s string
			switch v := v.(type) {
			case string:
				s = v
			case []byte:
				s = string(v)
			default:
				s = fmt.Sprint(v)
			}
			if containsAny(s, words) {
				n++
				break
			}
		}
	}
	return n
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func TestForgetWhatsAppDevice(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		c := sqlstore.NewWithDB(db.SQL(), string(db.Dialect), nil)
		if err := db.UnderMigrationLock(ctx, c.Upgrade); err != nil {
			t.Fatal(err)
		}
		gone := whatsmeowDevice(t, db, c, "15550100001")
		kept := whatsmeowDevice(t, db, c, "15550100002")
		// The device's own LID mapping, as whatsmeow stores it on pairing.
		if err := c.LIDMap.PutLIDMapping(ctx, ownLIDA, gone.ID.ToNonAD()); err != nil {
			t.Fatal(err)
		}
		// lidA is known to the gone device only.
		if _, err := db.Bun.NewRaw("DELETE FROM wa_learned_lids WHERE our_jid = ? AND lid = ?", kept.ID.String(), lidA.User).Exec(ctx); err != nil {
			t.Fatal(err)
		}

		if err := db.ForgetWhatsAppDevice(ctx, gone.ID.String()); err != nil {
			t.Fatal(err)
		}
		for table, n := range whatsmeowRowsOf(t, db, "15550100001", lidA.User, ownLIDA.User) {
			if n > 0 {
				t.Errorf("%s: %d rows of the forgotten device left", table, n)
			}
		}
		left := whatsmeowRowsOf(t, db, "15550100002", lidB.User)
		for _, table := range []string{"whatsmeow_device", "whatsmeow_privacy_tokens", "whatsmeow_lid_map", "whatsmeow_sessions"} {
			if left[table] == 0 {
				t.Errorf("%s: the other device's rows went too", table)
			}
		}
		if err := db.ForgetWhatsAppDevice(ctx, gone.ID.String()); err != nil {
			t.Errorf("forgetting a device twice: %v", err)
		}
	})
}

func TestPurgeAccountDeletesWhatsmeowData(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		c := sqlstore.NewWithDB(db.SQL(), string(db.Dialect), nil)
		if err := db.UnderMigrationLock(ctx, c.Upgrade); err != nil {
			t.Fatal(err)
		}
		acc, consent, sess, audit := newAccount("purge-wa@example.com")
		if err := db.CreateAccount(ctx, acc, consent, sess, audit); err != nil {
			t.Fatal(err)
		}
		dev := whatsmeowDevice(t, db, c, "15550100003")
		jid := dev.ID.String()
		n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: acc.ID, JID: &jid, Status: apiws.NumberConnected, CreatedAt: time.Now().UTC()}
		if err := db.CreateNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := db.PurgeAccount(ctx, acc.ID, &apiws.AuditEntry{Actor: "system", Action: "purge", At: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		for table, k := range whatsmeowRowsOf(t, db, "15550100003", lidA.User, lidB.User) {
			if k > 0 {
				t.Errorf("%s: %d rows of the purged account's device left", table, k)
			}
		}
	})
}

func TestInboundDuplicateRefused(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc, c, s, a := newAccount("inbound-dup@example.com")
		if err := db.CreateAccount(ctx, acc, c, s, a); err != nil {
			t.Fatal(err)
		}
		in := func(numberID, waID string) *apiws.Message {
			now := time.Now().UTC()
			return &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc.ID, NumberID: numberID, Direction: apiws.Inbound,
				Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusReceived, WAMessageID: &waID, ReceivedAt: &now}
		}
		if _, err := db.InsertInbound(ctx, in("num_1", "3EB0IN"), nil); err != nil {
			t.Fatal(err)
		}
		if ev, err := db.InsertInbound(ctx, in("num_1", "3EB0IN"), nil); !errors.Is(err, storage.ErrDuplicate) || ev != nil {
			t.Fatalf("the same WhatsApp id again = %v, %v; want ErrDuplicate", ev, err)
		}
		if _, err := db.InsertInbound(ctx, in("num_2", "3EB0IN"), nil); err != nil {
			t.Errorf("the same id on another number: %v", err)
		}
		var k int
		if err := db.SQL().QueryRow("SELECT count(*) FROM messages WHERE number_id = 'num_1'").Scan(&k); err != nil || k != 1 {
			t.Errorf("num_1 has %d messages (%v), want 1", k, err)
		}
	})
}
