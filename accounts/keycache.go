package accounts

import (
	"context"
	"sync"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
)

// keyCacheFor is how long an authenticated API key or session is trusted
// without reading it again. A revocation on any instance is pushed over
// the bus (keysTopic) and drops it at once; when that message is lost, the
// credential still fails within this time.
const keyCacheFor = time.Second

// keysTopic is the bus topic of credential revocations.
const keysTopic = "credentials"

// keyCache holds the API keys and sessions authenticated in the last
// keyCacheFor, by the hash of their token: most requests of a client come
// with the same token, and spare a query each.
type keyCache struct {
	mu      sync.Mutex
	entries map[string]cachedKey
}

// cachedKey is an authenticated key or session: the caller it makes, when
// it was read, and when it expires (nil: never).
type cachedKey struct {
	caller    apiws.Caller
	read      time.Time
	expiresAt *time.Time
}

func newKeyCache() *keyCache { return &keyCache{entries: map[string]cachedKey{}} }

// get returns a copy of the caller of the token hash, if it was read less
// than keyCacheFor before now and has not expired.
func (c *keyCache) get(hash string, now time.Time) (*apiws.Caller, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok {
		return nil, false
	}
	if age := now.Sub(e.read); age < 0 || age >= keyCacheFor || (e.expiresAt != nil && !now.Before(*e.expiresAt)) {
		delete(c.entries, hash)
		return nil, false
	}
	caller := e.caller
	return &caller, true
}

// put remembers an authenticated token, and forgets the stale ones once
// the cache has grown.
func (c *keyCache) put(hash string, expiresAt *time.Time, caller *apiws.Caller, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= 1024 {
		for h, e := range c.entries {
			if now.Sub(e.read) >= keyCacheFor {
				delete(c.entries, h)
			}
		}
	}
	c.entries[hash] = cachedKey{caller: *caller, read: now, expiresAt: expiresAt}
}

// drop forgets the API key or session id of the account, every one of it
// when id is "", or every one when accountID is "" too.
func (c *keyCache) drop(accountID, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.entries {
		if accountID == "" || (e.caller.AccountID == accountID && (id == "" || e.caller.APIKeyID == id || e.caller.SessionID == id)) {
			delete(c.entries, h)
		}
	}
}

// CredentialsRevoked drops API keys and sessions this process may have
// cached, and has every other instance drop them: the key or session id of
// the account, or every one of it when id is "". Call it after the
// revocation is committed.
func (s *Service) CredentialsRevoked(ctx context.Context, accountID, id string) {
	s.keys.drop(accountID, id)
	if s.opts.Bus == nil {
		return
	}
	ev := apiws.Event{Kind: apiws.EventCredentialsRevoked, AccountID: accountID, Data: []byte(id)}
	if err := s.opts.Bus.Publish(context.WithoutCancel(ctx), keysTopic, ev); err != nil {
		// The other instances' caches forget it within keyCacheFor.
		s.log.Warn("publish a credential revocation", "err", err, "account", accountID)
	}
}

// followRevocations drops the credentials other instances revoke until
// ctx ends; when the bus may have lost some (a resync), it drops them all.
func (s *Service) followRevocations(ctx context.Context) error {
	return events.Follow(ctx, s.opts.Bus, keysTopic, func(ev apiws.Event) {
		switch ev.Kind {
		case apiws.EventCredentialsRevoked:
			s.keys.drop(ev.AccountID, string(ev.Data))
		case apiws.EventResync:
			s.keys.drop("", "")
		}
	}, apiws.EventCredentialsRevoked)
}
