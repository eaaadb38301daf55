package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// hookReceiver is the webhook scenario's endpoint, on loopback: it answers
// 204 at once and records every delivery: its arrival, its path, its
// webhook-id, and its body (kept for the bare client to post again).
type hookReceiver struct {
	url  string
	srv  *http.Server
	mu   sync.Mutex
	got  map[string][]hookDelivery // by path, in arrival order
	seen map[string]bool           // webhook-ids
	dups int64
	// latency is arrival − the event's time (the body's timestamp).
	latency     latencies
	count       atomic.Int64
	first, last time.Time
}

type hookDelivery struct {
	id   string
	body []byte
}

func startHookReceiver() (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &hookReceiver{url: "http://" + ln.Addr().String(), got: map[string][]hookDelivery{}, seen: map[string]bool{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *hookReceiver) close() { _ = r.srv.Close() }

// reset forgets what was received, for the next run.
func (r *hookReceiver) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got, r.seen, r.dups = map[string][]hookDelivery{}, map[string]bool{}, 0
	r.latency = latencies{}
	r.count.Store(0)
	r.first, r.last = time.Time{}, time.Time{}
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	now := time.Now()
	id := req.Header.Get("webhook-id")
	var b struct {
		Timestamp string `json:"timestamp"`
	}
	_ = json.Unmarshal(body, &b)
	at, terr := time.Parse(time.RFC3339Nano, b.Timestamp)
	r.mu.Lock()
	if r.seen[id] {
		r.dups++
	} else {
		r.seen[id] = true
		r.got[req.URL.Path] = append(r.got[req.URL.Path], hookDelivery{id, body})
	}
	if r.first.IsZero() {
		r.first = now
	}
	r.last = now
	r.mu.Unlock()
	if terr == nil {
		r.latency.add(now.Sub(at))
	}
	r.count.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

// rate is deliveries per second from the first arrival to the last.
func (r *hookReceiver) rate() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if span := r.last.Sub(r.first).Seconds(); span > 0 {
		return float64(r.count.Load()) / span
	}
	return 0
}

// webhookDeliveries is how many deliveries each webhook run aims at.
func (b *bench) webhookDeliveries() int {
	if b.opts.smoke {
		return 200
	}
	return 8000
}

// webhooksScenario measures apiws's webhook deliveries to n endpoints on
// one loopback receiver against a bare Go client posting the same signed
// bodies to the same receiver, one sequence per endpoint as apiws does.
func (b *bench) webhooksScenario(ctx context.Context, recv *hookReceiver, n int) error {
	// An account has at most 10 endpoints: n of them take new accounts of
	// up to 10, each with a number of its own and the same messages.
	type sender struct {
		api    *api
		number string
	}
	var senders []sender
	for i := 0; i < n; i += 10 {
		a := newAPI(b.api.base, "", b.opts.clients+8)
		token, err := a.signUp(ctx, "bench-hooks-"+randomHex(4)+"@example.com")
		if err != nil {
			return err
		}
		a.token = token
		numberID, err := a.connectSandbox(ctx)
		if err != nil {
			return err
		}
		for j := i; j < min(i+10, n); j++ {
			if err := a.createWebhook(ctx, fmt.Sprintf("%s/e%d", recv.url, j), numberID); err != nil {
				return err
			}
		}
		senders = append(senders, sender{a, numberID})
	}
	messages := max(1, b.webhookDeliveries()/(eventsPerMessage*n))
	want := int64(messages * eventsPerMessage * n)
	recv.reset()
	b.logf("webhooks: %d endpoints, %d messages per account (%d deliveries)", n, messages, want)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range b.opts.clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > messages*len(senders) || ctx.Err() != nil {
					return
				}
				s := senders[i%len(senders)]
				if _, err := s.api.send(ctx, s.number, recipient(i)); err != nil && ctx.Err() == nil {
					b.report.fail("webhooks: sendMessage: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(b.opts.fanoutWait)
	for recv.count.Load() < want && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	got, rate := recv.count.Load(), recv.rate()
	p50, p99 := recv.latency.quantile(0.5), recv.latency.quantile(0.99)
	recv.mu.Lock()
	bodies, dups := recv.got, recv.dups
	recv.mu.Unlock()
	if got < want {
		b.report.fail("webhooks %d: %d of %d deliveries arrived", n, got, want)
	}

	b.logf("webhooks: the bare client posts the same %d bodies", got)
	recv.reset()
	bare, err := postBodies(ctx, recv.url, bodies)
	if err != nil {
		return err
	}
	bareRate := recv.rate()
	scen := fmt.Sprintf("webhooks %d", n)
	b.add(figure{Scenario: scen, Name: "delivered", Value: rate, Unit: "deliveries/s",
		Baseline: "bare Go client, same bodies", BaselineValue: bareRate,
		Note: fmt.Sprintf("%d status events to each of %d endpoints; the client posts one sequence per endpoint", messages*eventsPerMessage, n)})
	for _, q := range []float64{0.5, 0.99} {
		v := p50
		if q == 0.99 {
			v = p99
		}
		b.add(figure{Scenario: scen, Name: fmt.Sprintf("latency event → receipt p%.0f", q*100), Value: ms(v), Unit: "ms",
			Baseline: fmt.Sprintf("bare client: one POST p%.0f", q*100), BaselineValue: ms(bare.quantile(q))})
	}
	b.add(figure{Scenario: scen, Name: "duplicated deliveries", Value: float64(dups), Target: "0", Met: dups == 0})
	return nil
}

// postBodies posts the bodies, signed as apiws signs them, to the
// receiver: one goroutine per path, each in order; it returns the latency
// of each POST.
func postBodies(ctx context.Context, base string, bodies map[string][]hookDelivery) (*latencies, error) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(bodies)}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	l := &latencies{}
	var wg sync.WaitGroup
	var failed atomic.Value
	for path, ds := range bodies {
		wg.Go(func() {
			var lat []time.Duration
			for _, d := range ds {
				start := time.Now()
				if err := postSigned(ctx, client, base+path, d, key, start); err != nil {
					failed.Store(err)
					return
				}
				lat = append(lat, time.Since(start))
			}
			l.merge(lat)
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return nil, fmt.Errorf("bare webhook client: %w", err)
	}
	return l, nil
}

func postSigned(ctx context.Context, client *http.Client, url string, d hookDelivery, key []byte, now time.Time) error {
	ts := strconv.FormatInt(now.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(d.id + "." + ts + "."))
	mac.Write(d.body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.body))
	if err != nil {
		return err
	}
	req.Header.Set("content-type", "application/json")
	req.Header.Set("webhook-id", d.id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	return resp.Body.Close()
}

const createWebhookMutation = `mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) {
  webhookEndpoint { id } userErrors { field code } } }`

// createWebhook makes an endpoint at url for the number's MESSAGE_STATUS
// events.
func (a *api) createWebhook(ctx context.Context, url, numberID string) error {
	var out struct {
		CreateWebhookEndpoint struct {
			WebhookEndpoint *struct {
				ID string `json:"id"`
			} `json:"webhookEndpoint"`
			UserErrors []userError `json:"userErrors"`
		} `json:"createWebhookEndpoint"`
	}
	err := a.do(ctx, createWebhookMutation, map[string]any{"i": map[string]any{
		"url": url, "types": []string{"MESSAGE_STATUS"}, "numberIds": []string{numberID}}}, &out)
	if err != nil {
		return err
	}
	if out.CreateWebhookEndpoint.WebhookEndpoint == nil {
		return fmt.Errorf("createWebhookEndpoint refused: %+v", out.CreateWebhookEndpoint.UserErrors)
	}
	return nil
}
