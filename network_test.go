package apiws

import "testing"

func TestClientNetwork(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"}, // the same host's other address
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"not an address", "not an address"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ClientNetwork(tt.ip); got != tt.want {
			t.Errorf("ClientNetwork(%q) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}
