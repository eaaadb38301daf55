package events

import (
	"testing"

	"github.com/apiws/apiws"
)

// The broker-confirmation rules of the hub, driven directly: against a
// healthy Redis the confirmation nearly always beats the Subscribe timeout,
// so these paths are rare in the Redis tests.

func TestHub_LaterConfirmationResyncsEveryone(t *testing.T) {
	h := newHub(4)
	s1, created, _ := h.add("t", nil, func(s *Subscription) { h.remove(s) }, false)
	s2, _, _ := h.add("t", nil, func(s *Subscription) { h.remove(s) }, false)
	if !created {
		t.Fatal("first add did not create the topic")
	}
	if h.confirm("t") {
		t.Fatal("followed topic reported as orphan")
	}
	h.settle(s1)
	h.settle(s2)
	if len(s1.c) != 0 || len(s2.c) != 0 {
		t.Fatal("first confirmation made a resync for subscribers that waited for it")
	}
	h.confirm("t") // the connection came back
	for _, s := range []*Subscription{s1, s2} {
		if ev := <-s.c; ev.Kind != apiws.EventResync {
			t.Fatalf("got %+v, want EventResync", ev)
		}
	}
}

func TestHub_SubscriberThatStoppedWaitingIsResyncedOnConfirmation(t *testing.T) {
	h := newHub(4)
	s, _, _ := h.add("t", nil, func(s *Subscription) { h.remove(s) }, false)
	h.settle(s) // Subscribe gave up waiting
	h.confirm("t")
	if ev := <-s.c; ev.Kind != apiws.EventResync {
		t.Fatalf("got %+v, want EventResync", ev)
	}
	h.confirm("t")
	if ev := <-s.c; ev.Kind != apiws.EventResync {
		t.Fatalf("got %+v on reconnect, want EventResync", ev)
	}
	if len(s.c) != 0 {
		t.Fatal("more than one resync per confirmation")
	}
}

func TestHub_UnconfirmedTopicOutlivesItsSubscribers(t *testing.T) {
	h := newHub(4)
	s, _, _ := h.add("t", nil, func(s *Subscription) { h.remove(s) }, false)
	if h.remove(s) {
		t.Fatal("asked to unsubscribe before the subscribe was confirmed")
	}
	// A newcomer reuses the subscription in flight rather than sending
	// another SUBSCRIBE that a stale confirmation could be mistaken for.
	s2, created, _ := h.add("t", nil, func(s *Subscription) { h.remove(s) }, false)
	if created {
		t.Fatal("newcomer recreated an unconfirmed topic")
	}
	if h.remove(s2) {
		t.Fatal("asked to unsubscribe before the subscribe was confirmed")
	}
	if !h.confirm("t") {
		t.Fatal("confirmation of an abandoned topic not reported as orphan")
	}
	if !h.takeOrphan("t") {
		t.Fatal("orphan not taken")
	}
	if h.stats().Topics != 0 {
		t.Fatal("orphan still followed")
	}
}

func TestHub_OrphanAdoptedBeforeUnsubscribeIsKept(t *testing.T) {
	h := newHub(4)
	s, _, _ := h.add("t", nil, func(s *Subscription) { h.remove(s) }, false)
	h.remove(s)
	if !h.confirm("t") {
		t.Fatal("not orphan")
	}
	s2, created, _ := h.add("t", nil, func(s *Subscription) { h.remove(s) }, false)
	if created {
		t.Fatal("topic recreated")
	}
	if h.takeOrphan("t") {
		t.Fatal("adopted topic taken as orphan")
	}
	if !h.remove(s2) {
		t.Fatal("last one out of a confirmed topic not asked to unsubscribe")
	}
}
