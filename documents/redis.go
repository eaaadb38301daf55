package documents

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCache keeps automatic persisted queries in Redis, so a hash one
// instance learnt is known to all. It implements gqlgen's
// graphql.Cache[string]. Each document is one key, so it works on a Redis
// Cluster as on one node.
type RedisCache struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// NewRedisCache returns a cache keeping documents under prefix+hash for
// ttl after they were last sent in full.
func NewRedisCache(rdb redis.UniversalClient, prefix string, ttl time.Duration) *RedisCache {
	return &RedisCache{rdb: rdb, prefix: prefix, ttl: ttl}
}

// Get returns the document of hash. Redis unreachable counts as a miss:
// the client is told PersistedQueryNotFound and sends the document again.
func (c *RedisCache) Get(ctx context.Context, hash string) (string, bool) {
	doc, err := c.rdb.Get(ctx, c.prefix+hash).Result()
	if err != nil {
		return "", false
	}
	return doc, true
}

// Add stores the document of hash. A failure only costs the client one
// more round trip later, so it is not reported.
func (c *RedisCache) Add(ctx context.Context, hash, document string) {
	c.rdb.Set(ctx, c.prefix+hash, document, c.ttl)
}
