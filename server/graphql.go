package server

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/apiws/apiws"
)

// graphqlHandler builds the gqlgen server explicitly: the transports apiws
// speaks, its limits, and its error presentation.
func (s *Server) graphqlHandler() http.Handler {
	srv := handler.New(s.deps.Schema)
	s.websockets = &wsTransport{
		// Idle subscriptions hold little: a small read buffer of the
		// socket's own (reusing the HTTP server's would keep its whole
		// connection state alive, buffers included, as long as the
		// socket), and a write buffer taken from a pool only while a
		// message is written. Clients send small messages (init,
		// subscribe, pong); longer ones are read in several fills.
		upgrader: websocket.Upgrader{
			CheckOrigin:     s.checkOrigin,
			ReadBufferSize:  1024,
			WriteBufferPool: &sync.Pool{},
			Subprotocols:    []string{protocolGraphQLWS, protocolTransportWS},
		},
		init:        s.wsInit,
		initTimeout: s.cfg.WSInitTimeout,
		keepAlive:   15 * time.Second,
		readLimit:   maxPlainBody,
		log:         s.log,
	}
	srv.AddTransport(s.websockets)
	// Before POST, which would take an event stream's request too.
	srv.AddTransport(transport.SSE{KeepAlivePingInterval: s.cfg.SSEKeepAlive})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	persisted := s.deps.PersistedQueries
	if persisted == nil {
		persisted = lru.New[string](1000)
	}
	// The persisted query first: the allow-list judges the document it
	// stands for.
	srv.Use(extension.AutomaticPersistedQuery{Cache: persistedCache{cache: persisted, trusted: s.deps.TrustedDocuments}})
	if s.deps.TrustedDocuments != nil {
		srv.Use(allowList{trusted: s.deps.TrustedDocuments, s: s})
	}
	srv.SetParserTokenLimit(maxTokens)
	srv.SetValidationRulesFn(validationRules(s.cfg.Production))
	srv.SetDisableSuggestion(s.cfg.Production)
	if !s.cfg.Production {
		srv.Use(extension.Introspection{})
	}
	if s.deps.Usage != nil {
		// Before limits, so an over-rate client costs no complexity count.
		srv.Use(rateLimit{usage: s.deps.Usage})
		srv.Use(callLog{usage: s.deps.Usage})
	}
	srv.Use(&limits{limit: s.cfg.ComplexityLimit})
	srv.Use(subscriptionLimits{max: s.cfg.MaxSubscriptions, present: s.presentError})
	if s.deps.Tracer != nil {
		// First, so the span holds everything else of the operation.
		t := newTracing(s.deps.Tracer)
		srv.AroundOperations(t.aroundOperations)
		srv.AroundFields(t.aroundFields)
	}
	srv.AroundOperations(s.metrics.aroundOperations)
	srv.AroundOperations(s.streamEnds)
	for _, mw := range s.deps.AroundOperations {
		srv.AroundOperations(mw)
	}
	srv.SetErrorPresenter(s.presentError)
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		s.log.ErrorContext(ctx, "resolver panic", "panic", v)
		return errors.New("internal error")
	})
	return withWSState(detachWebsockets(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			w, r = withHTTPState(w, r)
		}
		if acceptsEventStream(r) {
			s.serveEventStream(w, r, srv)
			return
		}
		srv.ServeHTTP(w, r)
	})))
}

// detachWebsockets lets each websocket session outlive its HTTP handler:
// the transport runs the session on a goroutine of its own once the
// connection is upgraded, and the handler returns. The HTTP server then
// frees what it keeps per request (its connection buffers, the request's
// goroutine and its deep stack) while the socket lives on: an idle
// subscription holds only what the websocket needs. The session's context
// keeps the request's values but not its cancellation, which comes when the
// handler returns: it is cancelled when the session ends instead (or with
// the handler, when the request was refused before the upgrade).
func detachWebsockets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := wsStateFrom(r.Context())
		if !websocket.IsWebSocketUpgrade(r) || st == nil {
			next.ServeHTTP(w, r)
			return
		}
		hw := wrapResponse(w)
		hw.hijacked = make(chan struct{})
		ctx, end := context.WithCancel(context.WithoutCancel(r.Context()))
		st.end = end
		r = r.WithContext(ctx)
		// An upgrade has no body; the body limit's reader would keep the
		// response, and through it the whole HTTP connection, alive.
		r.Body = http.NoBody
		next.ServeHTTP(hw, r)
		if !st.adopted {
			end()
		}
	})
}

// presentError maps every error to what a client may see: an apiws error's
// message and extensions.code; gqlgen's own parse and validation errors as
// they are; anything else as "internal error" with the detail logged.
func (s *Server) presentError(ctx context.Context, err error) *gqlerror.Error {
	gqlErr := graphql.DefaultErrorPresenter(ctx, err)
	var ae *apiws.Error
	if errors.As(err, &ae) {
		gqlErr.Message = ae.Message
		gqlErr.Extensions = map[string]any{"code": string(ae.Code)}
		if ae.Code == apiws.ERATELIMITED {
			gqlErr.Extensions["retryAfterMs"] = ae.RetryAfter.Milliseconds()
		}
		return gqlErr
	}
	var ge *gqlerror.Error
	if errors.As(err, &ge) && ge.Err == nil {
		// Produced by gqlgen itself (parse, validation, limits).
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		if code, ok := limitCode(gqlErr); ok {
			gqlErr.Extensions["code"] = string(code)
		} else if gqlErr.Extensions["code"] == nil {
			gqlErr.Extensions["code"] = "GRAPHQL_VALIDATION_FAILED"
		}
		return gqlErr
	}
	s.log.ErrorContext(ctx, "internal error", "err", err, "path", gqlErr.Path.String())
	gqlErr.Message = "internal error"
	gqlErr.Extensions = map[string]any{"code": string(apiws.EINTERNAL)}
	return gqlErr
}
