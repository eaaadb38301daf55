package server

import (
	"context"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler/lru"
)

// TestPersistedCacheKeepsNoHugeDocument: anyone may register a persisted
// query before it is parsed, so the cache keeps none over the cap.
func TestPersistedCacheKeepsNoHugeDocument(t *testing.T) {
	ctx := context.Background()
	c := persistedCache{cache: lru.New[string](10)}
	small := "{ viewer { id } }"
	huge := "{ viewer { id } }" + strings.Repeat(" ", maxPersistedDocument)
	c.Add(ctx, "small", small)
	c.Add(ctx, "huge", huge)
	if got, ok := c.Get(ctx, "small"); !ok || got != small {
		t.Errorf("small document: %q, %v", got, ok)
	}
	if _, ok := c.Get(ctx, "huge"); ok {
		t.Error("a document over the cap was kept")
	}
}
