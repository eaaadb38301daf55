package renderonce

import (
	"fmt"
	"reflect"
	"testing"
)

// Subscriptions of one selection share one compiled copy; the copies kept
// are bounded, past which a subscription keeps its own.
func TestShapesShared(t *testing.T) {
	var s shapes
	compiled := func() selections {
		return selections{"MessageStatusEvent": selection{{alias: "cursor", name: "cursor"}, {alias: "at", name: "at"}}}
	}
	first, second := compiled(), compiled()
	_, kept := s.intern("s\x00cursor:cursor,at:at,", first)
	_, again := s.intern(fmt.Sprintf("s\x00%s", "cursor:cursor,at:at,"), second)
	if reflect.ValueOf(kept).Pointer() != reflect.ValueOf(first).Pointer() || reflect.ValueOf(again).Pointer() != reflect.ValueOf(first).Pointer() {
		t.Fatal("the second subscription of a shape did not get the first's copy")
	}
	for i := range 2 * maxShapes {
		own := compiled()
		if _, got := s.intern(fmt.Sprint(i), own); reflect.ValueOf(got).Pointer() != reflect.ValueOf(own).Pointer() {
			t.Fatalf("shape %d: another's copy", i)
		}
	}
	if len(s.m) > maxShapes {
		t.Fatalf("%d shapes kept; want at most %d", len(s.m), maxShapes)
	}
}
