package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/apiws/apiws"
)

// Trusted documents: with an allow-list, only the documents it names (by
// the SHA-256 of their text) run. A client may send a listed document in
// full, or only its hash as an automatic persisted query when the list
// holds the text. Anything else is refused with DOCUMENT_NOT_ALLOWED before
// it is parsed, and logged as an API call like every refused operation.

// persistedCache is the cache of automatic persisted queries as the server
// uses it: in allow-list mode the listed documents are known from the
// start, and a document outside the list is never remembered.
type persistedCache struct {
	cache   graphql.Cache[string]
	trusted map[string]string // nil: no allow-list
}

func (c persistedCache) Get(ctx context.Context, hash string) (string, bool) {
	if doc := c.trusted[hash]; doc != "" {
		return doc, true
	}
	if _, listed := c.trusted[hash]; c.trusted != nil && !listed {
		return "", false
	}
	return c.cache.Get(ctx, hash)
}

// maxPersistedDocument bounds the documents the cache keeps: anyone may
// register one (before it is parsed or authenticated), so a cache that
// bounds only its entries would let huge ones fill memory or Redis. No
// document the token limit lets run comes near it.
const maxPersistedDocument = 64 << 10

func (c persistedCache) Add(ctx context.Context, hash, document string) {
	if _, listed := c.trusted[hash]; c.trusted != nil && !listed {
		return
	}
	if len(document) > maxPersistedDocument {
		return
	}
	c.cache.Add(ctx, hash, document)
}

// allowList refuses every document outside trusted. It runs after the
// persisted-query extension, which has put the document in place of its
// hash.
type allowList struct {
	trusted map[string]string
	s       *Server
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = allowList{}

func (allowList) ExtensionName() string                   { return "TrustedDocuments" }
func (allowList) Validate(graphql.ExecutableSchema) error { return nil }

func (a allowList) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	sum := sha256.Sum256([]byte(params.Query))
	hash := hex.EncodeToString(sum[:])
	if _, ok := a.trusted[hash]; ok {
		return nil
	}
	// The call log names the refused operation from its source.
	op := graphql.GetOperationContext(ctx)
	op.RawQuery, op.OperationName = params.Query, params.OperationName
	a.s.log.InfoContext(ctx, "document not allowed", "hash", hash, "operation", params.OperationName)
	err := apiws.Errorf(apiws.EDOCUMENTNOTALLOWED, "this server runs only trusted documents, and this one is not among them")
	// Some of gqlgen's transports send such an error as it is, without
	// the presenter: it carries its code itself.
	return &gqlerror.Error{Err: err, Message: err.Message, Extensions: map[string]any{"code": string(err.Code)}}
}
