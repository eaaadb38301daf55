package usage

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiws/apiws"
)

// gcra is the generic cell rate algorithm as one atomic script, so that
// every instance sharing Redis counts against the same arrival times.
// KEYS[1] holds the key's theoretical arrival time in microseconds. ARGV:
// the emission interval and the burst tolerance in microseconds, and the
// current time in microseconds (0: use Redis's clock, which all instances
// share). It returns {1, 0} when allowed, {0, wait_us} when not.
var gcra = redis.NewScript(`
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local nxt = tat + interval
local wait = nxt - tolerance - now
if wait > 0 then return {0, wait} end
redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
return {1, 0}
`)

// RedisLimiter is a GCRA limiter in Redis, shared by every instance of a
// deployment. Its keys expire once they are back to a full burst.
type RedisLimiter struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time // nil: Redis's clock
}

var _ apiws.Limiter = (*RedisLimiter)(nil)

// NewRedisLimiter returns a limiter whose keys start with prefix (e.g.
// "apiws:rl:").
func NewRedisLimiter(rdb redis.UniversalClient, prefix string) *RedisLimiter {
	return &RedisLimiter{rdb: rdb, prefix: prefix}
}

// Allow implements apiws.Limiter.
func (l *RedisLimiter) Allow(ctx context.Context, key string, lim apiws.Limit) (bool, time.Duration, error) {
	interval := time.Duration(float64(time.Second) / lim.Rate)
	tolerance := interval * time.Duration(lim.Burst)
	var now int64
	if l.now != nil {
		now = l.now().UnixMicro()
	}
	res, err := gcra.Run(ctx, l.rdb, []string{l.prefix + key},
		interval.Microseconds(), tolerance.Microseconds(), now).Int64Slice()
	if err != nil {
		return false, 0, err
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	return false, time.Duration(res[1]) * time.Microsecond, nil
}
