package apiws

import (
	"bytes"
	"testing"
)

func TestSealerBindsValuesToTheirKeyAndData(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	s, err := NewSealer(secret, "purpose a")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSealer(secret, "purpose b")
	raw, _ := NewSealerWithKey(secret)
	sealed := s.Seal([]byte("msg_1"), []byte("hello"))
	if bytes.Contains(sealed, []byte("hello")) {
		t.Fatal("sealed in clear")
	}
	if got, err := s.Open([]byte("msg_1"), sealed); err != nil || string(got) != "hello" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if again := s.Seal([]byte("msg_1"), []byte("hello")); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: the nonce is not fresh")
	}
	for name, open := range map[string]func() ([]byte, error){
		"other data":           func() ([]byte, error) { return s.Open([]byte("msg_2"), sealed) },
		"another purpose":      func() ([]byte, error) { return other.Open([]byte("msg_1"), sealed) },
		"the secret key as is": func() ([]byte, error) { return raw.Open([]byte("msg_1"), sealed) },
		"too short":            func() ([]byte, error) { return s.Open([]byte("msg_1"), sealed[:5]) },
		"tampered": func() ([]byte, error) {
			bad := bytes.Clone(sealed)
			bad[len(bad)-1] ^= 1
			return s.Open([]byte("msg_1"), bad)
		},
	} {
		if _, err := open(); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if _, err := NewSealer(secret[:16], "x"); err == nil {
		t.Error("a 16-byte secret key was taken")
	}
}
