package main

import (
	"strings"
	"testing"
)

// A malformed `after`, or a value a scalar cannot read, is the client's
// mistake: BAD_REQUEST, and no error logged (INTERNAL with a log line is for
// apiws's own failures).
func TestMalformedCursorIsBadRequest(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_RATE_LIMIT_PER_SECOND": "1000"})
	token, _ := signUp(t, base, "cursor@example.com")

	t.Run("connections", func(t *testing.T) {
		for _, c := range []struct{ name, query string }{
			{"messages, garbage", `{ viewer { messages(after: "zzz") { edges { cursor } } } }`},
			{"messages, another type's id", `{ viewer { messages(after: "num_01KBK2C0000000000000000000") { edges { cursor } } } }`},
			{"numbers, empty", `{ viewer { numbers(after: "") { edges { cursor } } } }`},
			{"apiCalls, a number", `{ viewer { apiCalls(after: "12") { edges { cursor } } } }`},
			{"negative first", `{ viewer { numbers(first: -1) { edges { cursor } } } }`},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := gql(t, base, token, c.query, nil)
				if r.code() != "BAD_REQUEST" {
					t.Fatalf("got %+v, want BAD_REQUEST", r)
				}
			})
		}
		// A real cursor still pages.
		first := connectedNumber(t, base, token)
		second := connectedNumber(t, base, token)
		r := gql(t, base, token, `query($a: String) { viewer { numbers(after: $a) { edges { cursor } } } }`, map[string]any{"a": second})
		if len(r.Errors) > 0 || str(get(r.Data, "viewer", "numbers", "edges", 0), "cursor") != first {
			t.Fatalf("numbers after the newest = %+v, want the other", r)
		}
	})

	t.Run("scalars", func(t *testing.T) {
		for _, c := range []struct {
			name, query string
			vars        map[string]any
		}{
			{"time", `query($f: Time!) { viewer { usage(from: $f, to: "2026-12-01T00:00:00Z", granularity: DAY) { start } } }`, map[string]any{"f": "yesterday"}},
			{"time, a number", `query($f: Time!) { viewer { usage(from: $f, to: "2026-12-01T00:00:00Z", granularity: DAY) { start } } }`, map[string]any{"f": 1}},
			{"time, inline", `{ viewer { apiCalls(filter: {since: "2026-13-01T00:00:00Z"}) { totalCount } } }`, nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				if r := gql(t, base, token, c.query, c.vars); r.code() != "BAD_REQUEST" {
					t.Fatalf("got %+v, want BAD_REQUEST", r)
				}
			})
		}
	})

	t.Run("subscriptions", func(t *testing.T) {
		for _, proto := range subprotocols {
			t.Run(proto, func(t *testing.T) {
				w := openWS(t, base, proto, token)
				for i, after := range []any{"abc", "-1", "1.5", "99999999999999999999", 12.5, true} {
					id := proto + string(rune('a'+i))
					w.subscribe(id, `subscription($a: Cursor) { messageStatus(after: $a) { cursor } }`, map[string]any{"a": after})
					m := w.next(id)
					if code := str(get(m, "payload", 0), "extensions", "code") + str(get(m, "payload", "errors", 0), "extensions", "code"); code != "BAD_REQUEST" {
						t.Fatalf("after %v: got %v, want an error with BAD_REQUEST", after, m)
					}
				}
			})
		}
	})

	if log := serverOf(t, base).log.String(); strings.Contains(log, `"level":"ERROR"`) {
		t.Fatalf("the server logged an error:\n%s", log)
	}
}
