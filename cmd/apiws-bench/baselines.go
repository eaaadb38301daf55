package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// pgbenchResult is pgbench's throughput and mean latency.
type pgbenchResult struct {
	tps       float64
	latencyMs float64
	// CPU per transaction: PostgreSQL's, pgbench's, the machine's, in ms
	// (0 when /proc could not be read).
	cpuPostgres, cpuClient, cpuBusy float64
	cores                           float64
}

// pgbenchTable is shaped like apiws's messages table, with its indexes.
const pgbenchTable = `CREATE TABLE %[1]s.messages (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL, number_id TEXT NOT NULL, direction TEXT NOT NULL,
  peer TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, wa_message_id TEXT, client_reference TEXT,
  idempotency_key TEXT, request_hash BYTEA, error TEXT, queued_at TIMESTAMPTZ, sent_at TIMESTAMPTZ,
  delivered_at TIMESTAMPTZ, read_at TIMESTAMPTZ, played_at TIMESTAMPTZ, failed_at TIMESTAMPTZ, received_at TIMESTAMPTZ);
CREATE INDEX ON %[1]s.messages (account_id, id);
CREATE INDEX ON %[1]s.messages (number_id, id);
CREATE INDEX ON %[1]s.messages (number_id, wa_message_id);
CREATE UNIQUE INDEX ON %[1]s.messages (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL`

// pgbenchScript inserts one row per transaction.
const pgbenchScript = `INSERT INTO %s.messages (id, account_id, number_id, direction, peer, kind, status, wa_message_id, queued_at)
VALUES ('msg_' || gen_random_uuid(), 'acc_bench', 'num_bench', 'OUTBOUND', '+14155551234', 'TEXT', 'QUEUED', gen_random_uuid()::text, now());
`

var (
	pgbenchTPS     = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	pgbenchLatency = regexp.MustCompile(`latency average = ([0-9.]+) ms`)
)

// pgbench runs the single-row INSERT baseline with clients connections
// for dur, in a schema of its own that it drops afterwards.
func (b *bench) pgbench(ctx context.Context, clients int, dur time.Duration) (*pgbenchResult, error) {
	schema := "bench_pg_" + randomHex(6)
	if err := pgExec(ctx, b.opts.postgresURL, "CREATE SCHEMA "+schema, fmt.Sprintf(pgbenchTable, schema)); err != nil {
		return nil, err
	}
	defer func() {
		if err := pgExec(context.WithoutCancel(ctx), b.opts.postgresURL, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			b.report.note("drop schema %s: %v", schema, err)
		}
	}()
	script := filepath.Join(b.opts.dir, "pgbench-insert.sql")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(pgbenchScript, schema)), 0o600); err != nil {
		return nil, err
	}
	secs := max(1, int(dur.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, "pgbench", "-n", "-f", script, "-c", strconv.Itoa(clients), "-j", "2",
		"-T", strconv.Itoa(secs), b.opts.postgresURL)
	before, start := takeCPU(0), time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("pgbench: %w: %s", err, out)
	}
	use, measured := cpuBetween(before, takeCPU(0), time.Since(start))
	tps, lat := pgbenchTPS.FindSubmatch(out), pgbenchLatency.FindSubmatch(out)
	if tps == nil || lat == nil {
		return nil, fmt.Errorf("pgbench output not understood: %s", out)
	}
	r := &pgbenchResult{}
	r.tps, _ = strconv.ParseFloat(string(tps[1]), 64)
	r.latencyMs, _ = strconv.ParseFloat(string(lat[1]), 64)
	if txs := r.tps * float64(secs); measured && txs > 0 {
		_, r.cpuPostgres, _, _, r.cpuBusy = use.per(txs)
		r.cpuClient = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds() * 1000 / txs
		r.cores = use.cores()
	}
	return r, nil
}

// redisPublishLoop publishes from one goroutine, one round trip each, for
// dur: the pace of a loop that does one broker call per item.
func (b *bench) redisPublishLoop(ctx context.Context, dur time.Duration) (float64, error) {
	opts, err := redis.ParseURL(b.opts.redisURL)
	if err != nil {
		return 0, err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	channel := "apiws-bench:loop:" + randomHex(6)
	payload := strings.Repeat("x", 200) // about an encoded status event
	n := 0
	start := time.Now()
	for time.Since(start) < dur && ctx.Err() == nil {
		if err := rdb.Publish(ctx, channel, payload).Err(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
