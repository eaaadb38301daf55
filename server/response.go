package server

import (
	"bufio"
	"errors"
	"net"
	"net/http"
)

// responseWriter is the one wrapper of a handler's http.ResponseWriter. It
// records the status written (101 once the connection is hijacked), may
// change the status before it goes out (a rate-limit refusal becomes 429),
// tells when the connection is hijacked and lets go of the response then.
// Unwrap lets http.ResponseController and the websocket upgrader reach the
// writer beneath.
//
// The middlewares share one per request: wrapResponse hands back the one
// already there, and each sets what it needs.
type responseWriter struct {
	http.ResponseWriter
	// status is the first status written; 0 until one is.
	status int
	// rewrite, when set, may change the first status before it is sent.
	rewrite func(code int) int
	// hijacked, when set, is closed once the connection is hijacked; the
	// response is let go of then (gqlgen keeps its writer until the
	// websocket session ends, and through it the HTTP connection's buffers).
	hijacked chan struct{}
}

// wrapResponse returns w if it is a responseWriter already, or wraps it in
// one.
func wrapResponse(w http.ResponseWriter) *responseWriter {
	if rw, ok := w.(*responseWriter); ok {
		return rw
	}
	return &responseWriter{ResponseWriter: w}
}

// WriteHeader sends the first status, rewritten if asked; a second call
// would only be logged by net/http as superfluous, so it is dropped.
func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	if w.rewrite != nil {
		code = w.rewrite(code)
	}
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer beneath.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to the websocket upgrader.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the response writer cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.status = http.StatusSwitchingProtocols
	if w.hijacked != nil {
		w.ResponseWriter = hijackedWriter{}
		close(w.hijacked)
	}
	return conn, rw, nil
}

// hijackedWriter stands for a response whose connection was hijacked:
// nothing can be written to it any more.
type hijackedWriter struct{}

func (hijackedWriter) Header() http.Header { return http.Header{} }

func (hijackedWriter) Write([]byte) (int, error) { return 0, http.ErrHijacked }

func (hijackedWriter) WriteHeader(int) {}
