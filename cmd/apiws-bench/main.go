// Command apiws-bench drives an apiws through its public API only (GraphQL
// over HTTP and graphql-transport-ws) and prints its performance figures,
// each divided by a baseline measured in the same run on the same machine.
//
//	go run ./cmd/apiws-bench -all      every scenario and baseline (several minutes)
//	go run ./cmd/apiws-bench -smoke    every scenario for a second or two with tiny N;
//	                                   fails only on functional errors (for CI)
//	go run ./cmd/apiws-bench -scenarios send,queries
//	go run ./cmd/apiws-bench -target http://127.0.0.1:8080 -token apiwss_...
//
// By default it builds apiws and runs it as a child process on a free
// loopback port, over a fresh PostgreSQL schema (dropped afterwards) and
// Redis, with the sandbox instant, no request rate limit and a very high
// per-number pace. Scenarios:
//
//	send       clients call sendMessage on a few sandbox numbers for -duration:
//	           accepted/s, accept latency, rate of reaching SENT
//	bulk       the same with sendMessages of 100 messages: messages
//	           accepted/s and reaching SENT, latency per request
//	pernumber  the same on one number
//	queries    Account.messages pages of 5 and 50 with nested fields:
//	           latency and SQL statements (apiws_db_statements_total)
//	fanout     N websocket subscribers to messageStatus while messages are
//	           sent: deliveries/s, latency (event at → arrival), missing and
//	           duplicated events, and server memory per idle subscription
//	webhooks   webhook deliveries of status events to 1 and 100 endpoints
//	           on a loopback receiver: deliveries/s against a bare Go client
//	           posting the same signed bodies, latency event → receipt
//	baselines  pgbench single-row INSERT, a bare Redis publish loop, and
//	           pgbench writing only what messages sent 100 at a time must
//	           write (writesFloorScript); the bare Redis → websocket relay
//	           runs with each fan-out
//
// Load goes to loopback addresses only; every loop is bounded in count and
// time, and the whole run by -timeout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "apiws-bench:", err)
		os.Exit(1)
	}
}

// options are the command line, with the smoke mode's settings applied.
type options struct {
	scenarios     []string
	smoke         bool
	target, token string
	pprofAddr     string
	metricsAddr   string
	postgresURL   string
	redisURL      string
	binary        string
	duration      time.Duration
	clients       int
	numbers       int
	subscribers   []int
	deliveries    int // per fan-out run, over all subscribers
	// fanoutRate paces a fan-out's sends to this many deliveries a
	// second over all subscribers; 0 sends as fast as they go.
	fanoutRate float64
	queryReps  int
	settle     time.Duration // for idle subscriptions before reading memory
	fanoutWait time.Duration // for every delivery after the sends
	profileDir string
	// selfProfile is where the load tool writes its own CPU profile.
	selfProfile string
	profileFor  time.Duration
	timeout     time.Duration
	dir         string // scratch files
	serverLog   string
}

var allScenarios = []string{"baselines", "send", "bulk", "pernumber", "queries", "fanout", "events", "webhooks"}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("apiws-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.Bool("all", false, "run every scenario and baseline (the default without -scenarios)")
	fs.BoolVar(&o.smoke, "smoke", false, "every scenario briefly with tiny N; exits non-zero only on functional failures")
	scenarios := fs.String("scenarios", "", "comma-separated subset of: "+strings.Join(allScenarios, ","))
	fs.StringVar(&o.target, "target", "", "an apiws already running on loopback (default: build and start one)")
	fs.StringVar(&o.token, "token", "", "with -target: a dashboard session token of the account to use")
	fs.StringVar(&o.pprofAddr, "pprof", "", "with -target: the server's APIWS_PPROF_ADDR, to capture profiles")
	fs.StringVar(&o.metricsAddr, "metrics", "", "with -target: the server's APIWS_METRICS_ADDR, to read /metrics (on the main port it needs an operator key)")
	fs.StringVar(&o.postgresURL, "postgres", envOr("APIWS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL for the server and pgbench")
	fs.StringVar(&o.redisURL, "redis", envOr("APIWS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis for the server and the baselines")
	fs.StringVar(&o.binary, "apiws", "", "a prebuilt apiws binary (default: go build it)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each timed scenario and baseline runs")
	fs.IntVar(&o.clients, "clients", 16, "concurrent senders (and pgbench clients)")
	fs.IntVar(&o.numbers, "numbers", 4, "sandbox numbers the send scenario spreads over")
	subs := fs.String("subscribers", "1000,5000", "fan-out sizes")
	fs.IntVar(&o.deliveries, "deliveries", 1_000_000, "deliveries per fan-out run (messages = deliveries / (4 × subscribers))")
	fs.Float64Var(&o.fanoutRate, "fanout-rate", 0, "pace each fan-out's sends to this many deliveries/s over all subscribers (0: as fast as they go)")
	fs.IntVar(&o.queryReps, "query-reps", 50, "runs of each query")
	fs.StringVar(&o.profileDir, "profiles", "bench-profiles", "folder for CPU profiles of the send and fan-out paths (empty: none)")
	fs.StringVar(&o.selfProfile, "self-profile", "", "write this load tool's own CPU profile of the whole run to this file")
	fs.StringVar(&o.serverLog, "server-log", "", "keep the started server's log in this file (default: deleted with the scratch folder)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "bound on the whole run")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.settle, o.fanoutWait, o.profileFor = 3*time.Second, 120*time.Second, 5*time.Second
	for s := range strings.SplitSeq(*subs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-subscribers: %q is not a positive number", s)
		}
		o.subscribers = append(o.subscribers, n)
	}
	switch {
	case *scenarios != "":
		for s := range strings.SplitSeq(*scenarios, ",") {
			if s = strings.TrimSpace(s); !slices.Contains(allScenarios, s) {
				return nil, fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(allScenarios, ","))
			}
			o.scenarios = append(o.scenarios, s)
		}
	default:
		o.scenarios = allScenarios
	}
	if o.smoke {
		o.duration, o.clients, o.numbers, o.subscribers = 1500*time.Millisecond, 2, 2, []int{5}
		o.deliveries, o.queryReps, o.settle, o.fanoutWait = 5*eventsPerMessage*3, 12, 200*time.Millisecond, 30*time.Second
		o.profileDir, o.timeout = "", min(o.timeout, 5*time.Minute)
	}
	if o.target != "" {
		if o.token == "" {
			return nil, errors.New("-target needs -token")
		}
		if !loopbackURL(o.target) {
			return nil, fmt.Errorf("-target %s is not a loopback address: load goes to this machine only", o.target)
		}
	}
	if o.clients <= 0 || o.numbers <= 0 || o.duration <= 0 || o.queryReps <= 0 {
		return nil, errors.New("-clients, -numbers, -duration and -query-reps must be positive")
	}
	return o, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// loopbackURL reports whether raw's host is this machine.
func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// bench is one run: the server under test and what has been measured.
type bench struct {
	opts      *options
	api       *api
	pid       int    // the child's, 0 with -target
	pprofAddr string // the server's pprof listener, if known
	binary    string // for symbolising profiles
	report    *report
	stderr    io.Writer
	start     time.Time
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "[%6.1fs] %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, args...))
}

// run is the whole program.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if o.selfProfile != "" {
		f, err := os.Create(o.selfProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	o.dir, err = os.MkdirTemp("", "apiws-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(o.dir)
	b := &bench{opts: o, report: &report{}, stderr: stderr, start: time.Now(), pprofAddr: o.pprofAddr}
	if o.target != "" {
		b.api = newAPI(o.target, o.token, o.clients+8)
		if o.metricsAddr != "" {
			b.api.metrics = "http://" + o.metricsAddr + "/metrics"
		}
	} else {
		b.logf("building and starting apiws (PostgreSQL %s, Redis %s)", redact(o.postgresURL), o.redisURL)
		c, err := startChild(ctx, childOptions{Binary: o.binary, PostgresURL: o.postgresURL, RedisURL: o.redisURL, Dir: o.dir, LogPath: o.serverLog})
		if err != nil {
			return err
		}
		defer c.stop()
		b.pid, b.pprofAddr, b.binary = c.pid, c.pprofAddr, c.binary
		b.api = newAPI(c.base, "", o.clients+8)
		b.api.metrics = "http://" + c.metricsAddr + "/metrics"
		token, err := b.api.signUp(ctx, "bench-"+randomHex(4)+"@example.com")
		if err != nil {
			return err
		}
		b.api.token = token
		b.logf("apiws %s (pid %d, log %s)", c.base, c.pid, c.logPath)
	}
	if err := b.runScenarios(ctx); err != nil {
		b.report.fail("%v", err)
	}
	fmt.Fprintf(stdout, "\n## apiws-bench: %s, %d CPUs\n\n", time.Now().UTC().Format(time.DateOnly), runtime.NumCPU())
	b.report.write(stdout)
	if failed := b.report.failed(); len(failed) > 0 {
		return fmt.Errorf("%d functional failure(s)", len(failed))
	}
	return nil
}

// redact hides a URL's password.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

func (b *bench) want(s string) bool { return slices.Contains(b.opts.scenarios, s) }

// runScenarios runs the chosen scenarios in a fixed order and adds their
// figures to the report.
func (b *bench) runScenarios(ctx context.Context) error {
	o := b.opts
	var pg, floor *pgbenchResult
	var loop float64
	var err error
	if b.want("baselines") {
		b.logf("baseline: pgbench single-row INSERT, %d clients, %s", o.clients, o.duration)
		if pg, err = b.pgbench(ctx, o.clients, o.duration); err != nil {
			return err
		}
		b.logf("baseline: Redis publish loop, %s", o.duration)
		if loop, err = b.redisPublishLoop(ctx, o.duration); err != nil {
			return err
		}
		b.add(figure{Scenario: "baseline", Name: "pgbench single-row INSERT", Value: pg.tps, Unit: "tx/s",
			Note: fmt.Sprintf("%d clients, mean %.2f ms", o.clients, pg.latencyMs)})
		if pg.cpuBusy > 0 {
			b.add(figure{Scenario: "baseline", Name: "pgbench: machine CPU per transaction", Value: pg.cpuBusy, Unit: "ms",
				Note: fmt.Sprintf("PostgreSQL %.3f ms, pgbench %.3f ms; %.2f cores busy", pg.cpuPostgres, pg.cpuClient, pg.cores)})
		}
		b.add(figure{Scenario: "baseline", Name: "Redis publish loop, one goroutine", Value: loop, Unit: "publishes/s"})
		clients := bulkClients(o.clients)
		b.logf("baseline: pgbench, a message's writes 100 at a time, %d clients, %s", clients, o.duration)
		if floor, err = b.writesFloor(ctx, clients, o.duration); err != nil {
			b.report.note("writes' floor not measured: %v", err)
		} else {
			b.add(figure{Scenario: "baseline", Name: "pgbench: a message's writes, 100 a transaction, nothing else", Value: floor.tps, Unit: "msg/s",
				Baseline: "pgbench INSERT", BaselineValue: pg.tps,
				Note: fmt.Sprintf("%d clients; queued, SENT, DELIVERED, READ: 4 transactions of one statement each", clients)})
			if floor.cpuBusy > 0 {
				b.add(figure{Scenario: "baseline", Name: "a message's writes: machine CPU per message", Value: floor.cpuBusy, Unit: "ms",
					Baseline: "pgbench per transaction", BaselineValue: pg.cpuBusy,
					Note: fmt.Sprintf("PostgreSQL %.3f ms, pgbench %.3f ms; %.2f cores busy", floor.cpuPostgres, floor.cpuClient, floor.cores)})
			}
		}
	}
	if pg == nil {
		pg = &pgbenchResult{}
	}

	sendNumbers := make([]string, o.numbers)
	for i := range sendNumbers {
		if sendNumbers[i], err = b.api.connectSandbox(ctx); err != nil {
			return err
		}
	}
	sentMessages := int64(0)
	if b.want("send") {
		b.quiesce(ctx)
		b.logf("send: %d clients over %d numbers, %s", o.clients, o.numbers, o.duration)
		r, err := b.sendLoad(ctx, sendNumbers, o.clients, 1, o.duration, "send")
		if err != nil {
			return err
		}
		sentMessages += r.accepted
		p99 := ms(r.acceptLatency.quantile(0.99))
		b.add(figure{Scenario: "send", Name: "accepted", Value: r.acceptedPerSecond(), Unit: "msg/s",
			Baseline: "pgbench INSERT", BaselineValue: pg.tps, Note: fmt.Sprintf("%d clients, %d numbers", o.clients, o.numbers)})
		b.add(figure{Scenario: "send", Name: "accepted → SENT", Value: r.sentPerSecond(), Unit: "msg/s",
			Baseline: "pgbench INSERT", BaselineValue: pg.tps, Target: "≥ 0.25 × baseline, p99 accept < 50 ms",
			Met: pg.tps > 0 && r.sentPerSecond() >= 0.25*pg.tps && p99 < 50})
		b.add(figure{Scenario: "send", Name: "SQL statements per message", Value: r.statementsPerMessage(),
			Baseline: "pgbench INSERT", BaselineValue: 1, Note: "queue, SENT, DELIVERED, READ; background work included"})
		b.addServerCounts("send", r)
		b.addCPU("send", r, pg, nil)
		b.add(figure{Scenario: "send", Name: "accept latency p50", Value: ms(r.acceptLatency.quantile(0.5)), Unit: "ms",
			Baseline: "pgbench mean latency", BaselineValue: pg.latencyMs})
		b.add(figure{Scenario: "send", Name: "accept latency p99", Value: p99, Unit: "ms",
			Baseline: "pgbench mean latency", BaselineValue: pg.latencyMs, Target: "< 50 ms", Met: p99 < 50})
	}
	if b.want("bulk") {
		b.quiesce(ctx)
		clients := bulkClients(o.clients)
		b.logf("bulk: %d clients sending 100 messages a request over %d numbers, %s", clients, o.numbers, o.duration)
		r, err := b.sendLoad(ctx, sendNumbers, clients, 100, o.duration, "bulk")
		if err != nil {
			return err
		}
		sentMessages += r.accepted
		b.add(figure{Scenario: "bulk", Name: "messages accepted", Value: r.acceptedPerSecond(), Unit: "msg/s",
			Baseline: "pgbench INSERT", BaselineValue: pg.tps, Note: fmt.Sprintf("%d clients, 100 a request, %d numbers", clients, o.numbers)})
		b.add(figure{Scenario: "bulk", Name: "accepted → SENT", Value: r.sentPerSecond(), Unit: "msg/s",
			Baseline: "pgbench INSERT", BaselineValue: pg.tps, Target: "≥ 1.0 × baseline",
			Met: pg.tps > 0 && r.sentPerSecond() >= pg.tps})
		if floor != nil {
			b.add(figure{Scenario: "bulk", Name: "accepted → SENT, against PostgreSQL writing only", Value: r.sentPerSecond(), Unit: "msg/s",
				Baseline: "a message's writes", BaselineValue: floor.tps})
		}
		b.add(figure{Scenario: "bulk", Name: "SQL statements per message", Value: r.statementsPerMessage(),
			Baseline: "pgbench INSERT", BaselineValue: 1, Note: "queue, SENT, DELIVERED, READ; background work included"})
		b.addServerCounts("bulk", r)
		b.addCPU("bulk", r, pg, floor)
		b.add(figure{Scenario: "bulk", Name: "request latency p50", Value: ms(r.acceptLatency.quantile(0.5)), Unit: "ms"})
		b.add(figure{Scenario: "bulk", Name: "request latency p99", Value: ms(r.acceptLatency.quantile(0.99)), Unit: "ms"})
	}
	if b.want("pernumber") {
		b.quiesce(ctx)
		num, err := b.api.connectSandbox(ctx)
		if err != nil {
			return err
		}
		b.logf("per-number: %d clients on one number, %s", o.clients, o.duration)
		r, err := b.sendLoad(ctx, []string{num}, o.clients, 1, o.duration, "")
		if err != nil {
			return err
		}
		sentMessages += r.accepted
		b.add(figure{Scenario: "per-number", Name: "accepted → SENT, one number", Value: r.sentPerSecond(), Unit: "msg/s",
			Baseline: "Redis publish loop", BaselineValue: loop, Target: "≥ 1,000 msg/s", Met: r.sentPerSecond() >= 1000,
			Note: fmt.Sprintf("accepted %.0f/s", r.acceptedPerSecond())})
	}
	if b.want("queries") {
		b.quiesce(ctx)
		if err := b.queriesScenario(ctx, sendNumbers[0], sentMessages); err != nil {
			return err
		}
	}
	if b.want("fanout") || b.want("events") {
		num, err := b.api.connectSandbox(ctx)
		if err != nil {
			return err
		}
		for _, n := range o.subscribers {
			var status *fanoutResult
			if b.want("fanout") {
				b.quiesce(ctx)
				if status, err = b.fanoutScenario(ctx, num, n); err != nil {
					return err
				}
			}
			if b.want("events") {
				b.quiesce(ctx)
				if err := b.eventsFanoutScenario(ctx, num, n, status); err != nil {
					return err
				}
			}
		}
	}
	if b.want("webhooks") {
		recv, err := startHookReceiver()
		if err != nil {
			return err
		}
		defer recv.close()
		for _, n := range []int{1, 100} {
			b.quiesce(ctx)
			if err := b.webhooksScenario(ctx, recv, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// bulkClients is how many clients send 100 messages a request when
// sendMessage has clients: one for eight.
func bulkClients(clients int) int { return max(clients/8, 1) }

// addCPU adds the machine's CPU per message of a send scenario, each
// part's in its note, against pgbench's per transaction and, when
// measured, PostgreSQL's for a message's writes alone.
func (b *bench) addCPU(scenario string, r *sendResult, pg, floor *pgbenchResult) {
	if !r.cpuMeasured || r.accepted == 0 {
		return
	}
	a, p, rd, l, busy := r.cpu.per(float64(r.accepted))
	note := fmt.Sprintf("apiws %.3f ms, PostgreSQL %.3f ms, Redis %.3f ms, load clients %.3f ms; %.2f cores busy", a, p, rd, l, r.cpu.cores())
	b.add(figure{Scenario: scenario, Name: "machine CPU per message", Value: busy, Unit: "ms",
		Baseline: "pgbench per transaction", BaselineValue: pg.cpuBusy, Note: note})
	if floor != nil && floor.cpuPostgres > 0 {
		b.add(figure{Scenario: scenario, Name: "PostgreSQL CPU per message", Value: p, Unit: "ms",
			Baseline: "a message's writes alone", BaselineValue: floor.cpuPostgres})
	}
}

// addServerCounts adds the scenario's round trips to PostgreSQL per message
// and its journal's busy share, when the server counts them.
func (b *bench) addServerCounts(scenario string, r *sendResult) {
	if r.trips >= 0 {
		b.add(figure{Scenario: scenario, Name: "SQL round trips per message", Value: r.perMessage(r.trips),
			Baseline: "pgbench INSERT", BaselineValue: 1, Note: "a pipelined transaction's round counts once"})
	}
	if r.journalBusy >= 0 {
		b.add(figure{Scenario: scenario, Name: "journal busy (time committing / time of the run, one account: at most 100%)",
			Value: 100 * r.journalBusy, Unit: "%", Note: fmt.Sprintf("%.1f writes a commit", r.journalWrites)})
	}
	if r.busDropped >= 0 {
		b.add(figure{Scenario: scenario, Name: "bus subscriptions dropped as too slow (each reads the log again)", Value: r.busDropped})
	}
	if r.behind >= 0 {
		b.add(figure{Scenario: scenario, Name: "event subscriptions fallen behind (each reads the log again)", Value: r.behind})
	}
}

// quiesce waits (at most two minutes) until the server runs no SQL for a
// second, so that the work one scenario left queued does not weigh on the
// next one's figures.
func (b *bench) quiesce(ctx context.Context) {
	deadline := time.Now().Add(2 * time.Minute)
	last, err := b.api.metric(ctx, "apiws_db_statements_total")
	for err == nil && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Second)
		var now float64
		if now, err = b.api.metric(ctx, "apiws_db_statements_total"); err == nil && now == last {
			return
		}
		last = now
	}
	b.report.note("the server was still busy when a scenario started")
}

func (b *bench) add(f figure) {
	b.report.add(f)
	b.logf("%s: %s = %s", f.Scenario, f.Name, number(f.Value, f.Unit))
}

// queriesScenario makes sure there are 50 messages, then measures pages.
func (b *bench) queriesScenario(ctx context.Context, numberID string, sent int64) error {
	for i := sent; i < 60; i++ {
		if _, err := b.api.send(ctx, numberID, recipient(int(i))); err != nil {
			return err
		}
	}
	b.logf("queries: %d runs each", b.opts.queryReps)
	rs, err := b.queries(ctx, b.opts.queryReps)
	if err != nil {
		return err
	}
	viewer, five, fifty := rs["viewer"], rs["page of 5"], rs["page of 50"]
	for _, q := range []struct {
		name string
		r    *queryResult
	}{{"page of 5", five}, {"page of 50", fifty}} {
		for _, p := range []float64{0.5, 0.99} {
			b.add(figure{Scenario: "queries", Name: fmt.Sprintf("%s, p%.0f", q.name, p*100), Value: ms(q.r.latency.quantile(p)), Unit: "ms",
				Baseline: fmt.Sprintf("viewer query p%.0f", p*100), BaselineValue: ms(viewer.latency.quantile(p))})
		}
	}
	b.add(figure{Scenario: "queries", Name: "statements, page of 5", Value: five.statements, Baseline: "viewer query", BaselineValue: viewer.statements})
	b.add(figure{Scenario: "queries", Name: "statements, page of 50", Value: fifty.statements, Baseline: "page of 5", BaselineValue: five.statements,
		Target: "= page of 5", Met: fifty.statements == five.statements})
	if fifty.statements != five.statements {
		b.report.fail("queries: a page of 50 takes %v statements, a page of 5 %v", fifty.statements, five.statements)
	}
	// A profile of pages of 50 alone: what a page's size costs.
	profiled := b.profile(ctx, "page50", b.opts.profileFor)
	for {
		select {
		case <-profiled:
			return nil
		default:
		}
		if err := b.api.do(ctx, pageQuery, map[string]any{"n": 50}, nil); err != nil {
			return err
		}
	}
}

// fanoutScenario runs apiws's fan-out to n subscribers, then the relay
// baseline with as many events per client.
// fanoutMessages is how many messages a fan-out to n subscribers sends.
func (b *bench) fanoutMessages(n int) int {
	return max(1, min(b.opts.deliveries/(eventsPerMessage*n), 1000))
}

// missingFigure reports the fan-out's missing and duplicated events, a
// failure when there are any.
func (b *bench) missingFigure(scen string, r *fanoutResult, note string) {
	b.add(figure{Scenario: scen, Name: "missing + duplicated events", Value: float64(r.missing + r.duplicated),
		Target: "0", Met: r.missing+r.duplicated == 0, Note: note})
	if r.missing+r.duplicated > 0 {
		b.report.fail("%s: %d missing and %d duplicated events; %d subscribers incomplete (last cursor: count %s; %d events after the base)",
			scen, r.missing, r.duplicated, r.incomplete, r.stuckAt, r.events)
	}
}

// eventsFanoutScenario is the fan-out on the events subscription (the
// whole event stream, its message status events carrying the same fields
// as messageStatus'), against messageStatus' fan-out of the same run when
// there was one.
func (b *bench) eventsFanoutScenario(ctx context.Context, numberID string, n int, status *fanoutResult) error {
	messages := b.fanoutMessages(n)
	b.logf("events fan-out: %d subscribers, %d messages", n, messages)
	r, err := b.fanout(ctx, followEvents, numberID, n, messages, fmt.Sprintf("events-%d", n))
	if err != nil {
		return err
	}
	scen := fmt.Sprintf("events fan-out %d", n)
	if status != nil {
		b.add(figure{Scenario: scen, Name: "delivered", Value: r.deliveredPerSecond(), Unit: "events/s",
			Baseline: "messageStatus fan-out, same run", BaselineValue: status.deliveredPerSecond(),
			Note: fmt.Sprintf("%d events × %d subscribers, made at %.0f events/s", r.events, n, r.rate)})
		for _, p := range []float64{0.5, 0.99} {
			b.add(figure{Scenario: scen, Name: fmt.Sprintf("latency at → arrival p%.0f", p*100), Value: ms(r.latency.quantile(p)), Unit: "ms",
				Baseline: "messageStatus fan-out", BaselineValue: ms(status.latency.quantile(p))})
		}
	}
	b.missingFigure(scen, r, "")
	return nil
}

func (b *bench) fanoutScenario(ctx context.Context, numberID string, n int) (*fanoutResult, error) {
	messages := b.fanoutMessages(n)
	b.logf("fan-out: %d subscribers, %d messages (%d events each)", n, messages, messages*eventsPerMessage)
	r, err := b.fanout(ctx, followStatus, numberID, n, messages, fmt.Sprintf("fanout-%d", n))
	if err != nil {
		return nil, err
	}
	b.logf("relay baseline: %d clients, %.0f events/s", n, r.rate)
	rel, err := b.relayFanout(ctx, n, r.events, r.rate)
	if err != nil {
		return nil, err
	}
	b.logf("relay baseline: %d clients, as fast as Redis takes them", n)
	fast, err := b.relayFanout(ctx, n, r.events, 0)
	if err != nil {
		return nil, err
	}
	scen := fmt.Sprintf("fan-out %d", n)
	// apiws makes its events as fast as it can send messages while it
	// delivers them; the relay given the same rate shows whether apiws
	// keeps up with its own rate, the unpaced relay what the same fan-out
	// costs at least: the target is against that capacity.
	b.add(figure{Scenario: scen, Name: "delivered", Value: r.deliveredPerSecond(), Unit: "events/s",
		Baseline: "bare relay, same publish rate", BaselineValue: rel.deliveredPerSecond(),
		Note: fmt.Sprintf("%d events × %d subscribers, made at %.0f events/s", r.events, n, r.rate)})
	b.add(figure{Scenario: scen, Name: "delivered", Value: r.deliveredPerSecond(), Unit: "events/s",
		Baseline: "bare relay, unpaced", BaselineValue: fast.deliveredPerSecond(), Target: "≥ 0.7 × baseline",
		Met:  fast.deliveredPerSecond() > 0 && r.deliveredPerSecond() >= 0.7*fast.deliveredPerSecond(),
		Note: "against the relay's capacity: its events published as fast as Redis takes them"})
	for _, p := range []float64{0.5, 0.99} {
		f := figure{Scenario: scen, Name: fmt.Sprintf("latency at → arrival p%.0f", p*100), Value: ms(r.latency.quantile(p)), Unit: "ms",
			Baseline: "bare relay", BaselineValue: ms(rel.latency.quantile(p))}
		if p == 0.99 {
			f.Target, f.Met = "≤ 1.5 × baseline", f.Value <= 1.5*f.BaselineValue
		}
		b.add(f)
	}
	if r.publishDelay != nil {
		for _, p := range []float64{0.5, 0.99} {
			b.add(figure{Scenario: scen, Name: fmt.Sprintf("of which at → published (commit), p%.0f", p*100), Value: ms(r.publishDelay.quantile(p)), Unit: "ms",
				Baseline: "latency at → arrival", BaselineValue: ms(r.latency.quantile(p)),
				Note: "the server's histogram of every event it published during the run, interpolated within its bucket (5 ms wide at 10-20 ms, 20 ms at 30-50 ms)"})
		}
	}
	b.missingFigure(scen, r, fmt.Sprintf("relay: %d", rel.missing+rel.duplicated))
	if r.rssPerSub != 0 {
		kib := r.rssPerSub / 1024
		b.add(figure{Scenario: scen, Name: "server RSS per idle subscription", Value: kib, Unit: "KiB",
			Baseline: "target", BaselineValue: idleTargetKiB, Target: fmt.Sprintf("≤ %d KiB", idleTargetKiB), Met: kib <= idleTargetKiB})
	}
	if r.goroutinesPerSub != 0 {
		kib := (r.heapPerSub + r.stacksPerSub) / 1024
		b.add(figure{Scenario: scen, Name: "live Go memory per idle subscription", Value: kib, Unit: "KiB",
			Baseline: "target", BaselineValue: idleTargetKiB, Target: fmt.Sprintf("≤ %d KiB", idleTargetKiB), Met: kib <= idleTargetKiB,
			Note: fmt.Sprintf("heap objects %.1f KiB, stacks %.1f KiB of %.1f goroutines; after a collection",
				r.heapPerSub/1024, r.stacksPerSub/1024, r.goroutinesPerSub)})
	}
	return r, nil
}

// idleTargetKiB is the most server memory an idle subscription may take
// (issue 21).
const idleTargetKiB = 20
