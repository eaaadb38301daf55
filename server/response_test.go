package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestResponseWriterStatus(t *testing.T) {
	tests := []struct {
		name       string
		rewrite    func(int) int
		write      func(w http.ResponseWriter)
		wantStatus int // recorded
		wantSent   int
	}{
		{"nothing written", nil, func(http.ResponseWriter) {}, 0, http.StatusOK},
		{"body only", nil, func(w http.ResponseWriter) { w.Write([]byte("x")) }, http.StatusOK, http.StatusOK},
		{"explicit status", nil, func(w http.ResponseWriter) { w.WriteHeader(http.StatusTeapot) }, http.StatusTeapot, http.StatusTeapot},
		{"second status dropped", nil, func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusOK)
		}, http.StatusNotFound, http.StatusNotFound},
		{"rewritten on body", func(int) int { return http.StatusTooManyRequests },
			func(w http.ResponseWriter) { w.Write([]byte("x")) }, http.StatusTooManyRequests, http.StatusTooManyRequests},
		{"rewrite keeps", func(c int) int { return c },
			func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) }, http.StatusAccepted, http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rw := wrapResponse(rec)
			if again := wrapResponse(rw); again != rw {
				t.Fatal("wrapping a responseWriter again made a second one")
			}
			rw.rewrite = tt.rewrite
			tt.write(rw)
			if rw.status != tt.wantStatus {
				t.Errorf("recorded status %d, want %d", rw.status, tt.wantStatus)
			}
			if rec.Code != tt.wantSent {
				t.Errorf("sent status %d, want %d", rec.Code, tt.wantSent)
			}
		})
	}
}

// TestResponseWriterController shows http.ResponseController reaches the
// connection through the wrapper: without Unwrap, Flush and the deadlines
// answer http.ErrNotSupported.
func TestResponseWriterController(t *testing.T) {
	errs := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(wrapResponse(wrapResponse(w)))
		errs <- errors.Join(rc.SetWriteDeadline(time.Now().Add(time.Minute)), rc.Flush())
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-errs; err != nil {
		t.Fatalf("ResponseController through the wrapper: %v", err)
	}
}

func TestResponseWriterHijack(t *testing.T) {
	type result struct {
		status        int
		notified      bool
		writeAfterErr error
		err           error
	}
	results := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := wrapResponse(w)
		rw.hijacked = make(chan struct{})
		conn, _, err := http.NewResponseController(rw).Hijack()
		if err != nil {
			results <- result{err: err}
			return
		}
		defer conn.Close()
		var res result
		res.status = rw.status
		select {
		case <-rw.hijacked:
			res.notified = true
		default:
		}
		_, res.writeAfterErr = rw.Write([]byte("late"))
		conn.Write([]byte("HTTP/1.1 204 No Content\r\n\r\n"))
		results <- res
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	res := <-results
	if res.err != nil {
		t.Fatalf("hijack through the wrapper: %v", res.err)
	}
	if res.status != http.StatusSwitchingProtocols {
		t.Errorf("status after hijack %d, want 101", res.status)
	}
	if !res.notified {
		t.Error("hijack was not notified")
	}
	if !errors.Is(res.writeAfterErr, http.ErrHijacked) {
		t.Errorf("write after hijack: %v, want http.ErrHijacked", res.writeAfterErr)
	}
}

func TestResponseWriterCannotHijack(t *testing.T) {
	rw := wrapResponse(httptest.NewRecorder())
	rw.hijacked = make(chan struct{})
	if _, _, err := rw.Hijack(); err == nil {
		t.Fatal("a recorder was hijacked")
	}
	if rw.status != 0 {
		t.Errorf("status %d after a failed hijack, want 0", rw.status)
	}
	select {
	case <-rw.hijacked:
		t.Error("a failed hijack was notified")
	default:
	}
}
