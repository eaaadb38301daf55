package storage_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// BenchmarkBatchWrites runs a message's life in batches of n (queued,
// sent, delivered: the journal's three writes) on PostgreSQL, with bun's
// statements and with the fixed-shape ones, on one connection, and reports
// the CPU that connection's PostgreSQL backend spent per message (pg-µs/msg),
// read from /proc: PostgreSQL's share, apart from the other users of the
// server; and its user time alone (pg-user-µs/msg), where parsing and
// planning show, without the kernel's work of the commits' WAL writes.
func BenchmarkBatchWrites(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		for _, shape := range []string{"bun", "fixed"} {
			b.Run(fmt.Sprintf("%s/batch=%d", shape, n), func(b *testing.B) {
				db := storagetest.Open(b, storage.Postgres)
				if shape == "bun" {
					db.InlineBatch()
				}
				db.SQL().SetMaxOpenConns(1)
				ctx := context.Background()
				acc := storagetest.Account(b, db)
				var pid int
				if err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
					return tx.NewRaw("SELECT pg_backend_pid()").Scan(ctx, &pid)
				}); err != nil {
					b.Fatal(err)
				}
				life := func() {
					at := time.Now().UTC()
					var qs []*storage.QueueWrite
					var items []*storage.OutboxItem
					var wa []string
					for range n {
						id := apiws.NewID(apiws.PrefixMessage)
						wa = append(wa, "WA"+id)
						qs = append(qs, &storage.QueueWrite{Sealed: []byte("sealed"), Message: &apiws.Message{ID: id, AccountID: acc, NumberID: "num_b",
							Direction: apiws.Outbound, Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusQueued, WAMessageID: &wa[len(wa)-1], QueuedAt: &at}})
						items = append(items, &storage.OutboxItem{MessageID: id, AccountID: acc, NumberID: "num_b", Content: []byte("sealed")})
					}
					for _, w := range []*storage.Batch{
						{Queue: qs},
						{Sent: []*storage.SentWrite{{Items: items, At: at}}},
						{Receipts: []*storage.ReceiptWrite{{NumberID: "num_b", WAIDs: wa, Status: apiws.StatusDelivered, At: at}}},
					} {
						if _, err := db.Write(ctx, w); err != nil {
							b.Fatal(err)
						}
					}
				}
				for range 20 { // past PostgreSQL's first custom plans
					life()
				}
				before, ok := backendCPU(pid)
				b.ResetTimer()
				for b.Loop() {
					life()
				}
				b.StopTimer()
				if after, ok2 := backendCPU(pid); ok && ok2 {
					msgs := float64(b.N * n)
					b.ReportMetric(float64((after.user+after.system-before.user-before.system).Microseconds())/msgs, "pg-µs/msg")
					b.ReportMetric(float64((after.user-before.user).Microseconds())/msgs, "pg-user-µs/msg")
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/msg")
			})
		}
	}
}

// cpuTimes is the CPU time a process has used, in user and kernel mode.
type cpuTimes struct{ user, system time.Duration }

// backendCPU is the CPU time the process pid has used, from /proc; false
// when it cannot be read (PostgreSQL on another machine).
func backendCPU(pid int) (cpuTimes, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTimes{}, false
	}
	// The fields after the command's closing parenthesis; utime and stime
	// are the 14th and 15th of the line.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return cpuTimes{}, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return cpuTimes{}, false
	}
	const tick = 10 * time.Millisecond // USER_HZ 100
	return cpuTimes{time.Duration(utime) * tick, time.Duration(stime) * tick}, true
}
