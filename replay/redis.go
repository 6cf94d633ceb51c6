package replay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/eddy-sh/eddy/bus"
)

// RedisLedger is the shared ledger: several eddy processes, on one machine or
// many, redriving the same DLQ share what was moved. It needs one Redis
// server (or a Sentinel-managed primary); Redis Cluster is not supported,
// because Begin's script reads the owner keys of other runs, which may live
// in other slots.
//
// # Layout
//
// Each entry is one string key, eddy:ledger:e:{JOB}:ID (a "}" in JOB written
// %7D), whose value is "STATE:SET:EXPIRES" (Completed) or
// "STATE:SET:EXPIRES:OWNER" (InProgress), times in Unix nanoseconds, and
// whose Redis TTL is the writer's TTL, set again on every write. The set
// eddy:ledger:jobs names the jobs. Every open RedisLedger is a run with a
// random owner token, alive while the key eddy:ledger:o:TOKEN exists: it
// is set with a lease of 10s and renewed every few seconds, and deleted by
// Close.
//
// # Two runs, one identity
//
// Begin is one Lua script per call, so it is atomic against every other
// run's Begin. An identity InProgress under another run whose owner key is
// alive is returned as Held and left alone: only one run moves it. An
// identity InProgress under a run whose owner key is gone — a run that
// crashed (its lease ran out) or stopped (Close) — is taken over and returned
// as InProgress: moved again, maybe a duplicate, flagged by eddy-redrive-id
// as with the embedded ledger. A run that stalls for longer than the lease
// (a frozen VM) can therefore race the one that took over; that is the one
// way two runs both move an identity.
//
// # Durability
//
// A state is as durable as the server makes it: with the default RDB
// snapshots a crash of Redis can forget the last writes. Run the server with
// appendonly yes (and appendfsync always for the strict guarantee of the
// embedded ledger).
type RedisLedger struct {
	c      *redis.Pool
	cfg    ledgerConfig
	owner  string
	where  string // the URL without its password, for errors
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const (
	redisPrefix = "eddy:ledger:"
	redisJobs   = redisPrefix + "jobs"
)

func redisOwnerKey(owner string) string { return redisPrefix + "o:" + owner }

// redisJobPrefix is the prefix of the job's keys. The braces make the job a
// hash tag, so all of a job's keys share one slot; a "}" in the job's name is
// escaped (as %7D, and "%" as %25), so the first "}:" ends the job.
func redisJobPrefix(job string) string { return redisPrefix + "e:{" + jobEscaper.Replace(job) + "}:" }

var (
	jobEscaper   = strings.NewReplacer("%", "%25", "}", "%7D")
	jobUnescaper = strings.NewReplacer("%25", "%", "%7D", "}")
)

// RedactURL returns raw with its password masked, for messages.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "redis://(unparsable URL)"
	}
	return u.Redacted()
}

// OpenRedisLedger connects to the Redis at rawURL (redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
// or rediss:// for TLS) and starts this run's owner lease. An unreachable
// server is a bus.ConnectError. Errors never contain the password.
func OpenRedisLedger(ctx context.Context, rawURL string, opts ...LedgerOption) (*RedisLedger, error) {
	where := RedactURL(rawURL)
	dialURL, err := parseRedisURL(rawURL)
	if err != nil {
		// Say only what is wrong: the parser's message may quote the URL.
		return nil, fmt.Errorf("ledger %s: %w", where, ErrLedgerURL)
	}
	c := newRedisPool(dialURL)
	var tok [12]byte
	if _, err := rand.Read(tok[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l := &RedisLedger{c: c, cfg: newLedgerConfig(opts), owner: hex.EncodeToString(tok[:]), where: where}
	if l.cfg.readOnly {
		// A reader holds no lease: it writes nothing to the server.
		if _, err := l.do(ctx, "PING"); err != nil {
			c.Close()
			return nil, &bus.ConnectError{Transport: "ledger", Addr: where, Err: err}
		}
		l.cancel = func() {}
		return l, nil
	}
	if err := l.setLease(ctx); err != nil {
		c.Close()
		return nil, &bus.ConnectError{Transport: "ledger", Addr: where, Err: err}
	}
	hctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.wg.Add(1)
	go l.heartbeat(hctx)
	return l, nil
}

// ErrLedgerURL is returned by OpenRedisLedger for a URL that is not a Redis
// URL: the user's input is wrong, nothing was tried.
var ErrLedgerURL = errors.New("not a Redis URL like redis://HOST:6379/0 or rediss://HOST:6380/0")

// parseRedisURL checks rawURL up front, so a typo is a usage error and not a
// connection failure, and returns the URL to dial: the query's db= (the one
// parameter eddy reads) moved into the path.
func parseRedisURL(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "redis" && u.Scheme != "rediss") || u.Opaque != "" || u.Host == "" {
		return "", ErrLedgerURL
	}
	if p := u.Port(); p != "" {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return "", ErrLedgerURL
		}
	}
	db := strings.TrimPrefix(u.Path, "/")
	q := u.Query()
	for k := range q {
		if k != "db" {
			return "", ErrLedgerURL
		}
	}
	if v := q.Get("db"); v != "" {
		if db != "" && db != v {
			return "", ErrLedgerURL
		}
		db = v
	}
	if db != "" {
		if _, err := strconv.ParseUint(db, 10, 31); err != nil {
			return "", ErrLedgerURL
		}
		u.Path = "/" + db
	}
	u.RawQuery = ""
	return u.String(), nil
}

// Timeouts as go-redis, the client before, had them: a stalled server fails
// a call in seconds instead of hanging a redrive.
const (
	redisDialTimeout = 5 * time.Second
	redisIOTimeout   = 3 * time.Second
)

// newRedisPool returns a pool of connections to dialURL: the heartbeat and
// the ledger's calls run at once, and a redigo connection serves one caller.
func newRedisPool(dialURL string) *redis.Pool {
	return &redis.Pool{
		MaxIdle:     4,
		IdleTimeout: 5 * time.Minute,
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialURLContext(ctx, dialURL,
				redis.DialConnectTimeout(redisDialTimeout),
				redis.DialReadTimeout(redisIOTimeout),
				redis.DialWriteTimeout(redisIOTimeout))
		},
		// A connection idle for a while may have been dropped by the server
		// or a proxy; one PING finds out before a call fails on it.
		TestOnBorrow: func(c redis.Conn, idle time.Time) error {
			if time.Since(idle) < 10*time.Second {
				return nil
			}
			_, err := c.Do("PING")
			return err
		},
	}
}

// do runs one command on a pooled connection.
func (l *RedisLedger) do(ctx context.Context, cmd string, args ...any) (any, error) {
	c, err := l.c.GetContext(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return redis.DoContext(c, ctx, cmd, args...)
}

// eval runs a Lua script (EVALSHA, loading it on NOSCRIPT) with keys and args.
func (l *RedisLedger) eval(ctx context.Context, s *redis.Script, keys []string, args ...any) (any, error) {
	c, err := l.c.GetContext(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ka := make([]any, 0, 1+len(keys)+len(args))
	ka = append(ka, len(keys))
	for _, k := range keys {
		ka = append(ka, k)
	}
	return s.DoContext(ctx, c, append(ka, args...)...)
}

// setLease sets (or renews) this run's owner key with the lease as its TTL.
func (l *RedisLedger) setLease(ctx context.Context) error {
	_, err := l.do(ctx, "SET", redisOwnerKey(l.owner), "1", "PX", ms(l.cfg.lease))
	return err
}

// heartbeat renews the owner lease, so other runs keep seeing this one alive
// during long writes.
func (l *RedisLedger) heartbeat(ctx context.Context) {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// A failure is retried at the next tick; Begin renews the
			// lease too, and fails loudly if Redis is gone.
			l.setLease(ctx)
		}
	}
}

func (l *RedisLedger) err(err error) error {
	return fmt.Errorf("ledger %s: %w", l.where, err)
}

func ms(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(1, d.Milliseconds())
}

func nanos(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}

// beginScript: KEYS are the entry keys; ARGV: the job's set member, the new
// InProgress value, the time now (ns), the TTL (ms, "0": none), this run's
// owner token, the owner key prefix and the lease (ms). It returns each key's
// state as Begin does. Times are compared as Lua numbers (doubles): a
// precision of a few hundred nanoseconds is plenty.
var beginScript = redis.NewScript(-1, `
local now = tonumber(ARGV[3])
redis.call('SET', ARGV[6] .. ARGV[5], '1', 'PX', ARGV[7])
redis.call('SADD', '`+redisJobs+`', ARGV[1])
local out = {}
for i, k in ipairs(KEYS) do
  local st = 0
  local v = redis.call('GET', k)
  if v then
    local s, _, e, o = string.match(v, '^(%d):(%d+):(%d+):?(.*)$')
    st = tonumber(s) or 0
    e = tonumber(e) or 0
    if e > 0 and e <= now then st = 0 end
    if st == 1 and o ~= '' and o ~= ARGV[5] and redis.call('EXISTS', ARGV[6] .. o) == 1 then st = 3 end
  end
  out[i] = st
  if st ~= 2 and st ~= 3 then
    if ARGV[4] ~= '0' then
      redis.call('SET', k, ARGV[2], 'PX', ARGV[4])
    else
      redis.call('SET', k, ARGV[2])
    end
  end
end
return out
`)

func (l *RedisLedger) keys(job string, ids []string) []string {
	p := redisJobPrefix(job)
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = p + id
	}
	return keys
}

// Begin implements Ledger.
func (l *RedisLedger) Begin(job string, ids []string) ([]State, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ctx := context.Background()
	now := l.cfg.now()
	v := "1:" + nanos(now) + ":" + nanos(l.cfg.expires(now)) + ":" + l.owner
	res, err := redis.Int64s(l.eval(ctx, beginScript, l.keys(job, ids), job, v, nanos(now),
		ms(l.cfg.ttl), l.owner, redisPrefix+"o:", ms(l.cfg.lease)))
	if err != nil {
		return nil, l.err(err)
	}
	if len(res) != len(ids) {
		return nil, l.err(fmt.Errorf("begin returned %d states for %d ids", len(res), len(ids)))
	}
	states := make([]State, len(ids))
	for i, s := range res {
		states[i] = State(s)
	}
	return states, nil
}

// completeScript: KEYS are the entry keys; ARGV: the job's set member, the
// Completed value and the TTL (ms, "0": none).
var completeScript = redis.NewScript(-1, `
redis.call('SADD', '`+redisJobs+`', ARGV[1])
for _, k in ipairs(KEYS) do
  if ARGV[3] ~= '0' then
    redis.call('SET', k, ARGV[2], 'PX', ARGV[3])
  else
    redis.call('SET', k, ARGV[2])
  end
end
return 0
`)

// Complete implements Ledger: one script, so all or none of ids are
// Completed (a script is applied, replicated and persisted as a unit).
func (l *RedisLedger) Complete(job string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	now := l.cfg.now()
	v := "2:" + nanos(now) + ":" + nanos(l.cfg.expires(now))
	if _, err := l.eval(context.Background(), completeScript, l.keys(job, ids), job, v, ms(l.cfg.ttl)); err != nil {
		return l.err(err)
	}
	return nil
}

// parse reads an entry's value, "STATE:SET:EXPIRES[:OWNER]" (times in Unix
// ns, EXPIRES 0 for never): its state (Absent when expired at now; a zero now
// checks no expiry), when it was set and its owner.
func (l *RedisLedger) parse(v string, now time.Time) (State, time.Time, string) {
	f := strings.SplitN(v, ":", 4)
	if len(f) < 3 {
		return Absent, time.Time{}, ""
	}
	n, err1 := strconv.Atoi(f[0])
	set, err2 := strconv.ParseInt(f[1], 10, 64)
	exp, err3 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Absent, time.Time{}, ""
	}
	owner := ""
	if len(f) == 4 {
		owner = f[3]
	}
	at := time.Unix(0, set)
	if !now.IsZero() && exp != 0 && now.UnixNano() >= exp {
		return Absent, at, owner
	}
	return State(n), at, owner
}

// Get implements Ledger. It reports InProgress whoever holds the identity.
func (l *RedisLedger) Get(job, id string) (State, error) {
	v, err := redis.String(l.do(context.Background(), "GET", redisJobPrefix(job)+id))
	if errors.Is(err, redis.ErrNil) {
		return Absent, nil
	}
	if err != nil {
		return Absent, l.err(err)
	}
	s, _, _ := l.parse(v, l.cfg.now())
	return s, nil
}

// Lookup implements Store: one MGET.
func (l *RedisLedger) Lookup(job string, ids []string) ([]State, error) {
	out := make([]State, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	raw, err := l.mget(context.Background(), l.keys(job, ids))
	if err != nil {
		return nil, l.err(err)
	}
	now := l.cfg.now()
	for i, v := range raw {
		if v != "" {
			out[i], _, _ = l.parse(v, now)
		}
	}
	return out, nil
}

// globEscape escapes what SCAN's MATCH would read as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// scan calls fn with each batch of the job's keys and their values.
func (l *RedisLedger) scan(job string, fn func(keys, vals []string) error) error {
	return l.scanMatch(globEscape(redisJobPrefix(job))+"*", fn)
}

// scanMatch calls fn with each batch of keys matching the SCAN pattern match,
// and their values.
func (l *RedisLedger) scanMatch(match string, fn func(keys, vals []string) error) error {
	ctx := context.Background()
	cursor := "0"
	for {
		r, err := redis.Values(l.do(ctx, "SCAN", cursor, "MATCH", match, "COUNT", 1000))
		if err == nil && len(r) != 2 {
			err = fmt.Errorf("SCAN returned %d values, want 2", len(r))
		}
		if err != nil {
			return l.err(err)
		}
		next, err := redis.String(r[0], nil)
		if err != nil {
			return l.err(err)
		}
		keys, err := redis.Strings(r[1], nil)
		if err != nil {
			return l.err(err)
		}
		if len(keys) > 0 {
			vals, err := l.mget(ctx, keys) // "": gone since SCAN
			if err != nil {
				return l.err(err)
			}
			if err := fn(keys, vals); err != nil {
				return err
			}
		}
		if cursor = next; cursor == "0" {
			return nil
		}
	}
}

// mget returns the values of keys, "" for a key that does not exist (no
// entry is ever the empty string).
func (l *RedisLedger) mget(ctx context.Context, keys []string) ([]string, error) {
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	// redis.Strings turns a missing key (nil) into "".
	vals, err := redis.Strings(l.do(ctx, "MGET", args...))
	if err == nil && len(vals) != len(keys) {
		err = fmt.Errorf("MGET returned %d values for %d keys", len(vals), len(keys))
	}
	return vals, err
}

// Counts implements Store.
func (l *RedisLedger) Counts(job string) (map[State]int, error) {
	j, err := l.job(job)
	return j.Counts, err
}

// job summarises one job in one pass over its keys.
func (l *RedisLedger) job(job string) (JobInfo, error) {
	j := JobInfo{Job: job, Counts: map[State]int{}}
	now := l.cfg.now()
	err := l.scan(job, func(_, vals []string) error {
		for _, v := range vals {
			if s, at, _ := l.parse(v, now); s != Absent {
				j.Counts[s]++
				j.widen(at)
			}
		}
		return nil
	})
	return j, err
}

// Jobs implements Store, in one pass over the ledger's keys (not one per
// job). A job whose entries all expired is dropped from the set of jobs.
func (l *RedisLedger) Jobs() ([]JobInfo, error) {
	ctx := context.Background()
	names, err := redis.Strings(l.do(ctx, "SMEMBERS", redisJobs))
	if err != nil {
		return nil, l.err(err)
	}
	jobs := make(map[string]*JobInfo, len(names))
	for _, n := range names {
		jobs[n] = &JobInfo{Job: n, Counts: map[State]int{}}
	}
	prefix := redisPrefix + "e:{"
	now := l.cfg.now()
	err = l.scanMatch(globEscape(prefix)+"*", func(keys, vals []string) error {
		for i, k := range keys {
			esc, _, _ := strings.Cut(strings.TrimPrefix(k, prefix), "}:")
			j := jobs[jobUnescaper.Replace(esc)]
			if j == nil {
				continue // a job no longer in the set: listed again at its next write
			}
			if s, at, _ := l.parse(vals[i], now); s != Absent {
				j.Counts[s]++
				j.widen(at)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []JobInfo
	for _, n := range names {
		if len(jobs[n].Counts) == 0 {
			l.forgetIfEmpty(ctx, n)
			continue
		}
		out = append(out, *jobs[n])
	}
	return out, nil
}

// forgetJobScript removes a job from the set of jobs when it has no key
// left. ARGV: the job, and the MATCH pattern of its keys.
var forgetJobScript = redis.NewScript(-1, `
local r = redis.call('SCAN', '0', 'MATCH', ARGV[2], 'COUNT', 1000)
if r[1] == '0' and #r[2] == 0 then redis.call('SREM', '`+redisJobs+`', ARGV[1]) end
return 0
`)

// forgetIfEmpty is best effort: a job left in the set costs one empty scan.
func (l *RedisLedger) forgetIfEmpty(ctx context.Context, job string) {
	l.eval(ctx, forgetJobScript, nil, job, globEscape(redisJobPrefix(job))+"*")
}

// Entries implements Store.
func (l *RedisLedger) Entries(job string, s State, limit int) ([]Entry, error) {
	var out []Entry
	p := redisJobPrefix(job)
	now := l.cfg.now()
	err := l.scan(job, func(keys, vals []string) error {
		for i, v := range vals {
			if st, at, _ := l.parse(v, now); st == s {
				out = append(out, Entry{ID: strings.TrimPrefix(keys[i], p), State: s, At: at})
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// pruneScript deletes each key whose value is still what the scan read (so
// an entry rewritten meanwhile is kept). KEYS: the keys; ARGV: their values.
var pruneScript = redis.NewScript(-1, `
local n = 0
for i, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[i] then
    redis.call('DEL', k)
    n = n + 1
  end
end
return n
`)

// Prune implements Store.
func (l *RedisLedger) Prune(p Prune) (int, error) {
	ctx := context.Background()
	jobs := []string{p.Job}
	if p.Job == "" {
		var err error
		if jobs, err = redis.Strings(l.do(ctx, "SMEMBERS", redisJobs)); err != nil {
			return 0, l.err(err)
		}
	}
	n := 0
	for _, job := range jobs {
		err := l.scan(job, func(keys, vals []string) error {
			var ks []string
			var vs []any
			for i, v := range vals {
				if v == "" {
					continue
				}
				if s, at, _ := l.parse(v, time.Time{}); p.selects(s, at) {
					ks = append(ks, keys[i])
					vs = append(vs, v)
				}
			}
			if len(ks) == 0 {
				return nil
			}
			d, err := redis.Int(l.eval(ctx, pruneScript, ks, vs...))
			n += d
			if err != nil {
				return l.err(err)
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		l.forgetIfEmpty(ctx, job)
	}
	return n, nil
}

// Close ends this run: its owner key is deleted, so its InProgress entries
// are taken over by the next run at once, and the connection is closed.
func (l *RedisLedger) Close() error {
	l.cancel()
	l.wg.Wait()
	var err error
	if !l.cfg.readOnly {
		_, err = l.do(context.Background(), "DEL", redisOwnerKey(l.owner))
	}
	if cerr := l.c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return l.err(err)
	}
	return nil
}
