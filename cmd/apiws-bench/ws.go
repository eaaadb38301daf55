package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// wsClient is one graphql-transport-ws connection.
type wsClient struct {
	conn *websocket.Conn
	wmu  sync.Mutex // gorilla allows one writer at a time
}

// frame is one graphql-transport-ws message.
type frame struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// dialWS opens a websocket to base's /graphql and completes
// connection_init with token.
func dialWS(ctx context.Context, base, token string) (*wsClient, error) {
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 15 * time.Second,
		ReadBufferSize: 2048, WriteBufferSize: 1024}
	conn, _, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", nil)
	if err != nil {
		return nil, err
	}
	c := &wsClient{conn: conn}
	init := map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + token}}
	if err := c.write(init); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		var f frame
		if err := conn.ReadJSON(&f); err != nil {
			conn.Close()
			return nil, fmt.Errorf("waiting for connection_ack: %w", err)
		}
		if f.Type == "connection_ack" {
			break
		}
		if f.Type != "ping" && f.Type != "pong" {
			conn.Close()
			return nil, fmt.Errorf("connection_init answered %q", f.Type)
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	return c, nil
}

func (c *wsClient) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.conn.WriteJSON(v)
}

// subscribe starts operation id.
func (c *wsClient) subscribe(id, query string, vars map[string]any) error {
	return c.write(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
}

func (c *wsClient) close() { _ = c.conn.Close() }

// statusSubscription asks for scalar fields only: a nested field such as
// message would cost a database read per subscriber per event and measure
// that instead of the fan-out.
const statusSubscription = `subscription($after: Cursor) { messageStatus(after: $after) { cursor messageId status at } }`

// eventsSubscription follows the same events on the whole event stream,
// with the same fields.
const eventsSubscription = `subscription($after: Cursor) { events(after: $after) { cursor at ... on MessageStatusEvent { messageId status } } }`

// followed is what the fan-out's subscribers follow: a subscription and
// the field its events come in.
type followed struct{ query, field string }

var (
	followStatus = followed{statusSubscription, "messageStatus"}
	followEvents = followed{eventsSubscription, "events"}
)

// statusEvent is one messageStatus event as a client sees it.
type statusEvent struct {
	Cursor    string `json:"cursor"`
	MessageID string `json:"messageId"`
	Status    string `json:"status"`
	At        string `json:"at"`
}

// stream follows one messageStatus subscription and checks it: cursors
// must count up by one, so a skipped cursor is a missing event and a
// repeated one a duplicate. Its fields are the reading goroutine's until
// done is closed.
type stream struct {
	done     chan struct{}
	received atomic.Int64 // events in order, duplicates left out

	next       int64 // the cursor expected next
	missing    int64
	duplicated int64
	lat        []time.Duration // from the event's at to its arrival
	lastAt     time.Time       // arrival of the last event
	firstEvAt  time.Time       // the at of the first event
	lastEvAt   time.Time       // the at of the last event
	err        error           // why the stream ended, if not closed by us
}

// follow reads c's frames until the connection ends, checking the events of
// operation id, which come in field, against after (the subscription's
// after cursor); onEvent, if set, sees every event too.
func follow(c *wsClient, id, field string, after int64, onEvent func(statusEvent, time.Time)) *stream {
	s := &stream{done: make(chan struct{}), next: after + 1}
	go func() {
		defer close(s.done)
		var msg struct {
			ID      string `json:"id"`
			Type    string `json:"type"`
			Payload struct {
				Data   map[string]statusEvent `json:"data"`
				Errors []gqlError             `json:"errors"`
			} `json:"payload"`
		}
		for {
			_, raw, err := c.conn.ReadMessage()
			if err != nil {
				if !errors.Is(err, websocket.ErrCloseSent) && !isClosedErr(err) {
					s.err = err
				}
				return
			}
			msg.Payload.Errors, msg.Payload.Data = nil, nil
			if err := json.Unmarshal(raw, &msg); err != nil {
				s.err = fmt.Errorf("bad frame %.100s: %w", raw, err)
				return
			}
			now := time.Now()
			switch msg.Type {
			case "ping":
				_ = c.write(map[string]string{"type": "pong"})
				continue
			case "next":
			case "error", "complete":
				s.err = fmt.Errorf("subscription ended with %s: %.200s", msg.Type, raw)
				return
			default:
				continue
			}
			if msg.ID != id {
				continue
			}
			if len(msg.Payload.Errors) > 0 {
				s.err = fmt.Errorf("subscription error: %s", msg.Payload.Errors[0].Message)
				return
			}
			ev := msg.Payload.Data[field]
			s.observe(ev, now)
			if onEvent != nil {
				onEvent(ev, now)
			}
		}
	}()
	return s
}

// observe checks and counts one event.
func (s *stream) observe(ev statusEvent, now time.Time) {
	cursor, err := strconv.ParseInt(ev.Cursor, 10, 64)
	if err != nil {
		s.err = fmt.Errorf("cursor %q is not an integer", ev.Cursor)
		return
	}
	if cursor < s.next {
		s.duplicated++
		return
	}
	if cursor > s.next {
		s.missing += cursor - s.next
	}
	s.next = cursor + 1
	if at, err := time.Parse(time.RFC3339Nano, ev.At); err == nil {
		s.lat = append(s.lat, now.Sub(at))
		if s.firstEvAt.IsZero() {
			s.firstEvAt = at
		}
		s.lastEvAt = at
	}
	s.lastAt = now
	s.received.Add(1)
}

// isClosedErr reports an error that only says we closed the connection.
func isClosedErr(err error) bool {
	return strings.Contains(err.Error(), "use of closed network connection")
}

// waitReceived waits until every stream has received want events, or
// until the deadline; it reports whether all did.
func waitReceived(ctx context.Context, streams []*stream, want int64, deadline time.Time) bool {
	for {
		all := true
		for _, s := range streams {
			if s.received.Load() < want {
				all = false
				break
			}
		}
		if all {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}
