package webhooks

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/apiws/apiws"
)

// EventData renders the data of logged events' webhook bodies, in their
// order: every field of each one's GraphQL event type by its GraphQL name,
// content from transit while it is held. The events are of one account.
// eventlog.Log is the one apiws uses.
type EventData interface {
	EventData(ctx context.Context, evs []*apiws.LogEvent) ([]json.RawMessage, error)
}

func formatTime(t time.Time) string { return t.UTC().Format(apiws.TimeLayout) }

// body is a delivery's JSON body.
type body struct {
	Type      apiws.EventType `json:"type"`
	Cursor    *string         `json:"cursor"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// eventBody is the body of a delivery of ev.
func eventBody(ev *apiws.LogEvent, data json.RawMessage) ([]byte, error) {
	c := strconv.FormatInt(ev.Seq, 10)
	return json.Marshal(body{Type: ev.Type, Cursor: &c, Timestamp: formatTime(ev.At), Data: data})
}

// pingBody is the body of a PING to the endpoint, sent at now.
func pingBody(endpointID string, now time.Time) ([]byte, error) {
	data, err := json.Marshal(map[string]string{"endpointId": endpointID})
	if err != nil {
		return nil, err
	}
	return json.Marshal(body{Type: apiws.EventTypePing, Timestamp: formatTime(now), Data: data})
}

// bodyCache keeps the bodies of recent events, so an event delivered to
// several endpoints is rendered once. It holds at most size bodies, each
// for at most ttl (bodies may hold transit content).
type bodyCache struct {
	size int
	ttl  time.Duration
	mu   sync.Mutex
	m    map[eventKey]cachedBody
	// order is the keys in insertion order, the oldest evicted first.
	order []eventKey
}

type eventKey struct {
	account string
	seq     int64
}

type cachedBody struct {
	body []byte
	at   time.Time
}

func newBodyCache(size int, ttl time.Duration) *bodyCache {
	return &bodyCache{size: size, ttl: ttl, m: map[eventKey]cachedBody{}}
}

func (c *bodyCache) get(k eventKey, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[k]
	if !ok || now.Sub(b.at) > c.ttl {
		return nil, false
	}
	return b.body, true
}

func (c *bodyCache) put(k eventKey, body []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok {
		c.order = append(c.order, k)
	}
	c.m[k] = cachedBody{body: body, at: now}
	for len(c.order) > 0 && (len(c.order) > c.size || now.Sub(c.m[c.order[0]].at) > c.ttl) {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
}
