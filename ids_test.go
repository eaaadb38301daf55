package apiws

import (
	"math"
	"math/bits"
	"sort"
	"strings"
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

// forgetLastID lets the next id take the time it is given even if an
// earlier test made ids at a later time (which would count as the clock going
// back).
func forgetLastID() {
	idState.Lock()
	idState.lastMs = 0
	idState.Unlock()
}

// decodeID returns the millisecond and the 80 bits after it of an id.
func decodeID(t *testing.T, id string) (ms uint64, hi uint16, lo uint64) {
	t.Helper()
	var h, l uint64
	for _, c := range id[strings.IndexByte(id, '_')+1:] {
		v := uint64(strings.IndexRune(crockford, c))
		h = h<<5 | l>>59
		l = l<<5 | v
	}
	return h >> 16, uint16(h), l
}

func TestNewIDsOfOneMillisecondCannotBeGuessed(t *testing.T) {
	forgetLastID()
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	prev := newIDAt(PrefixMessage, at)
	pms, phi, plo := decodeID(t, prev)
	if pms != uint64(at.UnixMilli()) {
		t.Fatalf("id %s holds ms %d, want %d", prev, pms, at.UnixMilli())
	}
	steps := map[uint64]bool{}
	for i := 0; i < 1000; i++ {
		id := newIDAt(PrefixMessage, at)
		ms, hi, lo := decodeID(t, id)
		if ms != pms || id <= prev {
			t.Fatalf("id %s after %s in the same millisecond: out of order or another ms", id, prev)
		}
		step, borrow := bits.Sub64(lo, plo, 0)
		if uint64(hi)-uint64(phi)-borrow != 0 || step < 1 || step > 1<<48 {
			t.Fatalf("step from %s to %s is not within 1..2^48", prev, id)
		}
		steps[step] = true
		prev, phi, plo = id, hi, lo
	}
	// Sequential ids would all step by 1; random steps of up to 2^48 repeat
	// with a chance of about 1000²/2^49.
	if len(steps) != 1000 {
		t.Fatalf("1000 steps within one millisecond took only %d values", len(steps))
	}
}

func TestNewIDsOfNewMillisecondsStartAtRandom(t *testing.T) {
	forgetLastID()
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	highBitsUsed := false
	seen := map[[2]uint64]bool{}
	for i := 0; i < 64; i++ {
		_, hi, lo := decodeID(t, newIDAt(PrefixMessage, at.Add(time.Duration(i)*time.Millisecond)))
		if hi >= 1<<15 {
			t.Fatalf("a millisecond's first id has its top random bit set: %x", hi)
		}
		highBitsUsed = highBitsUsed || hi != 0
		seen[[2]uint64{uint64(hi), lo}] = true
	}
	if !highBitsUsed || len(seen) != 64 {
		t.Fatalf("64 first ids used the top 16 random bits: %v, took %d distinct values", highBitsUsed, len(seen))
	}
}

func TestNewIDBorrowsTheNextMillisecondWhenOneIsUsedUp(t *testing.T) {
	forgetLastID()
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	first := newIDAt(PrefixMessage, at)
	idState.Lock()
	idState.hi, idState.lo = math.MaxUint16, math.MaxUint64-1
	idState.Unlock()
	last := newIDAt(PrefixMessage, at)
	ms, hi, _ := decodeID(t, last)
	if ms != uint64(at.UnixMilli())+1 || hi >= 1<<15 || last <= first || !ValidID(last, PrefixMessage) {
		t.Fatalf("after the millisecond was used up: %s (ms %d), want a valid id of the next ms after %s", last, ms, first)
	}
	// The clock going back keeps ids in order too.
	if back := newIDAt(PrefixMessage, at.Add(-time.Second)); back <= last {
		t.Fatalf("id %s made after the clock went back sorts before %s", back, last)
	}
}
