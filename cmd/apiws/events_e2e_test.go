package main

import (
	"slices"
	"strconv"
	"testing"
)

// eventsSub follows the whole event log, each type with its own fields.
const eventsSub = `subscription($after: Cursor, $types: [EventType!], $numberId: ID) {
  events(after: $after, types: $types, numberId: $numberId) {
    __typename cursor type at numberId
    ... on MessageStatusEvent { messageId status message { id } }
    ... on MessageReceivedEvent { message { id direction } content { text mentions { phone } } }
    ... on NumberStatusEvent { numberStatus: status reason number { id } }
  }
}`

// collect reads the events of field from next until done holds.
func collect(next func() map[string]any, field string, done func([]map[string]any) bool) []map[string]any {
	var evs []map[string]any
	for !done(evs) {
		evs = append(evs, get(next(), field).(map[string]any))
	}
	return evs
}

// ofType counts the events of type typ whose field key (if given) is value.
func ofType(evs []map[string]any, typ string, kv ...string) int {
	n := 0
	for _, e := range evs {
		if str(e, "type") == typ && (len(kv) < 2 || str(e, kv[0]) == kv[1]) {
			n++
		}
	}
	return n
}

// checkEvent fails unless e's __typename matches its type and its fields
// are those of that type.
func checkEvent(t *testing.T, e map[string]any) {
	t.Helper()
	want := map[string]string{"MESSAGE_STATUS": "MessageStatusEvent", "MESSAGE_RECEIVED": "MessageReceivedEvent", "NUMBER_STATUS": "NumberStatusEvent"}
	if want[str(e, "type")] != str(e, "__typename") || str(e, "numberId") == "" || str(e, "at") == "" {
		t.Fatalf("event %v", e)
	}
	switch str(e, "type") {
	case "MESSAGE_STATUS":
		if str(e, "message", "id") != str(e, "messageId") {
			t.Fatalf("status event %v", e)
		}
	case "MESSAGE_RECEIVED":
		if str(e, "message", "direction") != "INBOUND" || get(e, "content", "mentions") == nil {
			t.Fatalf("received event %v", e)
		}
	case "NUMBER_STATUS":
		if str(e, "number", "id") != str(e, "numberId") || str(e, "numberStatus") == "" {
			t.Fatalf("number event %v", e)
		}
	}
}

// TestEventsResumeWithAfter: events replays the log after a cursor, then
// goes live, across a dropped connection, on both websocket subprotocols
// and over SSE; a replay from the start gives the same events, content
// included while in transit.
func TestEventsResumeWithAfter(t *testing.T) {
	for _, transport := range append(slices.Clone(subprotocols), "sse") {
		t.Run(transport, func(t *testing.T) {
			base := startServer(t, nil)
			token, _ := signUp(t, base, "events-"+transport+"@example.com")
			num := connectedNumber(t, base, token)
			open := func(after string) (next func() map[string]any, closeIt func()) {
				vars := map[string]any{"after": after}
				if transport == "sse" {
					s := openSSE(t, base, token, eventsSub, vars)
					if s.refused != nil {
						t.Fatalf("event stream refused: %+v", s.refused)
					}
					return s.result, s.close
				}
				ws := openWS(t, base, transport, token)
				ws.subscribe("e", eventsSub, vars)
				return func() map[string]any { return ws.data("e") }, func() { ws.conn.Close() }
			}

			// From the start: the number's pairing, then a message to a
			// sandbox peer that echoes it.
			next, closeIt := open("0")
			send(t, base, token, map[string]any{"numberId": num, "to": "+14155550003", "text": "hello"})
			seen := collect(next, "events", func(evs []map[string]any) bool {
				return ofType(evs, "MESSAGE_RECEIVED") == 1 && ofType(evs, "MESSAGE_STATUS", "status", "READ") == 1
			})
			if ofType(seen, "NUMBER_STATUS", "numberStatus", "CONNECTED") == 0 {
				t.Fatalf("no CONNECTED number event in %v", seen)
			}
			closeIt()

			for i := range 2 {
				send(t, base, token, map[string]any{"numberId": num, "to": "+14155550003", "text": "away " + strconv.Itoa(i)})
			}
			last, _ := strconv.ParseInt(str(seen[len(seen)-1], "cursor"), 10, 64)
			next, closeIt = open(strconv.FormatInt(last, 10))
			rest := collect(next, "events", func(evs []map[string]any) bool {
				return ofType(evs, "MESSAGE_RECEIVED") == 2 && ofType(evs, "MESSAGE_STATUS", "status", "READ") == 2
			})
			closeIt()
			increasing(t, cursors(t, seen), 0)
			increasing(t, cursors(t, rest), last)

			// The whole log again, from the start: the same events.
			all := append(slices.Clone(seen), rest...)
			next, closeIt = open("0")
			defer closeIt()
			again := collect(next, "events", func(evs []map[string]any) bool { return len(evs) == len(all) })
			if !slices.Equal(cursors(t, again), cursors(t, all)) {
				t.Fatalf("replay %v; live %v", cursors(t, again), cursors(t, all))
			}
			var texts []string
			for _, e := range again {
				checkEvent(t, e)
				if str(e, "type") == "MESSAGE_RECEIVED" {
					texts = append(texts, str(e, "content", "text"))
				}
			}
			// The two sent while away are echoed in either order.
			if slices.Sort(texts[1:]); !slices.Equal(texts, []string{"hello", "away 0", "away 1"}) {
				t.Fatalf("replayed inbound content %q", texts)
			}
		})
	}
}

// TestEventsFilters: types and numberId select events; a cursor beyond the
// log, an unknown type or another account's number are refused.
func TestEventsFilters(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "events-filters@example.com")
	num := connectedNumber(t, base, token)
	other := connectedNumber(t, base, token)
	send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "one"})
	waitMessages(t, base, token, "the message read", func(ms map[string]any) bool {
		for _, m := range ms {
			return str(m, "status") == "READ"
		}
		return false
	})
	ws := openWS(t, base, "graphql-transport-ws", token)
	ws.subscribe("numbers", eventsSub, map[string]any{"after": "0", "types": []string{"NUMBER_STATUS"}, "numberId": other})
	evs := collect(func() map[string]any { return ws.data("numbers") }, "events", func(evs []map[string]any) bool {
		return ofType(evs, "NUMBER_STATUS", "numberStatus", "CONNECTED") == 1
	})
	for _, e := range evs {
		if str(e, "type") != "NUMBER_STATUS" || str(e, "numberId") != other {
			t.Fatalf("filtered to the other number's status: %v", e)
		}
	}

	otherToken, _ := signUp(t, base, "events-filters-other@example.com")
	refusals := []struct {
		name string
		vars map[string]any
		code string
	}{
		{"a cursor beyond the log", map[string]any{"after": "100000"}, "INVALID"},
		{"another account's number", map[string]any{"numberId": num}, "NOT_FOUND"},
		{"a malformed cursor", map[string]any{"after": "x"}, "BAD_REQUEST"},
	}
	for _, r := range refusals {
		ws := openWS(t, base, "graphql-transport-ws", otherToken)
		ws.subscribe("e", eventsSub, r.vars)
		m := ws.next("e")
		code := get(m, "payload", 0, "extensions", "code")
		if code == nil {
			code = get(m, "payload", "errors", 0, "extensions", "code")
		}
		if code != r.code {
			t.Errorf("%s: %v; want %s", r.name, m, r.code)
		}
	}
	ws.subscribe("bad", `subscription { events(types: [NOPE]) { cursor } }`, nil)
	if m := ws.next("bad"); m["type"] != "error" {
		t.Errorf("an unknown event type: %v", m)
	}
}
