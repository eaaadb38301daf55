package webhooks

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Signatures verify with the Standard Webhooks library, each of the two
// of a rotation with its own secret; a changed body does not.
func TestSignatureVerifies(t *testing.T) {
	old, current := newSecret(), newSecret()
	if !strings.HasPrefix(current, "whsec_") || current == old {
		t.Fatalf("secrets %q, %q", old, current)
	}
	oldKey, _ := secretKey(old)
	key, err := secretKey(current)
	if err != nil || len(key) != 32 {
		t.Fatalf("key of %q = %d bytes, %v", current, len(key), err)
	}
	body := []byte(`{"type":"PING","cursor":null,"timestamp":"2026-12-03T16:00:00.000Z","data":{"endpointId":"whe_1"}}`)
	now := time.Now()
	sig := Signature("whd_1", now, body, key, oldKey)
	if n := len(strings.Fields(sig)); n != 2 {
		t.Fatalf("signature %q has %d parts", sig, n)
	}
	h := http.Header{}
	h.Set("webhook-id", "whd_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	for _, s := range []string{current, old} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("verify with %s: %v", s[:10], err)
		}
		if err := wh.Verify(append([]byte(" "), body...), h); err == nil {
			t.Error("a changed body verified")
		}
	}
	other, _ := standardwebhooks.NewWebhook(newSecret())
	if err := other.Verify(body, h); err == nil {
		t.Error("another secret verified")
	}
}

// Secrets are sealed to their endpoint.
func TestSealedSecret(t *testing.T) {
	s, err := newSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	secret := newSecret()
	sealed := s.seal("whe_a", secret)
	if strings.Contains(string(sealed), secret) {
		t.Fatal("the secret is readable in its sealed form")
	}
	if got, err := s.open("whe_a", sealed); err != nil || got != secret {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := s.open("whe_b", sealed); err == nil {
		t.Fatal("a secret opened for another endpoint")
	}
}
