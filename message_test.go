package apiws

import "testing"

// outboundOrder is the order a sent message's statuses come in.
var outboundOrder = []MessageStatus{StatusQueued, StatusSent, StatusDelivered, StatusRead, StatusPlayed}

func TestStatusAdvances(t *testing.T) {
	tests := []struct {
		from, to MessageStatus
		want     bool
	}{
		{StatusQueued, StatusSent, true},
		{StatusQueued, StatusRead, true}, // a receipt may skip steps
		{StatusSent, StatusDelivered, true},
		{StatusDelivered, StatusRead, true},
		{StatusRead, StatusPlayed, true},
		{StatusRead, StatusDelivered, false}, // a late receipt never moves back
		{StatusDelivered, StatusSent, false},
		{StatusPlayed, StatusRead, false},
		{StatusSent, StatusSent, false}, // a repeated receipt is no step
		{StatusQueued, StatusFailed, true},
		{StatusPlayed, StatusFailed, true},
		{StatusFailed, StatusRead, false}, // final
		{StatusFailed, StatusFailed, false},
		{StatusReceived, StatusRead, false}, // final
		{StatusFailed, StatusReceived, false},
		{StatusQueued, "BOGUS", false}, // an unknown status ranks lowest
		{"BOGUS", StatusQueued, true},
		{"", StatusQueued, true},
	}
	for _, tt := range tests {
		if got := tt.from.Advances(tt.to); got != tt.want {
			t.Errorf("%q.Advances(%q) = %v; want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestStatusRank(t *testing.T) {
	for i := 1; i < len(outboundOrder); i++ {
		if a, b := outboundOrder[i-1], outboundOrder[i]; a.Rank() >= b.Rank() {
			t.Errorf("%s ranks %d, not below %s's %d", a, a.Rank(), b, b.Rank())
		}
	}
	for _, final := range []MessageStatus{StatusFailed, StatusReceived} {
		for _, s := range outboundOrder {
			if final.Rank() <= s.Rank() {
				t.Errorf("final %s ranks %d, not above %s's %d", final, final.Rank(), s, s.Rank())
			}
		}
	}
	if r := MessageStatus("BOGUS").Rank(); r != 0 {
		t.Errorf("an unknown status ranks %d; want 0", r)
	}
}
