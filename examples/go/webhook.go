package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// webhookReceiver serves the webhook endpoint: it verifies each delivery's
// signature with the Standard Webhooks library, drops duplicates by
// webhook-id, and tells when a message's READ has arrived.
type webhookReceiver struct {
	URL    string
	server *http.Server

	mu   sync.Mutex
	hook *standardwebhooks.Webhook
	seen map[string]bool          // webhook-id
	read map[string]chan struct{} // message id -> closed on READ
}

func startWebhookReceiver() (*webhookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &webhookReceiver{URL: "http://" + ln.Addr().String() + "/webhooks", seen: map[string]bool{}, read: map[string]chan struct{}{}}
	r.server = &http.Server{Handler: r}
	go func() { _ = r.server.Serve(ln) }()
	return r, nil
}

// SetSecret sets the endpoint's secret (whsec_...), known once the
// endpoint is made.
func (r *webhookReceiver) SetSecret(secret string) error {
	hook, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return fmt.Errorf("webhook secret: %w", err)
	}
	r.mu.Lock()
	r.hook = hook
	r.mu.Unlock()
	return nil
}

// Read returns a channel closed once a verified delivery says message id
// is READ.
func (r *webhookReceiver) Read(id string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readLocked(id)
}

func (r *webhookReceiver) readLocked(id string) chan struct{} {
	ch, ok := r.read[id]
	if !ok {
		ch = make(chan struct{})
		r.read[id] = ch
	}
	return ch
}

func (r *webhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hook == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	if err := r.hook.Verify(body, req.Header); err != nil {
		fmt.Printf("webhook REJECTED %s: %v\n", req.Header.Get("webhook-id"), err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	id := req.Header.Get("webhook-id")
	if r.seen[id] {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	r.seen[id] = true
	var delivery struct {
		Type   string `json:"type"`
		Cursor string `json:"cursor"`
		Data   struct {
			MessageID string `json:"messageId"`
			Status    string `json:"status"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &delivery); err != nil {
		http.Error(w, "not JSON", http.StatusBadRequest)
		return
	}
	fmt.Printf("webhook verified %s %s %s (cursor %s)\n", delivery.Type, delivery.Data.MessageID, delivery.Data.Status, delivery.Cursor)
	if delivery.Type == "MESSAGE_STATUS" && delivery.Data.Status == "READ" {
		ch := r.readLocked(delivery.Data.MessageID)
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// Close stops the receiver.
func (r *webhookReceiver) Close() error { return r.server.Close() }
