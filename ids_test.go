package apiws

import (
	"sort"
	"testing"
	"time"
)

func TestNewIDSortsByCreation(t *testing.T) {
	base := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i := 0; i < 2000; i++ {
		ids = append(ids, newIDAt(PrefixMessage, base.Add(time.Duration(i/10)*time.Millisecond)))
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids made in sequence do not sort in sequence")
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
		if !ValidID(id, PrefixMessage) {
			t.Fatalf("ValidID(%q) = false", id)
		}
	}
}

func TestValidIDRefuses(t *testing.T) {
	good := NewID(PrefixNumber)
	for _, id := range []string{"", "num_", "msg" + good[3:], good + "0", good[:len(good)-1] + "U", "num_0000000000000000000000000!"} {
		if ValidID(id, PrefixNumber) {
			t.Errorf("ValidID(%q) = true", id)
		}
	}
	if IDPrefix(good) != PrefixNumber {
		t.Errorf("IDPrefix(%q) = %q", good, IDPrefix(good))
	}
}
