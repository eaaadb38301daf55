package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// serveWith runs serve with cfg in this process and returns its base URL;
// it stops when the test ends.
func serveWith(t *testing.T, cfg *Config) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{lines: make(chan string, 16)}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	})
	select {
	case line := <-out.lines:
		addr, ok := strings.CutPrefix(line, "apiws listening on ")
		if !ok {
			t.Fatalf("unexpected first line %q", line)
		}
		waitHealthy(t, addr)
		return addr
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start within 20s")
	}
	return ""
}

// spansNamed returns the ended spans named name whose attributes include
// want.
func spansNamed(exp *tracetest.InMemoryExporter, name string, want ...attribute.KeyValue) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name != name {
			continue
		}
		has := 0
		for _, w := range want {
			for _, a := range s.Attributes {
				if a == w {
					has++
					break
				}
			}
		}
		if has == len(want) {
			out = append(out, s)
		}
	}
	return out
}

func TestTracing(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	env := serverEnv(t, map[string]string{"APIWS_ALLOW_PRIVATE_URLS": "true", "APIWS_RATE_LIMIT_PER_SECOND": "1000"})
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.tracer = tp
	base := serveWith(t, cfg)

	token, _ := signUp(t, base, "tracing@example.com")
	num := connectedNumber(t, base, token)
	hooks := newHookReceiver(t, nil)
	hooks.createEndpoint(t, base, token, "/traced", map[string]any{"types": []string{"MESSAGE_STATUS"}})
	id := send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "traced"})
	eventually(t, "the READ delivery", 20*time.Second, func() bool {
		for _, h := range hooks.of("/traced") {
			if h.Body.Data["messageId"] == id && h.Body.Data["status"] == "READ" {
				return true
			}
		}
		return false
	})

	t.Run("an operation and its resolvers", func(t *testing.T) {
		var fields []tracetest.SpanStub
		eventually(t, "the sendMessage spans", 5*time.Second, func() bool {
			fields = spansNamed(exp, "Mutation.sendMessage", attribute.String("graphql.field.path", "sendMessage"))
			return len(fields) == 1
		})
		var op *tracetest.SpanStub
		for _, s := range spansNamed(exp, "graphql.mutation", attribute.String("graphql.operation.type", "mutation")) {
			if s.SpanContext.SpanID() == fields[0].Parent.SpanID() {
				op = &s
			}
		}
		if op == nil {
			t.Fatal("Mutation.sendMessage has no graphql.mutation span as its parent")
		}
		if op.EndTime.Before(fields[0].EndTime) {
			t.Fatal("the operation's span ended before its resolver's")
		}
		// A plain field of a struct costs no span.
		if n := len(spansNamed(exp, "Message.status")); n != 0 {
			t.Fatalf("%d spans of Message.status", n)
		}
	})
	t.Run("the dispatcher's send", func(t *testing.T) {
		sends := spansNamed(exp, "whatsapp.send", attribute.String("apiws.message.id", id), attribute.String("apiws.number.id", num),
			attribute.Bool("apiws.number.sandbox", true))
		if len(sends) != 1 || sends[0].Status.Code != 0 {
			t.Fatalf("whatsapp.send spans of %s: %+v", id, sends)
		}
	})
	t.Run("webhook deliveries", func(t *testing.T) {
		var ok []tracetest.SpanStub
		eventually(t, "the delivery spans", 5*time.Second, func() bool {
			ok = spansNamed(exp, "webhook.deliver", attribute.String("apiws.event.type", "MESSAGE_STATUS"), attribute.Int("http.response.status_code", 200))
			return len(ok) >= 4 // QUEUED, SENT, DELIVERED, READ
		})
	})
}

func TestTracingExportsOverOTLP(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" {
			if body, _ := io.ReadAll(r.Body); len(body) > 0 {
				posts.Add(1)
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(collector.Close)
	// Registered before the server, so it runs once the server has
	// stopped and flushed its spans.
	t.Cleanup(func() {
		if posts.Load() == 0 {
			t.Error("no spans reached the OTLP endpoint")
		}
	})
	base := startServer(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL})
	if r := gql(t, base, "", `query Policy { privacyPolicy { version } }`, nil); str(r.Data, "privacyPolicy", "version") != "1.0" {
		t.Fatalf("privacyPolicy = %+v", r)
	}
}

func TestTracingIsOffWithoutAnEndpoint(t *testing.T) {
	tp, closeTracer, err := openTracer(context.Background(), &Config{})
	if err != nil || tp != nil {
		t.Fatalf("openTracer without an endpoint = %v, %v; want no provider", tp, err)
	}
	if err := closeTracer(); err != nil {
		t.Fatal(err)
	}
}
