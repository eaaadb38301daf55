package whatsapp

import (
	"context"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow/types"
)

func TestPresenceArgs(t *testing.T) {
	for _, c := range []struct {
		state    ChatState
		presence types.ChatPresence
		media    types.ChatPresenceMedia
	}{
		{StateTyping, types.ChatPresenceComposing, types.ChatPresenceMediaText},
		{StateRecording, types.ChatPresenceComposing, types.ChatPresenceMediaAudio},
		{StatePaused, types.ChatPresencePaused, types.ChatPresenceMediaText},
	} {
		p, m, err := presenceArgs(c.state)
		if err != nil || p != c.presence || m != c.media {
			t.Errorf("presenceArgs(%s) = %q, %q, %v; want %q, %q", c.state, p, m, err, c.presence, c.media)
		}
	}
	if _, _, err := presenceArgs("WAVING"); err == nil {
		t.Error("presenceArgs of an unknown state: no error")
	}
}

func TestReadArgs(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ids, ts, chat, sender, err := readArgs(ReadReceipt{IDs: []string{"A1", "B2"}, Chat: "+15550100003", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != types.MessageID("A1") || ids[1] != types.MessageID("B2") {
		t.Errorf("ids = %v", ids)
	}
	if !ts.Equal(at) {
		t.Errorf("timestamp = %v, want %v", ts, at)
	}
	if chat != types.NewJID("15550100003", types.DefaultUserServer) {
		t.Errorf("chat = %v", chat)
	}
	if !sender.IsEmpty() {
		t.Errorf("sender of a one-to-one chat = %v, want empty", sender)
	}

	_, _, chat, _, err = readArgs(ReadReceipt{IDs: []string{"A1"}, ChatLID: "100015550100006", At: at})
	if err != nil || chat != types.NewJID("100015550100006", types.HiddenUserServer) {
		t.Errorf("hidden chat = %v, %v", chat, err)
	}
	if _, _, _, _, err := readArgs(ReadReceipt{Chat: "+15550100003"}); err == nil {
		t.Error("no ids: no error")
	}
	if _, _, _, _, err := readArgs(ReadReceipt{IDs: []string{"A1"}, Chat: "12"}); err == nil {
		t.Error("a bad phone: no error")
	}
}

func TestSandboxRecordsSignals(t *testing.T) {
	s := NewSandbox(nil, 0)
	defer s.Close()
	ctx := context.Background()
	idle := &apiws.Number{ID: "num_0", Sandbox: true}
	if err := s.SendChatPresence(ctx, idle, "+15550100003", StateTyping); err != ErrNotConnected {
		t.Fatalf("presence of a number not connected: %v, want ErrNotConnected", err)
	}
	n := pairSandbox(t, s, "num_1")
	if err := s.SendChatPresence(ctx, n, "+15550100003", StateRecording); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRead(ctx, n, ReadReceipt{IDs: []string{"A1", "B2"}, Chat: "+15550100003"}); err != nil {
		t.Fatal(err)
	}
	want := []Signal{
		{NumberID: "num_1", Chat: "+15550100003", State: StateRecording},
		{NumberID: "num_1", Chat: "+15550100003", Read: 2},
	}
	got := s.Signals()
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("signals = %+v, want %+v", got, want)
	}
}
