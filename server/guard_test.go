package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/usage"
)

// A body dripped slowly held a request open for over 70 s: the server now
// stops reading at its read deadline and answers 408; also when the request
// claims a websocket upgrade (a POST is no websocket).
func TestSlowBodyMeetsTheReadDeadline(t *testing.T) {
	for _, tt := range []struct{ name, headers string }{
		{"plain", ""},
		{"with websocket upgrade headers", "Connection: Upgrade\r\nUpgrade: websocket\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(newTestServer(t, Config{ReadTimeout: 100 * time.Millisecond}))
			defer ts.Close()
			conn, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// The headers and the first byte of a 1,000-byte body, then nothing.
			fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", tt.headers)
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer while the body was incomplete: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("HTTP %d, want 408", resp.StatusCode)
			}
		})
	}
}

// fakeClock is a time the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// IPv6 addresses of one /64 are one client: failing from one and trying
// from another does not step around the block.
func TestFailedTokensBlockTheIPv6Network(t *testing.T) {
	f := newTokenFailures(usage.NewMemoryLimiter())
	for i := 0; i <= failedTokenLimit.Burst; i++ {
		f.failed(context.Background(), fmt.Sprintf("2001:db8:1:2::%x", i+1))
	}
	if err := f.blocked("2001:db8:1:2::ffff"); apiws.ErrorCodeOf(err) != apiws.ERATELIMITED {
		t.Fatalf("another address of the same /64: %v, want RATE_LIMITED", err)
	}
	if err := f.blocked("2001:db8:1:3::1"); err != nil {
		t.Fatalf("another /64 is blocked: %v", err)
	}
}

func TestFailedTokensBlockTheAddressForAWhile(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	f := newTokenFailures(usage.NewMemoryLimiter())
	f.now = clock.now
	for i := 0; i < failedTokenLimit.Burst; i++ {
		if err := f.blocked("192.0.2.1"); err != nil {
			t.Fatalf("failure %d already blocked: %v", i, err)
		}
		f.failed(context.Background(), "192.0.2.1")
	}
	if err := f.blocked("192.0.2.1"); err != nil {
		t.Fatalf("blocked at the burst: %v", err)
	}
	f.failed(context.Background(), "192.0.2.1") // one past the burst
	err := f.blocked("192.0.2.1")
	var ae *apiws.Error
	if !asError(err, &ae) || ae.Code != apiws.ERATELIMITED || ae.RetryAfter <= 0 || ae.RetryAfter > time.Second {
		t.Fatalf("past the burst: %v", err)
	}
	if err := f.blocked("192.0.2.2"); err != nil {
		t.Fatalf("another address is blocked: %v", err)
	}
	clock.t = clock.t.Add(ae.RetryAfter)
	if err := f.blocked("192.0.2.1"); err != nil {
		t.Fatalf("still blocked after the wait: %v", err)
	}
}

func asError(err error, target **apiws.Error) bool { return errors.As(err, target) }
