package ownership

import (
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

func TestDivide(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	nums := func(ids ...string) []*apiws.Number {
		var out []*apiws.Number
		for _, id := range ids {
			out = append(out, &apiws.Number{ID: id})
		}
		return out
	}
	lease := func(id string, expires time.Time) *storage.Lease {
		return &storage.Lease{NumberID: id, Owner: "other", ExpiresAt: expires}
	}
	live, expired := now.Add(time.Second), now
	tests := []struct {
		name     string
		numbers  []*apiws.Number
		leases   []*storage.Lease
		owned    []string
		live     int
		fair     int
		free     string // ids, "!" marking a takeover
		unwanted string
	}{
		{"nothing to own", nil, nil, nil, 1, 0, "", ""},
		{"one instance owns all", nums("a", "b", "c"), nil, nil, 1, 3, "a b c", ""},
		{"no live instance counts as one (this one)", nums("a", "b"), nil, nil, 0, 2, "a b", ""},
		{"an even split", nums("a", "b", "c", "d", "e", "f"), nil, nil, 3, 2, "a b c d e f", ""},
		{"an uneven split rounds up", nums("a", "b", "c", "d", "e", "f", "g"), nil, nil, 3, 3, "a b c d e f g", ""},
		{"more instances than numbers", nums("a"), nil, nil, 4, 1, "a", ""},
		{"a live lease is not free", nums("a", "b"), []*storage.Lease{lease("a", live)}, nil, 2, 1, "b", ""},
		{"an expired lease is free, as a takeover", nums("a", "b"), []*storage.Lease{lease("a", expired)}, nil, 2, 1, "!a b", ""},
		{"a lease expiring at now has expired", nums("a"), []*storage.Lease{lease("a", now)}, nil, 1, 1, "!a", ""},
		{"a lease of a number no longer paired is ignored", nums("a"), []*storage.Lease{lease("gone", live)}, nil, 1, 1, "a", ""},
		{"owned numbers no longer paired are let go", nums("a"), []*storage.Lease{lease("a", live)}, []string{"a", "gone", "removed"}, 1, 1, "", "gone removed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh := divide(tt.numbers, tt.leases, tt.owned, tt.live, now)
			var free []string
			for _, c := range sh.free {
				id := c.number.ID
				if c.takeover {
					id = "!" + id
				}
				free = append(free, id)
			}
			if sh.fair != tt.fair || strings.Join(free, " ") != tt.free || strings.Join(sh.unwanted, " ") != tt.unwanted {
				t.Fatalf("divide = fair %d, free %q, unwanted %q; want %d, %q, %q",
					sh.fair, strings.Join(free, " "), strings.Join(sh.unwanted, " "), tt.fair, tt.free, tt.unwanted)
			}
		})
	}
	// Every number is someone's: fair shares of all live instances cover them.
	for n := 0; n <= 10; n++ {
		for live := 1; live <= 4; live++ {
			ids := make([]string, n)
			for i := range ids {
				ids[i] = string(rune('a' + i))
			}
			if fair := divide(nums(ids...), nil, nil, live, now).fair; fair*live < n || (fair-1)*live >= n && n > 0 {
				t.Errorf("%d numbers over %d instances: fair share %d", n, live, fair)
			}
		}
	}
}
