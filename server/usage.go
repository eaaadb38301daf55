package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/apiws/apiws"
)

// Usage is what the server needs of the usage service: to log calls and to
// apply request rate limits.
type Usage interface {
	RecordCall(c *apiws.APICall)
	// AllowRequest counts one operation of a caller (without credentials:
	// of its address) against its rate.
	AllowRequest(ctx context.Context, c *apiws.Caller) error
	// AllowAddress counts one HTTP request of a client address, whatever
	// its credentials, against the address's rate.
	AllowAddress(ctx context.Context, ip string) error
}

// callLog records every operation made with an account's credentials as an
// apiws.APICall, refused ones included. Operations that run are recorded
// around the operation, at their first response (a subscription's first
// event, or its end); operations refused before running (parse, validation,
// limits, rate limits) never reach the operation interceptors, so they are
// recorded when their error response passes.
type callLog struct {
	usage Usage
}

var (
	_ graphql.HandlerExtension     = callLog{}
	_ graphql.OperationInterceptor = callLog{}
	_ graphql.ResponseInterceptor  = callLog{}
)

// dispatchedKey marks the context of an operation that callLog's operation
// interceptor records.
type dispatchedKey struct{}

func (callLog) ExtensionName() string                   { return "CallLog" }
func (callLog) Validate(graphql.ExecutableSchema) error { return nil }

// accountCallerOf returns the caller when it acts for an account: only such
// operations are an account's API calls.
func accountCallerOf(ctx context.Context) (*apiws.Caller, bool) {
	c := apiws.CallerFrom(ctx)
	return c, (c.Kind == apiws.CredentialSession || c.Kind == apiws.CredentialAPIKey) && c.AccountID != ""
}

func (l callLog) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	c, ok := accountCallerOf(ctx)
	if !ok {
		return next(ctx)
	}
	ctx = context.WithValue(ctx, dispatchedKey{}, true)
	start := startOf(ctx)
	op := graphql.GetOperationContext(ctx)
	responses := next(ctx)
	recorded := false
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if !recorded {
			recorded = true
			l.record(c, op, start, resp)
		}
		return resp
	}
}

func (l callLog) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if ctx.Value(dispatchedKey{}) != nil {
		return resp
	}
	if c, ok := accountCallerOf(ctx); ok {
		var op *graphql.OperationContext
		if graphql.HasOperationContext(ctx) {
			op = graphql.GetOperationContext(ctx)
		}
		l.record(c, op, startOf(ctx), resp)
	}
	return resp
}

func startOf(ctx context.Context) time.Time {
	if t := graphql.GetStartTime(ctx); !t.IsZero() {
		return t
	}
	return time.Now()
}

func (l callLog) record(c *apiws.Caller, op *graphql.OperationContext, start time.Time, resp *graphql.Response) {
	now := time.Now()
	call := &apiws.APICall{
		ID:        apiws.NewID(apiws.PrefixAPICall),
		AccountID: c.AccountID,
		Duration:  now.Sub(start),
		OK:        true,
		At:        start.UTC(),
	}
	call.OperationName, call.OperationType = operationOf(op)
	if c.Kind == apiws.CredentialAPIKey {
		call.APIKeyID = apiws.NilIfEmpty(c.APIKeyID)
	}
	call.IP, call.UserAgent = apiws.NilIfEmpty(c.IP), apiws.NilIfEmpty(c.UserAgent)
	if resp != nil && len(resp.Errors) > 0 {
		code := string(apiws.EINTERNAL)
		if s, ok := resp.Errors[0].Extensions["code"].(string); ok && s != "" {
			code = s
		}
		call.OK, call.ErrorCode = false, &code
	}
	l.usage.RecordCall(call)
}

// operationOf names the operation and its type. Operations refused before
// parsing succeeded have no parsed document: their source is parsed for
// syntax only, and an operation whose type cannot be told is a "query".
func operationOf(op *graphql.OperationContext) (*string, string) {
	if op == nil {
		return nil, string(ast.Query)
	}
	name := op.OperationName
	o := op.Operation
	if o == nil && op.Doc != nil {
		o = op.Doc.Operations.ForName(name)
	}
	if o == nil && op.RawQuery != "" {
		if doc, err := parser.ParseQuery(&ast.Source{Input: op.RawQuery}); err == nil {
			o = doc.Operations.ForName(name)
		}
	}
	typ := string(ast.Query)
	if o != nil {
		typ = string(o.Operation)
		if name == "" {
			name = o.Name
		}
	}
	return apiws.NilIfEmpty(name), typ
}

// rateLimit refuses an operation over its caller's request rate with
// RATE_LIMITED before it runs. It is an operation-context mutator rather
// than HTTP middleware so that each operation on a websocket counts, and so
// that a refused operation is logged with its name and type.
type rateLimit struct {
	usage Usage
}

var (
	_ graphql.HandlerExtension        = rateLimit{}
	_ graphql.OperationContextMutator = rateLimit{}
)

func (rateLimit) ExtensionName() string                   { return "RateLimit" }
func (rateLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (r rateLimit) MutateOperationContext(ctx context.Context, _ *graphql.OperationContext) *gqlerror.Error {
	c := apiws.CallerFrom(ctx)
	if c.Kind == apiws.CredentialNone {
		return nil // counted by limitAnonymous before the body was read
	}
	err := r.usage.AllowRequest(ctx, c)
	if err == nil {
		return nil
	}
	var ae *apiws.Error
	if st := httpStateFrom(ctx); st != nil && errors.As(err, &ae) && ae.Code == apiws.ERATELIMITED {
		st.retryAfter.Store(int64(ae.RetryAfter))
	}
	return &gqlerror.Error{Err: err, Message: apiws.ErrorMessage(err)}
}

// httpState carries what an operation learned that the plain HTTP response
// must show: a rate-limit refusal becomes HTTP 429 with Retry-After.
type httpState struct{ retryAfter atomic.Int64 }

type httpStateKey struct{}

func httpStateFrom(ctx context.Context) *httpState {
	s, _ := ctx.Value(httpStateKey{}).(*httpState)
	return s
}

// withHTTPState gives plain HTTP requests (not websockets, which answer
// per operation) a state, and turns a rate-limit refusal recorded in it
// into HTTP 429 with Retry-After.
func withHTTPState(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request) {
	st := &httpState{}
	rw := wrapResponse(w)
	rw.rewrite = func(code int) int {
		if d := time.Duration(st.retryAfter.Load()); d > 0 {
			rw.Header().Set("Retry-After", strconv.Itoa(int((d.Milliseconds()+999)/1000)))
			return http.StatusTooManyRequests
		}
		return code
	}
	return rw, r.WithContext(context.WithValue(r.Context(), httpStateKey{}, st))
}
