package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisURLForms is what APIWS_REDIS_URL may be, for the message of a URL
// that is none of them.
const redisURLForms = "redis://[:password@]host:port[/db] or rediss://… for one Redis, " +
	"redis://host1:port?addr=host2:port&addr=host3:port (or rediss://) for a Redis Cluster"

// newRedisClient returns the client of APIWS_REDIS_URL: a Redis Cluster
// when the URL names further nodes with addr parameters (go-redis's
// cluster URL), one Redis otherwise. Everything apiws keeps in Redis is one
// key per operation (a rate, a persisted query) or pub/sub, so nothing
// needs keys that share a slot.
func newRedisClient(raw string) (redis.UniversalClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's error quotes the URL, password included.
		return nil, fmt.Errorf("APIWS_REDIS_URL is not a URL; want %s", redisURLForms)
	}
	fail := func(err error) error {
		return fmt.Errorf("APIWS_REDIS_URL %s: %w; want %s", u.Redacted(), err, redisURLForms)
	}
	if _, cluster := u.Query()["addr"]; !cluster {
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fail(err)
		}
		return redis.NewClient(opts), nil
	}
	if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
		return nil, fail(errors.New("a Redis Cluster has only database 0"))
	}
	for _, addr := range u.Query()["addr"] {
		if !strings.Contains(addr, ":") || strings.HasPrefix(addr, ":") {
			return nil, fail(fmt.Errorf("addr %q is not host:port", addr))
		}
	}
	u.Path = ""
	opts, err := redis.ParseClusterURL(u.String())
	if err != nil {
		return nil, fail(err)
	}
	return redis.NewClusterClient(opts), nil
}
