package server

import (
	"context"
	"net/http"
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
	// sseStreams is the number of open event streams (graphql-sse), each
	// rechecked on a timer; sseRechecks counts their rechecks.
	sseStreams  prometheus.Gauge
	sseRechecks prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiws_graphql_operations_total", Help: "GraphQL operations by type.",
		}, []string{"type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiws_graphql_errors_total", Help: "GraphQL operations that ended in an error, by type and code.",
		}, []string{"type", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "apiws_graphql_operation_duration_seconds", Help: "GraphQL operation latency (subscriptions: until the first event).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"type"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiws_http_requests_total", Help: "HTTP requests by route and status class.",
		}, []string{"route", "status"}),
		rechecks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apiws_ws_auth_rechecks_total", Help: "Credential rechecks of open websockets.",
		}),
		rechecked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apiws_ws_auth_rechecked", Help: "Open websockets whose credentials are rechecked on a timer.",
		}),
		sseStreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apiws_sse_streams", Help: "Open GraphQL event streams (graphql-sse), whose credentials are rechecked on a timer.",
		}),
		sseRechecks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apiws_sse_auth_rechecks_total", Help: "Credential rechecks of open GraphQL event streams.",
		}),
	}
	m.reg.MustRegister(m.operations, m.errors, m.latency, m.requests, m.rechecks, m.rechecked, m.sseStreams, m.sseRechecks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry lets other packages add their collectors.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// MetricsHandler serves the metrics without credentials, for a listener of
// their own (Config.MetricsAside).
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler() }

// metricsForOperators serves the metrics on the main port to operator
// keys only.
func (s *Server) metricsForOperators() http.Handler {
	h := s.metrics.handler()
	return s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := apiws.RequireOperator(r.Context()); err != nil {
			s.writeError(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// Labels are never chosen by clients: operations are counted by type (the
// schema's three), errors by code, known codes only.
var (
	operationTypes = map[string]bool{"query": true, "mutation": true, "subscription": true}
	errorCodes     = map[string]bool{
		"GRAPHQL_PARSE_FAILED": true, "GRAPHQL_VALIDATION_FAILED": true,
		string(apiws.EUNAUTHENTICATED): true, string(apiws.EFORBIDDEN): true, string(apiws.ERATELIMITED): true,
		string(apiws.ECOMPLEXITY): true, string(apiws.EBADREQUEST): true, string(apiws.EUNAVAILABLE): true,
		string(apiws.EINTERNAL): true,
	}
)

// bounded returns v when it is one of known, else "other".
func bounded(v string, known map[string]bool) string {
	if known[v] {
		return v
	}
	return "other"
}

func (m *metrics) aroundOperations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	typ := "other"
	if op.Operation != nil {
		typ = bounded(string(op.Operation.Operation), operationTypes)
	}
	start := time.Now()
	first := true
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if first {
			first = false
			m.operations.WithLabelValues(typ).Inc()
			m.latency.WithLabelValues(typ).Observe(time.Since(start).Seconds())
		}
		if resp != nil && len(resp.Errors) > 0 {
			code := string(apiws.EINTERNAL)
			if c, ok := resp.Errors[0].Extensions["code"].(string); ok {
				code = c
			}
			m.errors.WithLabelValues(typ, bounded(code, errorCodes)).Inc()
		}
		return resp
	}
}
