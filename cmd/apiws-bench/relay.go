package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
)

// relay is the fan-out baseline: the least a Redis → websocket relay does.
// One Redis subscription; each message is framed once and the same bytes
// are queued to every client, which a goroutine per client writes out.
type relay struct {
	rdb     *redis.Client
	ps      *redis.PubSub
	channel string
	srv     *http.Server
	base    string
	buffer  int

	mu    sync.Mutex
	conns map[*relayConn]struct{}
	ready atomic.Int64 // clients subscribed
	drops atomic.Int64 // frames not queued to a full client
	wg    sync.WaitGroup
}

type relayConn struct {
	conn *websocket.Conn
	out  chan []byte
}

// startRelay listens on a loopback port; buffer bounds each client's queue.
func startRelay(ctx context.Context, redisURL string, buffer int) (*relay, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, err
	}
	r := &relay{rdb: redis.NewClient(opts), channel: "apiws-bench:relay:" + randomHex(6), buffer: buffer, conns: map[*relayConn]struct{}{}}
	r.ps = r.rdb.Subscribe(ctx, r.channel)
	if _, err := r.ps.Receive(ctx); err != nil { // the subscription's confirmation
		r.rdb.Close()
		return nil, fmt.Errorf("relay: subscribe: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.rdb.Close()
		return nil, err
	}
	r.base = "http://" + ln.Addr().String()
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serveWS), ReadHeaderTimeout: 10 * time.Second}
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		_ = r.srv.Serve(ln)
	}()
	go func() {
		defer r.wg.Done()
		r.forward(r.ps.Channel(redis.WithChannelSize(buffer)))
	}()
	return r, nil
}

var relayUpgrader = websocket.Upgrader{
	Subprotocols: []string{"graphql-transport-ws"}, ReadBufferSize: 1024, WriteBufferSize: 2048,
	CheckOrigin: func(*http.Request) bool { return true },
}

// serveWS speaks just enough graphql-transport-ws: ack the init, take the
// subscribe, then stream.
func (r *relay) serveWS(w http.ResponseWriter, req *http.Request) {
	conn, err := relayUpgrader.Upgrade(w, req, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	var f frame
	if conn.ReadJSON(&f) != nil || f.Type != "connection_init" {
		return
	}
	if conn.WriteJSON(frame{Type: "connection_ack"}) != nil {
		return
	}
	if conn.ReadJSON(&f) != nil || f.Type != "subscribe" {
		return
	}
	c := &relayConn{conn: conn, out: make(chan []byte, r.buffer)}
	r.mu.Lock()
	r.conns[c] = struct{}{}
	r.mu.Unlock()
	r.ready.Add(1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
	}()
	for {
		select {
		case b := <-c.out:
			if conn.WriteMessage(websocket.TextMessage, b) != nil {
				return
			}
		case <-done:
			return
		}
	}
}

// forward frames each Redis message once and queues it to every client.
func (r *relay) forward(msgs <-chan *redis.Message) {
	for m := range msgs {
		b := []byte(`{"id":"s","type":"next","payload":{"data":{"messageStatus":` + m.Payload + `}}}`)
		r.mu.Lock()
		for c := range r.conns {
			select {
			case c.out <- b:
			default:
				r.drops.Add(1)
			}
		}
		r.mu.Unlock()
	}
}

func (r *relay) close() {
	_ = r.srv.Close()
	_ = r.ps.Close()
	r.wg.Wait()
	_ = r.rdb.Close()
}

// relayFanout runs the relay baseline with n clients and the same number
// of events per client as the apiws fan-out, published at rate events/s
// (as fast as Redis takes them when 0).
func (b *bench) relayFanout(ctx context.Context, n int, events int64, rate float64) (*fanoutResult, error) {
	r, err := startRelay(ctx, b.opts.redisURL, int(events)+16)
	if err != nil {
		return nil, err
	}
	defer r.close()
	clients, streams, err := subscribers(ctx, r.base, "", followStatus, n, 0)
	if err != nil {
		return nil, err
	}
	for r.ready.Load() < int64(n) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	res := &fanoutResult{subscribers: n, events: events}
	start := time.Now()
	for i := int64(1); i <= events && ctx.Err() == nil; i++ {
		if rate > 0 {
			if wait := time.Until(start.Add(time.Duration(float64(i-1) / rate * float64(time.Second)))); wait > 0 {
				time.Sleep(wait)
			}
		}
		payload := `{"cursor":"` + strconv.FormatInt(i, 10) + `","messageId":"msg_bench","status":"SENT","at":"` +
			time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"}`
		if err := r.rdb.Publish(ctx, r.channel, payload).Err(); err != nil {
			closeAll(clients, streams)
			return nil, fmt.Errorf("relay: publish: %w", err)
		}
	}
	waitReceived(ctx, streams, events, time.Now().Add(b.opts.fanoutWait))
	collect(res, start, clients, streams)
	if d := r.drops.Load(); d > 0 {
		b.report.note("relay baseline with %d clients dropped %d frames (client queue full)", n, d)
	}
	return res, nil
}
