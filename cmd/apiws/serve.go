package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/accounts"
	"github.com/apiws/apiws/dataloaders"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/graph/generated"
	"github.com/apiws/apiws/mail"
	"github.com/apiws/apiws/messaging"
	"github.com/apiws/apiws/numbers"
	"github.com/apiws/apiws/ownership"
	"github.com/apiws/apiws/privacy"
	"github.com/apiws/apiws/renderonce"
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
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	if a.metricsAddr != nil {
		fmt.Fprintf(stdout, "apiws metrics on http://%s/metrics\n", a.metricsAddr)
	}
	fmt.Fprintf(stdout, "apiws listening on http://%s\n", a.addr)
	return runWorkers(ctx, a.stages...)
}

// app is the server process: openApp makes its parts in dependency order
// (each is given what it uses when it is made), close closes them in
// reverse, and its workers run in stages that stop in order.
type app struct {
	addr        net.Addr
	metricsAddr net.Addr // nil: /metrics is on addr
	stages      [][]worker
	// closers are run in reverse order by close.
	closers []func() error
}

// closing registers fn to run at close, before what was opened earlier.
func (a *app) closing(fn func() error) { a.closers = append(a.closers, fn) }

// listen listens on addr until close.
func (a *app) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	a.closing(func() error { return ln.Close() })
	return ln, nil
}

// close closes every part, the last opened first. The workers must have
// returned.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
	a.closers = nil
}

// openApp makes every part of the server and listens; on failure it closes
// what it made.
func openApp(ctx context.Context, cfg *Config, log *slog.Logger) (_ *app, err error) {
	a := &app{}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if err := cfg.ensureSecretKey(); err != nil {
		return nil, err
	}
	db, err := openMigrated(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.closing(db.Close)

	ready := map[string]server.Pinger{"database": db}
	var bus events.Bus
	var limiter apiws.Limiter = usage.NewMemoryLimiter()
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("APIWS_REDIS_URL: %w", err)
		}
		redis.SetLogger(redisLogger{log: log})
		rdb := redis.NewClient(opts)
		a.closing(rdb.Close)
		limiter = usage.NewRedisLimiter(rdb, cfg.RedisKeyPrefix+"rl:")
		rbus := events.NewRedis(rdb, events.Options{})
		bus = rbus
		ready["redis"] = rbus
	} else {
		bus = events.NewMemory(events.Options{})
	}
	a.closing(bus.Close)

	// Mail waits in the database outbox; the sender hands it on and
	// retries until it is accepted.
	transport, err := mail.Open(cfg.SMTPURL, cfg.MailDir)
	if err != nil {
		return nil, err
	}
	mailer := mail.NewSender(db, transport, mail.DefaultFrom(cfg.PublicURL), log)
	accountSvc := accounts.New(db, accounts.Options{Limiter: limiter, SecretKey: cfg.SecretKey, MailQueued: mailer.Notify, Log: log})
	usageSvc := usage.New(db, usage.Options{
		Plan:          apiws.Plan{Name: "free", MonthlyMessages: cfg.PlanMonthlyMessages, SendsPerSecond: cfg.PlanSendsPerSecond},
		RatePerSecond: cfg.RateLimitPerSecond,
		Limiter:       limiter,
		Log:           log,
	})

	// The connectors report to the router, which hands each event to the
	// service that registered for it when it was made.
	router := whatsapp.NewRouter(log)
	instanceID := ownership.NewInstanceID()
	sandbox, wa, err := openConnectors(ctx, cfg, db, router, log, instanceID)
	if err != nil {
		return nil, err
	}
	a.closing(sandbox.Close)
	a.closing(wa.Close)
	connectors := func(n *apiws.Number) whatsapp.Connector {
		if n.Sandbox {
			return sandbox
		}
		return wa
	}
	// Number ownership: this instance connects and sends through the
	// numbers it holds a lease of.
	owners := ownership.New(db, log, ownership.Options{TTL: cfg.LeaseTTL, ID: instanceID})
	numberSvc := numbers.New(numbers.Deps{DB: db, Bus: bus, Log: log, Router: router, Owner: owners, Sandbox: sandbox, Real: wa})
	messageSvc, err := messaging.New(messaging.Config{
		SecretKey:      cfg.SecretKey,
		SendsPerSecond: cfg.PlanSendsPerSecond,
		TransitTTL:     cfg.TransitTTL,
	}, messaging.Deps{DB: db, Bus: bus, Numbers: db, Connectors: connectors, Router: router, Owner: owners, Usage: usageSvc, Log: log})
	if err != nil {
		return nil, err
	}
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
		Schema:     renderonce.New(generated.NewExecutableSchema(generated.Config{Resolvers: res}), res.Subscription().MessageStatus),
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

	// The listeners: the API's, and those of the operators' tools.
	var aside []worker
	if cfg.PprofAddr != "" {
		ln, err := a.listen(cfg.PprofAddr)
		if err != nil {
			return nil, fmt.Errorf("APIWS_PPROF_ADDR: %w", err)
		}
		aside = append(aside, pprofWorker(ln, log))
	}
	if cfg.MetricsAddr != "" {
		ln, err := a.listen(cfg.MetricsAddr)
		if err != nil {
			return nil, fmt.Errorf("APIWS_METRICS_ADDR: %w", err)
		}
		a.metricsAddr = ln.Addr()
		aside = append(aside, metricsWorker(ln, srv.MetricsHandler(), log))
	}
	ln, err := a.listen(cfg.Addr)
	if err != nil {
		return nil, err
	}
	a.addr = ln.Addr()
	// Subscriptions hang off baseCtx, so cancelling it ends them at shutdown.
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	a.closing(func() error { cancelBase(); return nil })
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
	}
	listeners := append([]worker{httpWorker("http", hs, ln, cfg.ShutdownGracePeriod, cancelBase)}, aside...)

	// The stages stop in this order, each once the one before has returned.
	a.stages = [][]worker{
		// No request comes in any more...
		listeners,
		// ...sends in flight finish and are recorded...
		{{"messaging", messageSvc.Run}},
		// ...then the leases are handed over, so the next owner does not
		// send them again...
		{{"ownership", func(ctx context.Context) error {
			return owners.Run(ctx, ownedNumbers{numbers: numberSvc, messages: messageSvc})
		}}},
		// ...and what was recorded last is flushed, pairings record their
		// outcome, while the database and the bus are still open.
		{
			{"numbers", numberSvc.Run},
			{"api key use times", accountSvc.Run},
			{"call log", usageSvc.Run},
			{"mail", mailer.Run},
			{"retention", privacySvc.Run},
		},
	}
	log.Info("listening", "addr", a.addr.String(), "database", string(db.Dialect), "redis", cfg.RedisURL != "", "instance", instanceID)
	return a, nil
}

// openConnectors makes the sandbox and the whatsmeow connector, both
// reporting to router.
func openConnectors(ctx context.Context, cfg *Config, db *storage.DB, router *whatsapp.Router, log *slog.Logger, instanceID string) (*whatsapp.Sandbox, *whatsapp.Whatsmeow, error) {
	sandbox := whatsapp.NewSandbox(router.Handle, cfg.SandboxDelay)
	sandbox.SetRecorder(func(t whatsapp.Transmission) {
		err := db.RecordSandboxTransmission(context.Background(), &storage.SandboxTransmission{
			NumberID: t.NumberID, MessageID: t.MessageID, Recipient: t.To, Kind: string(t.Kind), At: t.At.UTC(), Instance: instanceID})
		if err != nil {
			log.Error("record sandbox transmission", "err", err)
		}
	})
	wa, err := whatsapp.NewWhatsmeow(ctx, db.SQL(), string(db.Dialect), router.Handle, whatsapp.WhatsmeowOptions{
		Log: log, Version: cfg.WAVersion, Data: db, Retained: router.Retained})
	if err != nil {
		_ = sandbox.Close()
		return nil, nil, err
	}
	return sandbox, wa, nil
}
