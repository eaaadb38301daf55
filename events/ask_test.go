package events

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/apiws/apiws"
)

// request is what the asking side sends in these tests.
type request struct {
	Reply string `json:"reply"`
	Q     string `json:"q"`
}

// owner answers every request of topic with answer(q) until ctx ends.
func owner(ctx context.Context, t *testing.T, bus Bus, topic string, answer func(q string) (any, error)) {
	t.Helper()
	f, err := NewFollower(ctx, bus, topic, apiws.EventNumberCommand)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer f.Close()
		for {
			ev, err := f.Next()
			if err != nil {
				return
			}
			var r request
			if json.Unmarshal(ev.Data, &r) != nil {
				continue
			}
			result, err := answer(r.Q)
			_ = Answer(ctx, bus, r.Reply, ev.NumberID, result, err)
		}
	}()
}

func TestAskAndAnswer(t *testing.T) {
	bus := NewMemory(Options{})
	defer bus.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	owner(ctx, t, bus, "asks", func(q string) (any, error) {
		switch q {
		case "refused":
			return nil, apiws.Errorf(apiws.ENOTCONNECTED, "not connected")
		case "broken":
			return nil, errors.New("disk on fire")
		}
		return []string{q, q}, nil
	})
	ask := func(q string, result any) error {
		return Ask(ctx, bus, "asks", "num_1", time.After(5*time.Second), func(reply string) any { return request{Reply: reply, Q: q} }, result)
	}

	var got []string
	if err := ask("hello", &got); err != nil || len(got) != 2 || got[0] != "hello" {
		t.Errorf("answer %v, %v; want [hello hello]", got, err)
	}
	if err := ask("refused", nil); apiws.ErrorCodeOf(err) != apiws.ENOTCONNECTED || apiws.ErrorMessage(err) != "not connected" {
		t.Errorf("a refusal came back as %v", err)
	}
	// An internal error's details stay with the owner.
	if err := ask("broken", nil); apiws.ErrorCodeOf(err) != apiws.EUNAVAILABLE || apiws.ErrorMessage(err) == "disk on fire" {
		t.Errorf("an internal error came back as %v", err)
	}
}

func TestAskWithNoOwnerTimesOut(t *testing.T) {
	bus := NewMemory(Options{})
	defer bus.Close()
	timeout := make(chan time.Time, 1)
	timeout <- time.Now()
	err := Ask(context.Background(), bus, "nobody", "num_1", timeout, func(reply string) any { return request{Reply: reply} }, nil)
	if apiws.ErrorCodeOf(err) != apiws.EUNAVAILABLE {
		t.Errorf("no owner: %v; want UNAVAILABLE", err)
	}
}
