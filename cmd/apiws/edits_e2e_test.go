package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// actionsSub follows reactions, edits, revokes and poll votes, each with
// its own fields.
const actionsSub = `subscription {
  events(after: "0", types: [REACTION, MESSAGE_EDITED, MESSAGE_REVOKED, POLL_VOTE]) {
    __typename type cursor numberId
    ... on ReactionEvent { message { id direction } from { phone lid } emoji }
    ... on MessageEditedEvent { message { id direction editedAt } content { text } }
    ... on MessageRevokedEvent { message { id direction revokedAt } }
    ... on PollVoteEvent { message { id kind } voter { phone lid } options }
  }
}`

const (
	reactMutation = `mutation($i: ReactInput!) { reactToMessage(input: $i) {
  message { id kind direction status peer replyTo { id } } userErrors { field code message } } }`
	editMutation = `mutation($i: EditMessageInput!) { editMessage(input: $i) {
  message { id editedAt revokedAt } userErrors { field code message } } }`
	revokeMutation = `mutation($id: ID!) { revokeMessage(messageId: $id) {
  message { id editedAt revokedAt } userErrors { field code message } } }`
)

// nextAction returns the next event of the actions subscription.
func nextAction(ws *wsClient) map[string]any { return get(ws.data("a"), "events").(map[string]any) }

// TestReactEditRevoke, on SQLite and PostgreSQL: the number reacts to its
// own message (a REACTION message that quotes it, SENT, and a REACTION
// event from the number's phone), edits it and revokes it (MESSAGE_EDITED
// with the new text, MESSAGE_REVOKED; editedAt and revokedAt set); each
// bad input is a userError that queues nothing.
func TestReactEditRevoke(t *testing.T) {
	for name, env := range databases(t) {
		t.Run(name, func(t *testing.T) {
			base := startServer(t, env(t))
			token, _ := signUp(t, base, "edits@example.com")
			num := connectedNumber(t, base, token)
			phone := str(gql(t, base, token, `query($id: ID!) { node(id: $id) { ... on WhatsAppNumber { phone } } }`,
				map[string]any{"id": num}).Data, "node", "phone")
			ws := openWS(t, base, subprotocols[0], token)
			defer ws.conn.Close()
			ws.subscribe("a", actionsSub, nil)

			peer := "+15550101234"
			id := send(t, base, token, map[string]any{"numberId": num, "to": peer, "text": "hello"})
			waitMessages(t, base, token, "the message sent", func(ms map[string]any) bool { return statusOf(ms, id) == "READ" })

			r := gql(t, base, token, reactMutation, map[string]any{"i": map[string]any{"messageId": id, "emoji": "👍🏽"}})
			reaction := get(r.Data, "reactToMessage", "message")
			if reaction == nil || str(reaction, "kind") != "REACTION" || str(reaction, "direction") != "OUTBOUND" ||
				str(reaction, "replyTo", "id") != id || str(reaction, "peer") != peer {
				t.Fatalf("reactToMessage = %+v", r)
			}
			rid := str(reaction, "id")
			waitMessages(t, base, token, "the reaction sent", func(ms map[string]any) bool { return statusOf(ms, rid) == "SENT" })
			ev := nextAction(ws)
			if str(ev, "__typename") != "ReactionEvent" || str(ev, "message", "id") != id || str(ev, "from", "phone") != phone ||
				get(ev, "from", "lid") != nil || str(ev, "emoji") != "👍🏽" || str(ev, "numberId") != num {
				t.Fatalf("REACTION event %v; want 👍🏽 on %s from %s", ev, id, phone)
			}

			r = gql(t, base, token, editMutation, map[string]any{"i": map[string]any{"messageId": id, "text": "hello, fixed"}})
			if get(r.Data, "editMessage", "message", "editedAt") == nil || len(userErrorCodes(get(r.Data, "editMessage"))) > 0 {
				t.Fatalf("editMessage = %+v", r)
			}
			ev = nextAction(ws)
			if str(ev, "type") != "MESSAGE_EDITED" || str(ev, "message", "id") != id || str(ev, "content", "text") != "hello, fixed" ||
				str(ev, "message", "editedAt") == "" {
				t.Fatalf("MESSAGE_EDITED event %v", ev)
			}

			r = gql(t, base, token, revokeMutation, map[string]any{"id": id})
			revokedAt := str(r.Data, "revokeMessage", "message", "revokedAt")
			if revokedAt == "" || len(userErrorCodes(get(r.Data, "revokeMessage"))) > 0 {
				t.Fatalf("revokeMessage = %+v", r)
			}
			ev = nextAction(ws)
			if str(ev, "__typename") != "MessageRevokedEvent" || str(ev, "message", "id") != id || str(ev, "message", "revokedAt") != revokedAt {
				t.Fatalf("MESSAGE_REVOKED event %v", ev)
			}
			// Revoked already: answered as it is.
			r = gql(t, base, token, revokeMutation, map[string]any{"id": id})
			if str(r.Data, "revokeMessage", "message", "revokedAt") != revokedAt {
				t.Errorf("second revokeMessage = %+v; want the message unchanged", r)
			}

			// Bad input: a userError at its field, nothing queued.
			dbURL := serverOf(t, base).dbURL
			stranger, _ := signUp(t, base, "stranger@example.com")
			outbox, messages := countRows(t, dbURL, "outbox"), countRows(t, dbURL, "messages")
			tests := []struct {
				name, token, query, field string
				vars                      map[string]any
				want                      string
			}{
				{"two emoji", token, reactMutation, "reactToMessage", map[string]any{"i": map[string]any{"messageId": id, "emoji": "👍👍"}}, "INVALID@input.emoji"},
				{"a reaction to another account's message", stranger, reactMutation, "reactToMessage",
					map[string]any{"i": map[string]any{"messageId": id, "emoji": "👍"}}, "NOT_FOUND@input.messageId"},
				{"an edit of a reaction", token, editMutation, "editMessage", map[string]any{"i": map[string]any{"messageId": rid, "text": "x"}}, "INVALID@input.messageId"},
				{"an empty edit", token, editMutation, "editMessage", map[string]any{"i": map[string]any{"messageId": id, "text": ""}}, "INVALID@input.text"},
				{"an edit too long", token, editMutation, "editMessage", map[string]any{"i": map[string]any{"messageId": id, "text": strings.Repeat("x", 4097)}}, "INVALID@input.text"},
				{"a revoke of another account's message", stranger, revokeMutation, "revokeMessage", map[string]any{"id": id}, "NOT_FOUND@messageId"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := gql(t, base, tt.token, tt.query, tt.vars)
					if len(r.Errors) > 0 {
						t.Fatalf("GraphQL errors instead of userErrors: %+v", r.Errors)
					}
					if got := userErrorCodes(get(r.Data, tt.field)); !slices.Equal(got, []string{tt.want}) || get(r.Data, tt.field, "message") != nil {
						t.Fatalf("%s = %+v; want %s and no message", tt.field, r.Data, tt.want)
					}
				})
			}
			if countRows(t, dbURL, "outbox") != outbox || countRows(t, dbURL, "messages") != messages {
				t.Error("a refused reaction or edit was queued")
			}
		})
	}
}

// toStrings converts a JSON list of strings.
func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, s.(string))
	}
	return out
}

// TestWebhooksDeliverReactionsEditsRevokesVotes: an endpoint of every type
// gets the REACTION, MESSAGE_EDITED, MESSAGE_REVOKED and POLL_VOTE bodies
// the README documents, with their content; once delivered, the content
// leaves transit.
func TestWebhooksDeliverReactionsEditsRevokesVotes(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_ALLOW_PRIVATE_URLS": "true", "APIWS_RATE_LIMIT_PER_SECOND": "0"})
	token, _ := signUp(t, base, "hooked-actions@example.com")
	num := connectedNumber(t, base, token)
	recv := newHookReceiver(t, nil)
	recv.createEndpoint(t, base, token, "/all", nil)

	liked := send(t, base, token, map[string]any{"numberId": num, "to": "+15550100004", "text": "like me"})
	send(t, base, token, map[string]any{"numberId": num, "to": "+15550100005", "text": "echo me"})
	poll := send(t, base, token, map[string]any{"numberId": num, "to": "+15550100005",
		"poll": map[string]any{"question": "Lunch?", "options": []any{"Pizza", "Salad"}}})
	send(t, base, token, map[string]any{"numberId": num, "to": "+15550100007", "text": "say something"})

	byType := map[string]map[string]any{}
	eventually(t, "the four bodies", 20*time.Second, func() bool {
		for _, h := range recv.of("/all") {
			if h.Body.Data != nil {
				byType[h.Body.Type] = h.Body.Data
			}
		}
		return byType["REACTION"] != nil && byType["MESSAGE_EDITED"] != nil && byType["POLL_VOTE"] != nil && byType["MESSAGE_REVOKED"] != nil
	})
	if d := byType["REACTION"]; str(d, "message", "id") != liked || str(d, "message", "number", "id") != num ||
		str(d, "from", "phone") != "+15550100004" || get(d, "from", "lid") != nil || str(d, "emoji") != "👍" {
		t.Errorf("REACTION data %v", d)
	}
	if d := byType["MESSAGE_EDITED"]; str(d, "content", "text") != "echo me (edited)" || str(d, "message", "editedAt") == "" ||
		get(d, "content", "mentions") == nil {
		t.Errorf("MESSAGE_EDITED data %v", d)
	}
	if d := byType["POLL_VOTE"]; str(d, "message", "id") != poll || str(d, "voter", "phone") != "+15550100005" ||
		!slices.Equal(toStrings(get(d, "options")), []string{"Pizza"}) {
		t.Errorf("POLL_VOTE data %v", d)
	}
	if d := byType["MESSAGE_REVOKED"]; str(d, "message", "revokedAt") == "" || str(d, "type") != "MESSAGE_REVOKED" {
		t.Errorf("MESSAGE_REVOKED data %v", d)
	}
	// The only endpoint has them all: the content goes.
	eventually(t, "the transit rows to go", 10*time.Second, func() bool {
		return countRows(t, serverOf(t, base).dbURL, "inbound_transit") == 0
	})
}
