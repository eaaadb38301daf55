package main

import (
	"reflect"
	"testing"

	"github.com/apiws/apiws/whatsapp"
)

// hiddenSub follows the inbound messages with who sent them.
const hiddenSub = `subscription {
  events(after: "0", types: [MESSAGE_RECEIVED]) {
    ... on MessageReceivedEvent { message { id peer peerLid direction kind } content { text } }
  }
}`

// TestSandboxHiddenSender, on SQLite and PostgreSQL: a recipient ending
// 0006 answers `hidden` with peer null and peerLid its sandbox LID, and a
// reply to that message (replyTo alone) reaches it, which answers again.
func TestSandboxHiddenSender(t *testing.T) {
	for name, env := range databases(t) {
		t.Run(name, func(t *testing.T) {
			base := startServer(t, env(t))
			token, _ := signUp(t, base, "hidden@example.com")
			num := connectedNumber(t, base, token)
			ws := openWS(t, base, subprotocols[0], token)
			defer ws.conn.Close()
			ws.subscribe("in", hiddenSub, nil)

			send(t, base, token, map[string]any{"numberId": num, "to": "+15550100006", "text": "who is there?"})
			in := get(ws.data("in"), "events").(map[string]any)
			if get(in, "message", "peer") != nil || str(in, "message", "peerLid") != "100015550100006" ||
				str(in, "message", "direction") != "INBOUND" || str(in, "content", "text") != "hidden" {
				t.Fatalf("answer %v, want `hidden` from the LID 100015550100006 alone", in)
			}

			r := gql(t, base, token, `mutation($i: SendMessageInput!) { sendMessage(input: $i) {
			  message { id peer peerLid replyTo { id } } userErrors { field code message } } }`,
				map[string]any{"i": map[string]any{"numberId": num, "replyTo": str(in, "message", "id"), "text": "you, hidden one"}})
			reply := get(r.Data, "sendMessage", "message")
			if reply == nil || get(reply, "peer") != nil || str(reply, "peerLid") != "100015550100006" || str(reply, "replyTo", "id") != str(in, "message", "id") {
				t.Fatalf("reply = %+v, want one to the LID quoting the answer", r)
			}
			id := str(reply, "id")
			waitMessages(t, base, token, "the reply read", func(ms map[string]any) bool { return statusOf(ms, id) == "READ" })
			_, _, record := sandboxRecord(t, serverOf(t, base).dbURL)
			if last := record[len(record)-1]; last.Recipient != "+15550100006" || last.MessageID != waID(t, base, token, id) {
				t.Errorf("last transmission %+v, want the reply to +15550100006", last)
			}
			again := get(ws.data("in"), "events").(map[string]any)
			if get(again, "message", "peer") != nil || str(again, "message", "peerLid") != "100015550100006" || str(again, "content", "text") != "hidden" {
				t.Errorf("answer to the reply %v, want `hidden` again", again)
			}
		})
	}
}

// answersSub follows what the sandbox's recipients do to the messages sent
// to them, each event type with its fields.
const answersSub = `subscription {
  events(after: "0", types: [MESSAGE_RECEIVED, MESSAGE_EDITED, MESSAGE_REVOKED, REACTION, POLL_VOTE]) {
    type
    ... on MessageReceivedEvent { message { id peer kind replyTo { id } } content { text quotedWaMessageId media { kind mimeType caption sizeBytes } } }
    ... on MessageEditedEvent { message { id peer editedAt } content { text } }
    ... on MessageRevokedEvent { message { id peer revokedAt } }
    ... on ReactionEvent { message { id } from { phone lid } emoji }
    ... on PollVoteEvent { message { id } voter { phone lid } options }
  }
}`

// TestSandboxAnswers, on SQLite and PostgreSQL: every rule of the
// sandbox's recipients 0004, 0005 and 0007 is seen on the events
// subscription, in order for each message.
func TestSandboxAnswers(t *testing.T) {
	for name, env := range databases(t) {
		t.Run(name, func(t *testing.T) {
			base := startServer(t, env(t))
			token, _ := signUp(t, base, "answers@example.com")
			num := connectedNumber(t, base, token)
			ws := openWS(t, base, subprotocols[0], token)
			defer ws.conn.Close()
			ws.subscribe("ev", answersSub, nil)

			const p4, p5, p7 = "+15550100004", "+15550100005", "+15550100007"
			liked := send(t, base, token, map[string]any{"numberId": num, "to": p4, "text": "like this"})
			echoed := send(t, base, token, map[string]any{"numberId": num, "to": p5, "text": "say it back"})
			poll := send(t, base, token, map[string]any{"numberId": num, "to": p5,
				"poll": map[string]any{"question": "Lunch?", "options": []any{"Pizza", "Sushi"}, "selectableCount": 1}})
			image := send(t, base, token, map[string]any{"numberId": num, "to": p5,
				"media": map[string]any{"kind": "DOCUMENT", "data": "aGVsbG8=", "mimeType": "text/plain", "fileName": "hello.txt"}})
			oops := send(t, base, token, map[string]any{"numberId": num, "to": p7, "text": "anything"})

			// 0004: 1 reaction; 0005: an echo and its edit, a vote, an image;
			// 0007: an inbound message and its revoke.
			evs := collect(func() map[string]any { return ws.data("ev") }, "events", func(evs []map[string]any) bool { return len(evs) == 7 })
			var echo, edit, oopsIn, revoke, pngEcho map[string]any
			at := map[string]int{} // where each event is in evs
			for i, e := range evs {
				at[str(e, "type")+" "+str(e, "message", "id")] = i
				switch str(e, "type") {
				case "REACTION":
					if str(e, "message", "id") != liked || str(e, "from", "phone") != p4 || str(e, "emoji") != "👍" {
						t.Errorf("reaction %v, want 👍 from %s to %s", e, p4, liked)
					}
				case "POLL_VOTE":
					if str(e, "message", "id") != poll || str(e, "voter", "phone") != p5 || !reflect.DeepEqual(get(e, "options"), []any{"Pizza"}) {
						t.Errorf("vote %v, want Pizza from %s on %s", e, p5, poll)
					}
				case "MESSAGE_RECEIVED":
					switch str(e, "message", "peer") {
					case p5:
						if str(e, "message", "kind") == "IMAGE" {
							pngEcho = e
						} else {
							echo = e
						}
					case p7:
						oopsIn = e
					}
				case "MESSAGE_EDITED":
					edit = e
				case "MESSAGE_REVOKED":
					revoke = e
				}
			}
			if echo == nil || str(echo, "message", "kind") != "TEXT" || str(echo, "message", "replyTo", "id") != echoed ||
				str(echo, "content", "text") != "say it back" || str(echo, "content", "quotedWaMessageId") != waID(t, base, token, echoed) {
				t.Errorf("echo %v, want the text back quoting %s", echo, echoed)
			}
			if edit == nil || str(edit, "message", "id") != str(echo, "message", "id") || str(edit, "content", "text") != "say it back (edited)" ||
				str(edit, "message", "editedAt") == "" || at["MESSAGE_EDITED "+str(echo, "message", "id")] < at["MESSAGE_RECEIVED "+str(echo, "message", "id")] {
				t.Errorf("edit %v, want the echo %v edited after it", edit, echo)
			}
			wantMedia := map[string]any{"kind": "IMAGE", "mimeType": "image/png", "caption": "echo", "sizeBytes": float64(len(whatsapp.SandboxPNG))}
			if pngEcho == nil || str(pngEcho, "message", "replyTo", "id") != image || !reflect.DeepEqual(get(pngEcho, "content", "media"), wantMedia) {
				t.Errorf("file echo %v, want media %v quoting %s", pngEcho, wantMedia, image)
			}
			if oopsIn == nil || str(oopsIn, "content", "text") != "oops" || get(oopsIn, "message", "replyTo") != nil {
				t.Errorf("0007 said %v, want oops", oopsIn)
			}
			if revoke == nil || str(revoke, "message", "id") != str(oopsIn, "message", "id") || str(revoke, "message", "revokedAt") == "" ||
				at["MESSAGE_REVOKED "+str(oopsIn, "message", "id")] < at["MESSAGE_RECEIVED "+str(oopsIn, "message", "id")] {
				t.Errorf("revoke %v, want oops %v revoked after it", revoke, oopsIn)
			}
			ms := messagesByID(t, base, token)
			for _, id := range []string{liked, echoed, poll, image, oops} {
				if statusOf(ms, id) != "READ" {
					t.Errorf("message %s is %s, want READ", id, statusOf(ms, id))
				}
			}
		})
	}
}
