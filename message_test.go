package apiws

import (
	"slices"
	"testing"
	"time"
)

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

func TestApplyReceipt(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	failure := &MessageError{Code: MsgErrNotOnWhatsApp, Message: "not on WhatsApp"}
	tests := []struct {
		name     string
		from     MessageStatus
		receipt  MessageStatus
		merr     *MessageError
		want     []MessageStatus // the events, in order
		status   MessageStatus
		keepsErr bool
	}{
		{"sent", StatusQueued, StatusSent, nil, []MessageStatus{StatusSent}, StatusSent, false},
		{"delivered before the acceptance was recorded goes SENT first", StatusQueued, StatusDelivered, nil, []MessageStatus{StatusSent, StatusDelivered}, StatusDelivered, false},
		{"read of a queued message", StatusQueued, StatusRead, nil, []MessageStatus{StatusSent, StatusRead}, StatusRead, false},
		{"delivered", StatusSent, StatusDelivered, nil, []MessageStatus{StatusDelivered}, StatusDelivered, false},
		{"skips to read", StatusSent, StatusRead, nil, []MessageStatus{StatusRead}, StatusRead, false},
		{"late delivered after read", StatusRead, StatusDelivered, nil, nil, StatusRead, false},
		{"repeated", StatusDelivered, StatusDelivered, nil, nil, StatusDelivered, false},
		{"failed while queued is not sent first", StatusQueued, StatusFailed, failure, []MessageStatus{StatusFailed}, StatusFailed, true},
		{"failed after sent", StatusSent, StatusFailed, failure, []MessageStatus{StatusFailed}, StatusFailed, true},
		{"nothing after failed", StatusFailed, StatusRead, nil, nil, StatusFailed, false},
		{"an error with a non-failure is not kept", StatusSent, StatusDelivered, failure, []MessageStatus{StatusDelivered}, StatusDelivered, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Message{ID: "msg_1", AccountID: "acc_1", NumberID: "num_1", Status: tt.from}
			evs := m.ApplyReceipt(tt.receipt, at, tt.merr)
			var got []MessageStatus
			for _, ev := range evs {
				got = append(got, ev.Status)
				if ev.MessageID != "msg_1" || ev.AccountID != "acc_1" || ev.NumberID != "num_1" || !ev.At.Equal(at) {
					t.Errorf("event %+v does not name the message, its account, number and the receipt's time", ev)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("events %v, want %v", got, tt.want)
			}
			if m.Status != tt.status {
				t.Errorf("status %s, want %s", m.Status, tt.status)
			}
			if (m.Error != nil) != tt.keepsErr {
				t.Errorf("error kept = %v, want %v", m.Error != nil, tt.keepsErr)
			}
			if slices.Contains(tt.want, StatusRead) && (m.ReadAt == nil || !m.ReadAt.Equal(at)) {
				t.Errorf("readAt = %v, want %v", m.ReadAt, at)
			}
			if len(tt.want) == 2 && (m.SentAt == nil || !m.SentAt.Equal(at)) {
				t.Errorf("sentAt = %v, want the receipt's time", m.SentAt)
			}
		})
	}
}

func TestPublicWAMessageID(t *testing.T) {
	id, sent := "3EB0ABC", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		m    Message
		want *string
	}{
		{"outbound queued: not WhatsApp's yet", Message{Direction: Outbound, WAMessageID: &id}, nil},
		{"outbound failed before sending", Message{Direction: Outbound, Status: StatusFailed, WAMessageID: &id}, nil},
		{"outbound sent", Message{Direction: Outbound, WAMessageID: &id, SentAt: &sent}, &id},
		{"inbound", Message{Direction: Inbound, WAMessageID: &id}, &id},
		{"inbound without id", Message{Direction: Inbound}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.PublicWAMessageID(); got != tt.want {
				t.Errorf("PublicWAMessageID = %v, want %v", got, tt.want)
			}
		})
	}
}
