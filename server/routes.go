package server

import (
	"net/http"
)

// routes is the one place that lists every endpoint.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	gql := s.graphqlHandler()
	mux.Handle("/graphql", s.guard(s.authenticate(s.limitAnonymous(s.limitBody(gql)))))
	if s.deps.Schema != nil {
		mux.Handle("GET /graphql/schema.graphql", newSDL(s.deps.Schema.Schema()))
	}
	mux.Handle("POST /session", s.guard(http.HandlerFunc(s.createSession)))
	mux.Handle("DELETE /session", s.guard(http.HandlerFunc(s.deleteSession)))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if !s.cfg.MetricsAside {
		mux.Handle("GET /metrics", s.metricsForOperators())
	}
	mux.Handle("GET /exports/{id}", s.guard(s.authenticate(http.HandlerFunc(s.export))))
	// No credentials: the signed link is one. The address's rate limit
	// applies, as to every request.
	mux.Handle("GET /media/{token}", s.guard(http.HandlerFunc(s.media)))
	mux.Handle("GET /invoices/{file}", s.guard(s.authenticate(http.HandlerFunc(s.invoicePDF))))
	// Stripe signs its calls: no credentials.
	mux.Handle("POST /billing/stripe", s.guard(http.HandlerFunc(s.stripeWebhook)))
	if s.deps.Playground != nil && !s.cfg.Production {
		mux.Handle("/playground", s.deps.Playground)
		mux.Handle("/playground/", s.deps.Playground)
	}
	if s.deps.Dashboard != nil {
		mux.Handle("GET /{$}", s.deps.Dashboard)
		mux.Handle("GET /dashboard/", s.deps.Dashboard)
	}
	if s.deps.Operator != nil {
		mux.Handle("GET /operator", s.deps.Operator)
		mux.Handle("GET /operator/", s.deps.Operator)
	}
	return s.logRequests(mux)
}
