package messaging

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
)

// TestIncomingStreamFallingBehindEndsWithAnError: inbound content is not
// stored, so a subscriber that missed messages cannot catch up; its stream
// must end with an error its client sees, never as if it were over.
func TestIncomingStreamFallingBehindEndsWithAnError(t *testing.T) {
	bus := events.NewMemory(events.Options{BufferSize: 2})
	defer bus.Close()
	s := &Service{bus: bus}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx, ended := apiws.WithStreamEnd(ctx)
	in, err := s.FollowIncoming(ctx, "acc_1", "")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(&apiws.Incoming{Text: "hi"})
	// More than the stream's channel and the bus's buffer hold.
	for range 40 {
		if err := bus.Publish(ctx, "acc_1", apiws.Event{Kind: apiws.EventIncoming, AccountID: "acc_1", NumberID: "num_1", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for range in {
		got++
	}
	if got >= 40 {
		t.Fatalf("all %d messages came through; the test did not make the stream fall behind", got)
	}
	if err := ended(); apiws.ErrorCodeOf(err) != apiws.EUNAVAILABLE {
		t.Fatalf("stream ended after %d messages with %v, want an UNAVAILABLE error", got, err)
	}
}

func TestIncomingStreamEndsQuietlyWhenItsClientLeaves(t *testing.T) {
	bus := events.NewMemory(events.Options{})
	defer bus.Close()
	s := &Service{bus: bus}
	ctx, cancel := context.WithCancel(context.Background())
	ctx, ended := apiws.WithStreamEnd(ctx)
	in, err := s.FollowIncoming(ctx, "acc_1", "")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for range in {
	}
	if err := ended(); err != nil {
		t.Fatalf("a stream whose client left ended with %v, want no error", err)
	}
}
