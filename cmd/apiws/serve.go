package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/accounts"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/graph/generated"
	"github.com/apiws/apiws/resolvers"
	"github.com/apiws/apiws/server"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/usage"
)

// serve runs the server until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) error {
	if err := cfg.ensureSecretKey(); err != nil {
		return err
	}
	db, err := storage.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}

	ready := map[string]server.Pinger{"database": db}
	var bus events.Bus
	var limiter apiws.Limiter = usage.NewMemoryLimiter()
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("APIWS_REDIS_URL: %w", err)
		}
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		limiter = usage.NewRedisLimiter(rdb, "apiws:rl:")
		rbus := events.NewRedis(rdb, events.Options{})
		bus = rbus
		ready["redis"] = rbus
	} else {
		bus = events.NewMemory(events.Options{})
	}
	defer bus.Close()

	// Background work stops with workCtx, after the HTTP server has.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	accountSvc := accounts.New(db, limiter, log)
	done := make(chan struct{})
	go func() {
		defer close(done)
		accountSvc.Run(workCtx, cfg.APIKeyFlushInterval)
	}()

	usageSvc := usage.New(db, usage.Options{
		Plan:          apiws.Plan{Name: "free", MonthlyMessages: cfg.PlanMonthlyMessages, SendsPerSecond: cfg.PlanSendsPerSecond},
		RatePerSecond: cfg.RateLimitPerSecond,
		Limiter:       limiter,
		Log:           log,
	})
	// The call log is written until workCtx ends, after the HTTP server
	// has stopped, so the last calls are flushed.
	usageDone := make(chan struct{})
	go func() {
		defer close(usageDone)
		usageSvc.Run(workCtx)
	}()

	res := resolvers.New(resolvers.Services{Accounts: accountSvc, Keys: accountSvc, Usage: usageSvc})
	srv := server.New(server.Config{
		Production:     cfg.Production,
		AllowedOrigins: cfg.AllowedOrigins,
		TrustedProxies: cfg.TrustedProxies,
	}, server.Deps{
		Schema: generated.NewExecutableSchema(generated.Config{Resolvers: res}),
		Keys:   accountSvc,
		Log:    log,
		Ready:  ready,
		Usage:  usageSvc,
	})
	srv.Registry().MustRegister(usageSvc.Collectors()...)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	// Subscriptions hang off baseCtx, so cancelling it ends them at shutdown.
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
	}
	fmt.Fprintf(stdout, "apiws listening on http://%s\n", ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "database", string(db.Dialect), "redis", cfg.RedisURL != "")

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGracePeriod)
	defer cancel()
	cancelBase()
	err = hs.Shutdown(shutdownCtx)
	stopWork()
	<-done
	<-usageDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
