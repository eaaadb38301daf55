package main

import (
	"slices"
	"testing"
)

const markReadMutation = `mutation($ids: [ID!]!) { markRead(messageIds: $ids) { messages { id direction } userErrors { code field } } }`

const presenceMutation = `mutation($i: ChatPresenceInput!) { sendChatPresence(input: $i) { ok userErrors { code field } } }`

// inboundOf returns the id of an inbound message of the number from the
// peer, and of the outbound message the number sent it.
func inboundOf(ms map[string]any, peer string) (in, out string) {
	for id, m := range ms {
		if str(m, "peer") != peer {
			continue
		}
		if str(m, "direction") == "INBOUND" {
			in = id
		} else {
			out = id
		}
	}
	return in, out
}

// TestMarkRead marks the echo of the sandbox's 0003 recipient read, then
// sends each bad list of ids: a userError at messageIds each time.
func TestMarkRead(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_RATE_LIMIT_PER_SECOND": "0"})
	token, _ := signUp(t, base, "markread@example.com")
	num := connectedNumber(t, base, token)
	echoer, other := "+14155550003", "+14155560003"
	send(t, base, token, map[string]any{"numberId": num, "to": echoer, "text": "hello"})
	num2 := connectedNumber(t, base, token)
	send(t, base, token, map[string]any{"numberId": num2, "to": other, "text": "hi"})
	ms := waitMessages(t, base, token, "both echoes", func(ms map[string]any) bool {
		a, _ := inboundOf(ms, echoer)
		b, _ := inboundOf(ms, other)
		return a != "" && b != ""
	})
	in, out := inboundOf(ms, echoer)
	in2, _ := inboundOf(ms, other)

	r := gql(t, base, token, markReadMutation, map[string]any{"ids": []any{in}})
	got, _ := get(r.Data, "markRead", "messages").([]any)
	if len(r.Errors) > 0 || len(got) != 1 || str(got[0], "id") != in || len(userErrorCodes(get(r.Data, "markRead"))) > 0 {
		t.Fatalf("markRead of the echo = %+v", r)
	}

	stranger, _ := signUp(t, base, "stranger@example.com")
	many := make([]any, 101)
	for i := range many {
		many[i] = in
	}
	tests := []struct {
		name  string
		token string
		ids   []any
		want  string
	}{
		{"no ids", token, []any{}, "INVALID@messageIds"},
		{"101 ids", token, many, "INVALID@messageIds"},
		{"an outbound message", token, []any{in, out}, "INVALID@messageIds"},
		{"messages of two numbers", token, []any{in, in2}, "INVALID@messageIds"},
		{"another account's message", stranger, []any{in}, "NOT_FOUND@messageIds"},
		{"no such message", token, []any{"msg_01M8A9N1KD0002AGDFB2MH75JP"}, "NOT_FOUND@messageIds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gql(t, base, tt.token, markReadMutation, map[string]any{"ids": tt.ids})
			if len(r.Errors) > 0 {
				t.Fatalf("GraphQL errors instead of userErrors: %+v", r.Errors)
			}
			if got := userErrorCodes(get(r.Data, "markRead")); !slices.Equal(got, []string{tt.want}) {
				t.Fatalf("userErrors = %v; want %s", got, tt.want)
			}
			if ms, _ := get(r.Data, "markRead", "messages").([]any); len(ms) != 0 {
				t.Fatalf("messages came back with the userErrors: %v", ms)
			}
		})
	}

	r = gql(t, base, token, `mutation($id: ID!) { disconnectNumber(id: $id) { number { status } } }`, map[string]any{"id": num})
	if str(r.Data, "disconnectNumber", "number", "status") != "DISCONNECTED" {
		t.Fatalf("disconnectNumber = %+v", r)
	}
	r = gql(t, base, token, markReadMutation, map[string]any{"ids": []any{in}})
	if got := userErrorCodes(get(r.Data, "markRead")); !slices.Equal(got, []string{"NOT_CONNECTED@messageIds"}) {
		t.Fatalf("markRead through a disconnected number: userErrors = %v (%+v)", got, r)
	}
}

// TestSendChatPresence shows each presence to a phone, then sends each bad
// input: a userError at its field each time.
func TestSendChatPresence(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_RATE_LIMIT_PER_SECOND": "0"})
	token, _ := signUp(t, base, "presence@example.com")
	num := connectedNumber(t, base, token)
	for _, state := range []string{"TYPING", "RECORDING", "PAUSED"} {
		r := gql(t, base, token, presenceMutation, map[string]any{"i": map[string]any{"numberId": num, "to": "+14155550123", "state": state}})
		if get(r.Data, "sendChatPresence", "ok") != true || len(userErrorCodes(get(r.Data, "sendChatPresence"))) > 0 {
			t.Fatalf("sendChatPresence %s = %+v", state, r)
		}
	}
	group := "grp_01M8A9N1KD0002AGDFB2MH75JP"
	stranger, _ := signUp(t, base, "stranger@example.com")
	tests := []struct {
		name  string
		token string
		in    map[string]any
		want  string
	}{
		{"no such group", token, map[string]any{"numberId": num, "groupId": group, "state": "TYPING"}, "NOT_FOUND@input.groupId"},
		{"both to and groupId", token, map[string]any{"numberId": num, "to": "+14155550123", "groupId": group, "state": "TYPING"}, "INVALID@input.groupId"},
		{"neither to nor groupId", token, map[string]any{"numberId": num, "state": "TYPING"}, "INVALID@input.to"},
		{"another account's number", stranger, map[string]any{"numberId": num, "to": "+14155550123", "state": "TYPING"}, "NOT_FOUND@input.numberId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gql(t, base, tt.token, presenceMutation, map[string]any{"i": tt.in})
			if len(r.Errors) > 0 {
				t.Fatalf("GraphQL errors instead of userErrors: %+v", r.Errors)
			}
			if got := userErrorCodes(get(r.Data, "sendChatPresence")); !slices.Equal(got, []string{tt.want}) {
				t.Fatalf("userErrors = %v; want %s", got, tt.want)
			}
			if get(r.Data, "sendChatPresence", "ok") != false {
				t.Fatal("ok with userErrors")
			}
		})
	}
}

// TestChatSignalsReachTheOwner marks read, shows a presence, edits and
// revokes through the instance that does not hold the number's connection:
// it passes them on to the owner (its own sandbox does not have the number connected, so a
// signal sent there would be NOT_CONNECTED).
func TestChatSignalsReachTheOwner(t *testing.T) {
	redisURL, _, _ := privateRedis(t)
	env := sharedEnv(t, redisURL)
	a := startProcess(t, env)
	token, _ := signUp(t, a.base, "signals@example.com")
	num := connectedNumber(t, a.base, token)
	b := startProcess(t, env)
	if owners(t, env["APIWS_DATABASE_URL"])[num] != a.instanceID(t) {
		t.Fatal("the number is not owned by the instance it paired on")
	}
	echoer := "+14155550003"
	send(t, b.base, token, map[string]any{"numberId": num, "to": echoer, "text": "hello"})
	ms := waitMessages(t, b.base, token, "the echo", func(ms map[string]any) bool {
		in, _ := inboundOf(ms, echoer)
		return in != ""
	})
	in, _ := inboundOf(ms, echoer)
	r := gql(t, b.base, token, markReadMutation, map[string]any{"ids": []any{in}})
	if got, _ := get(r.Data, "markRead", "messages").([]any); len(r.Errors) > 0 || len(got) != 1 || len(userErrorCodes(get(r.Data, "markRead"))) > 0 {
		t.Fatalf("markRead through the other instance = %+v", r)
	}
	r = gql(t, b.base, token, presenceMutation, map[string]any{"i": map[string]any{"numberId": num, "to": echoer, "state": "TYPING"}})
	if get(r.Data, "sendChatPresence", "ok") != true || len(r.Errors) > 0 {
		t.Fatalf("sendChatPresence through the other instance = %+v", r)
	}
	_, out := inboundOf(ms, echoer)
	r = gql(t, b.base, token, editMutation, map[string]any{"i": map[string]any{"messageId": out, "text": "hello again"}})
	if get(r.Data, "editMessage", "message", "editedAt") == nil || len(r.Errors) > 0 {
		t.Fatalf("editMessage through the other instance = %+v", r)
	}
	r = gql(t, b.base, token, revokeMutation, map[string]any{"id": out})
	if get(r.Data, "revokeMessage", "message", "revokedAt") == nil || len(r.Errors) > 0 {
		t.Fatalf("revokeMessage through the other instance = %+v", r)
	}
}
