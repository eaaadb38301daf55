// Package server wires HTTP: the GraphQL endpoint (POST, GET, websockets,
// event streams),
// the playground, the dashboard and its session cookie, health, readiness,
// metrics and privacy exports.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/trace"

	"github.com/apiws/apiws"
)

// Config is the server's part of apiws's configuration.
type Config struct {
	// Production turns off introspection, the playground and field
	// suggestions.
	Production bool
	// AllowedOrigins may open websockets and use cookies besides the
	// server's own origin; requests without an Origin header are allowed.
	AllowedOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// ComplexityLimit caps an operation's complexity, about the number of
	// fields it may resolve (default 5000; see costModel).
	ComplexityLimit int
	// AuthRecheck is how often the credentials of an open websocket or
	// event stream are checked again (default 30s).
	AuthRecheck time.Duration
	// PublicURL is where people reach apiws; when it is https, the session
	// cookie is marked Secure even behind a proxy that ends TLS.
	PublicURL string
	// SessionTTL is the session cookie's lifetime (default 30 days); the
	// session itself may end sooner.
	SessionTTL time.Duration
	// MetricsAside leaves /metrics off the main port: it is served by
	// MetricsHandler on a listener of its own. Otherwise /metrics needs an
	// operator key.
	MetricsAside bool
	// MaxSockets caps the open websockets and event streams of one
	// credential, counted together (in this process; default 100).
	MaxSockets int
	// MaxSubscriptions caps the subscriptions of one websocket (default
	// 100).
	MaxSubscriptions int
	// SSEKeepAlive is how often an event stream without events gets a
	// comment line, so proxies do not cut it as idle (default 15s).
	SSEKeepAlive time.Duration
	// ReadTimeout bounds the time to read a request's body, websockets
	// aside (default 60s).
	ReadTimeout time.Duration
	// WSInitTimeout is how long a websocket may take to send its
	// connection_init (default 10s); then it is closed with 4408.
	WSInitTimeout time.Duration
}

// Pinger reports whether a dependency is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are what the server needs from the rest of apiws.
type Deps struct {
	Schema graphql.ExecutableSchema
	Keys   apiws.KeyService
	Log    *slog.Logger
	// Ready lists what /readyz checks, by name ("database", "redis").
	Ready map[string]Pinger
	// Playground serves /playground; nil leaves it out.
	Playground http.Handler
	// Dashboard serves / and /dashboard/; nil leaves it out.
	Dashboard http.Handler
	// Operator serves the operator console, /operator and /operator/ (it
	// loads the dashboard's assets too); nil leaves it out.
	Operator http.Handler
	// AroundOperations run around every GraphQL operation (per-operation
	// dataloaders, usage recording).
	AroundOperations []graphql.OperationMiddleware
	// Exports serves GET /exports/{id}; nil answers 404.
	Exports Exports
	// Media serves GET /media/{token}, the links of inbound files; nil
	// answers 404.
	Media apiws.MediaFiles
	// Invoices serves GET /invoices/{id}.pdf; nil answers 404.
	Invoices Invoices
	// Stripe handles POST /billing/stripe; nil answers 404.
	Stripe StripeWebhooks
	// Usage logs API calls and applies request rate limits; nil turns both
	// off.
	Usage Usage
	// PersistedQueries caches automatic persisted queries by the SHA-256
	// of their text; nil keeps 1000 in memory.
	PersistedQueries graphql.Cache[string]
	// TrustedDocuments, when not nil, is the allow-list: only documents
	// whose SHA-256 it holds run, whatever the transport. A hash maps to
	// its document, or to "" when the list holds only the hash.
	TrustedDocuments map[string]string
	// Tracer makes OpenTelemetry spans of operations and resolvers; nil
	// makes none.
	Tracer trace.TracerProvider
	// Limiter counts failed bearer tokens per client address; nil counts
	// none.
	Limiter apiws.Limiter
}

// Server is apiws's HTTP handler.
type Server struct {
	cfg      Config
	deps     Deps
	log      *slog.Logger
	metrics  *metrics
	failures *tokenFailures
	sockets  *sockets
	// websockets is the GraphQL websocket transport, which closes the open
	// sockets at shutdown.
	websockets *wsTransport
	// mediaFields are the mutation fields that take media (see limitBody).
	mediaFields map[string]bool
	handler     http.Handler
}

// CloseWebsockets closes every open websocket with 1001 (going away), and
// any opened after at once: call it when the server starts to stop, before
// the services its subscriptions follow stop. Clients reconnect elsewhere
// or after the restart and resume from their cursors; their subscriptions
// are not told they completed.
func (s *Server) CloseWebsockets() { s.websockets.closeAll() }

// New returns the server; mount it as the handler of an http.Server.
func New(cfg Config, deps Deps) *Server {
	if cfg.ComplexityLimit == 0 {
		cfg.ComplexityLimit = 5000
	}
	if cfg.AuthRecheck <= 0 {
		cfg.AuthRecheck = 30 * time.Second
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 30 * 24 * time.Hour
	}
	if cfg.MaxSockets <= 0 {
		cfg.MaxSockets = 100
	}
	if cfg.MaxSubscriptions <= 0 {
		cfg.MaxSubscriptions = 100
	}
	if cfg.SSEKeepAlive <= 0 {
		cfg.SSEKeepAlive = 15 * time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 60 * time.Second
	}
	if cfg.WSInitTimeout <= 0 {
		cfg.WSInitTimeout = 10 * time.Second
	}
	s := &Server{cfg: cfg, deps: deps, log: deps.Log, metrics: newMetrics(), failures: newTokenFailures(deps.Limiter),
		sockets: &sockets{open: map[string]int{}}}
	if deps.Schema != nil {
		s.mediaFields = mediaFieldsOf(deps.Schema.Schema())
	}
	s.handler = s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}
