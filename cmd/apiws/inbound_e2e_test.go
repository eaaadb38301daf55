package main

import (
	"reflect"
	"testing"
)

// inboundContentSub follows the inbound messages with the content of each
// kind, from the start of the log (so none is missed however fast the
// echoes come).
const inboundContentSub = `subscription {
  events(after: "0", types: [MESSAGE_RECEIVED]) {
    type
    ... on MessageReceivedEvent {
      message { kind direction }
      content {
        text
        location { latitude longitude name address }
        contacts { name phones vcard }
        poll { question options selectableCount }
      }
    }
  }
}`

// TestInboundContentOfEachKind sends a location, contact cards and a poll
// to the sandbox's echoing recipient: each comes back as a
// MESSAGE_RECEIVED event of its kind whose content is what was sent.
func TestInboundContentOfEachKind(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "inbound-kinds@example.com")
	num := connectedNumber(t, base, token)
	ws := openWS(t, base, subprotocols[0], token)
	defer ws.conn.Close()
	ws.subscribe("in", inboundContentSub, nil)

	to := "+14155550003"
	sent := map[string]map[string]any{
		"LOCATION": {"location": map[string]any{"latitude": 37.7955, "longitude": -122.3937, "name": "Ferry Building", "address": "1 Ferry Building, San Francisco"}},
		"CONTACT": {"contacts": []any{
			map[string]any{"name": "Ada Lovelace", "phones": []any{"+442071838750"}},
			map[string]any{"name": "Grace Hopper", "phones": []any{"+14155550199", "+14155550198"}}}},
		"POLL": {"poll": map[string]any{"question": "Lunch?", "options": []any{"Pizza", "Sushi", "Salad"}, "selectableCount": 2}},
	}
	for _, content := range sent {
		in := map[string]any{"numberId": num, "to": to}
		for k, v := range content {
			in[k] = v
		}
		send(t, base, token, in)
	}
	got := map[string]map[string]any{}
	for len(got) < len(sent) {
		e := get(ws.data("in"), "events").(map[string]any)
		if str(e, "message", "direction") != "INBOUND" {
			t.Fatalf("received event %v", e)
		}
		got[str(e, "message", "kind")] = get(e, "content").(map[string]any)
	}

	loc := sent["LOCATION"]["location"].(map[string]any)
	if c := got["LOCATION"]; c == nil || !reflect.DeepEqual(c["location"], loc) || c["text"] != nil {
		t.Errorf("location echo %v, want %v", c, loc)
	}
	cards, _ := got["CONTACT"]["contacts"].([]any)
	want := sent["CONTACT"]["contacts"].([]any)
	if len(cards) != len(want) {
		t.Fatalf("contacts echo %v, want %v", got["CONTACT"], want)
	}
	for i, c := range cards {
		card, sentCard := c.(map[string]any), want[i].(map[string]any)
		if card["name"] != sentCard["name"] || !reflect.DeepEqual(card["phones"], sentCard["phones"]) || str(card, "vcard") == "" {
			t.Errorf("card %d: %v, want %v", i, card, sentCard)
		}
	}
	poll := sent["POLL"]["poll"]
	if c := got["POLL"]; c == nil || !reflect.DeepEqual(c["poll"], map[string]any{"question": "Lunch?", "options": []any{"Pizza", "Sushi", "Salad"}, "selectableCount": float64(2)}) {
		t.Errorf("poll echo %v, want %v", c, poll)
	}
}
