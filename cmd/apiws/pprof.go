package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof serves net/http/pprof on addr, a loopback listener of its own
// apart from the API, until ctx ends. The returned channel is closed once
// the listener has stopped.
func servePprof(ctx context.Context, addr string, log *slog.Logger) (<-chan struct{}, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	done, _, err := serveAside(ctx, "pprof", addr, mux, log)
	return done, err
}

// serveMetrics serves /metrics without credentials on addr, a listener of
// its own apart from the API (APIWS_METRICS_ADDR), until ctx ends, and
// prints where.
func serveMetrics(ctx context.Context, addr string, metrics http.Handler, log *slog.Logger, stdout io.Writer) (<-chan struct{}, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	done, at, err := serveAside(ctx, "metrics", addr, mux, log)
	if err == nil {
		fmt.Fprintf(stdout, "apiws metrics on http://%s/metrics\n", at)
	}
	return done, err
}

// serveAside serves h on a listener of its own at addr until ctx ends (what
// is in progress then is cut short: these are for operators' tools). The
// returned channel is closed once the listener has stopped.
func serveAside(ctx context.Context, name, addr string, h http.Handler, log *slog.Logger) (<-chan struct{}, net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	log.Info(name+" listening", "addr", ln.Addr().String())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(name, "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	return done, ln.Addr(), nil
}
