package accounts

import (
	"context"
	"sync"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
)

// keyCacheFor is how long an authenticated API key is trusted without
// reading it again. A revocation on any instance is pushed over the bus
// (keysTopic) and drops it at once; when that message is lost, the key
// still fails within this time.
const keyCacheFor = time.Second

// keysTopic is the bus topic of API key revocations.
const keysTopic = "api-keys"

// keyCache holds the API keys authenticated in the last keyCacheFor, by
// the hash of their secret: most requests of an integration come with the
// same key, and spare a query each.
type keyCache struct {
	mu      sync.Mutex
	entries map[string]cachedKey
}

// cachedKey is an authenticated key: the caller it makes, when it was
// read, and when it expires (nil: never).
type cachedKey struct {
	caller    apiws.Caller
	read      time.Time
	expiresAt *time.Time
}

func newKeyCache() *keyCache { return &keyCache{entries: map[string]cachedKey{}} }

// get returns a copy of the caller of the key with the secret hash, if it
// was read less than keyCacheFor before now and has not expired.
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

// put remembers an authenticated key, and forgets the stale ones once the
// cache has grown.
func (c *keyCache) put(hash string, k *apiws.APIKey, caller *apiws.Caller, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= 1024 {
		for h, e := range c.entries {
			if now.Sub(e.read) >= keyCacheFor {
				delete(c.entries, h)
			}
		}
	}
	c.entries[hash] = cachedKey{caller: *caller, read: now, expiresAt: k.ExpiresAt}
}

// drop forgets the key keyID of the account, every key of it when keyID
// is "", or every key when accountID is "" too.
func (c *keyCache) drop(accountID, keyID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.entries {
		if accountID == "" || (e.caller.AccountID == accountID && (keyID == "" || e.caller.APIKeyID == keyID)) {
			delete(c.entries, h)
		}
	}
}

// KeysRevoked drops API keys this process may have cached, and has every
// other instance drop them: the key keyID of the account, or every key of
// it when keyID is "". Call it after the revocation is committed.
func (s *Service) KeysRevoked(ctx context.Context, accountID, keyID string) {
	s.keys.drop(accountID, keyID)
	if s.opts.Bus == nil {
		return
	}
	ev := apiws.Event{Kind: apiws.EventKeysRevoked, AccountID: accountID, Data: []byte(keyID)}
	if err := s.opts.Bus.Publish(context.WithoutCancel(ctx), keysTopic, ev); err != nil {
		// The other instances' caches forget the key within keyCacheFor.
		s.log.Warn("publish an API key revocation", "err", err, "account", accountID)
	}
}

// followRevocations drops the keys other instances revoke until ctx ends;
// when the bus may have lost some (a resync), it drops every key.
func (s *Service) followRevocations(ctx context.Context) error {
	return events.Follow(ctx, s.opts.Bus, keysTopic, func(ev apiws.Event) {
		switch ev.Kind {
		case apiws.EventKeysRevoked:
			s.keys.drop(ev.AccountID, string(ev.Data))
		case apiws.EventResync:
			s.keys.drop("", "")
		}
	}, apiws.EventKeysRevoked)
}
