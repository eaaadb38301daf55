package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// api talks to one apiws through its public HTTP endpoints.
type api struct {
	base    string // http://host:port
	token   string
	http    *http.Client
	metrics string // URL of the server's /metrics, served without credentials
}

func newAPI(base, token string, conns int) *api {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns * 2
	tr.MaxIdleConnsPerHost = conns * 2
	base = strings.TrimSuffix(base, "/")
	return &api{base: base, token: token, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}, metrics: base + "/metrics"}
}

// gqlError is one GraphQL error of a response.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// userError is one entry of a payload's userErrors.
type userError struct {
	Field []string `json:"field"`
	Code  string   `json:"code"`
}

// do runs one GraphQL operation and decodes its data into out; a GraphQL
// error is returned as an error.
func (a *api) do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("HTTP %d, not GraphQL: %.200s", resp.StatusCode, raw)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("graphql: %s (%v)", r.Errors[0].Message, r.Errors[0].Extensions["code"])
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(r.Data, out)
}

const signUpMutation = `mutation($i: SignUpInput!) { signUp(input: $i) { token userErrors { field code } } }`

// signUp makes a new account and returns its session token.
func (a *api) signUp(ctx context.Context, email string) (string, error) {
	var out struct {
		SignUp struct {
			Token      string      `json:"token"`
			UserErrors []userError `json:"userErrors"`
		} `json:"signUp"`
	}
	err := a.do(ctx, signUpMutation, map[string]any{"i": map[string]any{
		"name": "Bench", "email": email, "password": "correct horse battery staple",
		"birthDate": "1990-04-01", "acceptPolicyVersion": "1.0",
	}}, &out)
	if err != nil {
		return "", err
	}
	if out.SignUp.Token == "" {
		return "", fmt.Errorf("signUp refused: %+v", out.SignUp.UserErrors)
	}
	return out.SignUp.Token, nil
}

const connectMutation = `mutation { connectNumber(input: {sandbox: true, label: "bench"}) { number { id } userErrors { field code } } }`

const numberQuery = `query($id: ID!) { node(id: $id) { ... on WhatsAppNumber { status } } }`

// connectSandbox pairs a sandbox number and waits until it is CONNECTED.
func (a *api) connectSandbox(ctx context.Context) (string, error) {
	var out struct {
		ConnectNumber struct {
			Number *struct {
				ID string `json:"id"`
			} `json:"number"`
			UserErrors []userError `json:"userErrors"`
		} `json:"connectNumber"`
	}
	if err := a.do(ctx, connectMutation, nil, &out); err != nil {
		return "", err
	}
	if out.ConnectNumber.Number == nil {
		return "", fmt.Errorf("connectNumber refused: %+v", out.ConnectNumber.UserErrors)
	}
	id := out.ConnectNumber.Number.ID
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var n struct {
			Node struct {
				Status string `json:"status"`
			} `json:"node"`
		}
		if err := a.do(ctx, numberQuery, map[string]any{"id": id}, &n); err != nil {
			return "", err
		}
		if n.Node.Status == "CONNECTED" {
			return id, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("sandbox number %s did not connect within 15s", id)
}

const sendMutation = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { message { id } userErrors { field code } } }`

// send queues one text message and returns its id.
func (a *api) send(ctx context.Context, numberID, to string) (string, error) {
	var out struct {
		SendMessage struct {
			Message *struct {
				ID string `json:"id"`
			} `json:"message"`
			UserErrors []userError `json:"userErrors"`
		} `json:"sendMessage"`
	}
	err := a.do(ctx, sendMutation, map[string]any{"i": map[string]any{"numberId": numberID, "to": to, "text": "apiws-bench"}}, &out)
	if err != nil {
		return "", err
	}
	if out.SendMessage.Message == nil {
		return "", fmt.Errorf("sendMessage refused: %+v", out.SendMessage.UserErrors)
	}
	return out.SendMessage.Message.ID, nil
}

const sendManyMutation = `mutation($is: [SendMessageInput!]!) { sendMessages(inputs: $is) {
  results { message { id } userErrors { field code } } userErrors { field code } } }`

// sendMany calls sendMessages with n messages through numberID, to the
// recipients from the first-th on, and returns how many were accepted.
func (a *api) sendMany(ctx context.Context, numberID string, first, n int) (int, error) {
	var out struct {
		SendMessages struct {
			Results []struct {
				Message *struct {
					ID string `json:"id"`
				} `json:"message"`
				UserErrors []userError `json:"userErrors"`
			} `json:"results"`
			UserErrors []userError `json:"userErrors"`
		} `json:"sendMessages"`
	}
	ins := make([]map[string]any, n)
	for i := range ins {
		ins[i] = map[string]any{"numberId": numberID, "to": recipient(first + i), "text": "apiws-bench"}
	}
	if err := a.do(ctx, sendManyMutation, map[string]any{"is": ins}, &out); err != nil {
		return 0, err
	}
	if len(out.SendMessages.UserErrors) > 0 {
		return 0, fmt.Errorf("sendMessages refused: %+v", out.SendMessages.UserErrors)
	}
	accepted := 0
	for _, r := range out.SendMessages.Results {
		if r.Message == nil {
			return accepted, fmt.Errorf("sendMessages refused an input: %+v", r.UserErrors)
		}
		accepted++
	}
	return accepted, nil
}

// recipient returns the i-th benchmark recipient: a valid number the
// sandbox delivers and reads (never one of its special endings 0000-0003).
func recipient(i int) string {
	return fmt.Sprintf("+1415555%04d", 1000+i%9000)
}

// metric reads one unlabelled sample from /metrics.
func (a *api) metric(ctx context.Context, name string) (float64, error) {
	values, err := a.metricValues(ctx, name)
	if err == nil {
		err = exported(values, name)
	}
	return values[name], err
}

// exported fails unless values hold every one of names.
func exported(values map[string]float64, names ...string) error {
	for _, name := range names {
		if _, ok := values[name]; !ok {
			return fmt.Errorf("/metrics has no %s", name)
		}
	}
	return nil
}

// metricValues reads the first sample of each of the metrics names from
// one scrape of /metrics, so they are taken together; a name the server
// does not export is left out.
func (a *api) metricValues(ctx context.Context, names ...string) (map[string]float64, error) {
	values := map[string]float64{}
	var bad error
	err := a.scrape(ctx, func(line string) {
		for _, name := range names {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				if _, seen := values[name]; !seen {
					f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
					if err != nil && bad == nil {
						bad = fmt.Errorf("%s: %w", name, err)
					}
					values[name] = f
				}
			}
		}
	})
	if err == nil {
		err = bad
	}
	return values, err
}

// scrape hands each line of /metrics to line.
func (a *api) scrape(ctx context.Context, line func(string)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.metrics, nil)
	if err != nil {
		return err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line(sc.Text())
	}
	return sc.Err()
}

// rss returns the server's resident memory in bytes: from /proc when the
// server is a child of this process (pid > 0), else from /metrics.
func (a *api) rss(ctx context.Context, pid int) (float64, error) {
	if pid > 0 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err == nil {
			for line := range strings.SplitSeq(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
					kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
					if err != nil {
						return 0, fmt.Errorf("VmRSS %q: %w", v, err)
					}
					return kb * 1024, nil
				}
			}
			return 0, errors.New("no VmRSS in /proc status")
		}
	}
	return a.metric(ctx, "process_resident_memory_bytes")
}

// publishDelayMetric is the server's histogram of the time from an event's
// at to its publication.
const publishDelayMetric = "apiws_event_publish_delay_seconds"

// histogram is a Prometheus histogram's cumulative bucket counts, by upper
// bound in seconds (+Inf included).
type histogram map[float64]float64

// histogram reads an unlabelled histogram's buckets from /metrics.
func (a *api) histogram(ctx context.Context, name string) (histogram, error) {
	h := histogram{}
	prefix := name + `_bucket{le="`
	err := a.scrape(ctx, func(line string) {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			return
		}
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			return
		}
		bound, err1 := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		n, err2 := strconv.ParseFloat(strings.TrimSpace(count), 64)
		if err1 == nil && err2 == nil {
			h[bound] = n
		}
	})
	if err != nil {
		return nil, err
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("/metrics has no %s", name)
	}
	return h, nil
}

// minus is what was observed between before and h.
func (h histogram) minus(before histogram) histogram {
	out := histogram{}
	for le, n := range h {
		out[le] = n - before[le]
	}
	return out
}

// quantile is the q-quantile, interpolated linearly within its bucket as
// Prometheus' histogram_quantile does; 0 when nothing was observed.
func (h histogram) quantile(q float64) time.Duration {
	bounds := slices.Sorted(maps.Keys(h))
	if len(bounds) == 0 || h[bounds[len(bounds)-1]] == 0 {
		return 0
	}
	rank := q * h[bounds[len(bounds)-1]]
	lower, below := 0.0, 0.0
	for _, le := range bounds {
		if h[le] >= rank {
			if math.IsInf(le, 1) {
				return time.Duration(lower * float64(time.Second)) // past the last bound: its lower edge
			}
			inBucket := h[le] - below
			at := lower
			if inBucket > 0 {
				at += (le - lower) * (rank - below) / inBucket
			}
			return time.Duration(at * float64(time.Second))
		}
		lower, below = le, h[le]
	}
	return 0
}
