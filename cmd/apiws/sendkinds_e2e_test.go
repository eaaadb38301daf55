package main

import (
	"encoding/base64"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/whatsapp"
)

// TestSendEachKind sends a location, contact cards, a poll and a sticker
// to a sandbox recipient: each goes QUEUED, SENT, DELIVERED, READ like a
// text, under its own kind, and is transmitted once.
func TestSendEachKind(t *testing.T) {
	for name, env := range databases(t) {
		t.Run(name, func(t *testing.T) {
			base := startServer(t, env(t))
			token, _ := signUp(t, base, "kinds@example.com")
			num := connectedNumber(t, base, token)
			to := "+14155550123"
			sent := map[string]string{
				"LOCATION": send(t, base, token, map[string]any{"numberId": num, "to": to,
					"location": map[string]any{"latitude": 37.7955, "longitude": -122.3937, "name": "Ferry Building", "address": "1 Ferry Building, San Francisco"}}),
				"CONTACT": send(t, base, token, map[string]any{"numberId": num, "to": to, "contacts": []any{
					map[string]any{"name": "Ada Lovelace", "phones": []any{"+44 20 7183 8750"}},
					map[string]any{"name": "Grace Hopper", "phones": []any{"+14155550199", "+14155550198"}}}}),
				"POLL": send(t, base, token, map[string]any{"numberId": num, "to": to,
					"poll": map[string]any{"question": "Lunch?", "options": []any{"Pizza", "Sushi", "Salad"}, "selectableCount": 2}}),
				"STICKER": send(t, base, token, map[string]any{"numberId": num, "to": to,
					"media": map[string]any{"kind": "STICKER", "mimeType": "image/webp", "data": base64.StdEncoding.EncodeToString([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))}}),
			}
			ms := waitMessages(t, base, token, "every kind READ", func(ms map[string]any) bool {
				for _, id := range sent {
					if statusOf(ms, id) != "READ" {
						return false
					}
				}
				return true
			})
			counts := transmissions(t, serverOf(t, base).dbURL)
			for kind, id := range sent {
				if got := str(ms[id], "kind"); got != kind {
					t.Errorf("message %s: kind %s, want %s", id, got, kind)
				}
				if got := eventStatuses(ms[id]); !slices.Equal(got, []string{"QUEUED", "SENT", "DELIVERED", "READ"}) {
					t.Errorf("%s: events %v", kind, got)
				}
				if n := counts[waID(t, base, token, id)]; n != 1 {
					t.Errorf("%s transmitted %d times", kind, n)
				}
			}
			// The kind filter keeps the messages of the kinds asked for.
			r := gql(t, base, token, `{ viewer { messages(filter: {kind: [POLL, CONTACT]}) { totalCount edges { node { id kind } } } } }`, nil)
			var got []string
			for i := range 2 {
				got = append(got, str(r.Data, "viewer", "messages", "edges", i, "node", "id"))
			}
			slices.Sort(got)
			want := []string{sent["CONTACT"], sent["POLL"]}
			slices.Sort(want)
			if total := get(r.Data, "viewer", "messages", "totalCount"); !slices.Equal(got, want) || total != float64(2) {
				t.Errorf("messages of kinds POLL and CONTACT: %v (total %v); want %v", got, total, want)
			}
		})
	}
}

// TestSendRefusesBadContent sends each bad input of the new kinds: every
// one is a userError at its field, and nothing is queued or transmitted.
func TestSendRefusesBadContent(t *testing.T) {
	// Many refusals in a row: no request limit.
	base := startServer(t, map[string]string{"APIWS_RATE_LIMIT_PER_SECOND": "0"})
	token, _ := signUp(t, base, "badkinds@example.com")
	num := connectedNumber(t, base, token)
	place := map[string]any{"latitude": 1.5, "longitude": 2.5}
	card := map[string]any{"name": "Ada", "phones": []any{"+14155550199"}}
	poll := func(options ...any) map[string]any { return map[string]any{"question": "Which?", "options": options} }
	tests := []struct {
		name string
		in   map[string]any
		want string
	}{
		{"both to and groupId", map[string]any{"groupId": "grp_01M8A9N1KD0002AGDFB2MH75JP", "text": "x"}, "INVALID@input.groupId"},
		{"neither to, groupId nor replyTo", map[string]any{"to": nil, "text": "x"}, "INVALID@input.to"},
		{"no such group", map[string]any{"to": nil, "groupId": "grp_01M8A9N1KD0002AGDFB2MH75JP", "text": "x"}, "NOT_FOUND@input.groupId"},
		{"text with a location", map[string]any{"text": "x", "location": place}, "INVALID@input.location"},
		{"media with contacts", map[string]any{"media": map[string]any{"kind": "IMAGE", "mimeType": "image/png", "data": "iVBORw0KGgo="},
			"contacts": []any{card}}, "INVALID@input.contacts"},
		{"a location with a poll", map[string]any{"location": place, "poll": poll("a", "b")}, "INVALID@input.poll"},
		{"latitude over 90", map[string]any{"location": map[string]any{"latitude": 90.5, "longitude": 0}}, "INVALID@input.location.latitude"},
		{"longitude under -180", map[string]any{"location": map[string]any{"latitude": 0, "longitude": -180.5}}, "INVALID@input.location.longitude"},
		{"no contact cards", map[string]any{"contacts": []any{}}, "INVALID@input.contacts"},
		{"eleven contact cards", map[string]any{"contacts": slices.Repeat([]any{card}, 11)}, "INVALID@input.contacts"},
		{"a card without a phone", map[string]any{"contacts": []any{card, map[string]any{"name": "Bob", "phones": []any{}}}}, "INVALID@input.contacts.1.phones"},
		{"a card with a bad phone", map[string]any{"contacts": []any{map[string]any{"name": "Bob", "phones": []any{"call me"}}}}, "INVALID@input.contacts.0.phones.0"},
		{"a poll of one option", map[string]any{"poll": poll("a")}, "INVALID@input.poll.options"},
		{"a poll of 13 options", map[string]any{"poll": poll("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m")}, "INVALID@input.poll.options"},
		{"duplicate options", map[string]any{"poll": poll("yes", "no", "yes")}, "INVALID@input.poll.options.2"},
		{"an option over 100 characters", map[string]any{"poll": poll("yes", strings.Repeat("n", 101))}, "INVALID@input.poll.options.1"},
		{"selectableCount 0", map[string]any{"poll": map[string]any{"question": "?", "options": []any{"a", "b"}, "selectableCount": 0}}, "INVALID@input.poll.selectableCount"},
		{"selectableCount over the options", map[string]any{"poll": map[string]any{"question": "?", "options": []any{"a", "b"}, "selectableCount": 3}}, "INVALID@input.poll.selectableCount"},
		{"a sticker that is not webp", map[string]any{"media": map[string]any{"kind": "STICKER", "mimeType": "image/png", "data": "iVBORw0KGgo="}}, "INVALID@input.media.mimeType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := map[string]any{"numberId": num, "to": "+14155550123"}
			for k, v := range tt.in {
				if v == nil {
					delete(in, k)
					continue
				}
				in[k] = v
			}
			r := gql(t, base, token, sendMutation, map[string]any{"i": in})
			if len(r.Errors) > 0 {
				t.Fatalf("GraphQL errors instead of userErrors: %+v", r.Errors)
			}
			if got := userErrorCodes(get(r.Data, "sendMessage")); !slices.Equal(got, []string{tt.want}) {
				t.Fatalf("userErrors = %v; want %s", got, tt.want)
			}
			if get(r.Data, "sendMessage", "message") != nil {
				t.Fatal("a message came back with the userErrors")
			}
		})
	}
	if r := gql(t, base, token, `{ viewer { messages { totalCount } } }`, nil); get(r.Data, "viewer", "messages", "totalCount") != float64(0) {
		t.Fatalf("refused sends queued messages: %+v", r)
	}
	if n := len(transmissions(t, serverOf(t, base).dbURL)); n != 0 {
		t.Fatalf("refused sends were transmitted: %d", n)
	}
}

const repliesQuery = `{ viewer { messages(first: 100) { edges { node { id peer direction status replyTo { id direction peer } } } } } }`

// TestReplies quotes the sandbox's echo with replyTo alone (the reply goes
// to the echo's sender) and our own message with to, then sends each bad
// reply: NOT_FOUND or INVALID at its field, nothing queued or transmitted.
func TestReplies(t *testing.T) {
	for name, env := range databases(t) {
		t.Run(name, func(t *testing.T) {
			e := map[string]string{"APIWS_RATE_LIMIT_PER_SECOND": "0"}
			maps.Copy(e, env(t))
			base := startServer(t, e)
			token, _ := signUp(t, base, "replies@example.com")
			num := connectedNumber(t, base, token)
			echoer := "+14155550003"
			first := send(t, base, token, map[string]any{"numberId": num, "to": echoer, "text": "echo me"})
			var echo string
			waitMessages(t, base, token, "the sandbox's echo", func(ms map[string]any) bool {
				for id, m := range ms {
					if str(m, "direction") == "INBOUND" {
						echo = id
					}
				}
				return echo != ""
			})

			alone := send(t, base, token, map[string]any{"numberId": num, "replyTo": echo, "text": "thanks @14155550003", "mentions": []any{echoer}})
			withTo := send(t, base, token, map[string]any{"numberId": num, "to": echoer, "replyTo": first,
				"location": map[string]any{"latitude": 48.8584, "longitude": 2.2945}})
			// The sandbox echoes the replies too: once all three echoes are
			// in, the account's messages stay as they are.
			waitMessages(t, base, token, "both replies READ and echoed", func(ms map[string]any) bool {
				return statusOf(ms, alone) == "READ" && statusOf(ms, withTo) == "READ" && countInbound(ms) == 3
			})
			nodes := map[string]any{}
			for _, e := range get(gql(t, base, token, repliesQuery, nil).Data, "viewer", "messages", "edges").([]any) {
				nodes[str(e, "node", "id")] = get(e, "node")
			}
			if str(nodes[alone], "peer") != echoer || str(nodes[alone], "replyTo", "id") != echo || str(nodes[alone], "replyTo", "direction") != "INBOUND" {
				t.Errorf("replyTo alone: %v", nodes[alone])
			}
			if str(nodes[withTo], "replyTo", "id") != first || str(nodes[withTo], "replyTo", "direction") != "OUTBOUND" {
				t.Errorf("replyTo with to: %v", nodes[withTo])
			}
			if get(nodes[first], "replyTo") != nil {
				t.Errorf("a message that quotes nothing: %v", nodes[first])
			}

			// A sender WhatsApp hid (peer null, only a LID) is answered at
			// its LID by replyTo alone.
			hidden := hiddenInbound(t, serverOf(t, base).dbURL, num, whatsapp.SandboxLID("+14155550123"))
			toHidden := send(t, base, token, map[string]any{"numberId": num, "replyTo": hidden, "text": "we see you"})
			waitMessages(t, base, token, "the reply to a hidden sender READ", func(ms map[string]any) bool { return statusOf(ms, toHidden) == "READ" })
			r := gql(t, base, token, `query($id: ID!) { node(id: $id) { ... on Message { peer peerLid replyTo { id peerLid } } } }`, map[string]any{"id": toHidden})
			if get(r.Data, "node", "peer") != nil || str(r.Data, "node", "peerLid") != "100014155550123" || str(r.Data, "node", "replyTo", "id") != hidden {
				t.Errorf("the reply to a hidden sender: %+v", r)
			}

			otherToken, _ := signUp(t, base, "stranger-replies@example.com")
			otherNum := connectedNumber(t, base, otherToken)
			strangers := send(t, base, otherToken, map[string]any{"numberId": otherNum, "to": "+14155550123", "text": "hi"})
			waitMessages(t, base, otherToken, "the stranger's message READ", func(ms map[string]any) bool { return statusOf(ms, strangers) == "READ" })
			before, sentBefore := len(messagesByID(t, base, token)), len(transmissions(t, serverOf(t, base).dbURL))
			bad := []struct {
				name string
				in   map[string]any
				want string
			}{
				{"another account's message", map[string]any{"replyTo": strangers, "text": "x"}, "NOT_FOUND@input.replyTo"},
				{"a message of another chat", map[string]any{"to": "+14155550123", "replyTo": first, "text": "x"}, "NOT_FOUND@input.replyTo"},
				{"no such message", map[string]any{"replyTo": "msg_01M8A9N1KD0002AGDFB2MH75JP", "text": "x"}, "NOT_FOUND@input.replyTo"},
				{"51 mentions", map[string]any{"to": echoer, "text": "all of you", "mentions": slices.Repeat([]any{echoer}, 51)}, "INVALID@input.mentions"},
				{"a mention that is no phone", map[string]any{"to": echoer, "text": "hi @x", "mentions": []any{"x"}}, "INVALID@input.mentions.0"},
			}
			for _, tt := range bad {
				tt.in["numberId"] = num
				r := gql(t, base, token, sendMutation, map[string]any{"i": tt.in})
				if got := userErrorCodes(get(r.Data, "sendMessage")); !slices.Equal(got, []string{tt.want}) || len(r.Errors) > 0 {
					t.Errorf("%s: userErrors %v, errors %+v; want %s", tt.name, got, r.Errors, tt.want)
				}
			}
			if after := len(messagesByID(t, base, token)); after != before {
				t.Errorf("refused replies queued %d messages", after-before)
			}
			if after := len(transmissions(t, serverOf(t, base).dbURL)); after != sentBefore {
				t.Errorf("refused replies transmitted %d messages", after-sentBefore)
			}
		})
	}
}

// hiddenInbound records, as WhatsApp would report it, a message to number
// from a sender known only by its LID, and returns its id.
func hiddenInbound(t *testing.T, dbURL, numberID, lid string) string {
	t.Helper()
	db, err := storage.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ns, err := db.NumbersByIDs(t.Context(), []string{numberID})
	if err != nil || len(ns) != 1 {
		t.Fatalf("number %s: %v", numberID, err)
	}
	now, waID := time.Now().UTC(), whatsapp.NewMessageID()
	m := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: ns[0].AccountID, NumberID: numberID, Direction: apiws.Inbound,
		PeerLID: &lid, Kind: apiws.KindText, Status: apiws.StatusReceived, WAMessageID: &waID, ReceivedAt: &now}
	if _, err := db.InsertInbound(t.Context(), m, nil); err != nil {
		t.Fatal(err)
	}
	return m.ID
}
