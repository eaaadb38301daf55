package main

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// openTracer returns the tracer provider that exports spans over OTLP/HTTP
// to cfg.OTLPEndpoint (OTEL_EXPORTER_OTLP_ENDPOINT, the standard variable:
// spans go to its /v1/traces), or nil when it is not set: no spans are
// made. close flushes the spans not yet sent.
func openTracer(ctx context.Context, cfg *Config) (tp trace.TracerProvider, close func() error, err error) {
	if cfg.tracer != nil {
		return cfg.tracer, func() error { return nil }, nil
	}
	if cfg.OTLPEndpoint == "" {
		return nil, func() error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.OTLPEndpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("apiws"))),
	)
	return provider, func() error { return provider.Shutdown(context.Background()) }, nil
}
