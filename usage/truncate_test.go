package usage_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/usage"
)

// The call log keeps a client's User-Agent and operation name for 12
// months: they are cut to 512 and 128 bytes, still valid UTF-8.
func TestRecordCallCutsClientStrings(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		acc := newAccount(t, db)
		ctx := reader(acc)
		svc := usage.New(db, usage.Options{FlushInterval: time.Hour})
		stop := runService(t, svc)
		// 900 KB of two-byte characters after one ASCII byte: the 512th
		// byte is the first half of a character.
		ua := "x" + strings.Repeat("é", 450*1024)
		name := strings.Repeat("Op", 40) + strings.Repeat("😀", 100)
		bad := "curl\xff\x00/8"
		calls := map[string]struct{ ua, name, wantUA, wantName string }{}
		for _, c := range []struct{ ua, name, wantUA, wantName string }{
			{ua, name, ua[:511], name[:128]},
			{bad, bad, "curl\uFFFD/8", "curl\uFFFD/8"},
			{"curl/8.5", "Short", "curl/8.5", "Short"},
		} {
			call := call(acc, time.Now().UTC(), time.Millisecond, "")
			call.UserAgent, call.OperationName = &c.ua, &c.name
			svc.RecordCall(call)
			calls[call.ID] = c
		}
		stop() // flushes

		list, err := svc.APICalls(ctx, acc, apiws.Page{First: 10}, apiws.APICallFilter{})
		got := list.Items
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(calls) {
			t.Fatalf("%d calls stored, want %d", len(got), len(calls))
		}
		for _, g := range got {
			w := calls[g.ID]
			if g.UserAgent == nil || *g.UserAgent != w.wantUA || !utf8.ValidString(*g.UserAgent) {
				t.Errorf("user agent stored as %.40q… (%d bytes), want %.40q… (%d bytes)", deref(g.UserAgent), len(deref(g.UserAgent)), w.wantUA, len(w.wantUA))
			}
			if g.OperationName == nil || *g.OperationName != w.wantName || !utf8.ValidString(*g.OperationName) {
				t.Errorf("operation name stored as %q, want %q", deref(g.OperationName), w.wantName)
			}
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
