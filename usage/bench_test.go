package usage_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/accounts"
	"github.com/apiws/apiws/graph/generated"
	"github.com/apiws/apiws/resolvers"
	"github.com/apiws/apiws/server"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/usage"
)

// Benchmark data: a call log of benchCalls rows over 12 months, spread over
// benchAccounts accounts, each with 12 months of hour and day rollups.
const (
	benchCalls    = 5_000_000
	benchAccounts = 50
)

// loadBenchData bulk-loads the benchmark's rows with INSERT ... SELECT
// generate_series, which PostgreSQL runs without a round trip per row.
func loadBenchData(b *testing.B, db *storage.DB, from, to time.Time) {
	b.Helper()
	ctx := context.Background()
	step := to.Sub(from) / benchCalls
	stmts := []string{
		fmt.Sprintf(`INSERT INTO accounts (id, name, email, status, password_hash, created_at, age_checked_at)
		  SELECT 'acc_bench' || g, 'Bench', 'bench' || g || '@example.com', 'ACTIVE', 'x', now(), now()
		  FROM generate_series(0, %d) g`, benchAccounts-1),
		fmt.Sprintf(`INSERT INTO api_calls (id, account_id, operation_name, operation_type, duration_ns, ok, error_code, ip, user_agent, at)
		  SELECT 'call_' || lpad(g::text, 26, '0'), 'acc_bench' || (g %% %d), 'Op' || (g %% 20), 'query',
		    (g %% 997) * 50000, g %% 50 <> 0, CASE WHEN g %% 50 = 0 THEN 'FORBIDDEN' END, '10.0.0.1', 'bench',
		    '%s'::timestamptz + g * interval '%d microseconds'
		  FROM generate_series(1, %d) g`, benchAccounts, from.Format(time.RFC3339), step.Microseconds(), benchCalls),
		fmt.Sprintf(`INSERT INTO usage_rollups (account_id, period, start, api_calls, errors, accepted, sent, delivered, "read", lat_2, lat_3, lat_4)
		  SELECT 'acc_bench' || a, p.period, s, 600, 12, 40, 40, 38, 30, 300, 200, 100
		  FROM generate_series(0, %d) a,
		    (VALUES ('hour', interval '1 hour'), ('day', interval '1 day')) AS p(period, step),
		    LATERAL generate_series('%s'::timestamptz, '%s'::timestamptz - p.step, p.step) s`,
			benchAccounts-1, from.Format(time.RFC3339), to.Format(time.RFC3339)),
		`ANALYZE`,
	}
	for _, q := range stmts {
		if _, err := db.Bun.ExecContext(ctx, q); err != nil {
			b.Fatalf("load: %v\n%s", err, q)
		}
	}
}

// BenchmarkUsage measures, on PostgreSQL with a 5-million-row call log,
// usage over 12 months by DAY, and the request path with the call log on
// and off, interleaved in one run so both see the same machine.
func BenchmarkUsage(b *testing.B) {
	ctx := context.Background()
	db := storagetest.Open(b, storage.Postgres)
	to := apiws.Day.Truncate(time.Now())
	from := to.AddDate(-1, 0, 0)
	start := time.Now()
	loadBenchData(b, db, from, to)
	b.Logf("loaded %d calls and %d accounts' rollups in %v", benchCalls, benchAccounts, time.Since(start).Round(time.Second))

	svc := usage.New(db, usage.Options{})
	b.Run("usage-12-months-DAY", func(b *testing.B) {
		var ds []time.Duration
		for b.Loop() {
			t := time.Now()
			bs, err := svc.Usage(reader("acc_bench7"), "acc_bench7", from, to, apiws.Day)
			ds = append(ds, time.Since(t))
			if err != nil || len(bs) < 365 || bs[10].APICalls != 600 {
				b.Fatalf("usage = %d buckets, %v", len(bs), err)
			}
		}
		b.ReportMetric(ms(median(ds)), "p50-ms")
	})

	b.Run("request-path", func(b *testing.B) {
		log := slog.New(slog.DiscardHandler)
		acc := accounts.New(db, accounts.Options{Limiter: usage.NewMemoryLimiter(), Log: log})
		_, token, err := acc.SignUp(ctx, apiws.SignUp{Name: "Bench", Email: "req@example.com", Password: "correct horse battery",
			BirthDate: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), AcceptPolicyVersion: "1.0"})
		if err != nil {
			b.Fatal(err)
		}
		rec := usage.New(db, usage.Options{})
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); rec.Run(runCtx) }()
		defer func() { stop(); <-done }()
		handler := func(u server.Usage) http.Handler {
			res := resolvers.New(resolvers.Services{Accounts: acc, Keys: acc, Usage: rec})
			return server.New(server.Config{}, server.Deps{
				Schema: generated.NewExecutableSchema(generated.Config{Resolvers: res}),
				Keys:   acc, Log: log, Usage: u,
			})
		}
		off, on := handler(nil), handler(rec)
		do := func(h http.Handler) time.Duration {
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"query Who { viewer { id name } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			t := time.Now()
			h.ServeHTTP(w, req)
			d := time.Since(t)
			if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `"errors"`) {
				b.Fatalf("HTTP %d: %s", w.Code, w.Body)
			}
			return d
		}
		var dOff, dOn []time.Duration
		for b.Loop() {
			dOff = append(dOff, do(off))
			dOn = append(dOn, do(on))
		}
		b.ReportMetric(float64(median(dOff).Microseconds()), "p50-off-µs")
		b.ReportMetric(float64(median(dOn).Microseconds()), "p50-on-µs")
		b.ReportMetric(float64(median(dOn))/float64(median(dOff)), "on/off")
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
