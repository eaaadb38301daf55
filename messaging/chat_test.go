package messaging

import (
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/whatsapp"
)

func TestValidPresence(t *testing.T) {
	to, group := "+1 415 555 0123", "grp_01M8A9N1KD0002AGDFB2MH75JP"
	bad := "call me"
	tests := []struct {
		name  string
		in    apiws.SendChatPresence
		phone string
		state whatsapp.ChatState
		want  string // code@field, "" for none
	}{
		{"typing", apiws.SendChatPresence{To: &to, State: apiws.PresenceTyping}, "+14155550123", whatsapp.StateTyping, ""},
		{"recording", apiws.SendChatPresence{To: &to, State: apiws.PresenceRecording}, "+14155550123", whatsapp.StateRecording, ""},
		{"paused", apiws.SendChatPresence{To: &to, State: apiws.PresencePaused}, "+14155550123", whatsapp.StatePaused, ""},
		{"both", apiws.SendChatPresence{To: &to, GroupID: &group, State: apiws.PresenceTyping}, "", "", "INVALID@input.groupId"},
		{"a group: found by SendChatPresence", apiws.SendChatPresence{GroupID: &group, State: apiws.PresenceTyping}, "", whatsapp.StateTyping, ""},
		{"neither", apiws.SendChatPresence{State: apiws.PresenceTyping}, "", "", "INVALID@input.to"},
		{"a bad phone", apiws.SendChatPresence{To: &bad, State: apiws.PresenceTyping}, "", "", "INVALID@input.to"},
		{"a bad state", apiws.SendChatPresence{To: &to, State: "WAVING"}, "", "", "INVALID@input.state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phone, state, err := validPresence(tt.in)
			got := ""
			if e, ok := err.(*apiws.Error); ok {
				got = string(e.Code) + "@" + strings.Join(e.Field, ".")
			} else if err != nil {
				t.Fatalf("error %v is not a field error", err)
			}
			if got != tt.want || phone != tt.phone || state != tt.state {
				t.Errorf("validPresence = %q, %q, %s; want %q, %q, %s", phone, state, got, tt.phone, tt.state, tt.want)
			}
		})
	}
}

func TestReceiptsGroupByChat(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := []*apiws.Message{
		{Peer: "+14155550003", WAMessageID: ptr("A")},
		{Peer: "", PeerLID: ptr("100014155550006"), WAMessageID: ptr("B")},
		{Peer: "+14155550003", WAMessageID: ptr("C")},
		{Peer: "+14155550003"}, // no WhatsApp id: nothing to mark
	}
	rs := receipts(ms, at, nil)
	if len(rs) != 2 {
		t.Fatalf("%d receipts, want 2: %+v", len(rs), rs)
	}
	if rs[0].Chat != "+14155550003" || len(rs[0].IDs) != 2 || rs[0].IDs[0] != "A" || rs[0].IDs[1] != "C" || !rs[0].At.Equal(at) {
		t.Errorf("first receipt = %+v", rs[0])
	}
	if rs[1].Chat != "" || rs[1].ChatLID != "100014155550006" || len(rs[1].IDs) != 1 || rs[1].IDs[0] != "B" {
		t.Errorf("second receipt = %+v", rs[1])
	}
}

func TestReceiptsInAGroup(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := []*apiws.Message{
		{Peer: "+14155550003", GroupID: ptr("grp_1"), WAMessageID: ptr("A")},
		{Peer: "+14155550003", WAMessageID: ptr("B")}, // the same person, one to one
		{Peer: "+14155550003", GroupID: ptr("grp_1"), WAMessageID: ptr("C")},
	}
	rs := receipts(ms, at, map[string]string{"grp_1": "120363000000000001@g.us"})
	if len(rs) != 2 {
		t.Fatalf("%d receipts, want 2: %+v", len(rs), rs)
	}
	if rs[0].Group != "120363000000000001@g.us" || rs[0].Chat != "+14155550003" || len(rs[0].IDs) != 2 || rs[0].IDs[1] != "C" {
		t.Errorf("group receipt = %+v", rs[0])
	}
	if rs[1].Group != "" || rs[1].IDs[0] != "B" {
		t.Errorf("one-to-one receipt = %+v", rs[1])
	}
}
