package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofWorker serves net/http/pprof on ln, a loopback listener of its own
// apart from the API.
func pprofWorker(ln net.Listener, log *slog.Logger) worker {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return asideWorker("pprof", ln, mux, log)
}

// metricsWorker serves /metrics without credentials on ln, a listener of
// its own apart from the API (APIWS_METRICS_ADDR).
func metricsWorker(ln net.Listener, metrics http.Handler, log *slog.Logger) worker {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	return asideWorker("metrics", ln, mux, log)
}

// asideWorker serves h on a listener of its own. What is in progress at
// shutdown is cut short: these are for operators' tools.
func asideWorker(name string, ln net.Listener, h http.Handler, log *slog.Logger) worker {
	log.Info(name+" listening", "addr", ln.Addr().String())
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	return httpWorker(name, hs, ln, 0, nil)
}
