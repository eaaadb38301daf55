package main

import (
	"context"
	"errors"
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
	return b.runPgbench(ctx, b.opts.postgresURL, "pgbench-insert.sql", fmt.Sprintf(pgbenchScript, schema), clients, dur, 1)
}

// writesFloorMessages is how many messages one run of writesFloorScript
// sends.
const writesFloorMessages = 100

// writesFloorScript is the least PostgreSQL can be asked to write for
// messages sent as sendMessages sends them, on apiws's own tables: 100
// messages queued (their rows, outbox items and QUEUED events, the
// account's event counter bumped) in one transaction, then moved to SENT
// (the outbox emptied, the sandbox's record of the transmission),
// DELIVERED and READ, a transaction each with its events. Each
// transaction is a single statement over the 100 rows, with none of the
// reads apiws makes to decide (the journal's lock of the moving messages,
// the dispatcher's pass, idempotency, quota), no API call log and no
// usage. Each client has an account and a number of its own, so no two
// share a counter.
var writesFloorScript = `SELECT nextval('bench_floor_seq') AS run \gset
BEGIN;
WITH m AS (
  INSERT INTO messages (id, account_id, number_id, direction, peer, kind, status, queued_at)
  SELECT 'msg_floor_' || :run || '_' || g, ('acc_floor_' || :client_id), ('num_floor_' || :client_id), 'OUTBOUND', '+1415555' || lpad(g::text, 4, '0'), 'TEXT', 'QUEUED', now()
  FROM generate_series(1, 100) g RETURNING id, queued_at),
o AS (
  INSERT INTO outbox (message_id, account_id, number_id, content, next_attempt_at)
  SELECT id, ('acc_floor_' || :client_id), ('num_floor_' || :client_id), '\x0a0568656c6c6f'::bytea, now() FROM m),
c AS (UPDATE event_counters SET last_seq = last_seq + 100 WHERE account_id = ('acc_floor_' || :client_id) RETURNING last_seq)
INSERT INTO log_events (account_id, seq, type, number_id, message_id, status, at)
SELECT ('acc_floor_' || :client_id), c.last_seq - 100 + row_number() OVER (), 'MESSAGE_STATUS', ('num_floor_' || :client_id), m.id, 'QUEUED', m.queued_at FROM m, c;
COMMIT;
BEGIN;
WITH d AS (
  DELETE FROM outbox WHERE message_id IN (SELECT 'msg_floor_' || :run || '_' || g FROM generate_series(1, 100) g)
  RETURNING message_id),
u AS (
  UPDATE messages SET status = 'SENT', sent_at = now(), wa_message_id = '3EB0' || md5(id)
  FROM d WHERE messages.id = d.message_id RETURNING messages.id, messages.sent_at),
s AS (
  INSERT INTO sandbox_transmissions (number_id, message_id, recipient, kind, at)
  SELECT ('num_floor_' || :client_id), id, '+14155550000', 'TEXT', sent_at FROM u),
c AS (UPDATE event_counters SET last_seq = last_seq + 100 WHERE account_id = ('acc_floor_' || :client_id) RETURNING last_seq)
INSERT INTO log_events (account_id, seq, type, number_id, message_id, status, at)
SELECT ('acc_floor_' || :client_id), c.last_seq - 100 + row_number() OVER (), 'MESSAGE_STATUS', ('num_floor_' || :client_id), u.id, 'SENT', u.sent_at FROM u, c;
COMMIT;
` + writesFloorReceipt("DELIVERED", "delivered_at") + writesFloorReceipt("READ", "read_at")

// writesFloorReceipt is writesFloorScript's transaction that moves its 100
// messages to status, setting column, with their events.
func writesFloorReceipt(status, column string) string {
	return fmt.Sprintf(`BEGIN;
WITH u AS (
  UPDATE messages SET status = '%[1]s', %[2]s = now()
  WHERE id IN (SELECT 'msg_floor_' || :run || '_' || g FROM generate_series(1, 100) g) RETURNING id, %[2]s AS at),
c AS (UPDATE event_counters SET last_seq = last_seq + 100 WHERE account_id = ('acc_floor_' || :client_id) RETURNING last_seq)
INSERT INTO log_events (account_id, seq, type, number_id, message_id, status, at)
SELECT ('acc_floor_' || :client_id), c.last_seq - 100 + row_number() OVER (), 'MESSAGE_STATUS', ('num_floor_' || :client_id), u.id, '%[1]s', u.at FROM u, c;
COMMIT;
`, status, column)
}

// writesFloor runs writesFloorScript with clients connections for dur, in
// a database of its own made by apiws's migrations, which it drops
// afterwards. Its figures are per message.
func (b *bench) writesFloor(ctx context.Context, clients int, dur time.Duration) (*pgbenchResult, error) {
	if b.binary == "" {
		return nil, errors.New("no apiws binary to migrate its database with (-target)")
	}
	database, dbURL, err := createDatabase(ctx, b.opts.postgresURL, "apiws_floor_")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := dropDatabase(context.WithoutCancel(ctx), b.opts.postgresURL, database); err != nil {
			b.report.note("%v", err)
		}
	}()
	migrate := exec.CommandContext(ctx, b.binary, "migrate")
	migrate.Env = append(os.Environ(), "APIWS_DATABASE_URL="+dbURL)
	if out, err := migrate.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("apiws migrate: %w: %s", err, out)
	}
	if err := pgExec(ctx, dbURL,
		"CREATE SEQUENCE bench_floor_seq",
		fmt.Sprintf(`INSERT INTO accounts (id, name, email, status, password_hash, created_at, age_checked_at)
			SELECT 'acc_floor_' || c, 'floor', 'floor' || c || '@example.com', 'ACTIVE', '-', now(), now()
			FROM generate_series(0, %d) c`, clients-1),
		fmt.Sprintf(`INSERT INTO event_counters (account_id, last_seq) SELECT 'acc_floor_' || c, 0 FROM generate_series(0, %d) c`, clients-1),
	); err != nil {
		return nil, err
	}
	return b.runPgbench(ctx, dbURL, "pgbench-floor.sql", writesFloorScript, clients, dur, writesFloorMessages)
}

// runPgbench runs script with clients connections for dur and reads its
// throughput, mean latency and the CPU it took, each per unit: a script's
// run counts as units of them.
func (b *bench) runPgbench(ctx context.Context, dbURL, name, script string, clients int, dur time.Duration, units float64) (*pgbenchResult, error) {
	path := filepath.Join(b.opts.dir, name)
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		return nil, err
	}
	secs := max(1, int(dur.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, "pgbench", "-n", "-f", path, "-c", strconv.Itoa(clients), "-j", "2",
		"-T", strconv.Itoa(secs), dbURL)
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
	r.tps *= units
	r.latencyMs, _ = strconv.ParseFloat(string(lat[1]), 64)
	if n := r.tps * float64(secs); measured && n > 0 {
		_, r.cpuPostgres, _, _, r.cpuBusy = use.per(n)
		r.cpuClient = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds() * 1000 / n
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
