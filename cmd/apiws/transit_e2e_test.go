package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/whatsapp"
)

// TestInboundContentGoneAfterTheTTL: inbound content waits in transit,
// sealed, for subscribers that replay, and so does the reference of an
// inbound file; once APIWS_TRANSIT_TTL is over, a retention sweep deletes
// them: no byte of either is in any column or database file, and replays
// read the content as null.
func TestInboundContentGoneAfterTheTTL(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_TRANSIT_TTL": "2h"})
	dbPath := serverOf(t, base).dbURL
	token, _ := signUp(t, base, "transit@example.com")
	num := connectedNumber(t, base, token)
	const marker = "MARKER-inbound-delta"
	send(t, base, token, map[string]any{"numberId": num, "to": "+14155550003", "text": marker}) // echoed back
	waitMessages(t, base, token, "the echo received", func(ms map[string]any) bool { return countInbound(ms) == 1 })
	send(t, base, token, map[string]any{"numberId": num, "to": "+14155550005", // echoed as an inbound image
		"media": map[string]any{"kind": "IMAGE", "mimeType": "image/png", "data": base64.StdEncoding.EncodeToString(whatsapp.SandboxPNG)}})
	waitMessages(t, base, token, "the image received", func(ms map[string]any) bool { return countInbound(ms) == 2 })
	// What the sandbox fetches its inbound files with.
	ref := []byte("sandbox:png")
	sandbox := whatsapp.NewSandbox(func(whatsapp.Event) {}, 1)
	defer sandbox.Close()
	if f, err := sandbox.Download(t.Context(), nil, ref); err != nil || !bytes.Equal(f, whatsapp.SandboxPNG) {
		t.Fatalf("%q is not the sandbox's media reference: %v", ref, err)
	}

	replayed := func() any {
		ws := openWS(t, base, "graphql-transport-ws", token)
		defer ws.close()
		ws.subscribe("e", `subscription { events(after: "0", types: [MESSAGE_RECEIVED]) { ... on MessageReceivedEvent { content { text } } } }`, nil)
		return get(ws.data("e"), "events", "content")
	}
	if c := replayed(); str(c, "text") != marker {
		t.Fatalf("content in transit: %v", c)
	}

	// Held sealed: never in clear, in no column nor file.
	db, err := storage.Open(t.Context(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sealed, sealedMedia []byte
	if err := db.SQL().QueryRow("SELECT content FROM inbound_transit WHERE media IS NULL").Scan(&sealed); err != nil || len(sealed) < 32 {
		t.Fatalf("the transit row: %x, %v", sealed, err)
	}
	if err := db.SQL().QueryRow("SELECT media FROM inbound_transit WHERE media IS NOT NULL").Scan(&sealedMedia); err != nil || len(sealedMedia) < 32 {
		t.Fatalf("the transit row of the image: %x, %v", sealedMedia, err)
	}
	notAnywhere := func(when string, needles ...[]byte) {
		t.Helper()
		for _, n := range needles {
			if where := findInDatabase(t, db, string(n)); where != "" {
				t.Errorf("%s: %q found in %s", when, n, where)
			}
			for _, f := range []string{dbPath, dbPath + "-wal"} {
				b, _ := os.ReadFile(f)
				if bytes.Contains(b, n) {
					t.Errorf("%s: %q found in the file %s", when, n, filepath.Base(f))
				}
			}
		}
	}
	notAnywhere("in transit", []byte(marker), ref)

	out := retentionRun(t, base, time.Now().Add(3*time.Hour))
	if n := countRows(t, dbPath, "inbound_transit"); n != 0 {
		t.Fatalf("%d inbound transit rows after the TTL (%s)", n, out)
	}
	// The sealed bytes were overwritten too (secure_delete, checkpoint).
	notAnywhere("after the TTL", []byte(marker), ref, sealed[len(sealed)-32:], sealedMedia[len(sealedMedia)-32:])
	if c := replayed(); c != nil {
		t.Fatalf("content after the TTL: %v, want null", c)
	}
}
