package main

import (
	"testing"
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
