package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// stopLog records, in order, the workers that returned.
type stopLog struct {
	mu      sync.Mutex
	stopped []string
}

func (l *stopLog) add(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = append(l.stopped, name)
}

func (l *stopLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.stopped...)
}

// until is a worker that runs until told to stop, then records it.
func (l *stopLog) until(name string) worker {
	return worker{name: name, run: func(ctx context.Context) error {
		<-ctx.Done()
		l.add(name)
		return nil
	}}
}

func TestWorkersStopStageByStage(t *testing.T) {
	var l stopLog
	ctx, cancel := context.WithCancel(context.Background())
	stopping := make(chan struct{})
	// The HTTP stage takes its time to stop: the flushers must wait for it.
	slowHTTP := worker{name: "http", run: func(ctx context.Context) error {
		<-ctx.Done()
		close(stopping)
		l.add("http")
		return nil
	}}
	flusher := worker{name: "flusher", run: func(ctx context.Context) error {
		<-ctx.Done()
		select {
		case <-stopping:
		default:
			t.Error("the flusher was told to stop before the HTTP stage")
		}
		l.add("flusher")
		return nil
	}}
	done := make(chan error, 1)
	go func() {
		done <- runWorkers(ctx, []worker{slowHTTP}, []worker{l.until("messaging")}, []worker{flusher, l.until("mail")})
	}()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("runWorkers = %v, want nil after ctx ended", err)
	}
	got := l.get()
	if len(got) != 4 || got[0] != "http" || got[1] != "messaging" {
		t.Fatalf("stopped in order %v, want http, messaging, then the flushers", got)
	}
}

func TestAFailingWorkerStopsTheOthersAndIsWaitedFor(t *testing.T) {
	for _, tt := range []struct {
		name string
		run  func(ctx context.Context) error
		want string
	}{
		{"fails", func(context.Context) error { return errors.New("accept tcp: use of closed network connection") }, "http: accept tcp"},
		{"returns early", func(context.Context) error { return nil }, "http: stopped on its own"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var l stopLog
			err := runWorkers(context.Background(), []worker{{name: "http", run: tt.run}}, []worker{l.until("messaging")}, []worker{l.until("call log"), l.until("api key use times")})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("runWorkers = %v, want an error with %q", err, tt.want)
			}
			// Every worker returned before runWorkers did: nothing writes
			// to the database once the caller closes it.
			if got := l.get(); len(got) != 3 || got[0] != "messaging" {
				t.Fatalf("workers stopped: %v, want messaging, then both flushers", got)
			}
		})
	}
}

// TestServeOnABusyAddressLeavesNothingRunning: when the listen fails, serve
// returns its error with nothing of the server left behind (no flusher that
// would write to the closed database).
func TestServeOnABusyAddressLeavesNothingRunning(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	before := goleak.IgnoreCurrent()
	dir := t.TempDir()
	env := map[string]string{
		"APIWS_ADDR":         ln.Addr().String(),
		"APIWS_DATABASE_URL": dir + "/apiws.db",
		"APIWS_MAIL_DIR":     dir + "/mail",
		"APIWS_SECRET_KEY":   testSecretKey,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, nil, func(k string) string { return env[k] }, &strings.Builder{}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("serve on a busy address = %v, want address already in use", err)
	}
	goleak.VerifyNone(t, before)
}
