package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// sseEvent is one event of a stream: its type ("next", "complete") and its
// data, decoded; or a comment line (a keep-alive), with comment set.
type sseEvent struct {
	name    string
	data    map[string]any
	comment bool
}

// sseStream is the tests' graphql-sse client (distinct connections mode):
// one request, one operation. A goroutine parses the stream's events into
// events; a response that is not a stream is decoded into refused.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	events chan sseEvent
	ctx    context.Context
	cancel context.CancelFunc
	// refused is the JSON body of a response that is not an event stream.
	refused *gqlResponse
}

// sseRequest is an event-stream request of the operation: a POST with a
// JSON body, or with method GET its query parameters.
func sseRequest(t *testing.T, base, method, query string, vars map[string]any) *http.Request {
	t.Helper()
	var req *http.Request
	if method == http.MethodGet {
		q := url.Values{"query": {query}}
		if vars != nil {
			v, _ := json.Marshal(vars)
			q.Set("variables", string(v))
		}
		req, _ = http.NewRequest(http.MethodGet, base+"/graphql?"+q.Encode(), nil)
	} else {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, _ = http.NewRequest(method, base+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "text/event-stream")
	return req
}

// openSSE posts the operation as an event stream with a bearer token ("" for
// none).
func openSSE(t *testing.T, base, token, query string, vars map[string]any) *sseStream {
	t.Helper()
	req := sseRequest(t, base, http.MethodPost, query, vars)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doSSE(t, req)
}

// doSSE sends req and, when it is answered with an event stream, starts
// reading it; the stream is closed when the test ends.
func doSSE(t *testing.T, req *http.Request) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		cancel()
		t.Fatalf("%s /graphql (event stream): %v", req.Method, err)
	}
	s := &sseStream{t: t, resp: resp, events: make(chan sseEvent, 100), ctx: ctx, cancel: cancel}
	t.Cleanup(s.close)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		s.refused = &gqlResponse{Status: resp.StatusCode}
		if err := json.Unmarshal(raw, s.refused); err != nil {
			t.Fatalf("neither an event stream nor JSON (%d, %s): %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
		close(s.events)
		return s
	}
	go s.read()
	return s
}

// read parses the stream as the Server-Sent Events spec says: lines up to
// a blank one make an event; "event:" names it, "data:" lines carry its
// data; a line starting with ":" is a comment.
func (s *sseStream) read() {
	defer close(s.events)
	defer s.resp.Body.Close()
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var name string
	var data []string
	for sc.Scan() {
		line := sc.Text()
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			if name == "" && data == nil {
				continue
			}
			ev := sseEvent{name: name}
			if data != nil {
				if err := json.Unmarshal([]byte(strings.Join(data, "\n")), &ev.data); err != nil {
					ev.data = map[string]any{"unparsed": strings.Join(data, "\n")}
				}
			}
			if !s.emit(ev) {
				return
			}
			name, data = "", nil
		case field == "":
			if !s.emit(sseEvent{comment: true}) {
				return
			}
		case field == "event":
			name = value
		case field == "data":
			data = append(data, value)
		}
	}
}

// emit hands ev to the test; false once the stream is closed.
func (s *sseStream) emit(ev sseEvent) bool {
	select {
	case s.events <- ev:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// next returns the next event, keep-alives aside; it fails the test after
// 10 s or when the stream ends first.
func (s *sseStream) next() sseEvent {
	s.t.Helper()
	if s.refused != nil {
		s.t.Fatalf("the stream was refused: %+v", s.refused)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatal("the event stream ended while an event was awaited")
			}
			if !ev.comment {
				return ev
			}
		case <-timeout:
			s.t.Fatal("no event within 10s")
		}
	}
}

// result returns the data of the next event, which must be a "next"
// event without errors.
func (s *sseStream) result() map[string]any {
	s.t.Helper()
	ev := s.next()
	if ev.name != "next" || ev.data["errors"] != nil {
		s.t.Fatalf("got %s %v; want a next event with data", ev.name, ev.data)
	}
	d, _ := ev.data["data"].(map[string]any)
	return d
}

// failed expects a "next" event with an error, then "complete" and the end
// of the stream, and returns the error's extensions.code.
func (s *sseStream) failed() string {
	s.t.Helper()
	ev := s.next()
	code, _ := get(ev.data, "errors", 0, "extensions", "code").(string)
	if ev.name != "next" || code == "" {
		s.t.Fatalf("got %s %v; want a next event with an error", ev.name, ev.data)
	}
	s.complete()
	return code
}

// complete expects the "complete" event, then the end of the stream.
func (s *sseStream) complete() {
	s.t.Helper()
	if ev := s.next(); ev.name != "complete" {
		s.t.Fatalf("got %s %v; want complete", ev.name, ev.data)
	}
	s.ended(5 * time.Second)
}

// ended waits until the server ends the stream, failing on any event but
// keep-alives before.
func (s *sseStream) ended(within time.Duration) {
	s.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return
			}
			if !ev.comment {
				s.t.Fatalf("event %s %v; want the stream's end", ev.name, ev.data)
			}
		case <-timeout:
			s.t.Fatalf("the stream did not end within %v", within)
		}
	}
}

// close ends the stream from the client's side.
func (s *sseStream) close() { s.cancel() }

// statusEventsSSE reads messageStatus events from an event stream until
// done holds, returning them in order.
func statusEventsSSE(t *testing.T, s *sseStream, done func([]map[string]any) bool) []map[string]any {
	t.Helper()
	var evs []map[string]any
	for !done(evs) {
		evs = append(evs, get(s.result(), "messageStatus").(map[string]any))
	}
	return evs
}
