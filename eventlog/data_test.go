package eventlog

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// schema loads the project's GraphQL schema.
func schema(t *testing.T) *ast.Schema {
	t.Helper()
	files, err := filepath.Glob("../graph/schema/*.graphqls")
	if err != nil || len(files) == 0 {
		t.Fatalf("schema files: %v", err)
	}
	var srcs []*ast.Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, &ast.Source{Name: f, Input: string(b)})
	}
	s, err := gqlparser.LoadSchema(srcs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fields returns the GraphQL field names of typ, without those left out
// of event data: fields with arguments, and leftOut.
func fields(s *ast.Schema, typ string, leftOut ...string) []string {
	var out []string
	for _, f := range s.Types[typ].Fields {
		if !slices.Contains(leftOut, f.Name) && f.Name[0] != '_' && len(f.Arguments) == 0 {
			out = append(out, f.Name)
		}
	}
	slices.Sort(out)
	return out
}

func keys(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not an object", v)
	}
	return slices.Sorted(maps.Keys(m))
}

// TestEventDataHasEveryField: the data of each event type has exactly the
// fields of its GraphQL type, and of the objects in it.
func TestEventDataHasEveryField(t *testing.T) {
	s := schema(t)
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		bus := events.NewMemory(events.Options{})
		defer bus.Close()
		l, err := New(db, bus, make([]byte, 32), time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		acc := storagetest.Account(t, db)
		now := time.Now().UTC()
		n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: acc, Status: apiws.NumberConnected, CreatedAt: now}
		numberEv, err := db.CreateNumberLogged(ctx, n, &storage.StatusNote{At: now, Reason: "paired"})
		if err != nil {
			t.Fatal(err)
		}
		out := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc, NumberID: n.ID, Direction: apiws.Outbound,
			Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusQueued, QueuedAt: &now}
		statusEv, err := db.QueueMessage(ctx, out, []byte("sealed"))
		if err != nil {
			t.Fatal(err)
		}
		waID := "3EB0DATA"
		in := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc, NumberID: n.ID, Direction: apiws.Inbound,
			Peer: "+15550100002", Kind: apiws.KindText, Status: apiws.StatusReceived, WAMessageID: &waID, ReceivedAt: &now}
		receivedEv, err := db.InsertInbound(ctx, in, apiws.ContentOf(apiws.KindText, "hello", nil))
		if err != nil {
			t.Fatal(err)
		}
		// As a deliverer reads them: from the log, content from transit.
		logged, err := db.EventsAfter(ctx, acc, 0, "", 10)
		if err != nil || len(logged) != 3 {
			t.Fatalf("logged %v, %v", logged, err)
		}
		datas, err := l.EventData(ctx, logged)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]map[string]any{}
		for i, d := range datas {
			var v map[string]any
			if err := json.Unmarshal(d, &v); err != nil {
				t.Fatal(err)
			}
			got[logged[i].Seq] = v
		}
		check := func(what string, v any, typ string, leftOut ...string) {
			t.Helper()
			if k, want := keys(t, v), fields(s, typ, leftOut...); !slices.Equal(k, want) {
				t.Errorf("%s: fields %v; want those of %s %v", what, k, typ, want)
			}
		}
		st := got[statusEv.Seq]
		check("MESSAGE_STATUS", st, "MessageStatusEvent")
		check("its message", st["message"], "Message", "events")
		if st["cursor"] != "2" || st["type"] != "MESSAGE_STATUS" || st["status"] != "QUEUED" || st["messageId"] != out.ID {
			t.Errorf("MESSAGE_STATUS data %v", st)
		}
		rc := got[receivedEv.Seq]
		check("MESSAGE_RECEIVED", rc, "MessageReceivedEvent")
		check("its content", rc["content"], "MessageContent")
		if c := rc["content"].(map[string]any); c["text"] != "hello" {
			t.Errorf("MESSAGE_RECEIVED content %v", c)
		}
		ns := got[numberEv.Seq]
		check("NUMBER_STATUS", ns, "NumberStatusEvent")
		check("its number", ns["number"], "WhatsAppNumber", "messages")
		if ns["status"] != "CONNECTED" || ns["reason"] != "paired" || ns["at"] != now.Format(apiws.TimeLayout) {
			t.Errorf("NUMBER_STATUS data %v", ns)
		}
	})
}
