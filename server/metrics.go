package server

import (
	"context"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/apiws/apiws"
)

// metrics are the server's Prometheus collectors, in a registry of their own
// (no global state).
type metrics struct {
	reg        *prometheus.Registry
	operations *prometheus.CounterVec
	errors     *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	requests   *prometheus.CounterVec
	// rechecks counts websocket credential rechecks run; rechecked is the
	// number of websockets whose credentials are rechecked on a timer.
	rechecks  prometheus.Counter
	rechecked prometheus.Gauge

	mu    sync.Mutex
	names map[string]bool
}

// maxOperationNames bounds the label values clients can create.
const maxOperationNames = 500

var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiws_graphql_operations_total", Help: "GraphQL operations by name and type.",
		}, []string{"operation", "type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiws_graphql_errors_total", Help: "GraphQL operations that ended in an error, by name, type and code.",
		}, []string{"operation", "type", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "apiws_graphql_operation_duration_seconds", Help: "GraphQL operation latency (subscriptions: until the first event).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"operation", "type"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiws_http_requests_total", Help: "HTTP requests by route and status class.",
		}, []string{"route", "status"}),
		rechecks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apiws_ws_auth_rechecks_total", Help: "Credential rechecks of open websockets.",
		}),
		rechecked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apiws_ws_auth_rechecked", Help: "Open websockets whose credentials are rechecked on a timer.",
		}),
		names: map[string]bool{},
	}
	m.reg.MustRegister(m.operations, m.errors, m.latency, m.requests, m.rechecks, m.rechecked,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry lets other packages add their collectors.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// label keeps operation names usable as label values: malformed names and
// names past the cap are counted as "other".
func (m *metrics) label(name string) string {
	if name == "" {
		return "anonymous"
	}
	if !validName.MatchString(name) {
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.names[name] {
		if len(m.names) >= maxOperationNames {
			return "other"
		}
		m.names[name] = true
	}
	return name
}

func (m *metrics) aroundOperations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	name, typ := m.label(op.OperationName), "unknown"
	if op.Operation != nil {
		typ = string(op.Operation.Operation)
		if op.OperationName == "" && op.Operation.Name != "" {
			name = m.label(op.Operation.Name)
		}
	}
	start := time.Now()
	first := true
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if first {
			first = false
			m.operations.WithLabelValues(name, typ).Inc()
			m.latency.WithLabelValues(name, typ).Observe(time.Since(start).Seconds())
		}
		if resp != nil && len(resp.Errors) > 0 {
			code := string(apiws.EINTERNAL)
			if c, ok := resp.Errors[0].Extensions["code"].(string); ok {
				code = c
			}
			m.errors.WithLabelValues(name, typ, code).Inc()
		}
		return resp
	}
}
