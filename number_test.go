package apiws

import (
	"errors"
	"slices"
	"testing"
)

func TestConnectedNumber(t *testing.T) {
	at := []string{"input", "numberId"}
	boom := errors.New("database down")
	tests := []struct {
		name string
		n    *Number
		err  error
		code ErrorCode // "" for the number itself
	}{
		{"connected", &Number{ID: "num_1", Status: NumberConnected}, nil, ""},
		{"missing", nil, Errorf(ENOTFOUND, "number not found"), ENOTFOUND},
		{"disconnected", &Number{ID: "num_1", Status: NumberDisconnected}, nil, ENOTCONNECTED},
		{"pairing", &Number{ID: "num_1", Status: NumberPairing}, nil, ENOTCONNECTED},
		{"other error", nil, boom, EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ConnectedNumber(tt.n, tt.err, at)
			if tt.code == "" {
				if err != nil || n != tt.n {
					t.Fatalf("got %v, %v; want the number", n, err)
				}
				return
			}
			if n != nil || ErrorCodeOf(err) != tt.code {
				t.Fatalf("got %v, %v; want code %s", n, err, tt.code)
			}
			if tt.err == boom {
				if !errors.Is(err, boom) {
					t.Errorf("the lookup's own error is lost: %v", err)
				}
				return
			}
			var fe *Error
			if !errors.As(err, &fe) || !slices.Equal(fe.Field, at) {
				t.Errorf("error %#v, want a userError at %v", err, at)
			}
		})
	}
}
