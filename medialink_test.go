package apiws

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestMediaLinks(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	links, err := NewMediaLinks(secret, "https://apiws.example/base/")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)
	link := MediaLink{AccountID: "acc_0123456789abcdef", Seq: 4242, Expires: now.Add(time.Hour + 500*time.Millisecond)}
	token := links.Token(link)
	code := func(err error) ErrorCode { return ErrorCodeOf(err) }

	t.Run("the URL is the public URL, the media path and the token", func(t *testing.T) {
		if got, want := links.URL(link), "https://apiws.example/base/media/"+token; got != want {
			t.Fatalf("URL = %q; want %q", got, want)
		}
		if strings.Contains(token, link.AccountID) {
			t.Error("the token shows the account id in clear")
		}
	})

	t.Run("a token opens to its link, expiry to the second", func(t *testing.T) {
		got, err := links.Open(token, now)
		if err != nil {
			t.Fatal(err)
		}
		want := MediaLink{AccountID: link.AccountID, Seq: link.Seq, Expires: now.Add(time.Hour)}
		if got != want {
			t.Fatalf("Open = %+v; want %+v", got, want)
		}
	})

	t.Run("any character changed is refused", func(t *testing.T) {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		for i := range token {
			for _, c := range []byte{alphabet[(strings.IndexByte(alphabet, token[i])+1)%64], alphabet[(strings.IndexByte(alphabet, token[i])+33)%64], '.', '='} {
				bad := token[:i] + string(c) + token[i+1:]
				if _, err := links.Open(bad, now); code(err) != EFORBIDDEN {
					t.Fatalf("character %d changed to %q: %v; want FORBIDDEN", i, c, err)
				}
			}
		}
	})

	t.Run("any byte changed is refused", func(t *testing.T) {
		raw, err := mediaToken.DecodeString(token)
		if err != nil {
			t.Fatal(err)
		}
		for i := range raw {
			for _, flip := range []byte{0x01, 0x80, 0xff} {
				bad := bytes.Clone(raw)
				bad[i] ^= flip
				if _, err := links.Open(mediaToken.EncodeToString(bad), now); code(err) != EFORBIDDEN {
					t.Fatalf("byte %d ^ %#x: %v; want FORBIDDEN", i, flip, err)
				}
			}
		}
	})

	t.Run("other tokens are refused", func(t *testing.T) {
		other, _ := NewMediaLinks(bytes.Repeat([]byte{8}, 32), "https://apiws.example")
		later := link
		later.Expires = link.Expires.Add(24 * time.Hour)
		raw, _ := mediaToken.DecodeString(token)
		for name, bad := range map[string]string{
			"empty":               "",
			"not base64":          "%%%",
			"cut short":           token[:len(token)-1],
			"too short to be one": mediaToken.EncodeToString(raw[:40]),
			"longer":              token + "A",
			"padded":              token + "==",
			"another secret's":    other.Token(link),
			"all A":               strings.Repeat("A", len(token)),
			"a later expiry with the signature of the first": mediaToken.EncodeToString(append(
				mustDecode(t, links.Token(later))[:len(raw)-32:len(raw)-32], raw[len(raw)-32:]...)),
		} {
			if _, err := links.Open(bad, now); code(err) != EFORBIDDEN {
				t.Errorf("%s: %v; want FORBIDDEN", name, err)
			}
		}
	})

	t.Run("an expired link is refused as expired", func(t *testing.T) {
		if _, err := links.Open(token, now.Add(time.Hour)); code(err) != EEXPIRED {
			t.Fatalf("at its expiry: %v; want EXPIRED", err)
		}
		if _, err := links.Open(token, now.Add(time.Hour-time.Second)); err != nil {
			t.Fatalf("a second before its expiry: %v", err)
		}
	})

	t.Run("the secret key must be 32 bytes", func(t *testing.T) {
		if _, err := NewMediaLinks(secret[:16], ""); err == nil {
			t.Fatal("a 16-byte secret was taken")
		}
	})
}

func mustDecode(t *testing.T, token string) []byte {
	t.Helper()
	b, err := mediaToken.DecodeString(token)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
