package storage

import "testing"

func TestNumbered(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                          "SELECT 1",
		"a = ? AND b = ?":                   "a = $1 AND b = $2",
		"x IN (?, ?, ?) ORDER BY y LIMIT ?": "x IN ($1, $2, $3) ORDER BY y LIMIT $4",
	} {
		if got := numbered(in); got != want {
			t.Errorf("numbered(%q) = %q; want %q", in, got, want)
		}
	}
}
