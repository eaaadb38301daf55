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
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/accounts"
	"github.com/apiws/apiws/billing"
	"github.com/apiws/apiws/dataloaders"
	"github.com/apiws/apiws/documents"
	"github.com/apiws/apiws/eventlog"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/graph/generated"
	"github.com/apiws/apiws/groups"
	"github.com/apiws/apiws/mail"
	"github.com/apiws/apiws/messaging"
	"github.com/apiws/apiws/numbers"
	"github.com/apiws/apiws/ownership"
	"github.com/apiws/apiws/privacy"
	"github.com/apiws/apiws/renderonce"
	"github.com/apiws/apiws/resolvers"
	"github.com/apiws/apiws/server"
	"github.com/apiws/apiws/server/dashboard"
	"github.com/apiws/apiws/server/operator"
	"github.com/apiws/apiws/server/playground"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/support"
	"github.com/apiws/apiws/usage"
	"github.com/apiws/apiws/webhooks"
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
	in, err := a.openInfra(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	// Listening first gives the address that links to apiws name when
	// APIWS_PUBLIC_URL is unset; requests wait until the listeners serve.
	ln, err := a.listen(cfg.Addr)
	if err != nil {
		return nil, err
	}
	a.addr = ln.Addr()
	svc, err := a.openServices(ctx, cfg, log, in, cfg.publicURL(a.addr))
	if err != nil {
		return nil, err
	}
	listeners, err := a.openListeners(ctx, cfg, log, ln, newHandler(cfg, log, in, svc))
	if err != nil {
		return nil, err
	}
	// The stages stop in this order, each once the one before has returned.
	a.stages = [][]worker{
		// No request comes in any more...
		listeners,
		// ...sends in flight finish and are recorded...
		{{"messaging", svc.messages.Run}},
		// ...then the leases are handed over, so the next owner does not
		// send them again...
		{{"ownership", func(ctx context.Context) error {
			return svc.owners.Run(ctx, ownedNumbers{numbers: svc.numbers, messages: svc.messages})
		}}},
		// ...and what was recorded last is flushed, pairings record their
		// outcome, while the database and the bus are still open.
		{
			{"numbers", svc.numbers.Run},
			{"groups", svc.groups.Run},
			{"api key use times", svc.accounts.Run},
			{"call log", svc.usage.Run},
			{"mail", svc.mailer.Run},
			{"retention", svc.privacy.Run},
			{"webhooks", svc.deliverer.Run},
			{"billing", svc.billing.Run},
		},
	}
	log.Info("listening", "addr", a.addr.String(), "database", string(in.db.Dialect), "redis", cfg.RedisURL != "", "instance", svc.owners.ID())
	return a, nil
}

// infra is what the services stand on.
type infra struct {
	db      *storage.DB
	bus     events.Bus
	limiter apiws.Limiter
	ready   map[string]server.Pinger // for /readyz
	// persisted caches automatic persisted queries: in Redis when there
	// is one, so every instance knows what one has learnt.
	persisted graphql.Cache[string]
	// tracer exports spans over OTLP; nil without an endpoint.
	tracer trace.TracerProvider
}

// persistedQueryTTL is how long Redis keeps a persisted query after it was
// last sent in full; a client whose hash was forgotten sends it again.
const persistedQueryTTL = 7 * 24 * time.Hour

// openInfra opens the database (migrated) and, with Redis, the bus and the
// rate limits over it.
func (a *app) openInfra(ctx context.Context, cfg *Config, log *slog.Logger) (*infra, error) {
	if err := cfg.ensureSecretKey(); err != nil {
		return nil, err
	}
	tracer, closeTracer, err := openTracer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.closing(closeTracer)
	// A malformed Redis URL stops the start before the database is touched.
	var rdb redis.UniversalClient
	if cfg.RedisURL != "" {
		redis.SetLogger(redisLogger{log: log})
		c, err := newRedisClient(cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		a.closing(c.Close)
		rdb = c
	}
	db, err := openMigrated(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.closing(db.Close)
	in := &infra{db: db, limiter: usage.NewMemoryLimiter(), ready: map[string]server.Pinger{"database": db},
		persisted: lru.New[string](1000), tracer: tracer}
	if rdb == nil {
		in.bus = events.NewMemory(events.Options{})
		a.closing(in.bus.Close)
		return in, nil
	}
	in.limiter = usage.NewRedisLimiter(rdb, cfg.RedisKeyPrefix+"rl:")
	in.persisted = documents.NewRedisCache(rdb, cfg.RedisKeyPrefix+"apq:", persistedQueryTTL)
	rbus := events.NewRedis(rdb, events.Options{})
	a.closing(rbus.Close)
	in.bus, in.ready["redis"] = rbus, rbus
	return in, nil
}

// services are the domain services of the server.
type services struct {
	mailer    *mail.Sender
	accounts  *accounts.Service
	usage     *usage.Service
	owners    *ownership.Manager
	events    *eventlog.Log
	numbers   *numbers.Service
	groups    *groups.Service
	messages  *messaging.Service
	privacy   *privacy.Service
	webhooks  *webhooks.Service
	deliverer *webhooks.Deliverer
	billing   *billing.Service
	support   *support.Service
}

// openServices makes the services, each given what it uses, and the
// connectors they share; links to apiws (media links) start with
// publicURL.
func (a *app) openServices(ctx context.Context, cfg *Config, log *slog.Logger, in *infra, publicURL string) (*services, error) {
	// Mail waits in the database outbox; the sender hands it on and
	// retries until it is accepted.
	transport, err := mail.Open(cfg.SMTPURL, cfg.MailDir)
	if err != nil {
		return nil, err
	}
	svc := &services{mailer: mail.NewSender(in.db, transport, mail.DefaultFrom(cfg.PublicURL), log)}
	svc.accounts = accounts.New(in.db, accounts.Options{Limiter: in.limiter, SecretKey: cfg.SecretKey, MailQueued: svc.mailer.Notify, Bus: in.bus, Log: log})
	svc.billing, err = openBilling(ctx, cfg, in.db, svc.mailer.Notify, log)
	if err != nil {
		return nil, err
	}
	svc.usage = usage.New(in.db, usage.Options{
		Plans:         svc.billing,
		RatePerSecond: cfg.RateLimitPerSecond,
		Limiter:       in.limiter,
		Log:           log,
	})

	// The connectors report to the router, which hands each event to the
	// service that registered for it when it was made.
	router := whatsapp.NewRouter(log)
	// Number ownership: this instance connects and sends through the
	// numbers it holds a lease of.
	svc.owners = ownership.New(in.db, log, ownership.Options{TTL: cfg.LeaseTTL})
	sandbox, wa, err := openConnectors(ctx, cfg, in.db, router, log, svc.owners.ID())
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
	// Every event of an account is a row of its log, published on the bus
	// and followed from there by the subscriptions.
	svc.events, err = eventlog.New(in.db, in.bus, cfg.SecretKey, cfg.TransitTTL, log)
	if err != nil {
		return nil, err
	}
	a.closing(func() error { svc.events.Close(); return nil })
	// Inbound files are fetched from WhatsApp through signed links.
	links, err := apiws.NewMediaLinks(cfg.SecretKey, publicURL)
	if err != nil {
		return nil, err
	}
	svc.events.LinkMedia(links)
	svc.numbers = numbers.New(numbers.Deps{DB: in.db, Bus: in.bus, Events: svc.events, Log: log, Router: router, Owner: svc.owners, Sandbox: sandbox, Real: wa, Plans: svc.billing})
	svc.groups = groups.New(groups.Deps{DB: in.db, Bus: in.bus, Events: svc.events, Connectors: connectors, Router: router, Owner: svc.owners, Log: log})
	a.closing(func() error { svc.groups.Close(); return nil })
	svc.messages, err = messaging.New(messaging.Config{
		SecretKey:      cfg.SecretKey,
		SendsPerSecond: cfg.PlanSendsPerSecond,
		SendsInFlight:  cfg.SendsInFlight,
		TransitTTL:     cfg.TransitTTL,
		// Development and tests only: see APIWS_ALLOW_PRIVATE_URLS.
		AllowPrivateMediaURLs: cfg.AllowPrivateURLs,
	}, messaging.Deps{DB: in.db, Bus: in.bus, Events: svc.events, Numbers: in.db, Groups: svc.groups, Connectors: connectors, Router: router, Owner: svc.owners, Usage: svc.usage, Pace: svc.usage, Links: links, Log: log, Tracer: in.tracer})
	if err != nil {
		return nil, err
	}
	svc.support = support.New(in.db, support.Options{
		SupportEmail: cfg.SupportEmail, PublicURL: cfg.PublicURL, Limiter: in.limiter, MailQueued: svc.mailer.Notify, Log: log,
	})
	svc.privacy = privacy.New(in.db, privacy.Options{
		Limiter: in.limiter, SecretKey: cfg.SecretKey, Numbers: svc.numbers, MailQueued: svc.mailer.Notify,
		CredentialsRevoked: svc.accounts.CredentialsRevoked, Log: log,
	})
	// Any instance delivers webhooks: a commit that queued deliveries wakes
	// the deliverers of every instance through the bus.
	svc.deliverer, err = webhooks.NewDeliverer(in.db, webhooks.DelivererOptions{
		Owner: svc.owners.ID(), SecretKey: cfg.SecretKey, AllowPrivate: cfg.AllowPrivateURLs, Bus: in.bus, Data: svc.events,
		MailQueued: svc.mailer.Notify, Log: log, Tracer: in.tracer,
	})
	if err != nil {
		return nil, err
	}
	in.db.OnDeliveriesQueued(svc.deliverer.Nudge)
	svc.webhooks, err = webhooks.New(in.db, webhooks.Options{SecretKey: cfg.SecretKey, AllowPrivate: cfg.AllowPrivateURLs, Queued: svc.deliverer.Nudge})
	if err != nil {
		return nil, err
	}
	return svc, nil
}

// newHandler is the HTTP side: the GraphQL API over the services, the
// dashboard, the playground, health and metrics.
func newHandler(cfg *Config, log *slog.Logger, in *infra, svc *services) *server.Server {
	res := resolvers.New(resolvers.Services{Accounts: svc.accounts, Keys: svc.accounts, Numbers: svc.numbers, Messages: svc.messages, Usage: svc.usage, Privacy: svc.privacy, Webhooks: svc.webhooks, Billing: svc.billing, Groups: svc.groups, Support: svc.support})
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
		// messageStatus and events events are rendered once for all their
		// subscribers.
		Schema: renderonce.New(generated.NewExecutableSchema(generated.Config{Resolvers: res, Directives: resolvers.Directives()}),
			renderonce.Follow{Status: res.Subscription().MessageStatus, Events: res.FollowEvents}),
		Keys:       svc.accounts,
		Log:        log,
		Ready:      in.ready,
		Usage:      svc.usage,
		Limiter:    in.limiter,
		Exports:    svc.privacy,
		Media:      svc.messages,
		Invoices:   svc.billing,
		Stripe:     svc.billing,
		Playground: playground.Handler(playground.Options{Endpoint: "/graphql"}),
		Dashboard:  dashboard.Handler(),
		Operator:   operator.Handler(),
		AroundOperations: []graphql.OperationMiddleware{
			dataloaders.Middleware(in.db),
		},

		PersistedQueries: in.persisted,
		// nil without APIWS_TRUSTED_DOCUMENTS: any document runs.
		TrustedDocuments: cfg.TrustedDocuments,
		Tracer:           in.tracer,
	})
	srv.Registry().MustRegister(svc.usage.Collectors()...)
	srv.Registry().MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "apiws_db_statements_total", Help: "SQL statements run by this instance.",
	}, func() float64 { return float64(in.db.Statements()) }))
	srv.Registry().MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "apiws_db_round_trips_total", Help: "Times this instance sent SQL statements and waited for their results (a pipelined transaction sends several at once).",
	}, func() float64 { return float64(in.db.RoundTrips()) }))
	srv.Registry().MustRegister(ownershipCollectors(svc.owners, svc.messages)...)
	srv.Registry().MustRegister(busCollectors(in.bus)...)
	srv.Registry().MustRegister(svc.events.Collectors()...)
	srv.Registry().MustRegister(svc.deliverer.Collectors()...)
	srv.Registry().MustRegister(svc.messages.Collectors()...)
	return srv
}

// openListeners listens for the operators' tools (pprof, metrics) when
// configured, and returns the workers that serve them and the API on ln.
func (a *app) openListeners(ctx context.Context, cfg *Config, log *slog.Logger, ln net.Listener, srv *server.Server) ([]worker, error) {
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
	// Subscriptions hang off baseCtx, so cancelling it ends them at shutdown.
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	a.closing(func() error { cancelBase(); return nil })
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
	}
	beforeShutdown := func() {
		// Websockets first, with nothing more sent on them: their clients
		// reconnect and resume; then the requests and event streams.
		srv.CloseWebsockets()
		cancelBase()
	}
	return append([]worker{httpWorker("http", hs, ln, cfg.ShutdownGracePeriod, beforeShutdown)}, aside...), nil
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
