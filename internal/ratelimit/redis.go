package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript runs GCRA over up to two buckets atomically on Redis's clock,
// so replicas with skewed clocks still agree. ARGV[1] is "1" to record
// the event, "0" to only check; then period (µs) and limit per key. It
// returns 0 when the event fits, else the wait in µs. A stored value is
// the bucket's theoretical arrival time in µs; it expires when the bucket
// is full again, so Redis holds only the keys that are limiting.
const gcraScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = 0
local nexts = {}
for i = 1, #KEYS do
  local period = tonumber(ARGV[2 * i])
  local interval = period / tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i])) or 0
  local nxt = math.max(tat, now) + interval
  local over = nxt - now - period
  if over > wait then wait = over end
  nexts[i] = nxt
end
if wait > 0 then return math.ceil(wait) end
if ARGV[1] == '1' then
  for i = 1, #KEYS do
    redis.call('SET', KEYS[i], string.format('%d', math.floor(nexts[i])), 'PX', math.ceil((nexts[i] - now) / 1000) + 1)
  end
end
return 0
`

// remote is the Redis-backed bucket store shared by replicas.
type remote struct {
	client *redis.Client
	prefix string
	script *redis.Script
}

// newRemote parses url and prepares a client with short timeouts and no
// retries: a limiter that waits seconds for Redis would be worse than one
// that falls back to memory at once.
func newRemote(url, prefix string, timeout time.Duration) (*remote, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	opt.DialTimeout = timeout
	opt.ReadTimeout = timeout
	opt.WriteTimeout = timeout
	opt.PoolTimeout = timeout
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	return &remote{client: redis.NewClient(opt), prefix: prefix, script: redis.NewScript(gcraScript)}, nil
}

// key places a bucket under the prefix. The {tag} keeps a client's
// buckets in one Redis Cluster slot, as a script's keys must be.
func (r *remote) key(b bucket) string { return r.prefix + "rl:" + b.key }

func (r *remote) admit(ctx context.Context, take bool, bs ...bucket) (time.Duration, error) {
	keys := make([]string, len(bs))
	args := make([]any, 0, 1+2*len(bs))
	flag := "0"
	if take {
		flag = "1"
	}
	args = append(args, flag)
	for i, b := range bs {
		keys[i] = r.key(b)
		args = append(args, strconv.FormatInt(b.period.Microseconds(), 10), strconv.Itoa(b.limit))
	}
	us, err := r.script.Run(ctx, r.client, keys, args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("redis rate limit: %w", err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

func (r *remote) close() error { return r.client.Close() }
