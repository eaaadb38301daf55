package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/99designs/gqlgen/graphql"
	"github.com/apiws/apiws"
	"github.com/apiws/apiws/accounts"
	"github.com/apiws/apiws/dataloaders"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/graph/generated"
	"github.com/apiws/apiws/graph/shared"
	"github.com/apiws/apiws/mail"
	"github.com/apiws/apiws/messaging"
	"github.com/apiws/apiws/numbers"
	"github.com/apiws/apiws/ownership"
	"github.com/apiws/apiws/privacy"
	"github.com/apiws/apiws/resolvers"
	"github.com/apiws/apiws/server"
	"github.com/apiws/apiws/server/dashboard"
	"github.com/apiws/apiws/server/playground"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/usage"
	"github.com/apiws/apiws/whatsapp"
)

// serve runs the server until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg *Config, log *slog.Logger, stdout io.Writer) error {
	if err := cfg.ensureSecretKey(); err != nil {
		return err
	}
	db, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()

	ready := map[string]server.Pinger{"database": db}
	var bus events.Bus
	var limiter apiws.Limiter = usage.NewMemoryLimiter()
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("APIWS_REDIS_URL: %w", err)
		}
		redis.SetLogger(redisLogger{log: log})
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		limiter = usage.NewRedisLimiter(rdb, cfg.RedisKeyPrefix+"rl:")
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
	// Mail waits in the database outbox; the sender hands it on and
	// retries until it is accepted.
	transport, err := mail.Open(cfg.SMTPURL, cfg.MailDir)
	if err != nil {
		return err
	}
	mailer := mail.NewSender(db, transport, mail.DefaultFrom(cfg.PublicURL), log)
	mailing := make(chan struct{})
	go func() {
		defer close(mailing)
		mailer.Run(workCtx, 5*time.Second)
	}()
	defer func() { stopWork(); <-mailing }()

	accountSvc := accounts.New(db, accounts.Options{Limiter: limiter, SecretKey: cfg.SecretKey, MailQueued: mailer.Notify, Log: log})
	done := make(chan struct{})
	go func() {
		defer close(done)
		accountSvc.Run(workCtx, cfg.APIKeyFlushInterval)
	}()
	sweeping := make(chan struct{})
	go func() {
		defer close(sweeping)
		privacy.Run(workCtx, db, time.Minute, func(err error) { log.Error("retention sweep", "err", err) })
	}()
	defer func() { stopWork(); <-sweeping }()

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

	// Connectors may report (a reconnected number's inbound messages)
	// before the messaging service exists; until then there is nobody to
	// tell.
	var messaged atomic.Pointer[messaging.Service]
	instanceID := ownership.NewInstanceID()
	numberSvc, connectors, closeNumbers, err := startNumbers(ctx, cfg, db, bus, log, instanceID, func(e whatsapp.Event) {
		if m := messaged.Load(); m != nil {
			m.HandleConnectorEvent(e)
		}
	}, func(ctx context.Context, numberID, waID string) ([]byte, error) {
		if m := messaged.Load(); m != nil {
			return m.Retained(ctx, numberID, waID)
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	// Deferred after bus.Close and db.Close, so it runs before them: pairings
	// record their outcome and connectors stop while both are still open.
	defer closeNumbers()
	messageSvc, err := messaging.New(messaging.Config{
		SecretKey:      cfg.SecretKey,
		SendsPerSecond: cfg.PlanSendsPerSecond,
		TransitTTL:     cfg.TransitTTL,
	}, db, bus, db, connectors, usageSvc, log)
	if err != nil {
		return err
	}
	// Stopped before the numbers service and the connectors it sends through.
	defer messageSvc.Close()
	messaged.Store(messageSvc)

	// Number ownership: this instance connects and sends through the
	// numbers it holds a lease of.
	owners := ownership.New(db, ownedNumbers{numbers: numberSvc, messages: messageSvc}, log, ownership.Options{TTL: cfg.LeaseTTL, ID: instanceID})
	numberSvc.SetOwner(owners)
	messageSvc.SetOwner(owners)
	numberSvc.FollowCommands()
	if err := messageSvc.Start(ctx); err != nil {
		return err
	}
	ownCtx, stopOwning := context.WithCancel(context.WithoutCancel(ctx))
	owning := make(chan struct{})
	go func() {
		defer close(owning)
		owners.Run(ownCtx)
	}()
	defer func() { stopOwning(); <-owning }()

	privacySvc := privacy.New(db, privacy.Options{
		Limiter: limiter, SecretKey: cfg.SecretKey, Numbers: numberSvc, MailQueued: mailer.Notify, Log: log,
	})

	res := resolvers.New(resolvers.Services{Accounts: accountSvc, Keys: accountSvc, Numbers: numberSvc, Messages: messageSvc, Usage: usageSvc, Privacy: privacySvc})
	srv := server.New(server.Config{
		Production:       cfg.Production,
		AllowedOrigins:   cfg.AllowedOrigins,
		TrustedProxies:   cfg.TrustedProxies,
		AuthRecheck:      cfg.WSAuthRecheck,
		MetricsAside:     cfg.MetricsAddr != "",
		MaxSockets:       cfg.MaxSockets,
		MaxSubscriptions: cfg.MaxSubscriptions,
		PublicURL:        cfg.PublicURL,
		SessionTTL:       accounts.SessionTTL,
	}, server.Deps{
		// messageStatus events are rendered once for all their subscribers.
		Schema:     shared.New(generated.NewExecutableSchema(generated.Config{Resolvers: res}), res.Subscription().MessageStatus),
		Keys:       accountSvc,
		Log:        log,
		Ready:      ready,
		Usage:      usageSvc,
		Limiter:    limiter,
		Exports:    privacySvc,
		Playground: playground.Handler(playground.Options{Endpoint: "/graphql"}),
		Dashboard:  dashboard.Handler(),
		AroundOperations: []graphql.OperationMiddleware{
			dataloaders.Middleware(db),
		},
		AroundFields: []graphql.FieldMiddleware{resolvers.AuthPayloadSessions},
	})
	srv.Registry().MustRegister(usageSvc.Collectors()...)

	srv.Registry().MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "apiws_db_statements_total", Help: "SQL statements run by this instance.",
	}, func() float64 { return float64(db.Statements()) }))
	srv.Registry().MustRegister(ownershipCollectors(owners, messageSvc)...)
	srv.Registry().MustRegister(busCollectors(bus)...)

	if cfg.PprofAddr != "" {
		pprofDone, err := servePprof(workCtx, cfg.PprofAddr, log)
		if err != nil {
			return fmt.Errorf("APIWS_PPROF_ADDR: %w", err)
		}
		defer func() { stopWork(); <-pprofDone }()
	}

	if cfg.MetricsAddr != "" {
		metricsDone, err := serveMetrics(workCtx, cfg.MetricsAddr, srv.MetricsHandler(), log, stdout)
		if err != nil {
			return fmt.Errorf("APIWS_METRICS_ADDR: %w", err)
		}
		defer func() { stopWork(); <-metricsDone }()
	}

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
	log.Info("listening", "addr", ln.Addr().String(), "database", string(db.Dialect), "redis", cfg.RedisURL != "", "instance", instanceID)

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
	// Sends in flight finish and are recorded before the leases are handed
	// over, so the next owner does not send them again.
	messageSvc.Close()
	stopOwning()
	<-owning
	stopWork()
	<-done
	<-usageDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// startNumbers builds the numbers service over both connectors and starts
// reconnecting every paired number in the background. The returned func
// stops it all, the service before the connectors it uses.
func startNumbers(ctx context.Context, cfg *Config, db *storage.DB, bus events.Bus, log *slog.Logger, instanceID string, messages whatsapp.EventHandler, retained func(ctx context.Context, numberID, waID string) ([]byte, error)) (*numbers.Service, func(*apiws.Number) whatsapp.Connector, func(), error) {
	// The connectors need their event handler before the service that
	// handles events exists; no event comes before the service first uses
	// a connector, so svc is set by then.
	var svc *numbers.Service
	handle := func(e whatsapp.Event) {
		if sc, ok := e.(*whatsapp.StateChange); ok {
			svc.HandleStateChange(sc)
			return
		}
		messages(e) // receipts and inbound messages
	}
	sandbox := whatsapp.NewSandbox(handle, cfg.SandboxDelay)
	sandbox.SetRecorder(func(t whatsapp.Transmission) {
		err := db.RecordSandboxTransmission(context.Background(), &storage.SandboxTransmission{
			NumberID: t.NumberID, MessageID: t.MessageID, Recipient: t.To, Kind: string(t.Kind), At: t.At.UTC(), Instance: instanceID})
		if err != nil {
			log.Error("record sandbox transmission", "err", err)
		}
	})
	wa, err := whatsapp.NewWhatsmeow(ctx, db.SQL(), string(db.Dialect), handle, whatsapp.WhatsmeowOptions{
		Log: log, Version: cfg.WAVersion, Data: db, Retained: retained})
	if err != nil {
		_ = sandbox.Close()
		return nil, nil, nil, err
	}
	svc = numbers.New(db, bus, log, sandbox, wa)

	connectors := func(n *apiws.Number) whatsapp.Connector {
		if n.Sandbox {
			return sandbox
		}
		return wa
	}
	return svc, connectors, func() {
		_ = svc.Close()
		_ = wa.Close()
		_ = sandbox.Close()
	}, nil
}
