// Package stripemock runs stripe-mock, Stripe's official mock of its API,
// for tests: `go install github.com/stripe/stripe-mock@v0.203.0` (the
// test script installs it when missing).
package stripemock

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// Key is a secret key stripe-mock accepts.
const Key = "sk_test_123"

// path finds the stripe-mock program: on PATH, or where go install puts it.
func path() (string, error) {
	p, err := exec.LookPath("stripe-mock")
	if err == nil {
		return p, nil
	}
	gobin := os.Getenv("GOBIN")
	if gobin == "" {
		out, gerr := exec.Command("go", "env", "GOPATH").Output()
		if gerr != nil {
			return "", err
		}
		gobin = filepath.Join(string(out[:len(out)-1]), "bin")
	}
	p = filepath.Join(gobin, "stripe-mock")
	if _, serr := os.Stat(p); serr != nil {
		return "", err
	}
	return p, nil
}

var listening = regexp.MustCompile(`Listening for HTTP at address: (\S+)`)

// Start runs stripe-mock on a free local port until the test ends and
// returns its URL.
func Start(tb testing.TB) string {
	tb.Helper()
	p, err := path()
	if err != nil {
		tb.Fatalf("stripe-mock is needed (go install github.com/stripe/stripe-mock@v0.203.0, or run scripts/test.sh): %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, p, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatalf("start stripe-mock: %v", err)
	}
	tb.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(30 * time.Second):
		tb.Fatal("stripe-mock did not say where it listens within 30s")
		return ""
	}
}
