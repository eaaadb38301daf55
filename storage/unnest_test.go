package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// The batch's fixed-shape writes on PostgreSQL (unnest.go) leave exactly
// the rows bun's statements leave, and answer the same: one script of
// batches run on two databases, one of them with bun's statements, gives
// the same tables (every column, as PostgreSQL prints it), the same events
// with the same cursors, the same duplicates and the same failures.
func TestFixedShapeWritesAsBun(t *testing.T) {
	bunDB := storagetest.Open(t, storage.Postgres)
	bunDB.InlineBatch()
	fixed := storagetest.Open(t, storage.Postgres)

	bunLog, bunTrips := writeScript(t, bunDB)
	fixedLog, fixedTrips := writeScript(t, fixed)
	if d := firstDiff(bunLog, fixedLog); d != "" {
		t.Fatalf("the fixed-shape writes differ from bun's:\n%s", d)
	}
	// Two or three rounds a transaction (pipeline.go), against one a
	// statement.
	if fixedTrips*2 > bunTrips {
		t.Fatalf("round trips: %d with bun, %d fixed-shape; want under half", bunTrips, fixedTrips)
	}
	// Deliveries have random ids and the time they were queued.
	deliveries := "(SELECT endpoint_id, account_id, event_type, event_seq, event_at, status, replay, attempts FROM webhook_deliveries)"
	for _, table := range []string{"messages", "outbox", "log_events", "event_counters", "transit", "captured_contents", deliveries} {
		if bun, fix := tableRows(t, bunDB, table), tableRows(t, fixed, table); !slices.Equal(bun, fix) {
			t.Errorf("table %s differs:\nbun:   %q\nfixed: %q", table, bun, fix)
		} else if len(bun) == 0 {
			t.Errorf("table %s is empty: the script does not test it", table)
		}
	}
}

// writeScript runs the same batches on db and returns what they answered,
// one line each, and how many round trips they took.
func writeScript(t *testing.T, db *storage.DB) ([]string, uint64) {
	t.Helper()
	ctx := context.Background()
	var log []string
	record := func(what string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, what+": "+string(b))
	}
	at := func(sec int) *time.Time {
		// Nanoseconds (bun writes microseconds) and a zone other than UTC.
		v := time.Date(2026, 12, 4, 21, 0, sec, 123456789, time.FixedZone("X", 5*3600+1800))
		return &v
	}
	accountWithID(t, db, "acc_fixed_a")
	accountWithID(t, db, "acc_fixed_b")
	// Every event of acc_fixed_a is delivered to a webhook endpoint too.
	hook := newEndpoint("acc_fixed_a", []apiws.EventType{}, []string{})
	hook.ID = "whe_fixed"
	if err := db.CreateWebhookEndpoint(ctx, hook, apiws.MaxWebhookEndpoints); err != nil {
		t.Fatal(err)
	}
	capture := &apiws.DebugCapture{ID: "cap_fixed", AccountID: "acc_fixed_a", NumberID: "num_a", Reason: "r", CreatedAt: *at(0), Until: *at(50)}
	if err := db.CreateDebugCapture(ctx, capture, &apiws.AuditEntry{AccountID: &capture.AccountID, Actor: "account", Action: "capture", At: *at(0)}); err != nil {
		t.Fatal(err)
	}
	msg := func(id, acc, number, wa string) *apiws.Message {
		return &apiws.Message{ID: id, AccountID: acc, NumberID: number, Direction: apiws.Outbound, Peer: "+15550100001",
			Kind: apiws.KindText, Status: apiws.StatusQueued, WAMessageID: &wa, QueuedAt: at(1)}
	}
	start := db.RoundTrips()
	write := func(what string, b *storage.Batch) []*apiws.LogEvent {
		evs, err := db.Write(ctx, b)
		record(what+" error", err != nil)
		record(what+" events", cursors(evs))
		for i, q := range b.Queue {
			record(fmt.Sprintf("%s queue %d", what, i), []any{cursors([]*apiws.LogEvent{q.Event}), fmt.Sprint(q.Err)})
		}
		return evs
	}

	// Sends: one with no optional field (NULLs), one with every one, texts
	// bun must turn into literals (quotes, bytes that are not UTF-8, NUL
	// escapes in JSON), a key reused in the batch, an id reused, an
	// inbound message twice under one WhatsApp id, an empty hash. (Not
	// one id twice in a batch: both fail it, on its outbox items.)
	key, other := "k'1", "k2"
	bare := msg("msg_bare", "acc_fixed_a", "num_a", "WA1")
	bare.WAMessageID, bare.Peer = nil, ""
	full := msg("msg_full", "acc_fixed_a", "num_a", "WA2")
	full.PeerLID, full.ReplyTo, full.GroupID = ptr("lid'\xff"), ptr("msg_bare"), ptr("grp_1")
	full.ClientReference, full.IdempotencyKey, full.RequestHash = ptr("ref \"é\" \xc3"), &key, []byte{0, 1, 0xff}
	full.Error = &apiws.MessageError{Code: "a'b", Message: "nul \x00, escaped \\u0000, 'quoted' \xff", Retryable: true}
	full.SentAt, full.DeliveredAt, full.ReadAt, full.PlayedAt, full.FailedAt = at(2), at(3), at(4), at(5), at(6)
	full.ReceivedAt, full.EditedAt, full.RevokedAt = at(7), at(8), at(9)
	reused := msg("msg_reused_key", "acc_fixed_a", "num_a", "WA3")
	reused.IdempotencyKey = &key
	sameID := msg("msg_bare", "acc_fixed_a", "num_a", "WA4")
	in1, in2 := msg("msg_in1", "acc_fixed_b", "num_b", "WAIN"), msg("msg_in2", "acc_fixed_b", "num_b", "WAIN")
	in1.Direction, in2.Direction = apiws.Inbound, apiws.Inbound
	emptyHash := msg("msg_empty_hash", "acc_fixed_b", "num_b", "WA5")
	emptyHash.IdempotencyKey, emptyHash.RequestHash = &other, []byte{}
	poll := msg("msg_poll", "acc_fixed_b", "num_b", "WA6")
	poll.Kind = apiws.KindPoll
	var qs []*storage.QueueWrite
	for i, m := range []*apiws.Message{bare, full, reused, in1, in2, emptyHash, poll} {
		qs = append(qs, &storage.QueueWrite{Message: m, Sealed: []byte{byte(i), 0}})
	}
	write("queue", &storage.Batch{Queue: qs})
	// The id of a message written before.
	write("queue again", &storage.Batch{Queue: []*storage.QueueWrite{{Message: sameID, Sealed: []byte("s")}}})

	// A batch that fails as a whole (a message of no account), then its
	// writes one by one, as the journal retries them: the rest land.
	orphan := msg("msg_orphan", "acc_missing", "num_a", "WA7")
	good := msg("msg_good", "acc_fixed_a", "num_a", "WA8")
	failing := []*storage.QueueWrite{{Message: good, Sealed: []byte("g")}, {Message: orphan, Sealed: []byte("o")}}
	write("failing", &storage.Batch{Queue: failing})
	for i, q := range failing {
		write(fmt.Sprintf("alone %d", i), &storage.Batch{Queue: []*storage.QueueWrite{q}})
	}

	// Acceptances: one kept under the capture, with transit content and
	// a reaction logged after it; one of a poll; one already gone.
	items, err := db.NextOutbox(ctx, "num_a", 10)
	if err != nil || len(items) != 3 {
		t.Fatalf("outbox of num_a = %d items, %v\n%s", len(items), err, strings.Join(log, "\n"))
	}
	pollItems, err := db.NextOutbox(ctx, "num_b", 10)
	if err != nil || len(pollItems) != 3 {
		t.Fatalf("outbox of num_b = %d items, %v", len(pollItems), err)
	}
	items[0].Then = []*apiws.LogEvent{{AccountID: "acc_fixed_a", Type: apiws.EventTypeReaction, NumberID: "num_a", MessageID: items[0].MessageID,
		WAMessageID: "WAREACT", Detail: &apiws.EventDetail{Reason: ptr("it's \x00 \\u0000")}, At: *at(10)}}
	retain := func(its []*storage.OutboxItem) []*storage.Transit {
		var ts []*storage.Transit
		for _, it := range its {
			m, err := db.Message(ctx, it.AccountID, it.MessageID)
			if err != nil {
				t.Fatal(err)
			}
			if m.WAMessageID != nil {
				ts = append(ts, &storage.Transit{MessageID: m.ID, NumberID: m.NumberID, WAMessageID: *m.WAMessageID, Content: it.Content, ExpiresAt: *at(40)})
			}
		}
		return ts
	}
	gone := &storage.OutboxItem{MessageID: "msg_nowhere", AccountID: "acc_fixed_a", NumberID: "num_a"}
	write("sent", &storage.Batch{Sent: []*storage.SentWrite{
		{Items: items, At: *at(11), CaptureID: capture.ID, CaptureUntil: *at(50), Retain: retain(items)},
		{Items: pollItems, At: *at(12), Retain: retain(pollItems)},
		{Items: []*storage.OutboxItem{gone}, At: *at(12)},
		{At: *at(12)},
	}})

	// Receipts: on, past and behind the status; of unknown, inbound and
	// empty lists of ids; a failure with its error; the same again.
	receipts := []*storage.ReceiptWrite{
		{NumberID: "num_a", WAIDs: []string{"WA8", "WA-unknown"}, Status: apiws.StatusDelivered, At: *at(13)},
		{NumberID: "num_a", WAIDs: []string{"WA8"}, Status: apiws.StatusRead, At: *at(14)},
		{NumberID: "num_a", WAIDs: []string{"WA8"}, Status: apiws.StatusDelivered, At: *at(15)},
		{NumberID: "num_b", WAIDs: []string{"WA5", "WAIN"}, Status: apiws.StatusFailed, At: *at(16),
			Error: &apiws.MessageError{Code: "X", Message: "refused \x00 'now'", Retryable: false}},
		{NumberID: "num_b", WAIDs: []string{"WA6"}, Status: apiws.StatusRead, At: *at(17)},
		{NumberID: "num_b", Status: apiws.StatusRead, At: *at(18)},
	}
	write("receipts", &storage.Batch{Receipts: receipts})
	for i, r := range receipts {
		record(fmt.Sprintf("receipt %d events", i), cursors(r.Events))
	}
	write("receipts again", &storage.Batch{Receipts: receipts[:2]})
	write("nothing", &storage.Batch{Sent: []*storage.SentWrite{{At: *at(19)}}, Receipts: []*storage.ReceiptWrite{{NumberID: "num_a", At: *at(19)}}})
	// Guarded sends: through a connected number of the account, its
	// disconnected one, another active account's connected one, with a key
	// taken; and one not guarded through the disconnected number.
	on, off, othersOn := newNumber("acc_fixed_a", apiws.NumberConnected), newNumber("acc_fixed_a", apiws.NumberDisconnected), newNumber("acc_fixed_b", apiws.NumberConnected)
	on.ID, off.ID, othersOn.ID = "num_guard_on", "num_guard_off", "num_guard_others"
	for _, n := range []*apiws.Number{on, off, othersOn} {
		if err := db.CreateNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	takenKey := msg("msg_guard_key", "acc_fixed_a", on.ID, "WAG4")
	takenKey.IdempotencyKey = &key
	var guarded []*storage.QueueWrite
	for i, m := range []*apiws.Message{msg("msg_guard_on", "acc_fixed_a", on.ID, "WAG1"), msg("msg_guard_off", "acc_fixed_a", off.ID, "WAG2"),
		msg("msg_guard_other", "acc_fixed_a", othersOn.ID, "WAG3"), takenKey, msg("msg_unguarded_off", "acc_fixed_a", off.ID, "WAG5")} {
		guarded = append(guarded, &storage.QueueWrite{Message: m, Sealed: []byte{'g', byte(i)}, Guard: i < 4})
	}
	write("guarded", &storage.Batch{Queue: guarded})
	write("last", &storage.Batch{Queue: []*storage.QueueWrite{
		{Message: msg("msg_last_a", "acc_fixed_a", "num_a", "WA9"), Sealed: []byte{}},
		{Message: msg("msg_last_b", "acc_fixed_b", "num_b", "WA10"), Sealed: []byte("left")},
	}})
	// Sends of two accounts without webhook endpoints, interleaved (their
	// cursors handed out in PostgreSQL, each account's in its order).
	accountWithID(t, db, "acc_fixed_c")
	var mixed []*storage.QueueWrite
	for i := range 5 {
		acc := []string{"acc_fixed_b", "acc_fixed_c"}[i%2]
		mixed = append(mixed, &storage.QueueWrite{Message: msg(fmt.Sprintf("msg_mixed_%d", i), acc, "num_mixed", fmt.Sprintf("WAM%d", i)), Sealed: []byte{byte(i)}})
	}
	write("mixed", &storage.Batch{Queue: mixed})
	// Receipts naming their account: of one without webhook endpoints (two
	// rounds on PostgreSQL), of one with (three), and one naming another
	// account than its messages' (three: its events' endpoints are read
	// when the cursors are).
	write("misnamed receipt", &storage.Batch{Receipts: []*storage.ReceiptWrite{
		{AccountID: "acc_fixed_b", NumberID: "num_a", WAIDs: []string{"WA8"}, Status: apiws.StatusPlayed, At: *at(19)}}})
	write("named receipt", &storage.Batch{Receipts: []*storage.ReceiptWrite{
		{AccountID: "acc_fixed_b", NumberID: "num_b", WAIDs: []string{"WA10"}, Status: apiws.StatusDelivered, At: *at(20)}}})
	write("named receipt, hooked", &storage.Batch{Receipts: []*storage.ReceiptWrite{
		{AccountID: "acc_fixed_a", NumberID: "num_a", WAIDs: []string{"WA9"}, Status: apiws.StatusRead, At: *at(21)}}})
	return log, db.RoundTrips() - start
}

// cursors names each event by its account, cursor, type, message, status
// and time. (Their error and detail are compared as logged: bun reads back
// what it wrote into those of a batch's events when one of them has none,
// which changes a text with NUL escapes in memory. The fixed-shape insert
// leaves the events as they are.)
func cursors(evs []*apiws.LogEvent) []string {
	var out []string
	for _, ev := range evs {
		if ev == nil {
			out = append(out, "nil")
			continue
		}
		out = append(out, fmt.Sprintf("%s/%d %s %s %s %s %s", ev.AccountID, ev.Seq, ev.Type, ev.MessageID, ev.WAMessageID, ev.Status, ev.At.UTC().Format(time.RFC3339Nano)))
	}
	return out
}

// accountWithID creates an active account with the id.
func accountWithID(t *testing.T, db *storage.DB, id string) {
	t.Helper()
	acc, c, s, a := newAccount(id + "@example.com")
	acc.ID, c.AccountID, s.AccountID, a.AccountID = id, id, id, &id
	if err := db.CreateAccount(context.Background(), acc, c, s, a); err != nil {
		t.Fatal(err)
	}
}

// tableRows returns the rows of table as PostgreSQL prints them, sorted.
func tableRows(t *testing.T, db *storage.DB, table string) []string {
	t.Helper()
	var rows []string
	from := any(bun.Ident(table))
	if strings.HasPrefix(table, "(") {
		from = bun.Safe(table)
	}
	if err := db.Bun.NewRaw("SELECT t::text FROM ? AS t ORDER BY 1", from).Scan(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

// firstDiff describes the first line where a and b differ, or "".
func firstDiff(a, b []string) string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return strings.Join([]string{"bun:   " + x, "fixed: " + y}, "\n")
		}
	}
	return ""
}

// On PostgreSQL a batch's statements are prepared once per connection,
// whatever their number of rows, and each batch takes two round trips, or
// three when its cursors are needed in apiws (pipeline.go): after batches of 1 to 8 messages and then receipts of 1
// to 8 on one connection, it holds one prepared statement for each, run
// once per batch on its generic plan, never planned again.
func TestFixedShapeWritesPreparedOnce(t *testing.T) {
	db := storagetest.Open(t, storage.Postgres)
	db.SQL().SetMaxOpenConns(1)
	ctx := context.Background()
	acc := storagetest.Account(t, db)
	const batches = 8
	start := db.RoundTrips()
	var wa []string
	for n := 1; n <= batches; n++ {
		var qs []*storage.QueueWrite
		for range n {
			id := apiws.NewID(apiws.PrefixMessage)
			wa = append(wa, "WA"+id)
			now := time.Now().UTC()
			qs = append(qs, &storage.QueueWrite{Sealed: []byte("s"), Message: &apiws.Message{ID: id, AccountID: acc, NumberID: "num_p",
				Direction: apiws.Outbound, Kind: apiws.KindText, Status: apiws.StatusQueued, WAMessageID: &wa[len(wa)-1], QueuedAt: &now}})
		}
		if _, err := db.Write(ctx, &storage.Batch{Queue: qs}); err != nil {
			t.Fatal(err)
		}
	}
	for n, next := 1, 0; n <= batches; n, next = n+1, next+n {
		r := &storage.ReceiptWrite{NumberID: "num_p", WAIDs: wa[next : next+n], Status: apiws.StatusDelivered, At: time.Now().UTC()}
		if _, err := db.Write(ctx, &storage.Batch{Receipts: []*storage.ReceiptWrite{r}}); err != nil {
			t.Fatal(err)
		}
	}
	// Sends: two rounds (no webhook endpoint, no content to keep);
	// receipts that do not name their account: three.
	if trips := db.RoundTrips() - start; trips != 2*batches+3*batches {
		t.Errorf("%d batches took %d round trips; want 2 for each of sends and 3 for each of receipts", 2*batches, trips)
	}

	var texts []string
	var generic, custom []int64
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return tx.NewRaw("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements").Scan(ctx, &texts, &generic, &custom)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		starts string
		runs   int64
	}{
		{"WITH u AS (SELECT v.*", batches},
		{"INSERT INTO outbox (", batches},
		{"WITH bump AS (INSERT INTO event_counters (", batches},
		{"INSERT INTO event_counters (", batches},
		{"INSERT INTO log_events (", batches},
		{"SELECT m.id, m.account_id", batches},
		{"UPDATE messages SET status = v.status", batches},
		{"DELETE FROM transit USING", batches},
	} {
		var found []int64
		for i, text := range texts {
			if strings.HasPrefix(text, w.starts) {
				found = append(found, generic[i])
				if custom[i] > 0 {
					t.Errorf("statement %q… planned with its values %d times; want its one generic plan", w.starts, custom[i])
				}
			}
		}
		if !slices.Equal(found, []int64{w.runs}) {
			t.Errorf("prepared statements %q… run %v times on their generic plan; want one, run %d times", w.starts, found, w.runs)
		}
	}

	// Their plans were made while the tables were nearly empty, when a
	// sequential scan costs least; each still reaches its rows through an
	// index, by key (a hashed subplan reads every row of its condition,
	// such as every connected number, whatever rows are asked for).
	var names, statements []string
	var params []int
	if err := db.Bun.NewRaw("SELECT name, statement, cardinality(parameter_types) FROM pg_prepared_statements ORDER BY name").Scan(ctx, &names, &statements, &params); err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		var plan []string
		err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, storage.PlanSettings); err != nil {
				return err
			}
			nulls := strings.TrimSuffix(strings.Repeat("NULL, ", params[i]), ", ")
			return tx.NewRaw("EXPLAIN (VERBOSE) EXECUTE "+name+"("+nulls+")").Scan(ctx, &plan)
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range plan {
			if strings.Contains(line, "Seq Scan") || strings.Contains(line, "Hash Join") || strings.Contains(line, "Merge Join") ||
				strings.Contains(line, "hashed SubPlan") {
				t.Errorf("the plan of %s scans a table whole:\n%s", statements[i], strings.Join(plan, "\n"))
				break
			}
		}
	}
	if len(names) < 7 {
		t.Errorf("%d prepared statements explained; want every one of the batch's", len(names))
	}
}
