package server

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/apiws/apiws"
)

// sockets counts the open websockets and event streams of each credential,
// in this process: across instances a credential may hold MaxSockets on
// each.
type sockets struct {
	mu   sync.Mutex
	open map[string]int
}

// credentialOf names the credential a caller authenticated with.
func credentialOf(c *apiws.Caller) string {
	switch {
	case c.APIKeyID != "":
		return "key:" + c.APIKeyID
	case c.SessionID != "":
		return "session:" + c.SessionID
	case c.OperatorKeyID != "":
		return "operator:" + c.OperatorKeyID
	}
	return "account:" + c.AccountID
}

// take counts one more socket of cred while ctx lasts; false, and nothing
// counted, when cred holds max already.
func (s *sockets) take(ctx context.Context, cred string, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[cred] >= max {
		return false
	}
	s.open[cred]++
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.open[cred]--; s.open[cred] <= 0 {
			delete(s.open, cred)
		}
	})
	return true
}

// subscriptionLimits refuses, before it runs, a subscription sent over
// plain HTTP (it would wait there for events that a POST cannot carry),
// one more subscription on a socket that holds MaxSubscriptions, and a
// mutation sent as an event stream's GET parameters. An event stream
// carries one operation.
type subscriptionLimits struct {
	max     int
	present graphql.ErrorPresenterFunc
}

var (
	_ graphql.HandlerExtension     = subscriptionLimits{}
	_ graphql.OperationInterceptor = subscriptionLimits{}
)

func (subscriptionLimits) ExtensionName() string                   { return "SubscriptionLimits" }
func (subscriptionLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (l subscriptionLimits) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	if op.Operation == nil {
		return next(ctx)
	}
	sse := sseStateFrom(ctx)
	if sse != nil && sse.get && op.Operation.Operation == ast.Mutation {
		return l.refuse(ctx, apiws.Errorf(apiws.EBADREQUEST, "a mutation cannot be sent with GET; POST it"))
	}
	if op.Operation.Operation != ast.Subscription || sse != nil {
		return next(ctx)
	}
	st := wsStateFrom(ctx)
	if st == nil {
		return l.refuse(ctx, apiws.Errorf(apiws.EBADREQUEST,
			"subscriptions need a websocket (graphql-transport-ws or graphql-ws) or an event stream (a POST with Accept: text/event-stream) on /graphql"))
	}
	st.mu.Lock()
	if st.subscriptions >= l.max {
		st.mu.Unlock()
		return l.refuse(ctx, apiws.Errorf(apiws.EBADREQUEST, "this socket has %d subscriptions, the most it may hold; end one or open another socket", l.max))
	}
	st.subscriptions++
	st.mu.Unlock()
	context.AfterFunc(ctx, func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		st.subscriptions--
	})
	return next(ctx)
}

// refuse answers an operation with err alone.
func (l subscriptionLimits) refuse(ctx context.Context, err error) graphql.ResponseHandler {
	return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{l.present(ctx, err)}})
}
